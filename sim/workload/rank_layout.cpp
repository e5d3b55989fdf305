#include "sim/workload/rank_layout.hpp"

#include <stdexcept>

#include "sim/scenario/scenario.hpp"

namespace clustercost {

RankLayout::RankLayout(int tp, int cp, std::int64_t dp, int pp, int ep, int gpus_per_node)
    : tp_(tp), cp_(cp), dp_(dp), pp_(pp), ep_(ep), gpus_per_node_(gpus_per_node) {
  if (tp <= 0 || cp <= 0 || dp <= 0 || pp <= 0 || ep <= 0 || gpus_per_node <= 0)
    throw std::invalid_argument("RankLayout: every parallel size must be positive");
  if ((static_cast<std::int64_t>(cp) * dp) % ep != 0)
    throw std::invalid_argument("RankLayout: ep must divide cp*dp");
}

RankLayout RankLayout::from(const ParallelismConfig& par, int gpus_per_node) {
  return RankLayout(par.tp, par.cp, par.dp, par.pp, par.ep, gpus_per_node);
}

std::int64_t RankLayout::gpu(const RankCoord& c) const {
  return ((static_cast<std::int64_t>(c.pp) * dp_ + c.dp) * cp_ + c.cp) * tp_ + c.tp;
}

RankCoord RankLayout::coord(std::int64_t g) const {
  if (g < 0 || g >= world_size()) throw std::out_of_range("RankLayout::coord: no such GPU");
  RankCoord c;
  c.tp = static_cast<int>(g % tp_);
  g /= tp_;
  c.cp = static_cast<int>(g % cp_);
  g /= cp_;
  c.dp = g % dp_;
  c.pp = static_cast<int>(g / dp_);
  return c;
}

int RankLayout::ep_rank(const RankCoord& c) const {
  return static_cast<int>((c.cp + cp_ * c.dp) % ep_);
}

std::int64_t RankLayout::expert_dp_rank(const RankCoord& c) const {
  return (c.cp + cp_ * c.dp) / ep_;
}

}  // namespace clustercost
