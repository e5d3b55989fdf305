// The real clustercost-gui binary, offscreen: what it writes is written atomically.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gui/scenario_document.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/report/report.hpp"
#include "sim/scenario/scenario.hpp"
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

// A {tab} pattern grabs one PNG per named tab from one start; an unknown tab writes nothing.
TEST(GuiBinary, ScreenshotPatternWritesOnePngPerTab) {
  TempDir dir;
  const fs::path log = dir.path.parent_path() / (dir.path.filename().string() + ".log");
  const std::string scenario =
      (clustercost::test::data_root() / "scenarios" / "llama3-70b-h100.json").string();
  const std::string pattern = (dir.path / "{tab}.png").string();
  ASSERT_EQ(run_gui("--scenario " + scenario + " --size 800x600 --screenshot '" + pattern +
                        "' --tab summary --tab traffic",
                    log),
            0)
      << slurp(log);
  auto names = names_in(dir.path);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"summary.png", "traffic.png"}));
  for (const auto& n : names) EXPECT_EQ(slurp(dir.path / n).substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  fs::remove(dir.path / "summary.png");
  fs::remove(dir.path / "traffic.png");
  EXPECT_EQ(run_gui("--scenario " + scenario + " --screenshot '" + pattern +
                        "' --tab summary --tab nope",
                    log),
            2);
  EXPECT_NE(slurp(log).find("unknown tab \"nope\""), std::string::npos) << slurp(log);
  EXPECT_TRUE(names_in(dir.path).empty());
  fs::remove(log);
}

// The sweep PDF has the sweep HTML's comparison table with one row per point, and a page per
// point headed with the point's own cluster (not the base scenario's GPU count).
TEST(GuiBinary, SweepPdfHasOneRowPerPoint) {
  if (std::system("pdftotext -v > /dev/null 2>&1") != 0) GTEST_SKIP() << "pdftotext not installed";
  using namespace clustercost;
  TempDir dir;
  const DataDirs dirs = data_dirs_from_environment(clustercost::test::data_root().string());
  const Catalog catalog = Catalog::load(dirs.catalog());
  const fs::path results = dir.path / "sweep.jsonl", pdf = dir.path / "sweep.pdf",
                 log = dir.path / "log.txt";
  const std::vector<std::pair<std::string, int>> points = {
      {"a1", 64}, {"b2", 128}, {"c3", 256}};
  {
    std::ofstream out(results);
    for (const auto& [id, gpus] : points) {
      Json doc = default_scenario_document();
      doc["cluster"]["gpus"] = gpus;
      doc["simulation"] = {{"fidelity", "analytical"}};
      const Report r = run_scenario(parse_scenario(doc, "point", catalog, dirs));
      out << Json{{"id", id}, {"sweep", "gpu-count"}, {"overrides", {{"cluster.gpus", gpus}}},
                  {"report", report_to_json(r)}}.dump()
          << "\n";
    }
  }
  ASSERT_EQ(run_gui("--report " + results.string() + " --pdf " + pdf.string(), log), 0) << slurp(log);
  const fs::path text = dir.path / "sweep.txt";
  ASSERT_EQ(std::system(("pdftotext -layout " + pdf.string() + " " + text.string()).c_str()), 0);
  const std::string t = slurp(text);
  const auto table_end = t.find("Point by point");
  ASSERT_NE(table_end, std::string::npos) << t.substr(0, 2000);
  const std::string table = t.substr(0, table_end);
  EXPECT_NE(table.find("gpu-count"), std::string::npos);  // the sweep's name as the title
  for (const auto& [id, gpus] : points) {
    // One line of the comparison per point: its id and its GPU count on the same line.
    std::size_t lines = 0;
    for (std::size_t at = table.find(id); at != std::string::npos; at = table.find(id, at + 1)) {
      const auto bol = table.rfind('\n', at) + 1, eol = table.find('\n', at);
      if (table.substr(bol, eol - bol).find(" " + std::to_string(gpus) + " ") != std::string::npos)
        ++lines;
    }
    EXPECT_EQ(lines, 1u) << id;
    // Its page is headed with its own cluster.
    EXPECT_NE(t.find("Point " + id + ": " + std::to_string(gpus) + " × H100-SXM"), std::string::npos)
        << id;
  }
}

// A DES report's PDF (what `clustercost report r.json -o r.pdf` runs) has the DES's results:
// every critical-path category and the hottest link, as the report JSON names them.
TEST(GuiBinary, ReportPdfHasTheDesCriticalPathAndLinks) {
  if (std::system("pdftotext -v > /dev/null 2>&1") != 0) GTEST_SKIP() << "pdftotext not installed";
  using namespace clustercost;
  TempDir dir;
  const DataDirs dirs = data_dirs_from_environment(clustercost::test::data_root().string());
  const Catalog catalog = Catalog::load(dirs.catalog());
  const Report r = run_scenario(load_scenario(dirs.scenarios() / "llama3-70b-h100.json",
                                              {"reliability.replicas=0"}, catalog, dirs));
  ASSERT_EQ(r.step.fidelity, "des");
  const Json j = report_to_json(r);
  const fs::path report = dir.path / "r.json", pdf = dir.path / "r.pdf", log = dir.path / "log.txt",
                 text = dir.path / "r.txt";
  std::ofstream(report) << j.dump(2);
  ASSERT_EQ(run_gui("--report " + report.string() + " --pdf " + pdf.string(), log), 0) << slurp(log);
  ASSERT_EQ(std::system(("pdftotext -layout " + pdf.string() + " " + text.string()).c_str()), 0);
  const std::string t = slurp(text);
  // (pdftotext writes the "fi" ligature as one character: "first" is left out.)
  for (const char* heading : {"Critical path by op category", "Links, hottest",
                              "Peak memory per simulated GPU"})
    EXPECT_NE(t.find(heading), std::string::npos) << heading;
  const Json& path = j["step"]["simulation"]["critical_path_s"];
  ASSERT_FALSE(path.empty());
  for (auto it = path.begin(); it != path.end(); ++it)
    EXPECT_NE(t.find(it.key()), std::string::npos) << it.key();
  // The hottest link as the HTML names it (its sentence and row 1 of the table).
  const std::string html = report_to_html(r);
  const std::string tag = "The hottest is <b>";
  const auto at = html.find(tag);
  ASSERT_NE(at, std::string::npos);
  const std::string hottest = html.substr(at + tag.size(), html.find("</b>", at) - at - tag.size());
  ASSERT_FALSE(hottest.empty());
  std::size_t mentions = 0;
  for (auto k = t.find(hottest); k != std::string::npos; k = t.find(hottest, k + 1)) ++mentions;
  EXPECT_GE(mentions, 2u) << hottest;
}

}  // namespace

#endif
