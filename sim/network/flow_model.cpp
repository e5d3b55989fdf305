#include "sim/network/flow_model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace clustercost {

namespace {

/// Min-heap order on (share, link id): the link id breaks ties so the solve is deterministic.
struct ShareGreater {
  template <class E>
  bool operator()(const E& a, const E& b) const {
    return a.share > b.share || (a.share == b.share && a.link > b.link);
  }
};

double seconds_between(SimTime from, SimTime to) { return (to - from).seconds().value; }

}  // namespace

FlowModel::FlowModel(Engine& engine, FlowModelOptions options)
    : engine_(engine), options_(options), origin_(engine.now()) {
  kind_activate_ = engine.register_handler(*this, "flow_activate");
  kind_complete_ = engine.register_handler(*this, "flow_complete");
  kind_recompute_ = engine.register_handler(*this, "flow_recompute");
}

FlowModel::~FlowModel() {
  engine_.unregister_handler(kind_recompute_);
  engine_.unregister_handler(kind_complete_);
  engine_.unregister_handler(kind_activate_);
}

LinkId FlowModel::add_link(double capacity_bytes_per_s, SimTime latency) {
  if (!(capacity_bytes_per_s > 0.0) || !std::isfinite(capacity_bytes_per_s)) {
    throw std::invalid_argument("FlowModel: link capacity must be finite and > 0 bytes/s");
  }
  if (latency.ns < 0) throw std::invalid_argument("FlowModel: negative link latency");
  if (links_.size() >= std::numeric_limits<LinkId>::max()) {
    throw std::length_error("FlowModel: too many links");
  }
  Link link;
  link.capacity = capacity_bytes_per_s;
  link.latency = latency;
  link.last_change = engine_.now();
  links_.push_back(std::move(link));
  return static_cast<LinkId>(links_.size() - 1);
}

FlowId FlowModel::start_flow(Bytes bytes, std::span<const LinkId> path, CompletionSink* sink,
                             std::uint64_t token, double max_rate_bytes_per_s) {
  if (!(bytes.value >= 0.0) || !std::isfinite(bytes.value)) {
    throw std::invalid_argument("FlowModel: flow size must be finite and >= 0 bytes");
  }
  if (!(max_rate_bytes_per_s > 0.0)) {
    throw std::invalid_argument("FlowModel: flow rate cap must be > 0 bytes/s");
  }
  SimTime latency = SimTime::zero();
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] >= links_.size()) {
      throw std::invalid_argument("FlowModel: unknown link " + std::to_string(path[i]));
    }
    // Paths are a handful of hops (NVLink, leaf, spine...): the quadratic check is the cheap one.
    for (std::size_t j = 0; j < i; ++j) {
      if (path[j] == path[i]) {
        throw std::invalid_argument("FlowModel: link " + std::to_string(path[i]) +
                                    " appears twice in a path");
      }
    }
    latency += links_[path[i]].latency;
  }

  FlowId f;
  if (!free_flows_.empty()) {
    f = free_flows_.back();
    free_flows_.pop_back();
  } else {
    if (flows_.size() >= std::numeric_limits<FlowId>::max()) {
      throw std::length_error("FlowModel: too many concurrent flows");
    }
    f = static_cast<FlowId>(flows_.size());
    flows_.emplace_back();
  }
  Flow& flow = flows_[f];
  flow.bytes = bytes.value;
  flow.remaining = bytes.value;
  flow.rate = 0.0;
  flow.cap = max_rate_bytes_per_s;
  flow.last_update = engine_.now();
  flow.end = SimTime::max();
  flow.completion = EventHandle{};
  flow.sink = sink;
  flow.token = token;
  flow.joined = false;
  flow.hops.assign(path);
  flow.state = FlowState::kLatency;
  ++active_;
  ++stats_.flows_started;

  if (latency.ns == 0) {
    activate(f);
  } else {
    engine_.schedule_in(latency, kind_activate_, f);
  }
  return f;
}

const FlowModel::Flow& FlowModel::live_flow(FlowId flow) const {
  if (flow >= flows_.size() || flows_[flow].state == FlowState::kDone) {
    throw std::out_of_range("FlowModel: flow " + std::to_string(flow) + " is not active");
  }
  return flows_[flow];
}

