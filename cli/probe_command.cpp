// clustercost probe [--device cpu|cuda] [--quick] [--threads N] -o measurements.json
// clustercost probe --scenario S.json [--device cpu|cuda] [--quick] -o measurements.json
// The CUDA part is not linked: --device cuda loads the probe's plugin with dlopen
// (hardware/probe/cuda_plugin.hpp); where CUDA cannot be used it answers "no CUDA device: ..."
// with exit code 2. With --scenario the scenario's own kernels are timed (sim/program/
// probe_plan.hpp) instead of the generic sweep.
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "hardware/probe/probe.hpp"
#include "hardware/probe/scenario_ops.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/program/probe_plan.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost::cli {

namespace {
struct ProbeCliOptions {
  ProbeOptions probe;
  std::string scenario;
  std::vector<std::string> sets;
  std::string write_plan;
};
}  // namespace

Action add_probe_command(CLI::App& app) {
  auto opt = std::make_shared<ProbeCliOptions>();
  auto* sub = app.add_subcommand(
      "probe", "Measure kernels on this machine: a generic sweep, or a scenario's own ops (--scenario)");
  sub->add_option("--scenario", opt->scenario,
                  "Time the scenario's own ops (one layer of each kind, one micro-batch) instead "
                  "of the generic sweep");
  sub->add_option("--set", opt->sets, "Override one scenario value: PATH=VALUE");
  sub->add_option("--write-plan", opt->write_plan,
                  "With --scenario: write the ops to time as a plan file for clustercost-probe "
                  "--plan (a GPU machine with only the probe) and measure nothing");
  sub->add_option("--device", opt->probe.device,
                  "cpu or cuda (cuda loads the probe's CUDA plugin, libclustercost-probe-cuda.so)")->check(CLI::IsMember({"cpu", "cuda"}));
  sub->add_flag("--quick", opt->probe.quick, "Small shapes, few repetitions");
  sub->add_option("--threads", opt->probe.threads, "CPU threads")->check(CLI::PositiveNumber);
  sub->add_option("--repetitions", opt->probe.repetitions, "Timed samples per kernel (0: default)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-o,--output", opt->probe.output_path, "Measurements JSON (written atomically)");
  return [opt]() {
    if (opt->scenario.empty() && !opt->write_plan.empty()) {
      std::cerr << "error: probe: --write-plan needs --scenario\n";
      return 2;
    }
    if (opt->write_plan.empty() && opt->probe.output_path.empty()) {
      std::cerr << "error: probe: an output file is required (-o FILE)\n";
      return 2;
    }
    if (opt->scenario.empty()) {
      if (!opt->sets.empty()) {
        std::cerr << "error: probe: --set needs --scenario\n";
        return 2;
      }
      return run_probe(opt->probe, std::cerr);
    }
    // Bad scenarios are input errors (exit 2, file and JSON path) before anything is measured.
    return guarded([&]() {
      const DataDirs dirs = data_dirs();
      const Catalog catalog = Catalog::load(dirs.catalog());
      const Scenario s = load_scenario(opt->scenario, opt->sets, catalog, dirs);
      ProbePlanOptions po;
      po.device = opt->probe.device;
      po.quick = opt->probe.quick;
      po.scenario_file = opt->scenario;
      const probe::ScenarioProbePlan plan = scenario_probe_plan(s, po);
      if (!opt->write_plan.empty()) {
        emit(opt->write_plan, probe::write_scenario_plan(plan));
        return 0;
      }
      return run_scenario_probe(opt->probe, plan, std::cerr);
    });
  };
}

}  // namespace clustercost::cli
