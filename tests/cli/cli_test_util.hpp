#pragma once
// Runs the real clustercost binary and captures its exit code, stdout and stderr.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/common/test_paths.hpp"

namespace cli_test {

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

inline std::filesystem::path data_dir() {
  const char* d = std::getenv("CLUSTERCOST_DATA_DIR");
  return d ? std::filesystem::path(d) : clustercost::test::data_root();
}

inline std::filesystem::path binary() {
  return clustercost::test::build_root() / "cli" / "clustercost";
}

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::filesystem::path temp_dir() {
  auto base = std::filesystem::temp_directory_path() / ("clustercost-cli-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(base);
  return base;
}

/// `args` is appended to the binary path verbatim (callers quote).
inline Result run(const std::string& args) {
  auto dir = temp_dir();
  auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  std::string cmd = binary().string() + " " + args + " >" + out.string() + " 2>" + err.string() +
                    " </dev/null";
  int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

inline nlohmann::ordered_json shipped(const std::string& name) {
  return nlohmann::ordered_json::parse(slurp(data_dir() / "scenarios" / name));
}

/// Writes a scenario document to a temporary file and returns its path.
inline std::filesystem::path write_scenario(const std::string& name, const std::string& text) {
  auto p = temp_dir() / name;
  std::ofstream(p) << text;
  return p;
}

}  // namespace cli_test