FlowState FlowModel::state(FlowId flow) const { return live_flow(flow).state; }

double FlowModel::rate(FlowId flow) const { return live_flow(flow).rate; }

Bytes FlowModel::remaining(FlowId flow) const {
  const Flow& f = live_flow(flow);
  const double left = f.remaining - f.rate * seconds_between(f.last_update, engine_.now());
  return Bytes(std::max(0.0, left));
}

LinkStats FlowModel::link_stats(LinkId link) const {
  const Link& l = links_.at(link);
  const SimTime now = engine_.now();
  const SimTime dt = now - l.last_change;
  LinkStats s;
  s.bytes_carried = Bytes(l.carried + l.load * dt.seconds().value);
  s.bytes_completed = Bytes(l.completed_bytes);
  s.flows_completed = l.completed_flows;
  s.busy_time = SimTime{l.busy_ns + (l.load > 0.0 ? dt.ns : 0)}.seconds();
  s.peak_utilisation = l.peak_load / l.capacity;
  const double elapsed = seconds_between(origin_, now);
  s.mean_utilisation = elapsed > 0.0 ? s.bytes_carried.value / (l.capacity * elapsed) : 0.0;
  return s;
}

void FlowModel::handle(const Event& event, Engine& /*engine*/) {
  if (event.kind == kind_complete_) {
    complete(event.target);
  } else if (event.kind == kind_activate_) {
    activate(event.target);
  } else if (event.kind == kind_recompute_) {
    recompute();
  }
}

void FlowModel::activate(FlowId f) {
  Flow& flow = flows_[f];
  flow.state = FlowState::kTransmitting;
  flow.last_update = engine_.now();
  if (flow.remaining <= 0.0 || (flow.hops.empty() && flow.cap == kNoRateCap)) {
    // Nothing to transmit, or nothing to share: the flow ends when its latency is over.
    flow.remaining = 0.0;
    schedule_completion(f);
    return;
  }
  if (flow.hops.empty()) {
    flow.rate = flow.cap;  // alone: only its cap limits it
    schedule_completion(f);
    return;
  }
  flow.joined = true;
  flow.fresh = true;
  fresh_flows_.push_back(f);
  for (std::uint32_t h = 0; h < flow.hops.size(); ++h) {
    Link& link = links_[flow.hops[h].link];
    flow.hops[h].pos = static_cast<std::uint32_t>(link.members.size());
    link.members.push_back(Member{f, h, kNoRateCap});
    mark_dirty(flow.hops[h].link);
  }
  request_recompute();
}

void FlowModel::complete(FlowId f) {
  Flow& flow = flows_[f];
  for (const Hop& hop : flow.hops) {
    Link& link = links_[hop.link];
    link.completed_bytes += flow.bytes;
    ++link.completed_flows;
    if (!flow.joined) continue;  // zero bytes: it never shared the link
    // O(1) removal: the link's last member takes this member's place.
    const Member last = link.members.back();
    link.members[hop.pos] = last;
    flows_[last.flow].hops[last.hop].pos = hop.pos;
    link.members.pop_back();
    mark_dirty(hop.link);
  }
  if (flow.joined) {
    ended_rate_min_ = std::min(ended_rate_min_, flow.rate);
    request_recompute();
  }
  CompletionSink* sink = flow.sink;
  const std::uint64_t token = flow.token;
  flow.state = FlowState::kDone;
  flow.completion = EventHandle{};
  flow.rate = 0.0;
  free_flows_.push_back(f);
  --active_;
  ++stats_.flows_completed;
  // Last: the sink may start new flows, which may reuse this slot.
  if (sink != nullptr) sink->on_complete(token, engine_);
}

void FlowModel::request_recompute() {
  if (recompute_pending_) return;
  recompute_pending_ = true;
  engine_.schedule_at(engine_.now(), kind_recompute_, 0, 0, Priority::kLate);
}

