#pragma once
/// Pipeline schedules as per-stage program orders: the sequence of forward (F), backward (B)
/// and weight-gradient (W) passes one pipeline stage's compute stream runs in one step.
///
/// Only the order is fixed here; when each pass runs comes out of the simulation (a pass starts
/// when its stream reaches it and its inputs have arrived), so bubbles are measured, not assumed.
///  - gpipe: all forwards, then all backwards (Huang et al., "GPipe", NeurIPS 2019);
///  - 1f1b: p−1−i warm-up forwards on stage i, then one forward / one backward, then the
///    cool-down backwards (Narayanan et al., "PipeDream-Flush", ICML 2021);
///  - interleaved: Megatron-LM's interleaved 1F1B with vpp model chunks per stage (Narayanan et
///    al., SC 2021 §2.2; megatron/core/pipeline_parallel/schedules.py: warm-up
///    (p−i−1)·2 + (vpp−1)·p virtual passes, chunk of virtual pass k = (k mod p·vpp) / p, reversed
///    for backwards, micro-batch = (k / (p·vpp))·p + k mod p). Needs m to be a multiple of p;
///  - zb-h1: 1F1B with the backward split into B (input gradient) and W (weight gradient), and
///    stage i deferring its first i W passes, which then fill its cool-down idle time (Qi et al.,
///    "Zero Bubble Pipeline Parallelism", ICLR 2024, schedule ZB-H1: same activation memory as
///    1F1B);
///  - dualpipe: DeepSeek's bidirectional schedule (DeepSeek-V3 technical report §3.2.1,
///    arXiv 2412.19437; the eight steps of deepseek-ai/DualPipe dualpipe.py): rank i holds model
///    stage i for the micro-batches entering at rank 0 (direction 0: micro-batches 0..m/2−1)
///    and stage p−1−i for those entering at rank p−1 (direction 1: m/2..m−1); a forward of one
///    direction is paired with a backward of the other, and some backwards defer their weight
///    gradient to fill the bubble. Needs p even, m even and m ≥ 2p (as dualpipe.py asserts).

#include <cstdint>
#include <vector>

namespace clustercost {

/// Backward is a whole backward (input and weight gradients); BackwardInput is its input-gradient
/// part only, whose WeightGrad pass comes later (zero-bubble schedules).
enum class PassKind : std::uint8_t { Forward, Backward, WeightGrad, BackwardInput };

struct PipelinePass {
  PassKind kind = PassKind::Forward;
  std::int64_t micro_batch = 0;
  /// Model chunk on this stage (0 ≤ chunk < vpp); virtual stage = chunk·p + stage. For dualpipe
  /// the direction (0 or 1): the model stage is `stage` for 0 and p−1−stage for 1.
  int chunk = 0;
  /// DualPipe's F&B pairs: this forward and the backward after it run overlapped, so the pair
  /// starts once both inputs are there (dualpipe.py receives both before the pair).
  bool paired = false;
};

enum class PipelineOrder : std::uint8_t { GPipe, OneFOneB, Interleaved, ZbH1, DualPipe };

/// The program of `stage` (0 ≤ stage < stages) for `micro_batches` micro-batches. Every
/// (micro-batch, chunk) appears exactly once as F and once as B (Backward or BackwardInput), and
/// once as W exactly when its B is a BackwardInput. Throws std::invalid_argument for
/// non-positive sizes, a stage out of range, vpp > 1 with an order other than interleaved,
/// interleaved with micro_batches not a multiple of stages, or dualpipe outside its domain
/// (dualpipe_supported).
std::vector<PipelinePass> pipeline_order(PipelineOrder order, int stage, int stages,
                                         std::int64_t micro_batches, int vpp = 1);

/// DualPipe's conditions: an even number of stages and of micro-batches, at least 2 per stage.
bool dualpipe_supported(int stages, std::int64_t micro_batches);

}  // namespace clustercost
