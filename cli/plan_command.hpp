#pragma once
// `clustercost plan`: layout and capacity search (sim/plan/plan.hpp); cli/main.cpp registers it.

#include "cli/commands.hpp"

namespace clustercost::cli {

/// clustercost plan SCENARIO [--objective time|cost] [--gpu-types A,B] [--max-gpus N]
///   [--gpu-counts N,M] [--deadline-days D] [--top N] [--confirm N] [-j N]
///   [--tp ..] [--cp ..] [--pp ..] [--ep ..] [--vpp ..] [--micro-batch ..] [--zero ..]
///   [--recompute ..] [--schedule ..] [--set PATH=VALUE]... [--format text|json] [-o FILE]
Action add_plan_command(CLI::App& app);

}  // namespace clustercost::cli