std::uint32_t FlowModel::next_stamp() {
  if (++stamp_ == 0) {  // wrapped: clear every stamp once every 2^32 recomputations
    for (auto& l : links_) l.stamp = 0;
    for (auto& f : flows_) f.stamp = 0;
    stamp_ = 1;
  }
  return stamp_;
}

void FlowModel::settle_link(Link& link, SimTime now) {
  const SimTime dt = now - link.last_change;
  if (dt.ns > 0) {
    link.carried += link.load * dt.seconds().value;
    if (link.load > 0.0) link.busy_ns += dt.ns;
  }
  link.last_change = now;
}

void FlowModel::recompute() {
  recompute_pending_ = false;
  if (dirty_links_.empty()) return;
  ++stats_.recomputations;
  const SimTime now = engine_.now();

  // The threshold below which no rate can have changed (see the header): the smallest rate of
  // an ended flow, and for each new flow the smallest capacity / flows over its path.
  double threshold = ended_rate_min_;
  for (FlowId f : fresh_flows_) {
    for (const Hop& hop : flows_[f].hops) {
      const Link& link = links_[hop.link];
      threshold = std::min(threshold, link.capacity / static_cast<double>(link.members.size()));
    }
  }
  fresh_flows_.clear();
  ended_rate_min_ = kNoRateCap;
  // A little below the computed value, so rounding never freezes a flow at the threshold itself
  // (re-solving a few more flows than needed is always exact).
  threshold = options_.freeze_slower_flows ? threshold * (1.0 - 1e-9) : 0.0;

  // The affected set: flows at or above the threshold connected to a changed link through
  // links shared with other such flows; frozen flows stop the search. This is the one scan of
  // the members of the links involved: it also sums what the frozen flows take of each link
  // and lists each link's flows to solve, so the solver never looks at frozen flows again.
  const std::uint32_t stamp = next_stamp();
  comp_links_.clear();
  comp_flows_.clear();
  link_flows_.clear();
  for (LinkId l : dirty_links_) {
    if (links_[l].stamp != stamp) {
      links_[l].stamp = stamp;
      comp_links_.push_back(l);
    }
  }
  dirty_links_.clear();
  for (std::size_t i = 0; i < comp_links_.size(); ++i) {
    Link& link = links_[comp_links_[i]];
    double frozen = 0.0;
    link.solve_begin = static_cast<std::uint32_t>(link_flows_.size());
    for (const Member& m : link.members) {
      if (m.rate < threshold) {  // frozen (a fresh flow's member rate is +inf)
        frozen += m.rate;
        continue;
      }
      link_flows_.push_back(m.flow);
      Flow& flow = flows_[m.flow];
      if (flow.stamp == stamp) continue;
      flow.stamp = stamp;
      comp_flows_.push_back(m.flow);
      for (const Hop& hop : flow.hops) {
        if (links_[hop.link].stamp != stamp) {
          links_[hop.link].stamp = stamp;
          comp_links_.push_back(hop.link);
        }
      }
    }
    link.solve_end = static_cast<std::uint32_t>(link_flows_.size());
    link.frozen_load = frozen;
  }
  stats_.flows_resolved += comp_flows_.size();
  stats_.max_flows_resolved = std::max(stats_.max_flows_resolved, comp_flows_.size());

  solve();

  for (LinkId l : comp_links_) {
    Link& link = links_[l];
    settle_link(link, now);  // with the old load
    link.load = link.frozen_load;
  }
  for (FlowId f : comp_flows_) {
    Flow& flow = flows_[f];
    flow.remaining -= flow.rate * seconds_between(flow.last_update, now);
    flow.last_update = now;
    flow.fresh = false;
    const bool changed = flow.new_rate != flow.rate;
    flow.rate = flow.new_rate;
    for (const Hop& hop : flow.hops) {
      Link& link = links_[hop.link];
      link.members[hop.pos].rate = flow.rate;
      link.load += flow.rate;
    }
    if (changed || !flow.completion.valid()) schedule_completion(f);
  }
  // Loads are rebuilt from the members' rates at every recomputation, never updated by
  // differences, so rounding does not accumulate over a run.
  for (LinkId l : comp_links_) {
    Link& link = links_[l];
    link.peak_load = std::max(link.peak_load, link.load);
  }
}

