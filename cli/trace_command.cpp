// clustercost trace SCENARIO [--set PATH=VALUE]... [-o trace.json] [--ranks 0,8,9]
//                  [--stages 0,3]
//
// Always simulates at DES fidelity (a trace needs the task timeline), whatever the scenario's
// `simulation.fidelity` says, and writes the Chrome trace-event JSON (sim/workload/trace.hpp).
#include <algorithm>
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
  std::vector<int> stages;
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
                  "GPUs (global ranks) to keep, e.g. 0,8,9 (default all simulated GPUs; "
                  "--set simulation.ranks=all simulates every GPU)")
      ->delimiter(',');
  sub->add_option("--stages", opt->stages,
                  "Pipeline stages to keep, e.g. 0,3 (0..pp-1; default all)")
      ->delimiter(',');
  return [opt]() {
    DataDirs dirs = data_dirs();
    Catalog catalog = Catalog::load(dirs.catalog());
    Scenario s = load_scenario(opt->scenario, opt->sets, catalog, dirs);
    note_gpu_aliases(opt->scenario, opt->sets, catalog);
    for (int r : opt->stages)
      if (r < 0 || r >= s.parallelism.pp)
        throw InputError("--stages", "", "stage " + std::to_string(r) +
                                             " is not in the pipeline (0.." +
                                             std::to_string(s.parallelism.pp - 1) + ")");
    for (int r : opt->ranks)
      if (r < 0 || r >= s.cluster.gpus)
        throw InputError("--ranks", "", "GPU " + std::to_string(r) + " is not in the cluster (0.." +
                                            std::to_string(s.cluster.gpus - 1) + ")");
    DesOptions des;
    des.record_tasks = true;
    const DesStep step = simulate_step_des_detailed(s, des);
    std::vector<int> simulated(step.run.gpus.begin(), step.run.gpus.end());
    std::sort(simulated.begin(), simulated.end());
    for (int r : opt->ranks)
      if (!std::binary_search(simulated.begin(), simulated.end(), r))
        throw InputError("--ranks", "", "GPU " + std::to_string(r) +
                                            " was not simulated; add --set simulation.ranks=all "
                                            "to simulate every GPU");
    TraceOptions topt;
    topt.stages = opt->stages;
    topt.ranks = opt->ranks;
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
