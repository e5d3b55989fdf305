#include "sim/workload/des_step.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <sstream>

#include "hardware/topology/topology_config.hpp"
#include "sim/step/analytical_step.hpp"
#include "sim/step/program_cost.hpp"
#include "sim/step/moe_costs.hpp"

namespace clustercost {

namespace {

SimTime ticks(Seconds s) { return SimTime::from_seconds(Seconds(std::max(0.0, s.value))); }

/// For each link, the most identical transfers (same source and destination stage, one per
/// rank of the stage) that cross it at once.
std::vector<double> replica_share(const Topology& topo, const RankLayout& layout, bool wrap) {
  const int p = layout.pp();
  std::vector<double> share(topo.num_links(), 1.0);
  std::vector<std::uint32_t> count(topo.num_links(), 0);
  std::vector<LinkId> touched, route;
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i + 1 < p; ++i) pairs.emplace_back(i, i + 1), pairs.emplace_back(i + 1, i);
  if (wrap && p > 1) pairs.emplace_back(p - 1, 0), pairs.emplace_back(0, p - 1);
  for (auto [a, b] : pairs) {
    for (int tp = 0; tp < layout.tp(); ++tp)
      for (int cp = 0; cp < layout.cp(); ++cp)
        for (std::int64_t dp = 0; dp < layout.dp(); ++dp) {
          const auto src = static_cast<int>(layout.gpu({tp, cp, dp, a}));
          const auto dst = static_cast<int>(layout.gpu({tp, cp, dp, b}));
          route.clear();
          topo.append_route(src, dst, 0, route);
          for (LinkId l : route)
            if (count[l]++ == 0) touched.push_back(l);
        }
    for (LinkId l : touched) {
      share[l] = std::max(share[l], static_cast<double>(count[l]));
      count[l] = 0;
    }
    touched.clear();
  }
  return share;
}

}  // namespace

DesStep simulate_step_des_detailed(const Scenario& s) { return simulate_step_des_detailed(s, {}); }

