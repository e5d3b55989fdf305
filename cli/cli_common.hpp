#pragma once
// Shared helpers of the CLI subcommands: data directory, output, error mapping.

#include <filesystem>
#include <functional>
#include <iostream>
#include <string>

#include "sim/scenario/scenario.hpp"

namespace clustercost::cli {

/// CLUSTERCOST_DATA_DIR, else the source tree the binary was built from.
DataDirs data_dirs();

/// Writes `content` to `output` atomically, or to stdout when `output` is empty or "-".
void emit(const std::string& output, const std::string& content);

/// Runs a subcommand body, mapping errors to exit codes: InputError 2, anything else 1.
int guarded(const std::function<int()>& body);

}  // namespace clustercost::cli
