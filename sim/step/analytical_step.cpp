#include "sim/step/analytical_step.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include "sim/scenario/scenario_topology.hpp"
#include "sim/step/moe_costs.hpp"

namespace clustercost {

namespace {

double dtype_bytes(const std::string& dtype) {
  if (dtype == "fp8") return 1.0 + 4.0 / 128.0;  // e4m3 values + one fp32 scale per 128 (DeepSeek-V3 §3.3)
  if (dtype == "fp32") return 4.0;
  return 2.0;
}

struct Fabric {
  double up_bps;     // scale-up bytes/s per GPU per direction, achievable
  double out_bps;    // scale-out bytes/s per GPU per direction, achievable
  Seconds up_alpha;
  Seconds out_alpha;
};

Fabric fabric_of(const Scenario& s) {
  const auto& net = s.cluster.network;
  const auto& eff = s.profile.network;
  Fabric f;
  f.up_bps = net.scale_up_gbs_uni * 1e9 * eff.scale_up;
  // Gb/s → B/s. Oversubscription slows traffic that crosses the leaf uplinks; collectives that
  // span nodes in a fat-tree cross them (rail-optimised same-rail traffic does not).
  double out = net.scale_out_gbps_per_gpu * 1e9 / 8.0 * eff.scale_out;
  if (net.topology == "fat-tree" && s.nodes() > 1) out /= net.oversubscription;
  f.out_bps = out;
  f.up_alpha = Seconds(s.gpu.scale_up.latency_us.get() * 1e-6);
  f.out_alpha = Seconds(s.gpu.nic_latency_us.get() * 1e-6);
  return f;
}

struct StageWork {
  int layers = 0;
  Seconds fwd, bwd, wgrad, recompute;
  Seconds tp_fwd, tp_bwd;
  Seconds ep_fwd, ep_bwd;
  double params_dense = 0;   // replicated over dp·cp
  double params_expert = 0;  // replicated over dp·cp/ep
  Bytes act_per_mb;          // activations stored per in-flight micro-batch
  Bytes act_extra;           // once per stage (logits, one layer being recomputed)
  double hw_flops_mb = 0;    // hardware FLOPs per micro-batch (incl. recompute)
};

}  // namespace

Seconds ring_allreduce_time(Bytes bytes, int n, double bytes_per_s, Seconds alpha) {
  if (n <= 1) return Seconds(0);
  double k = 2.0 * (n - 1);
  return Seconds(k / n * bytes.value / bytes_per_s + k * alpha.value);
}

Seconds ring_gather_time(Bytes bytes, int n, double bytes_per_s, Seconds alpha) {
  if (n <= 1) return Seconds(0);
  double k = n - 1.0;
  return Seconds(k / n * bytes.value / bytes_per_s + k * alpha.value);
}

double expected_distinct_nodes(int experts, int nodes, int top_k, int node_limit) {
  if (nodes <= 1) return 1.0;
  // P(node not hit) = C(E − E/N, k) / C(E, k), computed as a product to stay finite.
  const double e = experts, per = static_cast<double>(experts) / nodes;
  double p_miss = 1.0;
  for (int i = 0; i < top_k; ++i) p_miss *= std::max(0.0, (e - per - i) / (e - i));
  double d = nodes * (1.0 - p_miss);
  if (node_limit > 0) d = std::min(d, static_cast<double>(node_limit));
  return d;
}

StepResult simulate_step_analytical(const Scenario& s) { return simulate_step_analytical(s, nullptr); }

StepResult simulate_step_analytical(const Scenario& s, const MoeCosts* moe_costs_in) {
  const auto& par = s.parallelism;
  const auto& m = s.model;
  const auto& gpu = s.gpu;
  const auto& prof = s.profile;
  const Fabric fab = fabric_of(s);
  const int gpn = s.cluster.gpus_per_node;
  const std::int64_t mb = s.micro_batches();
  const int p = par.pp;

  ShardContext ctx;
  ctx.tp = par.tp;
  ctx.cp = par.cp;
  ctx.ep = par.ep;
  ctx.seq_len = s.training.seq_len;
  ctx.micro_batch = par.micro_batch;
  ctx.sequence_parallel = par.sequence_parallel;
  ctx.bytes_per_param = s.training.precision == "fp8" ? 1 : 2;
  ctx.bytes_per_activation = 2;
  ctx.bytes_per_grad = s.training.grad_dtype == "fp32" ? 4 : 2;
  ctx.savings = activation_savings(s);
  // Operators whose forward runs again in backward because their outputs were not stored.
  auto recomputed = [&](const std::string& name) {
    const auto& sv = ctx.savings;
    auto starts = [&](const char* prefix) { return name.rfind(prefix, 0) == 0; };
    if (sv.recompute_norms && name.find("norm") != std::string::npos) return true;
    if (sv.recompute_mla_up_proj && (starts("attn.q_up") || starts("attn.kv_up"))) return true;
    if (sv.recompute_moe_act && (starts("moe.experts.act") || starts("moe.shared.act"))) return true;
    if (sv.recompute_mlp_act && starts("mlp.act")) return true;
    return false;
  };
  std::vector<LayerPlan> plans;
  try {
    plans = plan_layers(m, ctx);
  } catch (const InfeasibleError& e) {
    throw InfeasibleError(s.file, e.json_path(), e.message());
  }
  // Attention is FlashAttention-style on every catalogued GPU (the profile's attention
  // efficiencies are FlashAttention figures), so the s×s scores are never stored: without
  // recomputation a layer stores what Korthikanti's "selective" stores.
  const Recompute act_mode = par.recompute == Recompute::None ? Recompute::Selective : par.recompute;

  const double compute_fraction =
      1.0 - static_cast<double>(par.comm_sms) / std::max(1.0, gpu.sms.get());
  const std::string& prec = s.training.precision == "fp16" ? std::string("bf16") : s.training.precision;

  // Stage of each transformer layer.
  std::vector<int> stage_of_layer(static_cast<std::size_t>(m.layers));
  {
    int layer = 0;
    for (int st = 0; st < p; ++st)
      for (int i = 0; i < par.stage_layers[static_cast<std::size_t>(st)]; ++i)
        stage_of_layer[static_cast<std::size_t>(layer++)] = st;
  }

  // EP group geometry: contiguous ranks, so an EP group of ep ranks spans ep/gpn nodes.
  const int ep_nodes = std::max(1, par.ep / gpn);
  const int ep_local = std::min(par.ep, gpn);
  // Sampled routing (moe_costs.hpp) when given, or when the scenario's routing is not what the
  // uniform closed form below describes.
  std::optional<MoeCosts> own_costs;
  const MoeCosts* moe_costs_used = moe_costs_in;
  if (!moe_costs_used && needs_routing_samples(s, false)) {
    own_costs = moe_costs(s, build_topology(s), false);
    moe_costs_used = &*own_costs;
  }
  std::vector<int> moe_index(static_cast<std::size_t>(m.layers), -1);
  {
    int k = 0;
    for (int l = 0; l < m.layers; ++l)
      if (m.layer_is_moe(l)) moe_index[static_cast<std::size_t>(l)] = k++;
  }
  MoeSummary closed_form;  // filled by the closed form (first MoE layer)

  std::vector<StageWork> work(static_cast<std::size_t>(p));
  for (const auto& lp : plans) {
    int st = 0;
    if (lp.kind == LayerKind::Embedding) st = 0;
    else if (lp.kind == LayerKind::Mtp || lp.kind == LayerKind::LmHead) st = p - 1;
    else st = stage_of_layer[static_cast<std::size_t>(lp.index)];
    StageWork& w = work[static_cast<std::size_t>(st)];
    if (lp.kind == LayerKind::Dense || lp.kind == LayerKind::Moe) ++w.layers;

    Seconds attn_fwd(0);
    for (const auto& op : lp.ops) {
      Seconds f = kernel_time(gpu, prof, op.op_class, op.shape, op.flops_fwd, op.bytes_fwd, prec,
                              false, compute_fraction);
      Seconds b = kernel_time(gpu, prof, op.op_class, op.shape, op.flops_bwd, op.bytes_bwd, prec,
                              true, compute_fraction);
      w.fwd += f;
      w.bwd += b;
      w.hw_flops_mb += op.flops_fwd.value + op.flops_bwd.value;
      // Weight gradients are half of a GEMM's backward (dgrad and wgrad are equal in FLOPs).
      if (op.op_class == OpClass::Gemm || op.op_class == OpClass::GroupedGemm) w.wgrad += b * 0.5;
      if (op.op_class == OpClass::Attention) {
        attn_fwd += f;
        if (par.recompute == Recompute::Selective) w.hw_flops_mb += op.flops_fwd.value;
      }
      if (par.recompute != Recompute::Full && recomputed(op.name)) {
        w.recompute += f;
        w.hw_flops_mb += op.flops_fwd.value;
      }
    }
    if (par.recompute == Recompute::Full && (lp.kind == LayerKind::Dense || lp.kind == LayerKind::Moe)) {
      Seconds layer_fwd(0);
      double layer_flops = 0;
      for (const auto& op : lp.ops) {
        layer_fwd += kernel_time(gpu, prof, op.op_class, op.shape, op.flops_fwd, op.bytes_fwd,
                                 prec, false, compute_fraction);
        layer_flops += op.flops_fwd.value;
      }
      w.recompute += layer_fwd;
      w.hw_flops_mb += layer_flops;
    } else if (par.recompute == Recompute::Selective) {
      w.recompute += attn_fwd;
    }

    // Tensor parallelism: Megatron's all-reduces (or RS+AG pairs with sequence parallelism,
    // the same bytes on the wire) inside the node, forward and backward.
    if (par.tp > 1 && (lp.comm.tp_collectives_fwd > 0 || lp.comm.tp_collectives_bwd > 0)) {
      Seconds one = ring_allreduce_time(lp.comm.tp_bytes, par.tp, fab.up_bps, fab.up_alpha);
      w.tp_fwd += one * lp.comm.tp_collectives_fwd;
      w.tp_bwd += one * lp.comm.tp_collectives_bwd;
    }

    // Expert parallelism: dispatch and combine, each a forward all-to-all and its backward twin.
    if (lp.kind == LayerKind::Moe && par.ep > 1 && m.moe && moe_costs_used) {
      const int mi = moe_index[static_cast<std::size_t>(lp.index)];
      const MoeCosts::LayerCost& c = moe_costs_used->for_moe_layer(std::max(0, mi));
      w.ep_fwd += c.ep_fwd;
      w.ep_bwd += c.ep_bwd;
      // The EP group waits for its busiest rank's experts (grouped GEMMs of its real tokens).
      w.fwd += c.expert_fwd_extra;
      w.bwd += c.expert_bwd_extra;
      w.wgrad += c.expert_bwd_extra * 0.5;
      if (par.recompute == Recompute::Full) w.recompute += c.expert_fwd_extra;
    } else if (lp.kind == LayerKind::Moe && par.ep > 1 && m.moe) {
      const double copies = lp.comm.ep_tokens_dispatched;  // token copies = tokens · top_k
      const double tokens = copies / m.moe->top_k;
      const double hidden = m.hidden;
      auto a2a = [&](double elem_bytes) {
        // Scale-out: with node-limited routing DeepEP sends one copy per distinct remote node
        // and forwards over NVLink inside it; without a limit every remote copy crosses.
        double ib_bytes = 0;
        if (ep_nodes > 1) {
          double remote_share = static_cast<double>(ep_nodes - 1) / ep_nodes;
          double per_token = s.moe_routing.node_limit
              ? expected_distinct_nodes(m.moe->routed_experts, ep_nodes, m.moe->top_k,
                                        *s.moe_routing.node_limit) * remote_share
              : m.moe->top_k * remote_share;
          ib_bytes = tokens * per_token * hidden * elem_bytes;
        }
        // Scale-up: copies for experts on other GPUs of the destination node.
        double nvl_bytes = copies * hidden * elem_bytes * (ep_local - 1.0) / ep_local;
        double t_ib = ib_bytes > 0 ? ib_bytes / fab.out_bps + fab.out_alpha.value : 0.0;
        double t_nvl = nvl_bytes > 0 ? nvl_bytes / fab.up_bps + fab.up_alpha.value : 0.0;
        return Seconds(std::max(t_ib, t_nvl));  // the two legs are pipelined (DeepEP)
      };
      Seconds dispatch = a2a(dtype_bytes(s.moe_routing.dispatch_dtype));
      Seconds combine = a2a(dtype_bytes(s.moe_routing.combine_dtype));
      w.ep_fwd += dispatch + combine;
      // Backward: gradients of the combine travel like a dispatch and vice versa, in BF16.
      w.ep_bwd += a2a(2.0) * 2.0;
      if (closed_form.method.empty()) {
        closed_form.method = "closed-form";
        closed_form.all_to_all = s.moe_routing.all_to_all;
        closed_form.ep = par.ep;
        closed_form.mean_rank_tokens = closed_form.max_rank_tokens = copies;
        closed_form.dispatch = dispatch;
        closed_form.combine = combine;
        closed_form.ep_time_per_layer = dispatch + combine + a2a(2.0) * 2.0;
        if (ep_nodes > 1) {
          const double remote_share = static_cast<double>(ep_nodes - 1) / ep_nodes;
          closed_form.cross_node_bytes_per_token =
              (s.moe_routing.node_limit
                   ? expected_distinct_nodes(m.moe->routed_experts, ep_nodes, m.moe->top_k,
                                             *s.moe_routing.node_limit) * remote_share
                   : m.moe->top_k * remote_share) *
              hidden * dtype_bytes(s.moe_routing.dispatch_dtype);
        }
      }
    }

    // Parameters: routed experts are sharded by ep and replicated over dp·cp/ep.
    const double expert_params = lp.expert_params_on_rank;
    w.params_expert += expert_params;
    w.params_dense += lp.params_on_rank - expert_params;

    if (lp.kind == LayerKind::LmHead) {
      // Logits and the head's inputs live only between the last forward and its backward.
      w.act_extra += activation_bytes_per_layer(m, ctx, lp.kind, act_mode);
    } else if (lp.kind == LayerKind::Mtp) {
      // An MTP module ends in its own head, whose logits are as short-lived as the main head's.
      const Bytes head = activation_bytes_per_layer(m, ctx, LayerKind::LmHead, act_mode);
      w.act_per_mb += activation_bytes_per_layer(m, ctx, lp.kind, act_mode) - head;
      w.act_extra += head;
    } else {
      w.act_per_mb += activation_bytes_per_layer(m, ctx, lp.kind, act_mode);
    }
  }
  if (par.recompute == Recompute::Full) {
    // During backward one layer's full activations are rebuilt at a time.
    for (auto& w : work)
      w.act_extra += activation_bytes_per_layer(m, ctx, m.is_moe() ? LayerKind::Moe : LayerKind::Dense,
                                                Recompute::Selective);
  }

  // DualPipe: each rank holds stage i and stage p−1−i (two parameter copies), and processes
  // each micro-batch once on one of them, so compute per micro-batch is one stage's worth.
  const bool dualpipe = par.schedule == Schedule::DualPipe;

  StepResult r;
  r.fidelity = "analytical";
  if (moe_costs_used) {
    r.moe = moe_costs_used->summary;
  } else if (!closed_form.method.empty()) {
    r.moe = closed_form;
    for (int l = 0; l < m.layers; ++l) r.moe.moe_layers += m.layer_is_moe(l) ? 1 : 0;
  }
  r.tokens = s.tokens_per_step();
  r.flops_per_token = training_flops_per_token(m, s.training.seq_len).value;

  // Data-parallel groups: dense weights over dp·cp ranks, experts over dp·cp/ep.
  const int dp_dense = static_cast<int>(par.dp * par.cp);
  const int dp_expert = std::max(1, dp_dense / par.ep);
  const double grad_bytes = s.training.grad_dtype == "fp32" ? 4.0 : 2.0;
  const bool dp_cross_node = static_cast<std::int64_t>(par.tp) * par.cp * par.dp > gpn;
  const double dp_bps = dp_cross_node ? fab.out_bps : fab.up_bps;
  const Seconds dp_alpha = dp_cross_node ? fab.out_alpha : fab.up_alpha;

  StatePrecision sp;
  sp.weight_bytes = 2;
  sp.grad_bytes = grad_bytes;
  sp.master_bytes = 4;
  sp.optimizer_bytes = s.training.optimizer_moments == "bf16" ? 4 : 8;

  // In-flight micro-batches (in units of one stage's activations) at the busiest stage.
  auto inflight = [&](int stage) -> double {
    switch (par.schedule) {
      case Schedule::GPipe: return static_cast<double>(mb);
      case Schedule::OneFOneB:
      case Schedule::ZbH1: return std::min<double>(static_cast<double>(mb), p - stage);
      case Schedule::Interleaved:  // Narayanan et al. 2021 §2.2.2
        return std::min<double>(static_cast<double>(mb),
                                (p - stage) * (1.0 + (p - 1.0) / (static_cast<double>(p) * par.vpp)));
      case Schedule::DualPipe: return std::min<double>(static_cast<double>(mb) / 2.0, p - stage);
    }
    return p;
  };
  // DualPipe: rank r runs stage r for micro-batches entering at rank 0 (1F1B-like, p − r in
  // flight) and stage p−1−r for those entering at rank p−1 (r + 1 in flight): p + 1 stage-loads
  // in all, DeepSeek-V3 Table 2's "PP+1".
  auto activations_on_rank = [&](int rank) -> Bytes {
    const StageWork& own = work[static_cast<std::size_t>(rank)];
    if (!dualpipe) return own.act_per_mb * inflight(rank) + own.act_extra;
    const int mirror = p - 1 - rank;
    const StageWork& other = work[static_cast<std::size_t>(mirror)];
    Bytes b = own.act_per_mb * inflight(rank) + own.act_extra;
    if (mirror != rank) b += other.act_per_mb * inflight(mirror) + other.act_extra;
    else b += own.act_per_mb * inflight(mirror);
    return b;
  };

  // Per micro-batch cost of one stage, and of one rank: under DualPipe a rank runs half of the
  // micro-batches on its own stage and half on the mirrored stage p−1−r, so it pays the average
  // of the two (the heavy LM-head stage pairs with the light embedding stage).
  struct MicroBatchCost {
    Seconds fwd, bwd, wgrad, tp_fwd, tp_bwd, ep_exposed, ep_fwd_exposed;
    Seconds per_micro_batch() const { return fwd + bwd + tp_fwd + tp_bwd + ep_exposed; }
  };
  auto stage_cost = [&](int st) {
    const StageWork& w = work[static_cast<std::size_t>(st)];
    MicroBatchCost c;
    c.fwd = w.fwd;
    c.bwd = w.bwd + w.recompute;
    c.wgrad = w.wgrad;
    c.tp_fwd = w.tp_fwd;
    c.tp_bwd = w.tp_bwd;
    // DualPipe overlaps a forward chunk with a backward chunk of another micro-batch: the
    // all-to-all of each hides behind the other's compute (DeepSeek-V3 §3.2.1). Other
    // schedules run dispatch/combine on the critical path.
    const Seconds ep = w.ep_fwd + w.ep_bwd;
    c.ep_exposed = dualpipe ? Seconds(std::max(0.0, (ep - (c.fwd + c.bwd)).value)) : ep;
    c.ep_fwd_exposed = dualpipe ? c.ep_exposed * 0.5 : w.ep_fwd;
    return c;
  };
  auto rank_cost = [&](int rank) {
    MicroBatchCost a = stage_cost(rank);
    if (!dualpipe || p - 1 - rank == rank) return a;
    MicroBatchCost b = stage_cost(p - 1 - rank);
    MicroBatchCost m2;
    m2.fwd = (a.fwd + b.fwd) * 0.5;
    m2.bwd = (a.bwd + b.bwd) * 0.5;
    m2.wgrad = (a.wgrad + b.wgrad) * 0.5;
    m2.tp_fwd = (a.tp_fwd + b.tp_fwd) * 0.5;
    m2.tp_bwd = (a.tp_bwd + b.tp_bwd) * 0.5;
    m2.ep_exposed = (a.ep_exposed + b.ep_exposed) * 0.5;
    m2.ep_fwd_exposed = (a.ep_fwd_exposed + b.ep_fwd_exposed) * 0.5;
    return m2;
  };

  double best_total = -1;
  for (int st = 0; st < p; ++st) {
    const MicroBatchCost rc = rank_cost(st);
    StageWork w = work[static_cast<std::size_t>(st)];
    if (dualpipe) {
      // The mirrored stage's weights live here too.
      const StageWork& mirror = work[static_cast<std::size_t>(p - 1 - st)];
      if (p - 1 - st != st) {
        w.params_dense += mirror.params_dense;
        w.params_expert += mirror.params_expert;
      }
    }
    StageTiming t;
    t.stage = st;
    t.layers = w.layers;
    t.forward = w.fwd;
    t.backward = w.bwd + w.recompute;
    t.weight_grad = w.wgrad;
    t.tp_comm = w.tp_fwd + w.tp_bwd;
    t.ep_comm = w.ep_fwd + w.ep_bwd;
    t.ep_exposed = stage_cost(st).ep_exposed;
    t.params = w.params_dense + w.params_expert;

    // Gradient reduction: reduce-scatter (ZeRO ≥ 1) or all-reduce (ZeRO 0) over the dp ring;
    // ZeRO ≥ 1 gathers updated parameters afterwards. Same bytes on the wire as an all-reduce.
    Seconds rs = ring_gather_time(Bytes(w.params_dense * grad_bytes), dp_dense, dp_bps, dp_alpha) +
                 ring_gather_time(Bytes(w.params_expert * grad_bytes), dp_expert, dp_bps, dp_alpha);
    Seconds ag = ring_gather_time(Bytes(w.params_dense * 2.0), dp_dense, dp_bps, dp_alpha) +
                 ring_gather_time(Bytes(w.params_expert * 2.0), dp_expert, dp_bps, dp_alpha);
    if (par.zero == 0) ag = Seconds(0), rs = rs * 2.0;  // all-reduce = RS + AG of the gradients
    t.dp_comm = rs + ag;
    Seconds zero3_gather(0);
    if (par.zero == 3) zero3_gather = ag * (2.0 * static_cast<double>(mb));  // fwd + bwd per micro-batch
    r.stages.push_back(t);

    // Memory of this stage's ranks.
    StateMemory dense = state_memory(w.params_dense, sp, par.zero, dp_dense);
    StateMemory expert = state_memory(w.params_expert, sp, par.zero, dp_expert);
    MemoryBreakdown mem;
    mem.weights = dense.weights + expert.weights;
    mem.gradients = dense.grads + expert.grads;
    mem.optimizer = dense.optimizer + expert.optimizer;
    mem.activations = activations_on_rank(st);
    mem.capacity = gib(gpu.hbm_usable_gib.get() > 0 ? gpu.hbm_usable_gib.get()
                                                    : gpu.hbm_gb.get() * kGB / kGiB);
    mem.stage = st;
    if (mem.total() > r.memory.total() || st == 0) r.memory = mem;

    // The step on this stage's rank.
    StepBreakdown b;
    const double mbd = static_cast<double>(mb);
    b.compute = (rc.fwd + rc.bwd) * mbd;
    b.exposed_tp_comm = (rc.tp_fwd + rc.tp_bwd) * mbd;
    b.exposed_ep_comm = rc.ep_exposed * mbd;
    // Optimizer: memory-bound Adam over the local shard: read master, grad, two moments; write
    // master, two moments and the BF16 weights.
    const double shard = (par.zero >= 1 ? w.params_dense / dp_dense + w.params_expert / dp_expert
                                        : w.params_dense + w.params_expert);
    const double opt_bytes = shard * (2 * 4.0 + grad_bytes + 2 * sp.optimizer_bytes + 2.0);
    b.optimizer = Seconds(opt_bytes / (gpu.hbm_tbps.get() * 1e12 * prof.memory.efficiency));
    // Gradient reduce-scatter overlaps the last micro-batch's backward; the parameter gather
    // overlaps the next step's first forward (Megatron --overlap-grad-reduce/--overlap-param-gather).
    b.exposed_dp_comm = Seconds(std::max(0.0, (rs - rc.bwd).value) +
                                std::max(0.0, (ag - rc.fwd).value) +
                                std::max(0.0, (zero3_gather - b.compute).value));
    const double total = b.total().value;
    if (total > best_total) {
      best_total = total;
      r.critical = b;
      r.critical_stage = st;
    }
    r.mean.compute += b.compute / p;
    r.mean.exposed_tp_comm += b.exposed_tp_comm / p;
    r.mean.exposed_ep_comm += b.exposed_ep_comm / p;
    r.mean.exposed_dp_comm += b.exposed_dp_comm / p;
    r.mean.optimizer += b.optimizer / p;
  }

  // Pipeline: every stage waits for the slowest one, so the bubble and the point-to-point
  // chain are set by the slowest stage's per-micro-batch times.
  Seconds tf(0), tb(0), tw(0);
  for (int rank = 0; rank < p; ++rank) {
    const MicroBatchCost c = rank_cost(rank);
    tf = std::max(tf, c.fwd + c.tp_fwd + c.ep_fwd_exposed);
    tb = std::max(tb, c.bwd + c.tp_bwd + (c.ep_exposed - c.ep_fwd_exposed));
    tw = std::max(tw, c.wgrad);
  }
  Seconds bubble(0);
  switch (par.schedule) {
    case Schedule::GPipe:
    case Schedule::OneFOneB: bubble = (tf + tb) * (p - 1.0); break;
    case Schedule::Interleaved: bubble = (tf + tb) * ((p - 1.0) / par.vpp); break;
    // Qi et al. 2023 (ZB-H1), in DeepSeek-V3 Table 2 notation: (PP−1)(F+B−2W), B = full backward.
    case Schedule::ZbH1: bubble = (tf + tb - tw * 2.0) * (p - 1.0); break;
    // DeepSeek-V3 Table 2: (PP/2−1)(F&B+B−3W); F&B, an overlapped forward+backward pair, takes
    // F+B of compute.
    case Schedule::DualPipe: bubble = ((tf + tb) + tb - tw * 3.0) * (p / 2.0 - 1.0); break;
  }
  bubble = Seconds(std::max(0.0, bubble.value));
  r.schedule_bubble = bubble;

  // Pipeline point-to-point: activations forward, gradients backward, one micro-batch each;
  // on the critical path only while the pipeline fills and drains.
  Seconds pp_exposed(0);
  if (p > 1) {
    const bool pp_cross_node = static_cast<std::int64_t>(par.tp) * par.cp * par.dp >= gpn;
    Bytes act(static_cast<double>(par.micro_batch) * s.training.seq_len / par.cp * m.hidden * 2.0 /
              (par.sequence_parallel ? par.tp : 1));
    Seconds hop = pp_cross_node ? Seconds(act.value / fab.out_bps) + fab.out_alpha
                                : Seconds(act.value / fab.up_bps) + fab.up_alpha;
    double depth = dualpipe ? (p / 2.0 - 1.0) : (p - 1.0);
    pp_exposed = hop * (2.0 * std::max(depth, 1.0));
  }

  // Every rank waits for the slowest stage each micro-batch: the steady state is mb × (tf + tb)
  // of the critical stage; its own breakdown is kept and the pipeline terms added.
  r.critical.bubble = bubble;
  r.critical.exposed_pp_comm = pp_exposed;
  {
    // Align the critical stage's compute with the pipeline's pace.
    Seconds own = rank_cost(r.critical_stage).per_micro_batch();
    Seconds pace = tf + tb;
    if (pace > own) r.critical.bubble += (pace - own) * static_cast<double>(mb);
  }
  r.mean.bubble = bubble;
  r.mean.exposed_pp_comm = pp_exposed;
  r.step_time = r.critical.total();
  r.mean.bubble += r.step_time - r.mean.total();  // the rest of the others' time is waiting

  const double gpus = static_cast<double>(s.cluster.gpus);
  r.tokens_per_s_per_gpu = r.tokens / r.step_time.value / gpus;
  const double peak = gpu.peak_tflops("bf16").value_or(1.0) * 1e12;
  r.mfu = r.flops_per_token * r.tokens_per_s_per_gpu / peak;
  double hw_flops = 0;
  for (const auto& w : work) hw_flops += w.hw_flops_mb;
  // Hardware FLOPs per step on all GPUs: per micro-batch per stage-rank × micro-batches × ranks
  // per stage (tp·cp·dp share one stage; each of the pp stages does its own layers).
  const double ranks_per_stage = static_cast<double>(par.tp) * par.cp * par.dp;
  double hw_step = hw_flops * static_cast<double>(mb) * ranks_per_stage;
  r.hfu = hw_step / r.step_time.value / gpus / peak;
  r.busy_fraction = r.critical.compute / r.step_time;

  if (!r.memory.fits()) {
    std::ostringstream os;
    os.precision(4);
    os << "does not fit: stage " << r.memory.stage << " needs " << to_gib(r.memory.total())
       << " GiB per GPU (weights " << to_gib(r.memory.weights) << ", gradients "
       << to_gib(r.memory.gradients) << ", optimizer " << to_gib(r.memory.optimizer)
       << ", activations " << to_gib(r.memory.activations) << ") but " << gpu.name << " has "
       << to_gib(r.memory.capacity) << " GiB";
    r.warnings.push_back(os.str());
  }
  return r;
}

}  // namespace clustercost
