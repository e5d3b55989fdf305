#pragma once
// `clustercost sweep`, `merge` and `report`: many what-ifs, their results files (JSON Lines, see
// sim/sweep/sweep.hpp) and the reports handed to people who will not run the tool
// (sim/report/batch_report.hpp); cli/main.cpp registers them like the others.

#include "cli/commands.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {
class Catalog;
}

namespace clustercost::cli {

/// clustercost sweep SWEEP.json [-j N] [-o results.jsonl] [--resume] [--shard K/N] [-q]
Action add_sweep_command(CLI::App& app);
/// clustercost merge A.jsonl B.jsonl ... [-o ALL.jsonl]
Action add_merge_command(CLI::App& app);
/// clustercost report RESULTS --format csv|html|pdf -o FILE
Action add_report_command(CLI::App& app);

/// For `clustercost bench`: analytical sweep throughput on one thread (points per second per
/// core), running scenarios/sweeps/llama3-70b-gpu-type-vs-count.json to a temporary results
/// file (line appends and their syncs included) for at least `min_seconds`. `points` receives the count run.
double bench_sweep_points_per_second(const DataDirs& dirs, const Catalog& catalog,
                                     double min_seconds, std::size_t* points);

}  // namespace clustercost::cli
