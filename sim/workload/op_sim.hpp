#pragma once
/// The op-level discrete-event simulation of one training step (`fidelity: "des"`): every op of
/// the op program (sim/program/op_program.hpp) of every micro-batch and pass is a task on a
/// stream of its GPU, every collective runs as transfers on the topology.
///
/// Per simulated GPU the streams are those a Megatron / DeepSeek stack uses: the compute stream
/// (forward, recompute, input-gradient and weight-gradient kernels, the optimizer; kernels of
/// the program's second weight-gradient stream run on it too, in the order the program lists
/// them, since two compute streams share the GPU's SMs and would otherwise count its throughput
/// twice; traces show them on their own lane), a communication stream (TP, CP and EP
/// collectives), a forward-send and a backward-send stream for pipeline transfers and a
/// data-parallel stream.
///
/// Dependencies, as the framework has them:
///  - within a pass, each compute op follows the previous one (stream order); a synchronous
///    collective waits for the compute op before it and the next compute op waits for it; an
///    async one (op.async: the SP re-gather of backward, DP buckets) and, with
///    software.overlap.tp_comm, the TP collectives, run beside the following compute ops and are
///    waited for where their result is used: the first weight-gradient op after a re-gather,
///    the op after the next attention kernel for CP's ring exchange, the end of the layer
///    otherwise;
///  - passes follow the schedule's program order on each stage (schedule.hpp); a forward waits
///    for the activations of the previous model stage (a PP transfer), a backward for the
///    gradient of the next one or its own forward on the last stage; recomputed ops run just
///    before their layer's backward;
///  - DualPipe's paired forward and backward (of the two directions) are emitted interleaved,
///    one segment (the ops up to an EP all-to-all) at a time, taking turns, so that each
///    chunk's dispatch and combine run while the other chunk computes (DeepSeek-V3 report
///    §3.2.1, Figure 4); a pass with no all-to-all left fills the other's waits; the pair
///    starts once both inputs are there;
///  - DP gradient reduce-scatter (all-reduce for ZeRO-0) buckets leave as the last micro-batch's
///    backward finishes each quarter of a chunk's layers (Megatron --overlap-grad-reduce), or
///    after the last backward when the overlap is off; parameter all-gather buckets gate the
///    first forward's layer groups (--overlap-param-gather) or follow the optimizer; the
///    optimizer waits for every reduce bucket.
///
/// Compute time: compute_op_time (the kernel cost model) at program_compute_fraction, divided by
/// the GPU's speed factor, while no communication kernel holds SMs beside it (below).
///
/// Communication kernels take SMs. An NCCL kernel holds one SM per channel on its GPU from the
/// moment its task starts there (it spins while late members arrive) to the collective's end;
/// a point-to-point transfer holds them on the sending and the receiving GPU. How many:
/// nccl_collective_sms / nccl_p2p_sms / nccl_all_to_all_sms (sim/network/collective_runs.hpp,
/// the one owner; figures in docs/reference/communication-sms.md): inside a scale-up domain the
/// GPU's catalogue channels, the coll channels for a ring or tree collective (24 on H100), the
/// nvls channels for an NVLS one (16 on H100), the p2p channels for a send/recv (32 on H100);
/// 2 per NIC ring across the network, 2 per peer for a PP send across nodes. DeepEP's dispatch
/// and combine hold software.comm_sms, reserved for the whole step as DeepSeek-V3 runs them
/// (report §3.2.2: 20 of the H800's 132 SMs; its compute kernels are launched on the other 112),
/// so they are already in program_compute_fraction and hold nothing more; without a reservation
/// (comm_sms 0) an EP all-to-all is NCCL's grouped send/recv and holds its p2p channels: each
/// peer's, summed, capped at the GPU's p2p channels (32 on H100, 16 on H800). On GPUs
/// other than NVIDIA's the collectives library is not NCCL (HCCL, RCCL): not modelled, its
/// kernels hold no SMs here.
/// While NCCL kernels hold k SMs on a GPU, the op on its compute stream progresses at the rate
/// kernel_cost gives it with k SMs fewer (fraction program_compute_fraction − k/SMs, at least
/// one SM): a compute-bound GEMM runs at (SMs − reserved − k)/(SMs − reserved) of its rate; a
/// memory-bound kernel, which kernel_cost times by HBM bandwidth alone, keeps its rate. The op
/// is re-timed whenever such a kernel starts or ends on its GPU (processor sharing: the share of
/// its work done so far is kept); the optimizer's kernels likewise, from all SMs. Times per
/// number of SMs held are computed once per op, so the event loop stays cheap.
///
/// Collectives: TP/CP/DP all-reduce, reduce-scatter, all-gather with
/// NCCL's algorithm choice (sim/network/collective_runs.hpp); a collective whose transfers stay
/// on scale-up links runs its DAG alone on the flow model once per shape (its time is then
/// fixed: no other simulated traffic shares those links but its own group's), one that crosses
/// the scale-out network runs live on the step's shared flow model as one flow per pair plus its
/// rounds' latency (coalesce()), so DP buckets, PP transfers and other groups contend max-min.
/// EP dispatch and combine take the flow-level all-to-all times of the sampled token matrices
/// (sim/step/moe_costs.hpp). PP transfers are flows. A collective starts when every simulated
/// member has reached it, so a late rank delays its group.
///
/// Which GPUs: `all_ranks` simulates every GPU. Otherwise one GPU per pipeline stage (TP, CP and
/// DP rank 0): the others run the same program at the same time (uniform routing, no per-GPU
/// variation), so their tasks would be copies; their transfers still load the links — each
/// link's capacity is divided by the number of identical groups whose flows cross it, per
/// simulated flow (replica shares).

#include <cstdint>
#include <vector>

#include "hardware/topology/topology.hpp"
#include "sim/program/op_program.hpp"
#include "sim/program/schedule.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/step/moe_costs.hpp"
#include "sim/workload/pipeline_sim.hpp"

namespace clustercost {

struct OpSimSpec {
  const Scenario* scenario = nullptr;
  const Topology* topology = nullptr;
  const StepProgram* program = nullptr;
  const MoeCosts* moe = nullptr;  ///< EP costs (null: none)
  PipelineOrder order = PipelineOrder::OneFOneB;
  int vpp = 1;
  bool all_ranks = false;
  bool record_tasks = false;
  /// Per GPU id: compute speed relative to nominal (empty: all 1).
  std::vector<double> gpu_speed;
  /// Per topology link: capacity factor (empty: all 1), for slow links.
  std::vector<double> link_factor;
  /// DP buckets per model chunk (Megatron's bucketing, ≥ 1).
  int dp_buckets = 4;
  /// About 90 bytes of simulator state per task (measured: Llama 3 70B on 1,024 H100 with
  /// every rank, 46.1 M tasks in 4.0 GB peak RSS): 100 M tasks ≈ 8.4 GiB. DeepSeek-V3 on
  /// 2,048 H800 with every rank is 92.5 M.
  std::uint64_t max_tasks = std::uint64_t{100'000'000};
  std::uint64_t max_events = 2'000'000'000;
  double max_wall_seconds = 600;
};

/// Runs the step. Throws SimulationBudgetError past a budget, std::invalid_argument for an
/// inconsistent spec.
PipelineRun simulate_op_program(const OpSimSpec& spec);

}  // namespace clustercost
