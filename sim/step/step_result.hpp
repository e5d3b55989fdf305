#pragma once
/// The result of simulating one training step, whatever the fidelity (analytical or DES).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/common/units.hpp"

namespace clustercost {

/// Where a step's time goes on one rank. The fields add up to the step time.
struct StepBreakdown {
  Seconds compute;          // kernels on the compute stream (incl. recomputation)
  Seconds exposed_tp_comm;  // tensor-parallel collectives not hidden behind compute
  Seconds exposed_ep_comm;  // expert-parallel dispatch/combine not hidden
  Seconds exposed_pp_comm;  // pipeline send/recv on the critical path
  Seconds exposed_dp_comm;  // gradient reduce / parameter gather not hidden
  Seconds bubble;           // pipeline fill and drain
  Seconds optimizer;

  Seconds total() const {
    return compute + exposed_tp_comm + exposed_ep_comm + exposed_pp_comm + exposed_dp_comm +
           bubble + optimizer;
  }
};

/// Per pipeline stage, per micro-batch.
struct StageTiming {
  int stage = 0;
  int layers = 0;
  Seconds forward;       // compute, one micro-batch
  Seconds backward;      // compute incl. recomputation
  Seconds weight_grad;   // the weight-gradient part of backward (zero-bubble schedules)
  Seconds tp_comm;       // forward + backward
  Seconds ep_comm;       // dispatch + combine, forward + backward
  Seconds ep_exposed;
  Seconds dp_comm;       // whole step
  double params = 0;     // on one rank of this stage
};

struct MemoryBreakdown {
  Bytes weights;
  Bytes gradients;
  Bytes optimizer;       // master weights + moments (ZeRO-sharded)
  Bytes activations;     // stored for backward, in-flight micro-batches
  Bytes total() const { return weights + gradients + optimizer + activations; }
  Bytes capacity;
  int stage = 0;         // the stage with the largest footprint
  bool fits() const { return total() <= capacity; }
};

/// One sampled MoE layer: its routing and its all-to-alls (one micro-batch, EP group 0).
struct MoeLayerSample {
  int moe_layer = 0;             // index among the MoE layers
  int layer = 0;                 // model layer
  double max_rank_tokens = 0;    // routed token copies on the busiest EP rank
  double mean_rank_tokens = 0;
  double dropped_tokens = 0;     // copies dropped by the capacity factor, whole EP group
  double cross_node_bytes_per_token = 0;  // dispatch bytes a token sends over the scale-out
  Seconds expert_fwd_busiest, expert_fwd_mean;  // grouped-GEMM forward, busiest / mean rank
  Seconds dispatch, combine;     // forward all-to-alls
  Bytes scale_out_bytes;         // dispatch + combine bytes through NICs
  std::string hottest_link;      // of the dispatch
  double hottest_link_utilisation = 0;  // peak (flow level) or 1 at the bottleneck (α-β)
};

/// Expert-parallel traffic of a step (MoE models with ep > 1).
struct MoeSummary {
  std::string method;            // "flow" (DES), "alpha-beta" or "closed-form" (analytical)
  std::string all_to_all;        // "direct" or "hierarchical"
  int moe_layers = 0;
  int sampled_layers = 0;
  int ep = 1;
  double max_rank_tokens = 0;    // mean over the sampled layers, per micro-batch
  double mean_rank_tokens = 0;
  double dropped_tokens_per_step = 0;  // all EP groups, all MoE layers, all micro-batches
  double dropped_fraction = 0;
  double cross_node_bytes_per_token = 0;  // per MoE layer, dispatch
  Seconds dispatch, combine;     // per MoE layer and micro-batch (mean over samples)
  Seconds ep_time_per_layer;     // forward + backward all-to-alls, one micro-batch
  Seconds expert_imbalance_per_layer;  // busiest − mean rank expert compute, fwd + bwd
  std::string hottest_link;
  double hottest_link_utilisation = 0;
  /// EP rank × EP rank dispatch bytes of the first sampled layer, row-major (heatmaps).
  std::vector<double> traffic_bytes;
  std::vector<MoeLayerSample> layers;
};

/// Traffic and utilisation of one topology link in a simulated step (DES).
struct LinkUse {
  std::string name;  ///< describe_link (sim/network/all_to_all.hpp)
  Bytes bytes;
  double peak_utilisation = 0;
  double mean_utilisation = 0;  ///< over the step
};

/// Time on the step's critical path by kind of work ("gemm", "attention", "memory-bound",
/// "optimizer", "tp all-reduce", "ep all-to-all-dispatch", "pp send-recv", "dp reduce-scatter",
/// ..., "bubble": the critical rank waiting for work of other ranks). DES only.
struct PathShare {
  std::string category;
  Seconds time;
};

/// One simulated GPU's peak memory: the analytical static part (weights, gradients, optimizer
/// state) plus the activation bytes in flight at the simulated peak.
struct GpuMemoryPeak {
  int gpu = 0;
  int stage = 0;
  Bytes activations;
  Bytes total;
};

struct StepResult {
  std::string fidelity;      // "analytical" or "des"
  Seconds step_time;
  double tokens = 0;         // per step
  double tokens_per_s_per_gpu = 0;
  double mfu = 0;            // model FLOPs (no recomputation) / BF16 dense peak
  double hfu = 0;            // hardware FLOPs (with recomputation) / BF16 dense peak
  double flops_per_token = 0;
  double busy_fraction = 0;  // compute / step time on the critical rank (energy model)
  Seconds schedule_bubble;    // the schedule's fill and drain alone (e.g. (p−1)(F+B) for 1F1B),
                             // without the waiting that uneven stages add
  StepBreakdown critical;    // the slowest stage's rank
  StepBreakdown mean;        // averaged over stages
  int critical_stage = 0;
  std::vector<StageTiming> stages;
  MemoryBreakdown memory;
  /// Network use seen by the discrete-event simulation (zero for the analytical model):
  /// links carrying simulated transfers, and the busiest one.
  std::size_t links_used = 0;
  Bytes hottest_link_bytes;
  double hottest_link_peak_utilisation = 0;
  std::uint64_t events = 0;         // events the simulation executed
  std::uint64_t fingerprint = 0;    // hash of the executed events (determinism checks)
  /// DES: GPUs simulated (the others identical, see warnings), the critical path by category
  /// (adds up to the step time), every link the simulated flows crossed (most bytes first) and
  /// each simulated GPU's peak memory.
  std::int64_t simulated_gpus = 0;
  std::vector<PathShare> critical_path;
  std::vector<LinkUse> link_use;
  std::vector<GpuMemoryPeak> gpu_memory;
  /// Step time over seeded replicas of cluster.variation (empty without variation).
  std::vector<double> variation_step_times;
  Seconds step_time_p50, step_time_p90;
  /// Expert-parallel traffic (MoE with ep > 1; empty `method` otherwise).
  MoeSummary moe;
  std::vector<std::string> warnings;
};

}  // namespace clustercost
