#include "sim/workload/des_step.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <sstream>

#include "hardware/topology/topology_config.hpp"
#include "sim/common/random.hpp"
#include "sim/step/analytical_step.hpp"
#include "sim/step/program_cost.hpp"
#include "sim/step/moe_costs.hpp"
#include "sim/workload/op_sim.hpp"

namespace clustercost {

DesStep simulate_step_des_detailed(const Scenario& s) { return simulate_step_des_detailed(s, {}); }

DesStep simulate_step_des_detailed(const Scenario& s, const DesOptions& options) {
  const auto wall0 = std::chrono::steady_clock::now();
  const Topology topo = build_topology(s);
  // Expert parallelism from sampled routing with flow-level all-to-alls (moe_costs.hpp).
  std::optional<MoeCosts> moe;
  if (needs_routing_samples(s, true)) moe = moe_costs(s, topo, true);
  // The op program (built with the sampled routed load) and the analytical model's view of it,
  // for the per-stage table and memory; the simulation times every op itself.
  const PricedStep priced = price_step(s, topo, moe ? &*moe : nullptr);
  const StepResult a = step_from_price(s, priced);
  const auto& par = s.parallelism;
  const int p = par.pp;
  std::vector<std::string> warnings = a.warnings;

  OpSimSpec spec;
  spec.scenario = &s;
  spec.topology = &topo;
  spec.program = &priced.program;
  spec.moe = priced.moe();
  spec.order = scenario_pipeline_order(s, &warnings);
  spec.vpp = spec.order == PipelineOrder::Interleaved ? par.vpp : 1;
  spec.record_tasks = options.record_tasks;
  const VariationConfig& var = s.cluster.variation;
  // Per-GPU variation makes ranks differ: the reduction to one GPU per stage no longer holds.
  spec.all_ranks = s.simulation.ranks == "all" || var.enabled();
  const RankLayout layout = RankLayout::from(par, s.cluster.gpus_per_node);

  DesStep out;
  for (int i = 0; i < p; ++i) out.stage_gpu.push_back(static_cast<int>(layout.gpu({0, 0, 0, i})));
  std::vector<double> step_times;
  if (var.enabled()) {
    using portable_random::Rng;
    using portable_random::mix_seed;
    const std::uint64_t seed = s.simulation.seed;
    const auto world = static_cast<std::size_t>(layout.world_size());
    std::vector<double> base(world, 1.0);
    if (!var.factors.empty()) {
      base.assign(var.factors.begin(), var.factors.end());
      base.resize(world, 1.0);
    } else if (var.compute_spread > 0) {
      Rng rng(mix_seed(seed, 0x7370726561640000ull));  // "spread"
      for (double& b : base) b = std::max(0.05, 1.0 + var.compute_spread * rng.normal());
    }
    if (var.slow_links > 0) {
      std::vector<LinkId> nic;
      for (LinkId l = 0; l < topo.num_links(); ++l)
        if (topo.link(l).kind == LinkKind::NicLeaf) nic.push_back(l);
      spec.link_factor.assign(topo.num_links(), 1.0);
      Rng rng(mix_seed(seed, 0x736c6f776c696e6bull));  // "slowlink"
      const std::size_t n = std::min<std::size_t>(nic.size(), static_cast<std::size_t>(var.slow_links));
      for (std::size_t k = 0; k < n; ++k) {
        // Partial Fisher–Yates: the first n of a seeded permutation.
        const std::size_t j = k + rng.below(static_cast<std::uint32_t>(nic.size() - k));
        std::swap(nic[k], nic[j]);
        spec.link_factor[nic[k]] = var.slow_link_factor;
      }
    }
    for (int rep = 0; rep < var.replicas; ++rep) {
      spec.gpu_speed = base;
      if (var.step_jitter > 0) {
        Rng rng(mix_seed(seed, 0x6a69747465720000ull + static_cast<std::uint64_t>(rep)));
        for (double& g : spec.gpu_speed) g = std::max(0.05, g * (1.0 + var.step_jitter * rng.normal()));
      }
      spec.record_tasks = options.record_tasks && rep == 0;
      PipelineRun run = simulate_op_program(spec);
      step_times.push_back(run.makespan.seconds().value);
      if (rep == 0) out.run = std::move(run);
    }
  } else {
    out.run = simulate_op_program(spec);
  }
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
  r.simulated_gpus = static_cast<std::int64_t>(run.gpus.size());
  r.critical_path = run.critical_path;
  r.link_use = run.link_use;
  // Peak memory per simulated GPU: the static part of the analytical model (weights, gradients,
  // optimizer state) with the activations in flight at the simulated peak.
  const Bytes fixed = a.memory.weights + a.memory.gradients + a.memory.optimizer;
  for (std::size_t k = 0; k < run.gpus.size(); ++k) {
    GpuMemoryPeak g;
    g.gpu = run.gpus[k];
    g.stage = run.gpu_stage[k];
    g.activations = run.gpu_peak_activations[k];
    g.total = fixed + g.activations;
    r.gpu_memory.push_back(g);
  }
  if (!step_times.empty()) {
    r.variation_step_times = step_times;
    std::vector<double> sorted = step_times;
    std::sort(sorted.begin(), sorted.end());
    // Nearest-rank percentiles.
    auto pct = [&](double q) {
      const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
      return Seconds(sorted[std::max<std::size_t>(k, 1) - 1]);
    };
    r.step_time_p50 = pct(0.5);
    r.step_time_p90 = pct(0.9);
  }
  std::ostringstream note;
  const std::int64_t world = layout.world_size();
  if (spec.all_ranks) {
    note << "des: simulated every GPU (" << world << ")";
    if (var.enabled())
      note << " under cluster.variation; step time of replica 0 of " << var.replicas
           << " seeded steps (P50 " << r.step_time_p50.value << " s, P90 "
           << r.step_time_p90.value << " s)";
  } else {
    note << "des: simulated " << p << (p == 1 ? " GPU" : " GPUs")
         << " (TP, CP and DP rank 0 of each pipeline stage)";
    if (world > p)
      note << "; the other " << (world - p)
           << " run the same program at the same time under uniform routing and no per-GPU "
              "variation, and load the links they share (simulation.ranks: \"all\" simulates "
              "every GPU)";
  }
  warnings.push_back(note.str());
  r.warnings = std::move(warnings);
  out.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return out;
}

StepResult simulate_step_des(const Scenario& s) { return simulate_step_des_detailed(s).result; }

}  // namespace clustercost
