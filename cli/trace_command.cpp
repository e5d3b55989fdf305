// clustercost trace SCENARIO [--set PATH=VALUE]... [-o trace.json] [--ranks 0,1,5]
//
// Always simulates at DES fidelity (a trace needs the task timeline), whatever the scenario's
// `simulation.fidelity` says, and writes the Chrome trace-event JSON (sim/workload/trace.hpp).
#include <memory>
#include <string>
#include <vector>

#include "cli/cli_common.hpp"
#include "cli/trace_bench_commands.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/common/input_error.hpp"
#include "sim/workload/des_step.hpp"
#include "sim/workload/trace.hpp"

namespace clustercost::cli {

namespace {
struct TraceCliOptions {
  std::string scenario;
  std::vector<std::string> sets;
  std::string output;
  std::vector<int> ranks;
};
}  // namespace

Action add_trace_command(CLI::App& app) {
  auto opt = std::make_shared<TraceCliOptions>();
  auto* sub = app.add_subcommand(
      "trace", "Simulate one step at DES fidelity and write a Chrome trace (opens in Perfetto)");
  sub->add_option("scenario", opt->scenario, "Scenario JSON file")->required();
  sub->add_option("--set", opt->sets,
                  "Override one value: PATH=VALUE (VALUE parsed as JSON, else a string)");
  sub->add_option("-o,--output", opt->output,
                  "Output file (written atomically); default stdout");
  sub->add_option("--ranks", opt->ranks,
                  "Pipeline stages to keep, e.g. 0,1,5 (0..pp-1; default all)")
      ->delimiter(',');
  return [opt]() {
    DataDirs dirs = data_dirs();
    Catalog catalog = Catalog::load(dirs.catalog());
    Scenario s = load_scenario(opt->scenario, opt->sets, catalog, dirs);
    note_gpu_aliases(opt->scenario, opt->sets, catalog);
    for (int r : opt->ranks)
      if (r < 0 || r >= s.parallelism.pp)
        throw InputError("--ranks", "", "stage " + std::to_string(r) +
                                            " is not in the pipeline (0.." +
                                            std::to_string(s.parallelism.pp - 1) + ")");
    DesOptions des;
    des.record_tasks = true;
    const DesStep step = simulate_step_des_detailed(s, des);
    TraceOptions topt;
    topt.stages = opt->ranks;
    const Json doc = build_chrome_trace(step, topt);
    for (const auto& w : step.result.warnings) std::cerr << "warning: " << w << "\n";
    emit(opt->output, doc.dump() + "\n");
    if (!opt->output.empty() && opt->output != "-")
      std::cerr << "trace: " << doc["traceEvents"].size() << " events, step "
                << step.result.step_time.value << " s, written to " << opt->output << "\n";
    return 0;
  };
}

}  // namespace clustercost::cli
