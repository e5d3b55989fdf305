// clustercost probe [--device cpu|cuda] [--quick] [--threads N] -o measurements.json
// The CUDA part is not linked: --device cuda loads the probe's plugin with dlopen
// (hardware/probe/cuda_plugin.hpp); where CUDA cannot be used it answers "no CUDA device: ..."
// with exit code 2.
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "hardware/probe/probe.hpp"

namespace clustercost::cli {

Action add_probe_command(CLI::App& app) {
  auto opt = std::make_shared<ProbeOptions>();
  auto* sub = app.add_subcommand("probe", "Measure GEMM, memory, attention and launch kernels on this machine");
  sub->add_option("--device", opt->device,
                  "cpu or cuda (cuda loads the probe's CUDA plugin, libclustercost-probe-cuda.so)")->check(CLI::IsMember({"cpu", "cuda"}));
  sub->add_flag("--quick", opt->quick, "Small shapes, few repetitions");
  sub->add_option("--threads", opt->threads, "CPU threads")->check(CLI::PositiveNumber);
  sub->add_option("--repetitions", opt->repetitions, "Timed samples per kernel (0: default)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-o,--output", opt->output_path, "Measurements JSON (written atomically)")->required();
  return [opt]() { return run_probe(*opt, std::cerr); };
}

}  // namespace clustercost::cli
