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
  std::vector<std::string> warnings;
};

}  // namespace clustercost
