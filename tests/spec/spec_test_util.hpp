#pragma once

#include "tests/common/test_paths.hpp"
// Helpers shared by the hardware/spec tests: where the shipped catalogue is, and scratch copies
// of it that a test may break.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "sim/common/json_reader.hpp"

namespace clustercost::test {

inline std::filesystem::path data_dir() {
  const char* env = std::getenv("CLUSTERCOST_DATA_DIR");
  return (env && *env) ? std::filesystem::path(env) : clustercost::test::data_root();
}

inline std::filesystem::path catalog_dir() { return data_dir() / "hardware" / "catalog"; }

inline Json read_json(const std::filesystem::path& p) { return load_json_file(p); }

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

/// A copy of the shipped catalogue in a fresh temporary directory, removed at destruction.
class ScratchCatalog {
 public:
  ScratchCatalog() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // A random suffix keeps concurrent runs (ctest -j, two build trees) apart.
    std::string name = std::string("clustercost-spec-") + info->test_suite_name() + "-" +
                       info->name() + "-" + std::to_string(std::random_device{}());
    dir_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(dir_);
    std::filesystem::copy(catalog_dir(), dir_, std::filesystem::copy_options::recursive);
  }
  ~ScratchCatalog() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ScratchCatalog(const ScratchCatalog&) = delete;
  ScratchCatalog& operator=(const ScratchCatalog&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path gpu_file(const std::string& name) const { return dir_ / (name + ".json"); }
  std::filesystem::path node_file(const std::string& name) const {
    return dir_ / "nodes" / (name + ".json");
  }
  Json gpu(const std::string& name) const { return read_json(gpu_file(name)); }
  void put_gpu(const std::string& name, const Json& j) const { write_text(gpu_file(name), j.dump(2)); }
  Json node(const std::string& name) const { return read_json(node_file(name)); }
  void put_node(const std::string& name, const Json& j) const {
    write_text(node_file(name), j.dump(2));
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace clustercost::test
