#pragma once
// Shared by the libFuzzer targets in this folder.
//
// The contract under test (DESIGN.md, "CLI"): bad input is reported as an InputError naming the
// file and JSON path (exit 2). So a target catches InputError and nothing else: any other
// exception, a sanitizer report, a crash or a timeout is a finding. Each target is also built,
// without libFuzzer, into a replay executable (replay_main.cpp) that ctest runs over the seed
// corpus and the regression inputs, so every crash found stays fixed in every build.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "sim/common/input_error.hpp"
#include "sim/common/json_reader.hpp"
#include "tests/common/test_paths.hpp"

namespace clustercost::fuzz {

/// The fuzzer's bytes as text (the parsers take text: NUL bytes and invalid UTF-8 included).
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Runs `body`; an InputError is the expected answer to bad input and is swallowed.
template <class F>
void accept_input_errors(F&& body) {
  try {
    body();
  } catch (const InputError&) {
  }
}

/// The repository root (shipped catalogue, presets, profiles, scenarios).
inline std::filesystem::path data_root() { return clustercost::test::data_root(); }

}  // namespace clustercost::fuzz
