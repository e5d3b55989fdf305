// clustercost plan SCENARIO: searches parallel layouts and GPU counts (sim/plan/plan.hpp).
#include "cli/plan_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/cli_common.hpp"
#include "hardware/spec/catalog.hpp"
#include "hardware/spec/catalog_table.hpp"
#include "sim/plan/plan.hpp"

namespace clustercost::cli {

namespace {

struct PlanCliOptions {
  std::string scenario;
  std::vector<std::string> sets;
  std::string objective = "time";
  std::vector<std::string> gpu_types;
  std::int64_t max_gpus = 0;
  std::vector<std::int64_t> gpu_counts;
  double deadline_days = 0;
  int top = 10;
  int confirm = 5;
  int jobs = 0;
  std::vector<int> tp, cp, pp, ep, vpp, micro_batch, zero;
  std::vector<std::string> recompute, schedule;
  std::string format = "text";
  std::string output;
};

// Progress on stderr: plain lines when stderr is not a terminal (logs, CI); on a terminal the
// per-group lines overwrite each other and the other lines stay.
class Progress {
 public:
  Progress() : tty_(::isatty(::fileno(stderr)) != 0) {}
  ~Progress() {
    if (open_) std::fputs("\n", stderr);
  }
  void operator()(const std::string& line) {
    const bool transient = tty_ && line.find(" x") != std::string::npos &&
                           line.find(" layouts, ") != std::string::npos;
    if (tty_) {
      std::fputs("\r\033[K", stderr);
      std::fputs(line.c_str(), stderr);
      if (!transient) std::fputs("\n", stderr);
      open_ = transient;
    } else {
      std::fputs((line + "\n").c_str(), stderr);
    }
    std::fflush(stderr);
  }

 private:
  bool tty_;
  bool open_ = false;
};

}  // namespace

Action add_plan_command(CLI::App& app) {
  auto opt = std::make_shared<PlanCliOptions>();
  auto* sub = app.add_subcommand(
      "plan", "Search parallel layouts and GPU counts that fit; rank them by time or cost");
  sub->add_option("scenario", opt->scenario, "Scenario JSON file")->required();
  sub->add_option("--set", opt->sets, "Override one value of the base scenario: PATH=VALUE");
  sub->add_option("--objective", opt->objective, "Rank by wall time or by total cost")
      ->check(CLI::IsMember({"time", "cost"}));
  sub->add_option("--gpu-types", opt->gpu_types,
                  "GPU types to plan for (default: the pools', else the scenario's)")
      ->delimiter(',');
  sub->add_option("--max-gpus", opt->max_gpus, "Largest GPU count (default: the scenario's)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--gpu-counts", opt->gpu_counts,
                  "GPU counts to try (default: 1,2,3,4,6,8,... nodes up to --max-gpus)")
      ->delimiter(',');
  sub->add_option("--deadline-days", opt->deadline_days,
                  "Rank the layouts that finish within D days first, and answer the fewest "
                  "GPUs of each type that do")
      ->check(CLI::PositiveNumber);
  sub->add_option("--top", opt->top, "Rows of the ranking")->check(CLI::PositiveNumber);
  sub->add_option("--confirm", opt->confirm,
                  "First rows of the ranking confirmed with the discrete-event step (0: analytical only)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("-j,--jobs", opt->jobs, "Threads (default: all cores); results do not depend on it")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--tp", opt->tp, "Tensor-parallel sizes to try (default: divisors of the heads)")
      ->delimiter(',');
  sub->add_option("--cp", opt->cp, "Context-parallel sizes to try")->delimiter(',');
  sub->add_option("--pp", opt->pp, "Pipeline depths to try (default: divisors of the GPU count)")
      ->delimiter(',');
  sub->add_option("--ep", opt->ep, "Expert-parallel sizes to try (default: divisors of the experts)")
      ->delimiter(',');
  sub->add_option("--vpp", opt->vpp, "Virtual stages for the interleaved schedule")->delimiter(',');
  sub->add_option("--micro-batch", opt->micro_batch, "Micro-batch sizes (default 1,2,4)")
      ->delimiter(',');
  sub->add_option("--zero", opt->zero, "ZeRO stages (default 0,1,2,3)")->delimiter(',');
  sub->add_option("--recompute", opt->recompute, "none, selective, full")->delimiter(',');
  sub->add_option("--schedule", opt->schedule, "gpipe, 1f1b, interleaved, zb-h1, dualpipe")
      ->delimiter(',');
  sub->add_option("--format", opt->format, "Output format")->check(CLI::IsMember({"text", "json"}));
  sub->add_option("-o,--output", opt->output, "Output file (written atomically); default stdout");
  return [opt]() {
    DataDirs dirs = data_dirs();
    Catalog catalog = Catalog::load(dirs.catalog());
    Json doc = load_json_file(opt->scenario);
    for (const auto& s : opt->sets) apply_override(doc, s);

    PlanOptions po;
    po.objective = parse_objective(opt->objective);
    po.gpu_types = opt->gpu_types;
    po.max_gpus = opt->max_gpus;
    po.gpu_counts = opt->gpu_counts;
    if (opt->deadline_days > 0) po.deadline_days = opt->deadline_days;
    po.top = opt->top;
    po.confirm = opt->confirm;
    po.threads = opt->jobs > 0 ? opt->jobs
                               : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    po.axes.tp = opt->tp;
    po.axes.cp = opt->cp;
    po.axes.pp = opt->pp;
    po.axes.ep = opt->ep;
    po.axes.vpp = opt->vpp;
    po.axes.micro_batch = opt->micro_batch;
    po.axes.zero = opt->zero;
    for (const auto& r : opt->recompute) po.axes.recompute.push_back(parse_recompute_name(r, "--recompute"));
    for (const auto& s : opt->schedule) po.axes.schedule.push_back(parse_schedule_name(s, "--schedule"));
    auto progress = std::make_shared<Progress>();
    po.progress = [progress](const std::string& line) { (*progress)(line); };

    PlanResult r = plan_layouts(doc, opt->scenario, catalog, dirs, po);
    progress.reset();
    po.progress = nullptr;
    note_gpu_aliases(doc, catalog);
    for (const auto& g : opt->gpu_types)
      if (auto n = gpu_alias_note(catalog, g)) std::cerr << "note: --gpu-types: " << *n << "\n";
    const std::string out = opt->format == "json" ? plan_to_json(r).dump(2) + "\n" : plan_to_text(r);
    emit(opt->output, out);
    return 0;
  };
}

}  // namespace clustercost::cli
