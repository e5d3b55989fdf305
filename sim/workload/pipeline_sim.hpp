#pragma once
/// Discrete-event simulation of one training step of one pipeline (one rank per stage).
///
/// Each stage is one GPU with four streams, as Megatron-LM uses CUDA streams: a compute stream
/// (forward / backward / weight-gradient passes, and the exposed TP and EP collectives, which
/// Megatron runs on the critical path between kernels), a forward-send and a backward-send
/// stream for pipeline point-to-point transfers, and a data-parallel stream for the gradient
/// reduce-scatter and parameter all-gather. The compute stream follows the schedule's program
/// order (schedule.hpp); a pass waits for the transfer carrying its input. Transfers are
/// external tasks carried as flows by the FlowModel over the Topology's links, so concurrent
/// transfers on a link share it max-min fairly; without a network they take no time.
///
/// Data-parallel overlap (Megatron --overlap-grad-reduce / --overlap-param-gather): the last
/// gradient-producing pass of each model chunk is cut into `dp_buckets` pieces, each followed by
/// one bucket of the chunk's reduce-scatter on the DP stream; the first forward of each chunk is
/// cut likewise, each piece waiting for one bucket of the parameter all-gather. The optimizer
/// runs on the compute stream once every bucket is reduced. Step time is the makespan.
///
/// The breakdown of each stage's compute stream is measured: busy time by kind of task, and every
/// idle gap attributed to the pipeline transfer or the DP collective it overlapped (exposed PP /
/// DP communication), the rest being bubble; so each stage's breakdown adds up to the makespan.

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "hardware/topology/topology.hpp"
#include "sim/common/units.hpp"
#include "sim/network/analytical.hpp"
#include "sim/step/step_result.hpp"
#include "sim/program/schedule.hpp"

