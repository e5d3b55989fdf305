#pragma once
// Where the tests find the shipped data and the built binaries, without absolute paths baked into
// the compile commands (so ccache reuses objects across clones): CLUSTERCOST_DATA_DIR, which ctest
// sets, else the nearest folder above the test executable that holds hardware/catalog.

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace clustercost::test {

/// The running test executable.
inline std::filesystem::path self_executable() {
  return std::filesystem::read_symlink("/proc/self/exe");
}

/// The build tree: test executables live in BUILD/tests/<folder>/.
inline std::filesystem::path build_root() {
  return self_executable().parent_path().parent_path().parent_path();
}

inline std::filesystem::path data_root() {
  const char* d = std::getenv("CLUSTERCOST_DATA_DIR");
  if (d && *d) return d;
  for (auto p = self_executable().parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
    if (std::filesystem::exists(p / "hardware" / "catalog")) return p;
  throw std::runtime_error("cannot find the shipped data: set CLUSTERCOST_DATA_DIR to the repository root");
}

}  // namespace clustercost::test
