#pragma once
// Shared helpers of the CLI subcommands: data directory, output, error mapping.

#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"
#include "sim/sweep/sweep.hpp"

namespace clustercost {
class Catalog;
}

namespace clustercost::cli {

/// CLUSTERCOST_DATA_DIR, else the source tree the binary was built from.
DataDirs data_dirs();

/// Writes `content` to `output` atomically, or to stdout when `output` is empty or "-".
void emit(const std::string& output, const std::string& content);

/// The output format of `run` and `report`: `given` (--format) when set, else the format the
/// extension of `output` names (.txt text, .json json, .csv csv, .html/.htm html, .pdf pdf), else
/// `fallback`. InputError (exit 2, nothing written) when --format and the extension disagree,
/// when the extension names a format not in `allowed`, or when nothing decides and `fallback` is
/// empty. An unknown extension (or none, or stdout) leaves the choice to --format.
std::string output_format(const std::string& given, const std::string& output,
                          const std::vector<std::string>& allowed, const std::string& fallback);

/// Prints a `note:` on stderr for each GPU of the scenario document (cluster.gpu,
/// cluster.pools[].gpu) written as a short alias that stands for one of several parts
/// ("A100" → A100-80G-SXM), so the choice is never silent.
void note_gpu_aliases(const Json& scenario, const Catalog& catalog);
/// The same for a scenario file with `--set` overrides; unreadable files are left to the loader.
void note_gpu_aliases(const std::string& scenario_file, const std::vector<std::string>& sets,
                      const Catalog& catalog);

/// Prints the failed points of a sweep on stderr, one `error: SWEEP: point ID (...): FILE: at
/// PATH: MESSAGE` line each (the first kMaxFailureLines, then how many more and where they are
/// recorded), and returns the exit code: 0 when none failed, 1 when one failed inside the
/// simulator, else 2 (bad input).
int report_sweep_failures(const std::string& sweep_file, const std::string& results_file,
                          const std::vector<SweepFailure>& failures);

/// Runs a subcommand body, mapping errors to exit codes: InputError 2, anything else 1.
int guarded(const std::function<int()>& body);

}  // namespace clustercost::cli
