#pragma once
/// Flow-level network model: transfers are fluid flows over directed links that share each
/// link's bandwidth by max-min fairness, as in SimGrid's `lmm` solver (Velho, Mello Schnorr,
/// Casanova, Legrand, "On the validity of flow-level TCP network models for grid and cloud
/// simulations", ACM TOMACS 23(4), 2013). No packets.
///
/// A link is one direction of a cable or port: a capacity (bytes/s) and a latency; a full-duplex
/// cable is two links. A flow is (bytes, path = link ids, optional rate cap). It waits the sum of
/// its path's latencies once, then transmits; its rate is the max-min fair share computed by
/// progressive filling (every flow's rate is limited by its bottleneck link or its cap, and no
/// flow can go faster without slowing one that is not faster). Rates change only when a flow
/// starts transmitting or ends; all the starts and ends of one instant are handled by one
/// recomputation (an event of Priority::kLate). Each transmitting flow has exactly one pending
/// completion event on the Engine, moved (cancel + insert) only when its rate changes. On
/// completion the flow's CompletionSink is told (e.g. the TaskExecutor, whose external transfer
/// task then ends).
///
/// The recomputation is incremental and exact. Progressive filling raises all rates together
/// and fixes flows as links saturate, in increasing order of rate. An ending flow of rate r
/// leaves the filling unchanged below r (no link on its path saturates below r); a new flow
/// leaves it unchanged below the smallest capacity / flows over its path (no link on its path
/// can saturate earlier). So below the smallest such threshold of an instant's changes every
/// flow keeps its rate: those flows are frozen, and only the flows at or above the threshold
/// that are connected to a changed link through links shared with other such flows are
/// re-solved, on the capacity the frozen flows leave. Without this, every change re-solves the
/// whole connected component of flows sharing links with it (FlowModelOptions::
/// freeze_slower_flows = false does that, for checking): in a leaf/spine network under an
/// all-to-all, that is every flow.
///
/// Per link: bytes carried, busy time, peak and time-weighted mean utilisation.

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "sim/common/units.hpp"
#include "sim/engine/engine.hpp"
#include "sim/engine/event.hpp"

namespace clustercost {

using LinkId = std::uint32_t;
using FlowId = std::uint32_t;

struct LinkStats {
  /// Bytes transmitted over the link since the model was created (integral of its load; counts
  /// flows still in progress up to now()).
  Bytes bytes_carried;
  /// Sum of the sizes of the flows that completed over this link.
  Bytes bytes_completed;
  std::uint64_t flows_completed = 0;
  /// Time during which at least one flow was transmitting over the link.
  Seconds busy_time;
  /// Largest fraction of capacity in use at any time (0..1).
  double peak_utilisation = 0.0;
  /// bytes_carried / (capacity × time since the model was created); 0 before any time passed.
  double mean_utilisation = 0.0;
};

/// Solver counters, for profiling.
struct FlowModelStats {
  std::uint64_t flows_started = 0;
  std::uint64_t flows_completed = 0;
  std::uint64_t recomputations = 0;
  /// Sum over recomputations of the flows re-solved.
  std::uint64_t flows_resolved = 0;
  /// Most flows re-solved by one recomputation.
  std::size_t max_flows_resolved = 0;
  /// Completion events moved because a rate changed.
  std::uint64_t reschedules = 0;
};

enum class FlowState : std::uint8_t { kLatency, kTransmitting, kDone };

struct FlowModelOptions {
  /// Re-solve only the flows at or above the change threshold (see above). The rates are the
  /// same either way (up to rounding); false re-solves whole connected components, for checking.
  bool freeze_slower_flows = true;
};

class FlowModel final : public EventHandler {
 public:
  static constexpr double kNoRateCap = std::numeric_limits<double>::infinity();

  /// Registers its event handlers on `engine` (which must outlive the model). Time zero of the
  /// link statistics is engine.now().
  explicit FlowModel(Engine& engine, FlowModelOptions options = {});
  ~FlowModel() override;
  FlowModel(const FlowModel&) = delete;
  FlowModel& operator=(const FlowModel&) = delete;

  /// Adds a directed link. Throws std::invalid_argument unless the capacity is finite and > 0
  /// and the latency >= 0.
  LinkId add_link(double capacity_bytes_per_s, SimTime latency);
  std::size_t link_count() const { return links_.size(); }
  double capacity(LinkId link) const { return links_.at(link).capacity; }
  SimTime latency(LinkId link) const { return links_.at(link).latency; }

  /// Starts a flow of `bytes` over `path` at engine.now(); when its last byte arrives,
  /// `sink->on_complete(token, engine)` is called (sink may be null). `max_rate_bytes_per_s`
  /// caps its rate (e.g. a NIC or protocol limit). A zero-byte flow ends after the latency;
  /// an empty path with no cap ends after the latency too (a transfer within one device).
  /// The id is valid until the flow completes, then reused. Throws std::invalid_argument for
  /// negative or non-finite bytes, an unknown link, a link twice in the path, or a cap <= 0.
  FlowId start_flow(Bytes bytes, std::span<const LinkId> path, CompletionSink* sink,
                    std::uint64_t token, double max_rate_bytes_per_s = kNoRateCap);
  FlowId start_flow(Bytes bytes, std::initializer_list<LinkId> path, CompletionSink* sink,
                    std::uint64_t token, double max_rate_bytes_per_s = kNoRateCap) {
    return start_flow(bytes, std::span<const LinkId>(path.begin(), path.size()), sink, token,
                      max_rate_bytes_per_s);
  }

