#pragma once
// Each subcommand registers its options on the CLI11 app and returns the action to run.

#include <CLI/CLI.hpp>
#include <functional>

namespace clustercost::cli {

using Action = std::function<int()>;

Action add_run_command(CLI::App& app);
Action add_list_command(CLI::App& app);
Action add_validate_command(CLI::App& app);
Action add_probe_command(CLI::App& app);

}  // namespace clustercost::cli
