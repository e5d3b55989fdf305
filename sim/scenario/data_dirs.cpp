#include <cstdlib>

#include "sim/scenario/scenario.hpp"

namespace clustercost {

DataDirs data_dirs_from_environment(const std::filesystem::path& fallback) {
  const char* env = std::getenv("CLUSTERCOST_DATA_DIR");
  return DataDirs{env && *env ? std::filesystem::path(env) : fallback};
}

}  // namespace clustercost