DesStep simulate_step_des_detailed(const Scenario& s, const DesOptions& options) {
  const auto wall0 = std::chrono::steady_clock::now();
  const Topology topo = build_topology(s);
  // Expert parallelism from sampled routing with flow-level all-to-alls (moe_costs.hpp); the
  // pipeline below sees them as the stages' exposed EP time and the busiest rank's experts.
  std::optional<MoeCosts> moe;
  if (needs_routing_samples(s, true)) moe = moe_costs(s, topo, true);
  // The same priced op program as the analytical model (sim/step/program_cost.hpp): the DES
  // arranges its per-stage pass costs in time.
  const PricedStep priced = price_step(s, topo, moe ? &*moe : nullptr);
  const StepResult a = step_from_price(s, priced);
  const auto& par = s.parallelism;
  const int p = par.pp;
  std::vector<std::string> warnings = a.warnings;

  PipelineSpec spec;
  spec.order = scenario_pipeline_order(s, &warnings);
  spec.vpp = spec.order == PipelineOrder::Interleaved ? par.vpp : 1;
  spec.micro_batches = s.micro_batches();
  spec.record_tasks = options.record_tasks;
  for (int st = 0; st < p; ++st) {
    const StagePrice& w = priced.price.stages[static_cast<std::size_t>(st)];
    const StageTiming& t = a.stages[static_cast<std::size_t>(st)];
    StageCost c;
    c.forward = ticks(w.forward);
    c.backward = ticks(w.backward());
    c.weight_grad = ticks(w.weight_grad);
    c.tp_forward = ticks(w.tp_forward);
    c.tp_backward = ticks(w.tp_backward + w.tp_hidden_exposed + w.cp_exposed);
    if (par.schedule == Schedule::DualPipe) {
      c.ep_forward = ticks(t.ep_exposed * 0.5);
      c.ep_backward = ticks(t.ep_exposed * 0.5);
    } else {
      c.ep_forward = ticks(w.ep_forward);
      c.ep_backward = ticks(w.ep_backward);
    }
    // Per-step costs of rank st (under DualPipe it holds two stages: StageTiming adds them).
    const double rs_share = w.dp_reduce + w.dp_gather > Seconds(0)
                                ? w.dp_reduce / (w.dp_reduce + w.dp_gather) : 1.0;
    c.grad_reduce = ticks(t.dp_comm * rs_share);
    c.param_gather = ticks(t.dp_comm * (1.0 - rs_share));
    Seconds opt = w.optimizer;
    if (par.schedule == Schedule::DualPipe && p - 1 - st != st)
      opt += priced.price.stages[static_cast<std::size_t>(p - 1 - st)].optimizer;
    c.optimizer = ticks(opt);
    spec.stages.push_back(c);
  }
  // The program's PP message (one owner of its byte count).
  spec.message = priced.program.stages.front().send_forward.comm_bytes;
  if (par.zero == 3)
    warnings.push_back("des: ZeRO-3 per-micro-batch parameter gathers are not simulated");

  const RankLayout layout = RankLayout::from(par, s.cluster.gpus_per_node);
  PipelineNetwork net;
  net.topology = &topo;
  for (int i = 0; i < p; ++i) net.stage_gpu.push_back(static_cast<int>(layout.gpu({0, 0, 0, i})));
  net.efficiency.scale_up = s.profile.network.scale_up;
  net.efficiency.scale_out = s.profile.network.scale_out;
  net.share = replica_share(topo, layout, spec.vpp > 1);

  DesStep out;
  out.stage_gpu = net.stage_gpu;
  out.run = simulate_pipeline(spec, &net);
  const PipelineRun& run = out.run;

  StepResult& r = out.result;
  r.fidelity = "des";
  r.step_time = run.makespan.seconds();
  r.tokens = a.tokens;
  r.flops_per_token = a.flops_per_token;
  const double gpus = static_cast<double>(s.cluster.gpus);
  r.tokens_per_s_per_gpu = r.tokens / r.step_time.value / gpus;
  const double peak = s.gpu.peak_tflops("bf16").value_or(1.0) * 1e12;
  r.mfu = r.flops_per_token * r.tokens_per_s_per_gpu / peak;
  // Same hardware FLOPs per step as the analytical model, over the simulated step time.
  r.hfu = a.hfu * (a.step_time / r.step_time);
  r.critical_stage = run.critical_stage;
  r.critical = run.stage_breakdown[static_cast<std::size_t>(run.critical_stage)];
  for (const auto& b : run.stage_breakdown) {
    r.mean.compute += b.compute / p;
    r.mean.exposed_tp_comm += b.exposed_tp_comm / p;
    r.mean.exposed_ep_comm += b.exposed_ep_comm / p;
    r.mean.exposed_pp_comm += b.exposed_pp_comm / p;
    r.mean.exposed_dp_comm += b.exposed_dp_comm / p;
    r.mean.bubble += b.bubble / p;
    r.mean.optimizer += b.optimizer / p;
  }
  r.schedule_bubble = r.critical.bubble;
  r.busy_fraction = r.critical.compute / r.step_time;
  r.stages = a.stages;
  r.memory = a.memory;
  r.moe = a.moe;
  r.links_used = run.links;
  r.hottest_link_bytes = run.max_link_bytes;
  r.hottest_link_peak_utilisation = run.max_link_peak_utilisation;
  r.events = run.events;
  r.fingerprint = run.fingerprint;
  std::ostringstream note;
  const std::int64_t others = layout.ranks_per_stage() - 1;
  note << "des: simulated the pipeline of data-parallel replica 0, TP rank 0 (" << p
       << (p == 1 ? " GPU)" : " GPUs)");
  if (others > 0)
    note << "; the other " << others << (others == 1 ? " rank" : " ranks")
         << " per stage " << (others == 1 ? "is" : "are")
         << " identical under uniform routing and load the links they share";
  warnings.push_back(note.str());
  r.warnings = std::move(warnings);
  out.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return out;
}

StepResult simulate_step_des(const Scenario& s) { return simulate_step_des_detailed(s).result; }

}  // namespace clustercost
