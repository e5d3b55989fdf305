#pragma once
// `clustercost trace` (Chrome trace-event export of one DES step) and `clustercost bench`
// (simulator throughput on shipped cases); cli/main.cpp registers them like the others.

#include "cli/commands.hpp"

namespace clustercost::cli {

/// clustercost trace SCENARIO [--set P=V]... [-o trace.json] [--ranks 0,1,5]
Action add_trace_command(CLI::App& app);
/// clustercost bench [--format text|json]
Action add_bench_command(CLI::App& app);

}  // namespace clustercost::cli
