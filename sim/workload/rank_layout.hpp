#pragma once
/// Where each parallel rank runs: (tp, cp, dp, pp) coordinates ↔ global GPU id ↔ node.
///
/// Megatron-LM's default rank order puts tensor parallelism innermost, then context, then data,
/// then pipeline parallelism outermost (megatron/core/parallel_state.py, order "tp-cp-ep-dp-pp"),
/// so a TP group is consecutive GPUs inside one node and the GPUs of one pipeline stage form a
/// contiguous block of tp·cp·dp GPUs. Expert parallelism is carved out of the cp·dp ranks of a
/// stage (the expert-data-parallel group is what remains): ep rank = (cp + cp_size·dp) mod ep,
/// so EP groups are contiguous, as the analytical model assumes. GPU ids are node-major, as in
/// Topology (GPU g lives in node g / gpus_per_node).

#include <cstdint>

namespace clustercost {

struct ParallelismConfig;

/// One rank's coordinates.
struct RankCoord {
  int tp = 0;
  int cp = 0;
  std::int64_t dp = 0;
  int pp = 0;
};

class RankLayout {
 public:
  /// Throws std::invalid_argument for non-positive sizes or an ep that does not divide cp·dp.
  RankLayout(int tp, int cp, std::int64_t dp, int pp, int ep, int gpus_per_node);
  static RankLayout from(const ParallelismConfig& par, int gpus_per_node);

  int tp() const { return tp_; }
  int cp() const { return cp_; }
  std::int64_t dp() const { return dp_; }
  int pp() const { return pp_; }
  int ep() const { return ep_; }
  std::int64_t world_size() const { return static_cast<std::int64_t>(tp_) * cp_ * dp_ * pp_; }
  /// GPUs holding one pipeline stage (tp·cp·dp).
  std::int64_t ranks_per_stage() const { return static_cast<std::int64_t>(tp_) * cp_ * dp_; }

  /// Global GPU id of a rank (TP innermost, PP outermost).
  std::int64_t gpu(const RankCoord& c) const;
  /// Inverse of gpu(). Throws std::out_of_range outside [0, world_size()).
  RankCoord coord(std::int64_t gpu) const;
  std::int64_t node(std::int64_t gpu) const { return gpu / gpus_per_node_; }
  /// Position in the rank's expert-parallel group.
  int ep_rank(const RankCoord& c) const;
  /// Index of the rank's expert-data-parallel replica (cp·dp / ep of them).
  std::int64_t expert_dp_rank(const RankCoord& c) const;
  /// True when the TP group of a rank stays inside one node.
  bool tp_inside_node() const { return gpus_per_node_ % tp_ == 0; }

 private:
  int tp_, cp_;
  std::int64_t dp_;
  int pp_, ep_, gpus_per_node_;
};

}  // namespace clustercost