  /// Flows started and not completed (in latency or transmitting).
  std::size_t active_flows() const { return active_; }
  /// For a flow not yet completed: its state, current rate (bytes/s, 0 during the latency) and
  /// bytes left at now(). Throw std::out_of_range for an unknown or completed flow.
  FlowState state(FlowId flow) const;
  double rate(FlowId flow) const;
  Bytes remaining(FlowId flow) const;

  /// Current load of a link (sum of the rates of its flows, bytes/s).
  double load(LinkId link) const { return links_.at(link).load; }
  /// Statistics of a link from the model's creation to engine.now().
  LinkStats link_stats(LinkId link) const;
  const FlowModelStats& stats() const { return stats_; }

  void handle(const Event& event, Engine& engine) override;

 private:
  /// A flow's place on one link of its path: index into that link's member list.
  struct Hop {
    LinkId link;
    std::uint32_t pos;
  };
  /// A flow's hops, held in the flow's own record up to kInline of them (every path of the
  /// shipped topologies: GPU, NIC, leaf, spine and back is at most 6 links), on the heap beyond:
  /// the recomputation visits the hops of every flow it solves, and a separate allocation per
  /// flow was a cache miss per flow.
  class HopList {
   public:
    static constexpr std::uint32_t kInline = 6;
    std::uint32_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    Hop* begin() { return size_ <= kInline ? inline_.data() : overflow_.data(); }
    Hop* end() { return begin() + size_; }
    const Hop* begin() const { return size_ <= kInline ? inline_.data() : overflow_.data(); }
    const Hop* end() const { return begin() + size_; }
    Hop& operator[](std::uint32_t i) { return begin()[i]; }
    const Hop& operator[](std::uint32_t i) const { return begin()[i]; }
    void assign(std::span<const LinkId> path) {
      size_ = static_cast<std::uint32_t>(path.size());
      overflow_.clear();
      if (size_ > kInline) overflow_.resize(size_);
      Hop* h = begin();
      for (std::uint32_t i = 0; i < size_; ++i) h[i] = Hop{path[i], 0};
    }

   private:
    std::array<Hop, kInline> inline_{};
    std::uint32_t size_ = 0;
    std::vector<Hop> overflow_;
  };
  /// A link's record of one member flow: which hop of the flow it is, and a copy of the flow's
  /// rate (+inf until its first solve), so scanning a link's members needs no access to the
  /// flows themselves: most members are frozen, and those scans dominate a recomputation.
  struct Member {
    FlowId flow;
    std::uint32_t hop;
    double rate;
  };
  struct Flow {
    double bytes = 0.0;
    double remaining = 0.0;
    double rate = 0.0;
    double cap = kNoRateCap;
    /// Scratch of the solver: the new rate, < 0 while not fixed.
    double new_rate = 0.0;
    SimTime last_update;
    SimTime end;
    EventHandle completion;
    CompletionSink* sink = nullptr;
    std::uint64_t token = 0;
    HopList hops;
    std::uint32_t stamp = 0;
    FlowState state = FlowState::kDone;
    /// Started transmitting since the last recomputation: must be solved.
    bool fresh = false;
    /// Listed as a member of its path's links (not for zero-byte or path-less flows).
    bool joined = false;
  };
  struct Link {
    double capacity = 0.0;
    SimTime latency;
    std::vector<Member> members;
    double load = 0.0;
    SimTime last_change;
    double carried = 0.0;
    std::int64_t busy_ns = 0;
    double peak_load = 0.0;
    double completed_bytes = 0.0;
    std::uint64_t completed_flows = 0;
    // Scratch of the recomputation: the load of the frozen flows, the capacity left to the
    // unfixed ones and their count, and the range of link_flows_ listing the flows to solve.
    double frozen_load = 0.0;
    double rem = 0.0;
    std::uint32_t unfixed = 0;
    std::uint32_t solve_begin = 0;
    std::uint32_t solve_end = 0;
    std::uint32_t stamp = 0;
  };
  /// A lower bound of a link's fair share during the solve.
  struct ShareEntry {
    double share;
    LinkId link;
  };

  const Flow& live_flow(FlowId flow) const;
  void activate(FlowId f);
  void complete(FlowId f);
  void mark_dirty(LinkId link) { dirty_links_.push_back(link); }
  void request_recompute();
  void recompute();
  void solve();
  void fix(FlowId f, double rate);
  void settle_link(Link& link, SimTime now);
  void schedule_completion(FlowId f);
  std::uint32_t next_stamp();

  Engine& engine_;
  FlowModelOptions options_;
  EventKind kind_activate_;
  EventKind kind_complete_;
  EventKind kind_recompute_;
  SimTime origin_;

  std::vector<Link> links_;
  std::vector<Flow> flows_;
  std::vector<FlowId> free_flows_;
  std::size_t active_ = 0;

  std::vector<LinkId> dirty_links_;
  /// Flows that started transmitting since the last recomputation.
  std::vector<FlowId> fresh_flows_;
  /// Smallest rate of the flows that ended since the last recomputation.
  double ended_rate_min_ = kNoRateCap;
  bool recompute_pending_ = false;
  std::uint32_t stamp_ = 0;
  // Scratch of the recomputation, kept to reuse their memory.
  std::vector<LinkId> comp_links_;
  std::vector<FlowId> comp_flows_;
  std::vector<FlowId> link_flows_;
  std::vector<ShareEntry> share_heap_;
  std::vector<std::pair<double, FlowId>> capped_;
  std::size_t fixed_count_ = 0;

  FlowModelStats stats_;
};

}  // namespace clustercost
