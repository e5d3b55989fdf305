// The real clustercost-gui binary, offscreen: what it writes is written atomically.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/common/test_paths.hpp"

#ifdef CLUSTERCOST_GUI_BINARY

namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "clustercost-gui-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  return names;
}

int run_gui(const std::string& args, const fs::path& log) {
  const std::string cmd = "QT_QPA_PLATFORM=offscreen " + std::string(CLUSTERCOST_GUI_BINARY) +
                          " " + args + " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(GuiBinary, ScreenshotReplacesTheOldFileAtomically) {
  TempDir dir;
  const fs::path shot = dir.path / "shot.png", log = dir.path.parent_path() /
                                                      (dir.path.filename().string() + ".log");
  std::ofstream(shot) << "old";
  const std::string scenario =
      (clustercost::test::data_root() / "scenarios" / "llama3-70b-h100.json").string();
  ASSERT_EQ(run_gui("--scenario " + scenario + " --size 800x600 --screenshot " + shot.string(),
                    log),
            0)
      << slurp(log);
  const std::string png = slurp(shot);
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // QSaveFile renamed its temporary file over the old one: nothing else is left.
  EXPECT_EQ(names_in(dir.path), std::vector<std::string>{"shot.png"});

  // A folder that does not exist: exit 1, a message naming the file, nothing written.
  const fs::path missing = dir.path / "no-such-folder" / "shot.png";
  EXPECT_EQ(run_gui("--scenario " + scenario + " --screenshot " + missing.string(), log), 1);
  EXPECT_NE(slurp(log).find("cannot write the screenshot"), std::string::npos) << slurp(log);
  EXPECT_FALSE(fs::exists(missing));
  EXPECT_EQ(names_in(dir.path), std::vector<std::string>{"shot.png"});
  fs::remove(log);
}

}  // namespace

#endif