namespace clustercost {

/// One stage's work for one micro-batch (all its model chunks together), and per step.
struct StageCost {
  SimTime forward;                  ///< compute, one micro-batch
  SimTime backward;                 ///< compute incl. recomputation and the weight gradient
  SimTime weight_grad;              ///< the weight-gradient part of `backward` (split out by zb-h1)
  SimTime tp_forward, tp_backward;  ///< exposed TP collectives, one micro-batch
  SimTime ep_forward, ep_backward;  ///< exposed EP all-to-alls, one micro-batch
  SimTime grad_reduce;   ///< whole step: gradient reduce-scatter (or all-reduce for ZeRO-0)
  SimTime param_gather;  ///< whole step: parameter all-gather (ZeRO ≥ 1)
  SimTime optimizer;     ///< whole step
};

struct PipelineSpec {
  PipelineOrder order = PipelineOrder::OneFOneB;
  int vpp = 1;
  std::int64_t micro_batches = 1;
  /// One per stage (rank). Under DualPipe, stages[v]'s per-micro-batch costs are those of model
  /// stage v, wherever it runs, while the per-step costs (DP collectives, optimizer) of
  /// stages[i] are rank i's, which holds two stages.
  std::vector<StageCost> stages;
  /// Bytes of one point-to-point message (activations forward, their gradient backward).
  Bytes message;
  /// Buckets the DP collectives of one model chunk are cut into (≥ 1).
  int dp_buckets = 4;
  /// Fill PipelineRun::task_records (for traces); off by default, as the records cost memory.
  bool record_tasks = false;
  /// Budget of one step's simulation: a clear SimulationBudgetError instead of exhausting memory
  /// or hanging. `max_passes` (model stages × micro-batches) bounds the task graph before it is
  /// built (the largest shipped scenario has 3,840); the engine stops at `max_events` events or
  /// `max_wall_seconds` of real time.
  std::uint64_t max_passes = std::uint64_t{1} << 20;
  std::uint64_t max_events = 200'000'000;
  double max_wall_seconds = 600;
};

/// Thrown by simulate_pipeline when a budget of PipelineSpec is exceeded; the message names it.
class SimulationBudgetError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What a simulated task does (labels of PipelineRun::task_records).
enum class TaskKind : std::uint8_t {
  Forward,          ///< forward compute of one micro-batch (or one DP-bucket piece of it)
  Backward,         ///< backward compute (input and weight gradients together)
  BackwardInput,    ///< zb-h1: the input-gradient part of backward
  WeightGrad,       ///< zb-h1: the weight-gradient part of backward
  TpComm,           ///< exposed TP collective, on the compute stream
  EpComm,           ///< exposed EP all-to-all, on the compute stream
  Optimizer,        ///< optimizer step, on the compute stream
  SendActivation,   ///< pipeline transfer of activations to the next stage
  SendGradient,     ///< pipeline transfer of activation gradients to the previous stage
  DpReduceScatter,  ///< one bucket of the DP gradient reduce-scatter (all-reduce for ZeRO-0)
  DpAllGather,      ///< one bucket of the DP parameter all-gather
};

/// The streams of each stage GPU (see the file comment). The op-level simulator
/// (op_sim.hpp) adds a communication stream for TP, CP and EP collectives and shows
/// weight-gradient kernels of a second compute stream on their own lane.
enum class StreamLane : std::uint8_t {
  Compute,
  SendForward,
  SendBackward,
  DataParallel,
  Comm,
  WgradCompute,
  CommAsync,  ///< collectives overlapped with compute (SP re-gathers, CP ring, TP under overlap)
};
inline constexpr int kStreamLanes = 7;

/// One executed task, for traces. Its index in PipelineRun::task_records is its task id.
struct TaskRecord {
  SimTime start, end;
  /// Stage (rank in the pipeline) whose GPU runs the task.
  int stage = 0;
  /// Micro-batch and model chunk of the pass it belongs to (-1: none, e.g. the optimizer).
  int micro_batch = -1;
  int chunk = -1;
  TaskKind kind = TaskKind::Forward;
  StreamLane lane = StreamLane::Compute;
  /// Transfers: the receiving stage and the index of the task consuming the message (-1: none).
  int peer_stage = -1;
  std::int64_t consumer = -1;
  /// Op-level simulation: the GPU running the task (-1: the stage's GPU of
  /// DesStep::stage_gpu) and its op's name, an index into PipelineRun::names (-1: none).
  int gpu = -1;
  std::int32_t name = -1;
};

/// The network the transfers cross. Link capacity = capacity × the fabric efficiency / share,
/// where share[link] (≥ 1; empty = all 1) stands for the identical transfers of the replicas
/// that are not simulated but cross the same link at the same time.
struct PipelineNetwork {
  const Topology* topology = nullptr;
  /// GPU of each stage.
  std::vector<int> stage_gpu;
  FabricEfficiency efficiency;
  std::vector<double> share;
};

struct PipelineRun {
  SimTime makespan;
  /// Per stage: the measured breakdown of its compute stream; each adds up to the makespan.
  std::vector<StepBreakdown> stage_breakdown;
  /// The busiest stage (largest non-idle time); ties: the lowest stage.
  int critical_stage = 0;
  std::uint64_t events = 0;
  std::uint64_t fingerprint = 0;
  /// Real time of the whole simulation (building the task graph, the event loop, results).
  double wall_seconds = 0;
  /// Real time of the event loop alone (Engine::run).
  double loop_seconds = 0;
  std::size_t tasks = 0;
  std::size_t transfers = 0;
  /// Links the transfers used (each topology link enters the flow model once).
  std::size_t links = 0;
  /// Bytes carried by the most loaded link, and its peak utilisation (0..1).
  Bytes max_link_bytes;
  double max_link_peak_utilisation = 0;
  /// Every task in id order with its start and end; empty unless PipelineSpec::record_tasks.
  std::vector<TaskRecord> task_records;
  /// Op-level simulation (op_sim.hpp): names of TaskRecord::name, the simulated GPUs and the
  /// pipeline stage of each, the critical path by category (adds up to the makespan), every
  /// link the flows crossed (most bytes first) and each simulated GPU's peak activation bytes
  /// (saved for backward by the micro-batches in flight, walked from the simulated times).
  std::vector<std::string> names;
  std::vector<int> gpus;
  std::vector<int> gpu_stage;
  std::vector<PathShare> critical_path;
  std::vector<LinkUse> link_use;
  std::vector<Bytes> gpu_peak_activations;
};

/// Builds the step's task graph and runs it. `network` null: transfers take no time. Throws
/// std::invalid_argument for an empty or inconsistent spec (stage_gpu size ≠ stages).
PipelineRun simulate_pipeline(const PipelineSpec& spec, const PipelineNetwork* network = nullptr);

}  // namespace clustercost
