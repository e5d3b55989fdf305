#include "sim/step/analytical_step.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>

#include "sim/program/schedule.hpp"
#include "sim/scenario/scenario_topology.hpp"
#include "sim/step/moe_costs.hpp"

namespace clustercost {

namespace {

/// One stage's cost per micro-batch, as the schedule formulas use it.
struct MicroBatchCost {
  Seconds fwd, bwd, wgrad, tp_fwd, tp_bwd, ep_exposed, ep_fwd_exposed;
  Seconds zero3_exposed;  ///< ZeRO-3 gathers and reduce-scatters not hidden behind compute
  Seconds per_micro_batch() const { return fwd + bwd + tp_fwd + tp_bwd + ep_exposed; }
};

}  // namespace

PipelineOrder scenario_pipeline_order(const Scenario& s, std::vector<std::string>* warnings) {
  const auto& par = s.parallelism;
  switch (par.schedule) {
    case Schedule::GPipe:
      return PipelineOrder::GPipe;
    case Schedule::OneFOneB:
      return PipelineOrder::OneFOneB;
    case Schedule::ZbH1:
      return PipelineOrder::ZbH1;
    case Schedule::Interleaved:
      if (par.vpp > 1 && s.micro_batches() % par.pp != 0) {
        if (warnings)
          warnings->push_back("des: the interleaved schedule needs micro-batches (" +
                           std::to_string(s.micro_batches()) + ") to be a multiple of pp (" +
                           std::to_string(par.pp) + "), as Megatron-LM does; simulated as 1f1b");
        return PipelineOrder::OneFOneB;
      }
      return PipelineOrder::Interleaved;
    case Schedule::DualPipe:
      if (!dualpipe_supported(par.pp, s.micro_batches())) {
        if (warnings)
          warnings->push_back(
            "des: dualpipe needs an even pp and an even number of micro-batches "
            ">= 2*pp (" +
            std::to_string(s.micro_batches()) + " for pp " + std::to_string(par.pp) +
            "); simulated as 1f1b");
        return PipelineOrder::OneFOneB;
      }
      return PipelineOrder::DualPipe;
  }
  return PipelineOrder::OneFOneB;
}

InFlight max_in_flight(const Scenario& s, int rank, Bytes own, Bytes mirror) {
  const auto& par = s.parallelism;
  const std::int64_t mb = s.micro_batches();
  const PipelineOrder order = scenario_pipeline_order(s, nullptr);
  const int vpp = order == PipelineOrder::Interleaved ? par.vpp : 1;
  InFlight out;
  const std::vector<PipelinePass> passes = pipeline_order(order, rank, par.pp, mb, vpp);
  // Walk the program: a forward adds one micro-batch's activations of its chunk, its backward
  // (input gradient) frees them. Under DualPipe the two directions hold different model stages.
  std::int64_t n[2] = {0, 0};
  double peak = -1;
  for (const PipelinePass& p : passes) {
    const int dir = order == PipelineOrder::DualPipe ? p.chunk : 0;
    if (p.kind == PassKind::Forward) ++n[dir];
    else if (p.kind == PassKind::Backward || p.kind == PassKind::BackwardInput) --n[dir];
    const double bytes = order == PipelineOrder::DualPipe
                             ? n[0] * own.value + n[1] * mirror.value
                             : static_cast<double>(n[0]) * own.value / vpp;
    if (bytes > peak) {
      peak = bytes;
      out.own = order == PipelineOrder::DualPipe ? static_cast<double>(n[0]) : static_cast<double>(n[0]) / vpp;
      out.mirror = order == PipelineOrder::DualPipe ? static_cast<double>(n[1]) : 0.0;
    }
  }
  return out;
}

PricedStep price_step(const Scenario& s, const Topology& topo, const MoeCosts* moe,
                      StepCache* cache) {
  PricedStep p;
  p.external_moe = moe;
  if (!moe && s.model.is_moe() && s.parallelism.ep > 1) {
    p.own_moe = moe_costs(s, topo, false, cache);
    moe = &*p.own_moe;
  }
  p.program = build_step_program(s, routed_load(moe));
  p.price = price_program(s, p.program, topo, moe);
  return p;
}

StepResult simulate_step_analytical(const Scenario& s) { return simulate_step_analytical(s, nullptr); }

StepResult simulate_step_analytical(const Scenario& s, const MoeCosts* moe_in) {
  const Topology topo = build_topology(s);
  const PricedStep priced = price_step(s, topo, moe_in);
  return step_from_price(s, priced);
}

StepResult simulate_step_analytical(const Scenario& s, StepCache& cache) {
  const PricedStep priced = price_step(s, cache.topology(s), nullptr, &cache);
  return step_from_price(s, priced);
}

StepResult step_from_price(const Scenario& s, const PricedStep& priced) {
  const auto& par = s.parallelism;
  const auto& gpu = s.gpu;
  const std::int64_t mb = s.micro_batches();
  const int p = par.pp;
  const bool dualpipe = par.schedule == Schedule::DualPipe;
  const StepProgram& prog = priced.program;
  const ProgramPrice& price = priced.price;

  StepResult r;
  r.fidelity = "analytical";
  if (priced.moe()) r.moe = priced.moe()->summary;
  r.tokens = s.tokens_per_step();
  r.flops_per_token = training_flops_per_token(s.model, s.training.seq_len).value;

  // Per micro-batch cost of one stage, and of one rank: under DualPipe a rank runs half of the
  // micro-batches on its own stage and half on the mirrored stage p−1−r, so it pays the average.
  auto stage_cost = [&](int st) {
    const StagePrice& w = price.stages[static_cast<std::size_t>(st)];
    MicroBatchCost c;
    c.fwd = w.forward;
    c.bwd = w.backward();
    c.wgrad = w.weight_grad;
    c.tp_fwd = w.tp_forward;
    c.tp_bwd = w.tp_backward + w.tp_hidden_exposed + w.cp_exposed;
    // DualPipe overlaps a forward chunk with a backward chunk of another micro-batch: the
    // all-to-all of each hides behind the other's compute (DeepSeek-V3 §3.2.1), with SMs held
    // by DeepEP (compute_fraction). Other schedules run dispatch/combine on the critical path.
    const Seconds ep = w.ep_forward + w.ep_backward;
    c.ep_exposed = dualpipe ? Seconds(std::max(0.0, (ep - (c.fwd + c.bwd)).value)) : ep;
    c.ep_fwd_exposed = dualpipe ? c.ep_exposed * 0.5 : w.ep_forward;
    // ZeRO-3's per-layer collectives run prefetched on the communication stream: what outlasts
    // the compute of their pass is exposed.
    c.zero3_exposed = Seconds(std::max(0.0, (w.zero3_forward - c.fwd).value)) +
                      Seconds(std::max(0.0, (w.zero3_backward - c.bwd).value));
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
    m2.zero3_exposed = (a.zero3_exposed + b.zero3_exposed) * 0.5;
    return m2;
  };

  StatePrecision sp;
  sp.weight_bytes = 2;
  sp.grad_bytes = s.training.grad_dtype == "fp32" ? 4.0 : 2.0;
  sp.master_bytes = 4;
  sp.optimizer_bytes = s.training.optimizer_moments == "bf16" ? 4 : 8;
  const int dp_dense = static_cast<int>(par.dp * par.cp);
  const int dp_expert = std::max(1, dp_dense / par.ep);

  double best_total = -1;
  for (int st = 0; st < p; ++st) {
    const MicroBatchCost rc = rank_cost(st);
    const StagePrice& w = price.stages[static_cast<std::size_t>(st)];
    const StageProgram& sprog = prog.stages[static_cast<std::size_t>(st)];
    double params_dense = sprog.params - sprog.expert_params, params_expert = sprog.expert_params;
    Seconds dp_reduce = w.dp_reduce, dp_gather = w.dp_gather, optimizer = w.optimizer;
    const int mirror = p - 1 - st;
    if (dualpipe && mirror != st) {
      // The mirrored stage's weights, their gradients and optimizer live here too.
      const StageProgram& mp = prog.stages[static_cast<std::size_t>(mirror)];
      const StagePrice& mw = price.stages[static_cast<std::size_t>(mirror)];
      params_dense += mp.params - mp.expert_params;
      params_expert += mp.expert_params;
      dp_reduce += mw.dp_reduce;
      dp_gather += mw.dp_gather;
      optimizer += mw.optimizer;
    }
    StageTiming t;
    t.stage = st;
    for (std::size_t li : sprog.layers) {
      const auto k = prog.layers[li].kind;
      if (k == LayerKind::Dense || k == LayerKind::Moe) ++t.layers;
    }
    t.forward = w.forward;
    t.backward = w.backward();
    t.weight_grad = w.weight_grad;
    t.tp_comm = w.tp_forward + w.tp_backward;
    t.ep_comm = w.ep_forward + w.ep_backward;
    t.ep_exposed = stage_cost(st).ep_exposed;
    t.dp_comm = dp_reduce + dp_gather;
    t.params = params_dense + params_expert;
    r.stages.push_back(t);

    // Memory of this rank: state, then activations as the schedule keeps them in flight.
    const StateMemory dense = state_memory(params_dense, sp, par.zero, dp_dense);
    const StateMemory expert = state_memory(params_expert, sp, par.zero, dp_expert);
    MemoryBreakdown mem;
    mem.weights = dense.weights + expert.weights;
    if (par.zero == 3) {
      // ZeRO-3 holds the gathered BF16 weights of the layer computing and of the one prefetched
      // (DeepSpeed's stage3_prefetch_bucket_size / FSDP's forward_prefetch: one layer ahead).
      double largest = 0;
      for (std::size_t li : sprog.layers) largest = std::max(largest, prog.layers[li].params);
      mem.weights += Bytes(2.0 * largest * sp.weight_bytes);
    }
    mem.gradients = dense.grads + expert.grads;
    mem.optimizer = dense.optimizer + expert.optimizer;
    const StageProgram& mprog = prog.stages[static_cast<std::size_t>(mirror)];
    const InFlight in = max_in_flight(s, st, sprog.saved_per_micro_batch,
                                      dualpipe ? mprog.saved_per_micro_batch : Bytes(0));
    mem.activations = sprog.saved_per_micro_batch * in.own + sprog.transient;
    if (dualpipe && mirror != st)
      mem.activations += mprog.saved_per_micro_batch * in.mirror + mprog.transient;
    else if (dualpipe)
      mem.activations += sprog.saved_per_micro_batch * in.mirror;
    mem.capacity = gib(gpu.hbm_usable_gib.get() > 0 ? gpu.hbm_usable_gib.get()
                                                    : gpu.hbm_gb.get() * kGB / kGiB);
    mem.stage = st;
    if (mem.total() > r.memory.total() || st == 0) r.memory = mem;

    StepBreakdown b;
    const double mbd = static_cast<double>(mb);
    b.compute = (rc.fwd + rc.bwd) * mbd;
    b.exposed_tp_comm = (rc.tp_fwd + rc.tp_bwd) * mbd;
    b.exposed_ep_comm = rc.ep_exposed * mbd;
    b.optimizer = optimizer;
    // Gradient reduce-scatter overlaps the last micro-batch's backward and the parameter gather
    // the next step's first forward when the software overlaps them (software.overlap); else
    // both run after the backward, exposed.
    const Seconds rs_exposed = w.dp_reduce_async ? Seconds(std::max(0.0, (dp_reduce - rc.bwd).value)) : dp_reduce;
    const Seconds ag_exposed = w.dp_gather_async ? Seconds(std::max(0.0, (dp_gather - rc.fwd).value)) : dp_gather;
    b.exposed_dp_comm = rs_exposed + ag_exposed;
    b.exposed_dp_comm += rc.zero3_exposed * mbd;  // ZeRO-3 only (op program, add_zero3_ops)
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
  Seconds tf(0), tb(0), tw(0), hop(0);
  for (int rank = 0; rank < p; ++rank) {
    const MicroBatchCost c = rank_cost(rank);
    tf = std::max(tf, c.fwd + c.tp_fwd + c.ep_fwd_exposed);
    tb = std::max(tb, c.bwd + c.tp_bwd + (c.ep_exposed - c.ep_fwd_exposed));
    tw = std::max(tw, c.wgrad);
    hop = std::max(hop, price.stages[static_cast<std::size_t>(rank)].pp_send);
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

  // Pipeline point-to-point on the critical path while the pipeline fills and drains.
  Seconds pp_exposed(0);
  if (p > 1) {
    const double depth = dualpipe ? (p / 2.0 - 1.0) : (p - 1.0);
    pp_exposed = hop * (2.0 * std::max(depth, 1.0));
  }
  r.critical.bubble = bubble;
  r.critical.exposed_pp_comm = pp_exposed;
  {
    const Seconds own = rank_cost(r.critical_stage).per_micro_batch();
    const Seconds pace = tf + tb;
    if (pace > own) r.critical.bubble += (pace - own) * static_cast<double>(mb);
  }
  r.mean.bubble = bubble;
  r.mean.exposed_pp_comm = pp_exposed;
  r.step_time = r.critical.total();
  r.mean.bubble += r.step_time - r.mean.total();

  const double gpus = static_cast<double>(s.cluster.gpus);
  r.tokens_per_s_per_gpu = r.tokens / r.step_time.value / gpus;
  const double peak = gpu.peak_tflops("bf16").value_or(1.0) * 1e12;
  r.mfu = r.flops_per_token * r.tokens_per_s_per_gpu / peak;
  double hw_flops = 0;
  for (const auto& w : price.stages) hw_flops += w.hw_flops;
  const double ranks_per_stage = static_cast<double>(par.tp) * par.cp * par.dp;
  r.hfu = hw_flops * static_cast<double>(mb) * ranks_per_stage / r.step_time.value / gpus / peak;
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