void FlowModel::solve() {
  // Progressive filling (Bertsekas & Gallager, Data Networks, 2nd ed., §6.5, max-min flow
  // control): raise every unfixed flow's rate together; the link whose fair share (remaining
  // capacity / unfixed flows) is smallest saturates first and fixes its flows at that share; a
  // flow's cap acts as a private link. Fixing a flow at the current minimum share can only
  // raise the fair share of the other links it crosses, so a heap entry, once pushed, stays a
  // lower bound of its link's share: the heap is updated lazily, an entry being refreshed only
  // when it reaches the top with a stale (too small) key. That costs one push per link plus the
  // refreshes, instead of one push per (flow, link) fixing.
  share_heap_.clear();
  capped_.clear();
  for (LinkId l : comp_links_) {
    Link& link = links_[l];
    link.rem = std::max(0.0, link.capacity - link.frozen_load);
    link.unfixed = link.solve_end - link.solve_begin;
    if (link.unfixed > 0) share_heap_.push_back(ShareEntry{link.rem / link.unfixed, l});
  }
  std::make_heap(share_heap_.begin(), share_heap_.end(), ShareGreater{});
  for (FlowId f : comp_flows_) {
    Flow& flow = flows_[f];
    flow.new_rate = -1.0;
    if (flow.cap != kNoRateCap) capped_.emplace_back(flow.cap, f);
  }
  std::sort(capped_.begin(), capped_.end());

  fixed_count_ = 0;
  std::size_t next_cap = 0;
  while (fixed_count_ < comp_flows_.size()) {
    while (next_cap < capped_.size() && flows_[capped_[next_cap].second].new_rate >= 0.0) {
      ++next_cap;
    }
    // The top key is a lower bound of every link's share, so a cap below it is the next limit.
    if (next_cap < capped_.size() &&
        (share_heap_.empty() || capped_[next_cap].first <= share_heap_.front().share)) {
      fix(capped_[next_cap].second, capped_[next_cap].first);
      ++next_cap;
      continue;
    }
    if (share_heap_.empty()) break;  // unreachable: every unfixed flow has a link
    std::pop_heap(share_heap_.begin(), share_heap_.end(), ShareGreater{});
    ShareEntry top = share_heap_.back();
    share_heap_.pop_back();
    Link& link = links_[top.link];
    if (link.unfixed == 0) continue;  // every flow of this link is already fixed
    const double share = link.rem / link.unfixed;
    if (share > top.share) {  // stale: put it back with its current share
      top.share = share;
      share_heap_.push_back(top);
      std::push_heap(share_heap_.begin(), share_heap_.end(), ShareGreater{});
      continue;
    }
    // The bottleneck: fix its remaining flows at its share.
    for (std::uint32_t i = link.solve_begin; i < link.solve_end; ++i) {
      const FlowId f = link_flows_[i];
      if (flows_[f].new_rate < 0.0) fix(f, share);
    }
  }
}

void FlowModel::fix(FlowId f, double rate) {
  Flow& flow = flows_[f];
  flow.new_rate = rate;
  ++fixed_count_;
  for (const Hop& hop : flow.hops) {
    Link& link = links_[hop.link];
    link.rem = std::max(0.0, link.rem - rate);
    --link.unfixed;
  }
}

void FlowModel::schedule_completion(FlowId f) {
  Flow& flow = flows_[f];
  const SimTime now = engine_.now();
  SimTime end = now;
  if (flow.remaining > 0.0 && flow.rate > 0.0) {
    const double seconds = flow.remaining / flow.rate;
    // Past ~292 years the end is unreachable anyway; clamp rather than overflow int64.
    const SimTime d = seconds < 9.0e9 ? SimTime::from_seconds(Seconds(seconds)) : SimTime::max();
    end = d.ns > SimTime::max().ns - now.ns ? SimTime::max() : now + d;
  }
  if (flow.completion.valid()) {
    if (end == flow.end) return;
    engine_.cancel(flow.completion);
    ++stats_.reschedules;
  }
  flow.end = end;
  flow.completion = engine_.schedule_cancellable_at(end, kind_complete_, f);
}

}  // namespace clustercost
