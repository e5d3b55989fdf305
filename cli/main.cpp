// clustercost: the command-line front end. Parses arguments, calls the library, prints.
#include <iostream>
#include <vector>

#include "cli/calibration_commands.hpp"
#include "cli/cli_common.hpp"
#include "cli/plan_command.hpp"
#include "cli/sweep_commands.hpp"
#include "cli/trace_bench_commands.hpp"
#include "cli/commands.hpp"
#include "sim/report/report.hpp"

int main(int argc, char** argv) {
  using namespace clustercost::cli;
  CLI::App app{"clustercost: what it really takes to train a model on the GPUs you can get"};
  app.set_version_flag("--version", clustercost::clustercost_version());
  app.require_subcommand(1);
  const std::vector<std::pair<std::string, Action>> commands = {
      {"run", add_run_command(app)},
      {"list", add_list_command(app)},
      {"validate", add_validate_command(app)},
      {"calibrate", add_calibrate_command(app)},
      {"trace", add_trace_command(app)},
      {"bench", add_bench_command(app)},
      {"plan", add_plan_command(app)},
      {"sweep", add_sweep_command(app)},
      {"merge", add_merge_command(app)},
      {"report", add_report_command(app)},
#ifdef CLUSTERCOST_HAVE_PROBE
      {"probe", add_probe_command(app)},
#endif
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;  // usage errors are bad input
  }
  for (const auto& [name, action] : commands)
    if (app.got_subcommand(name)) return guarded(action);
  return 2;
}
