#pragma once

#include "tests/common/test_paths.hpp"
// Shared helpers of the model tests: where the shipped presets are.

#include <cstdlib>
#include <filesystem>
#include <string>

#include "models/model_spec.hpp"

namespace clustercost::test {

inline std::filesystem::path data_dir() {
  const char* env = std::getenv("CLUSTERCOST_DATA_DIR");
  return (env && *env) ? std::filesystem::path(env)
                       : clustercost::test::data_root();
}

inline std::filesystem::path presets_dir() { return data_dir() / "models" / "presets"; }

inline ModelSpec preset(const std::string& name) {
  return load_model_preset(presets_dir(), name, "<test>", "model");
}

}  // namespace clustercost::test
