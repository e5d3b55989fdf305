#include "sim/program/schedule.hpp"

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <utility>

namespace clustercost {

namespace {

PipelinePass fwd(std::int64_t mb, int chunk = 0) { return {PassKind::Forward, mb, chunk, false}; }
PipelinePass bwd(std::int64_t mb, int chunk = 0) { return {PassKind::Backward, mb, chunk, false}; }
PipelinePass wgt(std::int64_t mb, int chunk = 0) {
  return {PassKind::WeightGrad, mb, chunk, false};
}
PipelinePass bin(std::int64_t mb, int chunk = 0) {
  return {PassKind::BackwardInput, mb, chunk, false};
}

std::vector<PipelinePass> one_f_one_b(int stage, int p, std::int64_t m, bool split_w) {
  std::vector<PipelinePass> out;
  const std::int64_t warm = std::min<std::int64_t>(m, p - 1 - stage);
  // ZB-H1: stage i holds back its first i weight-gradient passes; they run after the last
  // backward, where 1F1B leaves stage i idle while the drain passes through later stages.
  const std::int64_t defer = stage;
  auto after_backward = [&](std::int64_t j) {
    if (split_w && j - defer >= 0) out.push_back(wgt(j - defer));
  };
  for (std::int64_t k = 0; k < warm; ++k) out.push_back(fwd(k));
  for (std::int64_t j = 0; j < m - warm; ++j) {
    out.push_back(fwd(warm + j));
    out.push_back(split_w ? bin(j) : bwd(j));
    after_backward(j);
  }
  for (std::int64_t j = m - warm; j < m; ++j) {
    out.push_back(split_w ? bin(j) : bwd(j));
    after_backward(j);
  }
  if (split_w)
    for (std::int64_t j = std::max<std::int64_t>(0, m - defer); j < m; ++j) out.push_back(wgt(j));
  return out;
}

std::vector<PipelinePass> interleaved(int stage, int p, std::int64_t m, int vpp) {
  // Megatron-LM forward_backward_pipelining_with_interleaving (schedules.py).
  const std::int64_t total = m * vpp;
  const std::int64_t group = static_cast<std::int64_t>(p) * vpp;
  auto chunk_of = [&](std::int64_t k, bool forward) {
    int c = static_cast<int>((k % group) / p);
    return forward ? c : vpp - 1 - c;
  };
  auto mb_of = [&](std::int64_t k) { return (k / group) * p + k % p; };
  std::int64_t warm =
      m == p ? total : std::min<std::int64_t>(total, (p - stage - 1) * 2LL + (vpp - 1LL) * p);
  std::vector<PipelinePass> out;
  for (std::int64_t k = 0; k < warm; ++k) out.push_back(fwd(mb_of(k), chunk_of(k, true)));
  for (std::int64_t i = 0; i < total - warm; ++i) {
    const std::int64_t kf = warm + i;
    out.push_back(fwd(mb_of(kf), chunk_of(kf, true)));
    out.push_back(bwd(mb_of(i), chunk_of(i, false)));
  }
  for (std::int64_t k = total - warm; k < total; ++k)
    out.push_back(bwd(mb_of(k), chunk_of(k, false)));
  return out;
}

/// deepseek-ai/DualPipe dualpipe.py, DualPipe.step: the same eight steps, with sends and
/// receives left to the simulation. "Phase" 0 of a rank in the second half is direction 1.
std::vector<PipelinePass> dualpipe(int rank, int p, std::int64_t m) {
  const int half_ranks = p / 2;
  const int half_rank = std::min(rank, p - 1 - rank);
  const std::int64_t half_chunks = m / 2;
  const int flip = rank >= half_ranks ? 1 : 0;
  std::int64_t next_f[2] = {0, 0}, next_b[2] = {0, 0};
  std::deque<std::pair<std::int64_t, int>> pending_w;
  std::vector<PipelinePass> out;
  auto forward = [&](int phase) {
    const int dir = phase ^ flip;
    out.push_back(fwd(dir * half_chunks + next_f[phase]++, dir));
  };
  auto backward = [&](int phase, bool zb) {
    const int dir = phase ^ flip;
    const std::int64_t mb = dir * half_chunks + next_b[phase]++;
    if (zb) {
      out.push_back(bin(mb, dir));
      pending_w.emplace_back(mb, dir);
    } else {
      out.push_back(bwd(mb, dir));
    }
  };
  auto weight = [&] {
    if (pending_w.empty()) throw std::logic_error("dualpipe: no weight gradient pending");
    out.push_back(wgt(pending_w.front().first, pending_w.front().second));
    pending_w.pop_front();
  };
  // F&B pairs run overlapped on the GPU (compute of one hides the all-to-all of the other); in
  // program order the forward goes first.
  auto forward_backward = [&](int f_phase, int b_phase) {
    forward(f_phase);
    out.back().paired = true;
    backward(b_phase, false);
  };
  // Step 1: nF0
  for (int i = 0; i < (half_ranks - half_rank - 1) * 2; ++i) forward(0);
  // Step 2: nF0F1
  for (int i = 0; i < half_rank + 1; ++i) forward(0), forward(1);
  // Step 3: nB1W1F1 (zero bubble)
  for (int i = 0; i < half_ranks - half_rank - 1; ++i) backward(1, true), weight(), forward(1);
  // Step 4 (main): nF0B1F1B0
  for (std::int64_t i = 0; i < half_chunks - p + half_rank + 1; ++i)
    forward_backward(0, 1), forward_backward(1, 0);
  // Step 5: nB1F1B0
  for (int i = 0; i < half_ranks - half_rank - 1; ++i) backward(1, false), forward_backward(1, 0);
  // Step 6: nB1B0 (the second half uses zero bubble)
  bool zb = false;
  const int step6 = half_rank + 1;
  for (int i = 0; i < step6; ++i) {
    if (i == step6 / 2 && half_rank % 2 == 1) zb = true;
    backward(1, zb);
    if (i == step6 / 2 && half_rank % 2 == 0) zb = true;
    backward(0, zb);
  }
  // Step 7: nWB0 (zero bubble)
  for (int i = 0; i < half_ranks - half_rank - 1; ++i) weight(), backward(0, true);
  // Step 8: nW
  for (int i = 0; i < half_rank + 1; ++i) weight();
  if (!pending_w.empty()) throw std::logic_error("dualpipe: weight gradients left over");
  return out;
}

}  // namespace

bool dualpipe_supported(int stages, std::int64_t micro_batches) {
  return stages >= 2 && stages % 2 == 0 && micro_batches % 2 == 0 && micro_batches >= 2LL * stages;
}

std::vector<PipelinePass> pipeline_order(PipelineOrder order, int stage, int stages,
                                         std::int64_t micro_batches, int vpp) {
  if (stages <= 0 || micro_batches <= 0 || vpp <= 0)
    throw std::invalid_argument("pipeline_order: stages, micro-batches and vpp must be positive");
  if (stage < 0 || stage >= stages) throw std::invalid_argument("pipeline_order: no such stage");
  if (vpp > 1 && order != PipelineOrder::Interleaved)
    throw std::invalid_argument("pipeline_order: vpp > 1 needs the interleaved order");
  switch (order) {
    case PipelineOrder::GPipe: {
      std::vector<PipelinePass> out;
      for (std::int64_t k = 0; k < micro_batches; ++k) out.push_back(fwd(k));
      // Backwards in reverse: the last micro-batch's activations are the freshest (GPipe).
      for (std::int64_t k = micro_batches - 1; k >= 0; --k) out.push_back(bwd(k));
      return out;
    }
    case PipelineOrder::OneFOneB:
      return one_f_one_b(stage, stages, micro_batches, false);
    case PipelineOrder::ZbH1:
      return one_f_one_b(stage, stages, micro_batches, true);
    case PipelineOrder::DualPipe:
      if (!dualpipe_supported(stages, micro_batches))
        throw std::invalid_argument(
            "pipeline_order: dualpipe needs an even pp and an even number of micro-batches >= "
            "2*pp");
      return dualpipe(stage, stages, micro_batches);
    case PipelineOrder::Interleaved:
      if (vpp == 1) return one_f_one_b(stage, stages, micro_batches, false);
      if (micro_batches % stages != 0)
        throw std::invalid_argument(
            "pipeline_order: the interleaved schedule needs micro-batches to be a multiple of pp");
      return interleaved(stage, stages, micro_batches, vpp);
  }
  return {};
}

}  // namespace clustercost
