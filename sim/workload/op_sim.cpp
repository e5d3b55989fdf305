#include "sim/workload/op_sim.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>

#include "sim/engine/engine.hpp"
#include "sim/engine/task_graph.hpp"
#include "sim/network/all_to_all.hpp"
#include "sim/network/collective_runs.hpp"
#include "sim/network/flow_model.hpp"
#include "sim/step/fabric_efficiency.hpp"
#include "sim/step/program_cost.hpp"
#include "sim/workload/rank_layout.hpp"

namespace clustercost {

namespace {

/// What a task is, for the breakdown of a compute stream's idle time.
enum class Cat : std::uint8_t { Compute, Opt, Tp, Ep, Pp, Dp, Marker };

constexpr LinkId kNoLink = std::numeric_limits<LinkId>::max();
/// Model stages × micro-batches per pipeline (as the pipeline scheduler's budget).
constexpr std::uint64_t kMaxPasses = std::uint64_t{1} << 20;

bool scale_up_link(LinkKind k) {
  switch (k) {
    case LinkKind::NvLink:
    case LinkKind::Hccs:
    case LinkKind::InfinityFabric:
    case LinkKind::UnifiedBus:
    case LinkKind::PcieFabric:
    case LinkKind::OtherScaleUp:
      return true;
    default:
      return false;
  }
}

SimTime ticks(Seconds s) { return SimTime::from_seconds(Seconds(std::max(0.0, s.value))); }

CollectiveKind network_kind(OpCollective k) {
  switch (k) {
    case OpCollective::AllReduce: return CollectiveKind::AllReduce;
    case OpCollective::ReduceScatter: return CollectiveKind::ReduceScatter;
    case OpCollective::AllGather:
    case OpCollective::RingExchange: return CollectiveKind::AllGather;
    default: return CollectiveKind::AllToAll;
  }
}

/// A collective (or point-to-point transfer) in flight: its members' tasks end together.
struct Instance {
  std::uint32_t expected = 1, arrived = 0, flows_left = 0;
  std::int32_t flowset = -1;  ///< live flows on the shared model (else `fixed`)
  SimTime fixed{0};
  std::vector<TaskId> tasks;
  /// SMs its kernel holds on each member's GPU while it runs (0: none beyond the reservation).
  std::uint16_t sms = 0;
  /// Point-to-point: the receiving GPU's slot (its receive kernel holds `sms` too; -1: none).
  std::int32_t peer_slot = -1;
};

struct FlowSet {
  std::vector<std::pair<std::uint32_t, Bytes>> flows;  ///< (path index, bytes)
  SimTime tail{0};
  /// Per-flow rate cap, bytes/s: NVLS runs below the scale-up links' ring efficiency.
  double cap = FlowModel::kNoRateCap;
};

/// External-task tags of compute ops: this bit, then the op's index in OpSim's kind table.
constexpr std::uint64_t kComputeTag = std::uint64_t{1} << 63;

/// Compute ops sharing their GPU's SMs with the communication kernels running on it: the op on
/// a GPU's compute stream progresses at the rate its kernel has with the SMs left to it, and is
/// re-timed whenever a kernel holding SMs starts or ends on that GPU (processor sharing; see
/// op_sim.hpp). A re-timed op's earlier completion event is left in the queue and ignored when
/// it fires (a generation number per GPU), which is cheaper than cancellable events.
class SmShare final : public EventHandler {
 public:
  /// Time of compute kind `kind` on slot `slot` while communication kernels hold `held` SMs.
  using Duration = std::function<SimTime(std::uint32_t kind, int slot, int held)>;
  SmShare(Engine& engine, std::size_t slots, Duration duration)
      : engine_(engine), gpu_(slots), duration_(std::move(duration)) {
    kind_ = engine.register_handler(*this, "sm_share");
  }
  ~SmShare() override { engine_.unregister_handler(kind_); }
  SmShare(const SmShare&) = delete;
  SmShare& operator=(const SmShare&) = delete;

  void start(TaskId task, std::uint32_t kind, int slot, TaskExecutor& exec) {
    exec_ = &exec;
    Gpu& g = gpu_[static_cast<std::size_t>(slot)];
    g.task = task;
    g.kind = kind;
    g.done = 0;
    g.since = engine_.now();
    g.cur = duration_(kind, slot, g.held);
    engine_.schedule_in(g.cur, kind_, static_cast<std::uint32_t>(slot), ++g.gen);
  }
  /// `delta` SMs more (or fewer) held by communication kernels on `slot`.
  void hold(int slot, int delta) {
    if (slot < 0 || delta == 0) return;
    Gpu& g = gpu_[static_cast<std::size_t>(slot)];
    g.held += delta;
    if (g.task == kNoTask) return;
    const SimTime next = duration_(g.kind, slot, g.held);
    if (next == g.cur) return;
    const SimTime now = engine_.now();
    if (g.cur.ns > 0)
      g.done = std::min(1.0, g.done + static_cast<double>((now - g.since).ns) / static_cast<double>(g.cur.ns));
    g.since = now;
    g.cur = next;
    const auto left = static_cast<std::int64_t>(std::llround((1.0 - g.done) * static_cast<double>(next.ns)));
    engine_.schedule_in(SimTime{std::max<std::int64_t>(0, left)}, kind_, static_cast<std::uint32_t>(slot), ++g.gen);
  }
  void prefetch(const Event& e) const override {
    const Gpu& g = gpu_[e.target];
    if (e.payload == g.gen && g.task != kNoTask) exec_->prefetch_task(g.task);
  }
  void handle(const Event& e, Engine&) override {
    Gpu& g = gpu_[e.target];
    if (e.payload != g.gen || g.task == kNoTask) return;  // re-timed since
    const TaskId t = g.task;
    g.task = kNoTask;
    exec_->complete(t);
  }

 private:
  struct Gpu {
    TaskId task = kNoTask;
    std::uint32_t kind = 0;
    int held = 0;
    std::uint64_t gen = 0;
    SimTime since{0}, cur{0};
    double done = 0;  ///< fraction of the op's work done by `since`
  };
  Engine& engine_;
  std::vector<Gpu> gpu_;
  Duration duration_;
  TaskExecutor* exec_ = nullptr;
  EventKind kind_;
};

/// Starts collectives once all their simulated members have reached them, and compute ops
/// (SmShare). A collective's kernel holds its SMs on each member's GPU from the member's start
/// to the collective's end.
class CollectiveRunner final : public ExternalTaskRunner, public CompletionSink, public EventHandler {
 public:
  CollectiveRunner(Engine& engine, FlowModel& flows, LargeVector<Instance>& inst,
                   const std::vector<FlowSet>& sets, const std::vector<std::vector<LinkId>>& paths,
                   SmShare& share, const std::vector<int>& slot_of_stream)
      : engine_(engine), flows_(flows), inst_(inst), sets_(sets), paths_(paths), share_(share),
        slot_of_stream_(slot_of_stream) {
    kind_ = engine.register_handler(*this, "collectives");
  }
  ~CollectiveRunner() override { engine_.unregister_handler(kind_); }

  void start_external(TaskId task, std::uint64_t tag, TaskExecutor& executor, Engine&) override {
    exec_ = &executor;
    if (tag & kComputeTag) {
      share_.start(task, static_cast<std::uint32_t>(tag & ~kComputeTag), slot_of(task), executor);
      return;
    }
    Instance& in = inst_[tag];
    in.tasks.push_back(task);
    if (in.sms > 0) {
      share_.hold(slot_of(task), in.sms);
      share_.hold(in.peer_slot, in.sms);
    }
    if (++in.arrived < in.expected) return;
    if (in.flowset < 0) {
      if (in.fixed.ns <= 0) return finish(static_cast<std::uint32_t>(tag));
      engine_.schedule_in(in.fixed, kind_, static_cast<std::uint32_t>(tag));
      return;
    }
    const FlowSet& fs = sets_[static_cast<std::size_t>(in.flowset)];
    if (fs.flows.empty()) return finish(static_cast<std::uint32_t>(tag));
    in.flows_left = static_cast<std::uint32_t>(fs.flows.size());
    for (const auto& [path, bytes] : fs.flows) flows_.start_flow(bytes, paths_[path], this, tag, fs.cap);
  }
  void on_complete(std::uint64_t token, Engine&) override {
    Instance& in = inst_[token];
    if (--in.flows_left > 0) return;
    const SimTime tail = sets_[static_cast<std::size_t>(in.flowset)].tail;
    if (tail.ns > 0) engine_.schedule_in(tail, kind_, static_cast<std::uint32_t>(token));
    else finish(static_cast<std::uint32_t>(token));
  }
  void handle(const Event& e, Engine&) override { finish(e.target); }
  void prefetch(const Event& e) const override { __builtin_prefetch(&inst_[e.target]); }

 private:
  void finish(std::uint32_t i) {
    Instance& in = inst_[i];
    if (in.sms > 0) {
      // SMs come back before the tasks complete, so compute released by them runs at full rate.
      for (TaskId t : in.tasks) {
        share_.hold(slot_of(t), -static_cast<int>(in.sms));
        share_.hold(in.peer_slot, -static_cast<int>(in.sms));
      }
    }
    for (TaskId t : in.tasks) exec_->complete(t);
    in.tasks.clear();
    in.tasks.shrink_to_fit();
  }
  Engine& engine_;
  FlowModel& flows_;
  LargeVector<Instance>& inst_;
  const std::vector<FlowSet>& sets_;
  const std::vector<std::vector<LinkId>>& paths_;
  SmShare& share_;
  /// The simulated GPU of a task, from its stream (the executor holds a task's stream in the
  /// record it has just touched; a per-task array of slots was a cache miss per start).
  int slot_of(TaskId t) const { return slot_of_stream_[exec_->stream_of(t)]; }
  const std::vector<int>& slot_of_stream_;
  TaskExecutor* exec_ = nullptr;
  EventKind kind_;
};

struct InstanceKey {
  std::uint64_t site;
  std::int64_t leader;
  bool operator==(const InstanceKey& o) const { return site == o.site && leader == o.leader; }
};
struct InstanceKeyHash {
  std::size_t operator()(const InstanceKey& k) const {
    return std::hash<std::uint64_t>()(k.site * 0x9E3779B97F4A7C15ull ^
                                      static_cast<std::uint64_t>(k.leader));
  }
};

/// The simulation under construction and its results.
class OpSim {
 public:
  explicit OpSim(const OpSimSpec& spec)
      : sp_(spec),
        s_(*spec.scenario),
        topo_(*spec.topology),
        prog_(*spec.program),
        layout_(RankLayout::from(s_.parallelism, s_.cluster.gpus_per_node)) {}

  PipelineRun run();

 private:
  // ---- layout -------------------------------------------------------------------------------
  int gpu_of(int tp, int cp, std::int64_t dp, int pp) const {
    return static_cast<int>(layout_.gpu({tp, cp, dp, pp}));
  }
  std::vector<int> group_of(int gpu, ParallelGroup g) const;
  int vstage(int rank, int ch) const { return dual_ ? (ch == 0 ? rank : p_ - 1 - rank) : ch * p_ + rank; }
  int rank_of(int v, int ch) const { return dual_ ? (ch == 0 ? v : p_ - 1 - v) : v % p_; }
  /// Model stage program and layers of chunk `ch` on pipeline rank `rank`.
  std::pair<int, std::vector<std::size_t>> chunk_layers(int rank, int ch) const;

  // ---- network ------------------------------------------------------------------------------
  LinkId flow_link(LinkId l);
  std::uint32_t path(int src, int dst);
  /// The instance carrying collective `op` (group `group`, nccl-tests size `size`).
  std::uint32_t collective_instance(std::uint64_t site, const std::vector<int>& group,
                                    CollectiveKind kind, Bytes size);
  std::uint32_t fixed_instance(std::uint64_t site, const std::vector<int>& group, SimTime t);
  std::uint32_t p2p_instance(int src, int dst, Bytes bytes);
  std::uint32_t new_instance(std::uint64_t site, std::int64_t leader, std::uint32_t expected,
                             bool* fresh);
  void compute_shares();

  // ---- tasks --------------------------------------------------------------------------------
  struct Label {
    int slot = 0;
    int micro_batch = -1, chunk = -1;
    TaskKind kind = TaskKind::Forward;
    StreamLane lane = StreamLane::Compute;
  };
  TaskId add(StreamId st, SimTime d, Cat c, std::int32_t path_cat, const Label& l,
             const std::string* name, std::span<const TaskId> deps = {});
  TaskId add_external(StreamId st, std::uint64_t tag, Cat c, std::int32_t path_cat,
                      const Label& l, const std::string* name, std::span<const TaskId> deps);
  /// The per-task state every task gets (category, path category, GPU, record).
  void note_task(Cat c, std::int32_t path_cat, const Label& l, const std::string* name);
  std::int32_t intern_path(const std::string& c);
  std::int32_t intern_name(const std::string& n);
  void build_gpu(int slot);

  const OpSimSpec& sp_;
  const Scenario& s_;
  const Topology& topo_;
  const StepProgram& prog_;
  RankLayout layout_;
  int p_ = 1, V_ = 1, chunks_ = 1;
  std::int64_t m_ = 1;
  bool dual_ = false;
  double cf_ = 1.0;
  FabricEfficiency eff_;

  std::unique_ptr<Engine> engine_ = std::make_unique<Engine>();
  std::unique_ptr<FlowModel> flows_;
  TaskGraph g_;
  double est_tasks_ = 0;
  LargeVector<Cat> cat_;
  /// Per task: its critical-path category (index into path_names_: a few dozen at most, so
  /// one byte; 10^8 tasks in every-rank simulations).
  LargeVector<std::uint8_t> pcat_;
  std::vector<int> slot_of_stream_;  // per stream: its GPU's slot
  std::vector<TaskRecord> rec_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::int32_t> name_index_;
  std::vector<std::string> path_names_;
  std::map<std::string, std::int32_t> path_index_;

  // Simulated GPUs.
  std::vector<int> gpus_;
  std::vector<int> slot_of_gpu_;  // per GPU id: slot or -1
  std::vector<std::vector<TaskId>> compute_tasks_;  // per slot, compute stream in order
  std::vector<std::vector<std::pair<TaskId, double>>> mem_;  // per slot: (task, ±bytes at end)

  // Pipelines (one per (tp, cp, dp) simulated): per (vstage, mb) entry/end of passes and sends.
  std::int64_t pipes_ = 1;
  struct PassTasks {
    TaskId f_entry = kNoTask, f_end = kNoTask, b_entry = kNoTask, b_end = kNoTask;
    TaskId send_f = kNoTask, send_b = kNoTask;
  };
  std::vector<PassTasks> pass_;  // [pipe][vstage][mb]
  struct Pair {
    std::int64_t pipe;
    int fv, bv;
    std::int64_t fmb, bmb;
  };
  std::vector<Pair> pairs_;
  std::size_t pidx(std::int64_t pipe, int v, std::int64_t mb) const {
    return (static_cast<std::size_t>(pipe) * static_cast<std::size_t>(V_) + static_cast<std::size_t>(v)) *
               static_cast<std::size_t>(m_) + static_cast<std::size_t>(mb);
  }
  std::int64_t pipe_of(int gpu) const;

  // Network state.
  std::vector<LinkId> flow_link_;  // topology link → flow link
  std::vector<double> share_;      // topology link → replica share (≥ 1)
  std::vector<std::vector<LinkId>> paths_;
  std::unordered_map<std::uint64_t, std::uint32_t> path_of_;
  std::vector<FlowSet> sets_;
  std::map<std::tuple<int, double, std::vector<int>>, std::int32_t> set_of_;
  std::map<std::tuple<int, double, std::vector<int>>, SimTime> alone_;  // scale-up-only groups
  std::map<std::tuple<int, double, std::vector<int>>, bool> is_alone_;
  LargeVector<Instance> inst_;
  /// Instances some members have not yet joined: (instance, members still to join). An entry
  /// is dropped when the last member joins, so the map holds the groups in construction, not
  /// every collective of the step.
  std::unordered_map<InstanceKey, std::pair<std::uint32_t, std::uint32_t>, InstanceKeyHash> inst_of_;

  // Compute times per (layer, op), before the GPU's speed factor.
  std::vector<std::vector<SimTime>> op_time_;

  // ---- SM sharing ---------------------------------------------------------------------------
  /// A compute op as SmShare times it: its kernel, the SM fraction it has when no NCCL kernel
  /// runs beside it, and its time (before the GPU's speed factor) per number of SMs held.
  struct ComputeKind {
    const Op* op = nullptr;
    double base = 1.0;
    SimTime alone{0};
    std::vector<std::pair<int, SimTime>> held;
  };
  std::vector<ComputeKind> kinds_;
  std::vector<std::uint32_t> kind_base_;  // per layer: the kind of its op 0
  std::unordered_map<const Op*, std::uint32_t> opt_kind_;
  std::vector<double> speed_;  // per slot
  int sms_ = 1;                // the GPU's SMs
  std::map<std::tuple<int, double, std::vector<int>>, int> sms_rel_;  // NCCL SMs per group
  std::map<std::vector<int>, int> a2a_sms_;
  /// Whether collectives are NCCL's, whose kernels hold SMs (NVIDIA GPUs). HCCL (Ascend) and
  /// RCCL (AMD) are not modelled: their kernels hold nothing here (communication-sms.md §4).
  bool nccl_ = true;
  SimTime scale(int slot, SimTime t) const {
    const double v = speed_[static_cast<std::size_t>(slot)];
    return v == 1.0 ? t : SimTime{static_cast<std::int64_t>(static_cast<double>(t.ns) / v + 0.5)};
  }
  SimTime compute_time(std::uint32_t kind, int slot, int held);
  std::uint32_t optimizer_kind(const Op& op);
};

SimTime OpSim::compute_time(std::uint32_t kind, int slot, int held) {
  ComputeKind& k = kinds_[kind];
  if (held <= 0) return scale(slot, k.alone);
  for (const auto& [h, t] : k.held)
    if (h == held) return scale(slot, t);
  // The SMs left to compute kernels; at least one (a kernel always gets some SM).
  const double c = std::max(k.base - static_cast<double>(held) / sms_, 1.0 / sms_);
  const SimTime t = ticks(compute_op_time(s_, *k.op, c));
  k.held.emplace_back(held, t);
  return scale(slot, t);
}

std::uint32_t OpSim::optimizer_kind(const Op& op) {
  auto [it, fresh] = opt_kind_.try_emplace(&op, static_cast<std::uint32_t>(kinds_.size()));
  if (fresh) kinds_.push_back({&op, 1.0, ticks(compute_op_time(s_, op, 1.0)), {}});
  return it->second;
}

std::int32_t OpSim::intern_path(const std::string& c) {
  auto it = path_index_.find(c);
  if (it != path_index_.end()) return it->second;
  if (path_names_.size() > std::numeric_limits<std::uint8_t>::max())
    throw std::logic_error("simulate_op_program: more than 256 critical-path categories");
  path_names_.push_back(c);
  const auto i = static_cast<std::int32_t>(path_names_.size() - 1);
  path_index_.emplace(c, i);
  return i;
}

std::int32_t OpSim::intern_name(const std::string& n) {
  auto it = name_index_.find(n);
  if (it != name_index_.end()) return it->second;
  names_.push_back(n);
  const auto i = static_cast<std::int32_t>(names_.size() - 1);
  name_index_.emplace(n, i);
  return i;
}

std::vector<int> OpSim::group_of(int gpu, ParallelGroup g) const {
  const RankCoord c = layout_.coord(gpu);
  const auto& par = s_.parallelism;
  std::vector<int> out;
  switch (g) {
    case ParallelGroup::Tp:
      for (int t = 0; t < par.tp; ++t) out.push_back(gpu_of(t, c.cp, c.dp, c.pp));
      break;
    case ParallelGroup::Cp:
      for (int k = 0; k < par.cp; ++k) out.push_back(gpu_of(c.tp, k, c.dp, c.pp));
      break;
    case ParallelGroup::Dp:
    case ParallelGroup::DpExpert:
    case ParallelGroup::Ep: {
      const std::int64_t own = c.cp + static_cast<std::int64_t>(par.cp) * c.dp;
      for (std::int64_t d = 0; d < par.dp; ++d)
        for (int k = 0; k < par.cp; ++k) {
          const std::int64_t idx = k + static_cast<std::int64_t>(par.cp) * d;
          if (g == ParallelGroup::DpExpert && idx % par.ep != own % par.ep) continue;
          if (g == ParallelGroup::Ep && idx / par.ep != own / par.ep) continue;
          out.push_back(gpu_of(c.tp, k, d, c.pp));
        }
      break;
    }
    default:
      out.push_back(gpu);
  }
  return out;
}

std::pair<int, std::vector<std::size_t>> OpSim::chunk_layers(int rank, int ch) const {
  if (dual_) {
    const int v = ch == 0 ? rank : p_ - 1 - rank;
    return {v, prog_.stages[static_cast<std::size_t>(v)].layers};
  }
  const auto& all = prog_.stages[static_cast<std::size_t>(rank)].layers;
  if (chunks_ == 1) return {rank, all};
  // Interleaving: chunk ch of the rank runs the ch-th of vpp contiguous slices of its layers.
  const std::size_t n = all.size(), k = static_cast<std::size_t>(chunks_);
  const std::size_t b = n * static_cast<std::size_t>(ch) / k, e = n * static_cast<std::size_t>(ch + 1) / k;
  return {rank, std::vector<std::size_t>(all.begin() + static_cast<std::ptrdiff_t>(b),
                                         all.begin() + static_cast<std::ptrdiff_t>(e))};
}

std::int64_t OpSim::pipe_of(int gpu) const {
  if (!sp_.all_ranks) return 0;
  const RankCoord c = layout_.coord(gpu);
  return c.tp + static_cast<std::int64_t>(s_.parallelism.tp) *
                    (c.cp + static_cast<std::int64_t>(s_.parallelism.cp) * c.dp);
}

LinkId OpSim::flow_link(LinkId l) {
  if (flow_link_[l] != kNoLink) return flow_link_[l];
  double cap = effective_bandwidth(topo_.link(l), eff_);
  if (l < sp_.link_factor.size()) cap *= sp_.link_factor[l];
  cap /= std::max(1.0, share_[l]);
  flow_link_[l] = flows_->add_link(cap, topo_.link(l).latency);
  return flow_link_[l];
}

std::uint32_t OpSim::path(int src, int dst) {
  const std::uint64_t key = (static_cast<std::uint64_t>(src) << 32) | static_cast<std::uint32_t>(dst);
  auto it = path_of_.find(key);
  if (it != path_of_.end()) return it->second;
  std::vector<LinkId> p;
  for (LinkId l : topo_.route(src, dst, 0)) p.push_back(flow_link(l));
  paths_.push_back(std::move(p));
  const auto i = static_cast<std::uint32_t>(paths_.size() - 1);
  path_of_.emplace(key, i);
  return i;
}

std::uint32_t OpSim::new_instance(std::uint64_t site, std::int64_t leader, std::uint32_t expected,
                                  bool* fresh) {
  *fresh = true;
  if (expected > 1) {
    auto [it, inserted] = inst_of_.try_emplace(InstanceKey{site, leader});
    if (!inserted) {
      *fresh = false;
      const std::uint32_t i = it->second.first;
      if (--it->second.second == 0) inst_of_.erase(it);
      return i;
    }
    it->second = {static_cast<std::uint32_t>(inst_.size()), expected - 1};
  }
  inst_.emplace_back();
  inst_.back().expected = expected;
  return static_cast<std::uint32_t>(inst_.size() - 1);
}

std::uint32_t OpSim::collective_instance(std::uint64_t site, const std::vector<int>& group,
                                         CollectiveKind kind, Bytes size) {
  std::uint32_t expected = 1;
  if (sp_.all_ranks) expected = static_cast<std::uint32_t>(group.size());
  bool fresh = false;
  const std::uint32_t i =
      new_instance(site, *std::min_element(group.begin(), group.end()), expected, &fresh);
  if (!fresh) return i;
  // The same relative group in every node behaves the same when it stays inside the node.
  const int base = topo_.node_of(group.front()) * s_.cluster.gpus_per_node;
  std::vector<int> rel(group);
  for (int& x : rel) x -= base;
  const auto rkey = std::make_tuple(static_cast<int>(kind), size.value, rel);
  // The algorithm first: an NVLS kernel holds NCCL's nvls channels, not its coll channels. The
  // SM figure is cached per relative group like the rest: the choice is a function of the key.
  const AlgorithmChoice choice = nccl_algorithm(topo_, kind, group, size, eff_);
  {
    auto [it, first] = sms_rel_.try_emplace(rkey, 0);
    if (first) it->second = nccl_ ? nccl_collective_sms(topo_, group, choice.algorithm, eff_) : 0;
    inst_[i].sms = static_cast<std::uint16_t>(it->second);
  }
  auto ai = is_alone_.find(rkey);
  bool alone = false;
  if (ai == is_alone_.end()) {
    const TransferDag dag = collective_dag(kind, choice.algorithm, group, size);
    alone = sp_.link_factor.empty();
    for (const Transfer& t : dag.transfers) {
      if (!alone) break;
      for (LinkId l : topo_.route(t.src, t.dst, 0))
        if (!scale_up_link(topo_.link(l).kind)) alone = false;
    }
    is_alone_.emplace(rkey, alone);
    // NVLS alone is its α-β cost: its DAG is only its load on the links, at NVLS's own rate.
    if (alone)
      alone_.emplace(rkey, ticks(choice.algorithm == CollectiveAlgorithm::Nvls
                                     ? choice.cost.time
                                     : simulate_dag_alone(topo_, dag, eff_)));
  } else {
    alone = ai->second;
  }
  if (alone) {
    inst_[i].fixed = alone_.at(rkey);
    return i;
  }
  const auto key = std::make_tuple(static_cast<int>(kind), size.value, group);
  auto si = set_of_.find(key);
  if (si == set_of_.end()) {
    const CoalescedFlows cf = coalesce(topo_, collective_dag(kind, choice.algorithm, group, size));
    FlowSet fs;
    fs.tail = cf.tail;
    if (choice.algorithm == CollectiveAlgorithm::Nvls) fs.cap = choice.cost.bytes_per_s;
    const int q = choice.algorithm == CollectiveAlgorithm::Ring ? ring_cost(topo_, group, eff_).channels : 1;
    if (q > 1 && !cf.pairs.empty()) {
      // A ring leaving the scale-up domain runs as q channels, each leaving every node through
      // its own NIC (NCCL's rings; analytical.hpp's rule): channel c visits each node's GPUs
      // from local index c on, and carries 1/q of every hop's bytes.
      double bytes = 0;
      for (const auto& pr : cf.pairs) bytes += pr.bytes.value;
      const double per_hop = bytes / static_cast<double>(cf.pairs.size()) / q;
      const int gpn = s_.cluster.gpus_per_node;
      std::map<std::pair<int, int>, double> hops;
      for (int c = 0; c < q; ++c) {
        std::vector<int> order(group);
        std::sort(order.begin(), order.end(), [&](int a, int b) {
          const int na = topo_.node_of(a), nb = topo_.node_of(b);
          if (na != nb) return na < nb;
          return (a % gpn - c + gpn) % gpn < (b % gpn - c + gpn) % gpn;
        });
        for (std::size_t k = 0; k < order.size(); ++k)
          hops[{order[k], order[(k + 1) % order.size()]}] += per_hop;
      }
      for (const auto& [pr, b] : hops) fs.flows.emplace_back(path(pr.first, pr.second), Bytes(b));
    } else {
      for (const auto& pr : cf.pairs) fs.flows.emplace_back(path(pr.src, pr.dst), pr.bytes);
    }
    sets_.push_back(std::move(fs));
    si = set_of_.emplace(key, static_cast<std::int32_t>(sets_.size() - 1)).first;
  }
  inst_[i].flowset = si->second;
  return i;
}

std::uint32_t OpSim::fixed_instance(std::uint64_t site, const std::vector<int>& group, SimTime t) {
  const std::uint32_t expected = sp_.all_ranks ? static_cast<std::uint32_t>(group.size()) : 1;
  bool fresh = false;
  const std::uint32_t i =
      new_instance(site, *std::min_element(group.begin(), group.end()), expected, &fresh);
  if (fresh) inst_[i].fixed = t;
  return i;
}

std::uint32_t OpSim::p2p_instance(int src, int dst, Bytes bytes) {
  const auto key = std::make_tuple(-1, bytes.value, std::vector<int>{src, dst});
  auto si = set_of_.find(key);
  if (si == set_of_.end()) {
    FlowSet fs;
    fs.flows.emplace_back(path(src, dst), bytes);
    sets_.push_back(std::move(fs));
    si = set_of_.emplace(key, static_cast<std::int32_t>(sets_.size() - 1)).first;
  }
  inst_.emplace_back();
  inst_.back().flowset = si->second;
  inst_.back().sms = static_cast<std::uint16_t>(nccl_ ? nccl_p2p_sms(topo_, src, dst) : 0);
  inst_.back().peer_slot = slot_of_gpu_[static_cast<std::size_t>(dst)];
  return static_cast<std::uint32_t>(inst_.size() - 1);
}

void OpSim::compute_shares() {
  share_.assign(topo_.num_links(), 1.0);
  if (sp_.all_ranks) return;
  // Per kind of traffic: the flows of every instance of the group on each link, against those of
  // the simulated instance (the one with TP, CP and DP rank 0).
  const auto& par = s_.parallelism;
  std::vector<std::uint32_t> all(topo_.num_links(), 0), own(topo_.num_links(), 0);
  std::vector<LinkId> touched, route;
  auto count = [&](int a, int b, bool simulated) {
    route.clear();
    topo_.append_route(a, b, 0, route);
    for (LinkId l : route) {
      if (all[l] == 0 && own[l] == 0) touched.push_back(l);
      ++all[l];
      if (simulated) ++own[l];
    }
  };
  auto settle = [&] {
    for (LinkId l : touched) {
      if (own[l] > 0) share_[l] = std::max(share_[l], static_cast<double>(all[l]) / own[l]);
      all[l] = own[l] = 0;
    }
    touched.clear();
  };
  auto ring = [&](const std::vector<int>& grp, bool simulated) {
    if (grp.size() < 2) return;
    std::vector<int> r(grp);
    std::sort(r.begin(), r.end());
    for (std::size_t k = 0; k < r.size(); ++k) count(r[k], r[(k + 1) % r.size()], simulated);
  };
  const std::int64_t world = layout_.world_size();
  // Pipeline transfers between consecutive stages, both directions.
  for (int i = 0; i + 1 < p_; ++i) {
    for (int dir = 0; dir < 2; ++dir) {
      for (int t = 0; t < par.tp; ++t)
        for (int c = 0; c < par.cp; ++c)
          for (std::int64_t d = 0; d < par.dp; ++d) {
            const int a = gpu_of(t, c, d, i), b = gpu_of(t, c, d, i + 1);
            const bool sim = t == 0 && c == 0 && d == 0;
            if (dir == 0) count(a, b, sim);
            else count(b, a, sim);
          }
      settle();
    }
  }
  if (dual_ || chunks_ > 1) {
    for (int dir = 0; dir < 2; ++dir) {
      for (int t = 0; t < par.tp; ++t)
        for (int c = 0; c < par.cp; ++c)
          for (std::int64_t d = 0; d < par.dp; ++d) {
            const int a = gpu_of(t, c, d, p_ - 1), b = gpu_of(t, c, d, 0);
            const bool sim = t == 0 && c == 0 && d == 0;
            if (dir == 0) count(a, b, sim);
            else count(b, a, sim);
          }
      settle();
    }
  }
  // Rings of TP, CP and DP groups: each group once (found from its first member).
  for (ParallelGroup kind : {ParallelGroup::Tp, ParallelGroup::Cp, ParallelGroup::Dp,
                             ParallelGroup::DpExpert}) {
    for (int st = 0; st < p_; ++st) {
      for (std::int64_t gpu = 0; gpu < world; ++gpu) {
        const RankCoord c = layout_.coord(gpu);
        if (c.pp != st) continue;
        const std::vector<int> grp = group_of(static_cast<int>(gpu), kind);
        if (grp.front() != gpu) continue;
        ring(grp, std::find(grp.begin(), grp.end(), gpu_of(0, 0, 0, st)) != grp.end());
      }
      settle();
    }
  }
}

TaskId OpSim::add(StreamId st, SimTime d, Cat c, std::int32_t path_cat, const Label& l,
                  const std::string* name, std::span<const TaskId> deps) {
  const TaskId t = g_.add_task(st, d, deps);
  note_task(c, path_cat, l, name);
  return t;
}

TaskId OpSim::add_external(StreamId st, std::uint64_t tag, Cat c, std::int32_t path_cat,
                           const Label& l, const std::string* name, std::span<const TaskId> deps) {
  const TaskId t = g_.add_external_task(st, tag, deps);
  note_task(c, path_cat, l, name);
  return t;
}

void OpSim::note_task(Cat c, std::int32_t path_cat, const Label& l, const std::string* name) {
  cat_.push_back(c);
  pcat_.push_back(static_cast<std::uint8_t>(path_cat));
  if (!sp_.record_tasks) return;
  TaskRecord r;
  r.gpu = gpus_[static_cast<std::size_t>(l.slot)];
  r.stage = layout_.coord(r.gpu).pp;
  r.micro_batch = l.micro_batch;
  r.chunk = l.chunk;
  r.kind = l.kind;
  r.lane = l.lane;
  r.name = name ? intern_name(*name) : -1;
  rec_.push_back(r);
}

/// One pass being emitted on one GPU: the state its next op depends on.
struct Chain {
  TaskId last = kNoTask;         ///< last task on the compute stream of this pass
  std::vector<TaskId> pending;   ///< must end before the next compute op
  struct Async {
    TaskId task;
    std::uint8_t until;  ///< 0: layer end, 1: next weight-gradient op, 2: after the next
                         ///< attention kernel, 3: the next compute op
  };
  std::vector<Async> asyncs;
};

void OpSim::build_gpu(int slot) {
  const int gpu = gpus_[static_cast<std::size_t>(slot)];
  const RankCoord coord = layout_.coord(gpu);
  const int rank = coord.pp;
  const std::int64_t pipe = pipe_of(gpu);
  const auto& par = s_.parallelism;
  const std::string gname = "GPU " + std::to_string(gpu);
  const StreamId comp = g_.add_stream(gname + " compute");
  const StreamId comm = g_.add_stream(gname + " comm");
  // Overlapped collectives on a stream of their own (Megatron issues them async, beside the
  // blocking ones), so a blocking collective never queues behind one meant to be hidden.
  const StreamId comm_async = g_.add_stream(gname + " comm async");
  const StreamId send_f = g_.add_stream(gname + " send forward");
  const StreamId send_b = g_.add_stream(gname + " send backward");
  const StreamId dps = g_.add_stream(gname + " data-parallel");
  slot_of_stream_.resize(g_.stream_count(), slot);
  const double speed = static_cast<std::size_t>(gpu) < sp_.gpu_speed.size()
                           ? sp_.gpu_speed[static_cast<std::size_t>(gpu)] : 1.0;
  auto scaled = [&](SimTime t) {
    return speed == 1.0 ? t : SimTime{static_cast<std::int64_t>(static_cast<double>(t.ns) / speed + 0.5)};
  };
  // This GPU's group of each kind, computed once: a collective op of every micro-batch and
  // layer asks for it (perf on the every-rank DeepSeek-V3 build: group_of and its allocations
  // were 5% of the run).
  constexpr std::size_t kGroupKinds = static_cast<std::size_t>(ParallelGroup::DpExpert) + 1;
  std::array<std::vector<int>, kGroupKinds> groups;
  std::array<bool, kGroupKinds> have_group{};
  std::vector<TaskId> op_deps;  // one buffer for the ops' dependencies (no allocation per op)
  auto group = [&](ParallelGroup g) -> const std::vector<int>& {
    const auto k = static_cast<std::size_t>(g);
    if (!have_group[k]) {
      groups[k] = group_of(gpu, g);
      have_group[k] = true;
    }
    return groups[k];
  };
  auto& ctasks = compute_tasks_[static_cast<std::size_t>(slot)];
  auto& mem = mem_[static_cast<std::size_t>(slot)];
  const std::int32_t pc_gemm = intern_path("gemm"), pc_attn = intern_path("attention"),
                     pc_mem = intern_path("memory-bound"), pc_opt = intern_path("optimizer"),
                     pc_marker = intern_path("bubble");
  auto compute_cat = [&](const Op& op) {
    if (op.category == OpCategory::Gemm || op.category == OpCategory::GroupedGemm) return pc_gemm;
    if (op.category == OpCategory::Attention) return pc_attn;
    if (op.category == OpCategory::Optimizer) return pc_opt;
    return pc_mem;
  };
  auto comm_cat = [&](const Op& op) {
    std::string k = op_collective_name(op.collective);
    return intern_path(std::string(parallel_group_name(op.group)) + " " + k);
  };
  const std::vector<PipelinePass> order = pipeline_order(sp_.order, rank, p_, m_, sp_.vpp);
  const std::int64_t q = std::max(1, sp_.dp_buckets);

  // Per chunk: model stage, layers, first forward and last gradient pass.
  std::vector<int> stage_of(static_cast<std::size_t>(chunks_));
  std::vector<std::vector<std::size_t>> layers_of(static_cast<std::size_t>(chunks_));
  std::vector<std::size_t> first_f(static_cast<std::size_t>(chunks_), order.size()),
      last_grad(static_cast<std::size_t>(chunks_), order.size());
  for (int ch = 0; ch < chunks_; ++ch) {
    auto [v, ls] = chunk_layers(rank, ch);
    stage_of[static_cast<std::size_t>(ch)] = v;
    layers_of[static_cast<std::size_t>(ch)] = std::move(ls);
  }
  for (std::size_t k = 0; k < order.size(); ++k) {
    const auto ch = static_cast<std::size_t>(order[k].chunk);
    if (order[k].kind == PassKind::Forward && first_f[ch] == order.size()) first_f[ch] = k;
    if (order[k].kind == PassKind::Backward || order[k].kind == PassKind::WeightGrad)
      last_grad[ch] = k;
  }
  const double chunk_share = dual_ ? 1.0 : 1.0 / chunks_;
  // Layer groups of the DP buckets: bucket j covers layers [j·n/q, (j+1)·n/q) of the chunk.
  auto bucket_of = [&](std::size_t ch, std::size_t pos) {
    const std::size_t n = layers_of[ch].size();
    return n == 0 ? 0 : static_cast<std::int64_t>(pos * static_cast<std::size_t>(q) / n);
  };

  Label lab;
  lab.slot = slot;
  // DP parameter all-gathers overlapped with the first forward: buckets issued at the start.
  std::vector<std::vector<TaskId>> ag_bucket(static_cast<std::size_t>(chunks_));
  std::vector<TaskId> rs_tasks;
  const std::uint64_t kDpSite = std::uint64_t{1} << 62;
  auto dp_ops = [&](std::size_t ch, bool gather) {
    std::vector<const Op*> out;
    const auto& ops = prog_.stages[static_cast<std::size_t>(stage_of[ch])].step_ops;
    for (const Op& op : ops) {
      if (!op.is_collective()) continue;
      const bool ag = op.collective == OpCollective::AllGather;
      if (ag == gather) out.push_back(&op);
    }
    return out;
  };
  auto dp_task = [&](std::size_t ch, const Op& op, std::int64_t bucket, std::int64_t parts,
                     std::span<const TaskId> deps) -> TaskId {
    const std::vector<int>& grp = group(op.group);
    if (grp.size() < 2) return kNoTask;
    const auto& ops = prog_.stages[static_cast<std::size_t>(stage_of[ch])].step_ops;
    const auto opi = static_cast<std::uint64_t>(&op - ops.data());
    const std::uint64_t site =
        kDpSite | (((static_cast<std::uint64_t>(stage_of[ch]) * 64 + opi) * 64 +
                    static_cast<std::uint64_t>(ch)) * 1024 + static_cast<std::uint64_t>(bucket));
    const Bytes size = op.comm_bytes * (chunk_share / static_cast<double>(parts));
    const std::uint32_t in = collective_instance(site, grp, network_kind(op.collective), size);
    Label l = lab;
    l.chunk = static_cast<int>(ch);
    l.kind = op.collective == OpCollective::AllGather ? TaskKind::DpAllGather : TaskKind::DpReduceScatter;
    l.lane = StreamLane::DataParallel;
    return add_external(dps, in, Cat::Dp, comm_cat(op), l, &op.name, deps);
  };
  for (int ch = 0; ch < chunks_; ++ch) {
    const auto c = static_cast<std::size_t>(ch);
    for (const Op* op : dp_ops(c, true)) {
      if (!op->async) continue;
      for (std::int64_t j = 0; j < q; ++j) {
        const TaskId t = dp_task(c, *op, j, q, {});
        if (t == kNoTask) break;
        if (ag_bucket[c].size() <= static_cast<std::size_t>(j)) ag_bucket[c].resize(static_cast<std::size_t>(j) + 1, kNoTask);
        ag_bucket[c][static_cast<std::size_t>(j)] = t;  // the last op's bucket j gates group j
      }
    }
  }

  // The passes.
  for (std::size_t k = 0; k < order.size(); ++k) {
    const PipelinePass& pass = order[k];
    const bool paired = pass.paired && k + 1 < order.size();
    const std::size_t npass = paired ? 2 : 1;
    struct PassState {
      const PipelinePass* pass;
      std::size_t index;
      int v;
      Chain chain;
      TaskId entry;
      std::vector<const Op*> ops;  // in execution order
      std::vector<std::int8_t> layer_end;  // 1: this op ends a layer (pass-dependent meaning)
      std::vector<std::size_t> layer_of;   // layer position in the chunk per op
      std::vector<std::size_t> layer_idx;  // program layer per op
      std::vector<std::size_t> op_idx;     // op index in its layer
      std::size_t next = 0;
    };
    PassState st[2];
    for (std::size_t h = 0; h < npass; ++h) {
      PassState& ps = st[h];
      ps.pass = &order[k + h];
      ps.index = k + h;
      const auto ch = static_cast<std::size_t>(ps.pass->chunk);
      ps.v = vstage(rank, ps.pass->chunk);
      const auto& ls = layers_of[ch];
      auto push_layer = [&](std::size_t pos, std::initializer_list<Pass> passes) {
        const std::size_t li = ls[pos];
        const auto& ops = prog_.layers[li].ops;
        std::size_t added = 0;
        for (Pass want : passes)
          for (std::size_t oi = 0; oi < ops.size(); ++oi)
            if (ops[oi].pass == want) {
              ps.ops.push_back(&ops[oi]);
              ps.layer_end.push_back(0);
              ps.layer_of.push_back(pos);
              ps.layer_idx.push_back(li);
              ps.op_idx.push_back(oi);
              ++added;
            }
        if (added > 0) ps.layer_end.back() = 1;
        else {
          // A layer with no op of these passes still ends (memory, buckets): a marker entry.
          ps.ops.push_back(nullptr);
          ps.layer_end.push_back(1);
          ps.layer_of.push_back(pos);
          ps.layer_idx.push_back(li);
          ps.op_idx.push_back(0);
        }
      };
      switch (ps.pass->kind) {
        case PassKind::Forward:
          for (std::size_t pos = 0; pos < ls.size(); ++pos) push_layer(pos, {Pass::Forward});
          break;
        case PassKind::Backward:
          for (std::size_t pos = ls.size(); pos-- > 0;)
            push_layer(pos, {Pass::Recompute, Pass::InputGrad, Pass::WeightGrad});
          break;
        case PassKind::BackwardInput:
          for (std::size_t pos = ls.size(); pos-- > 0;)
            push_layer(pos, {Pass::Recompute, Pass::InputGrad});
          break;
        case PassKind::WeightGrad:
          for (std::size_t pos = ls.size(); pos-- > 0;) push_layer(pos, {Pass::WeightGrad});
          break;
      }
      Label l = lab;
      l.micro_batch = static_cast<int>(ps.pass->micro_batch);
      l.chunk = ps.pass->chunk;
      l.kind = ps.pass->kind == PassKind::Forward ? TaskKind::Forward
               : ps.pass->kind == PassKind::Backward ? TaskKind::Backward
               : ps.pass->kind == PassKind::BackwardInput ? TaskKind::BackwardInput
                                                         : TaskKind::WeightGrad;
      ps.entry = add(comp, SimTime{0}, Cat::Marker, pc_marker, l, nullptr);
      ctasks.push_back(ps.entry);
      ps.chain.last = ps.entry;
      PassTasks& pt = pass_[pidx(pipe, ps.v, ps.pass->micro_batch)];
      if (ps.pass->kind == PassKind::Forward) pt.f_entry = ps.entry;
      else if (ps.pass->kind != PassKind::WeightGrad) pt.b_entry = ps.entry;
    }
    if (paired)
      pairs_.push_back({pipe, st[0].v, st[1].v, st[0].pass->micro_batch, st[1].pass->micro_batch});

    // Paired chunks (DeepSeek-V3 report §3.2.1, Figure 4): the order of their ops on the compute
    // stream is chosen as the ops are emitted, from the ops' own times on this GPU (compute, and
    // EP all-to-alls queued on the one communication stream). A pass runs one segment (its ops up
    // to its next all-to-all) at a time; then the pass that can run soonest (its last all-to-all
    // done) goes on, and when both can, the other one: two MoE passes take turns segment by
    // segment, so each one's dispatch or combine runs while the other computes, and they advance
    // layer by layer, as DualPipe's hand-written overlapped step does. A pass with no all-to-all
    // ahead (dense layers, or a pass past its last one) fills the other's waits and yields to it
    // once the other can run.
    std::int64_t est_clock = 0, est_comm_free = 0;
    std::int64_t est_ready[2] = {0, 0};
    std::vector<std::uint8_t> a2a_ahead[2];  // per pass and op: an EP all-to-all at or after it
    for (std::size_t h = 0; h < npass && paired; ++h) {
      const PassState& ps = st[h];
      a2a_ahead[h].assign(ps.ops.size() + 1, 0);
      for (std::size_t i = ps.ops.size(); i-- > 0;) {
        const Op* op = ps.ops[i];
        a2a_ahead[h][i] = a2a_ahead[h][i + 1] |
                          static_cast<std::uint8_t>(op && op->is_collective() && op->group == ParallelGroup::Ep);
      }
    }
    // Emits ops of pass h: one op when paired, else the whole pass.
    auto emit_segment = [&](std::size_t h) {
      PassState& ps = st[h];
      Chain& c = ps.chain;
      const auto ch = static_cast<std::size_t>(ps.pass->chunk);
      Label l = lab;
      l.micro_batch = static_cast<int>(ps.pass->micro_batch);
      l.chunk = ps.pass->chunk;
      const bool fwd = ps.pass->kind == PassKind::Forward;
      const bool grad_pass = ps.index == last_grad[ch];
      const bool gather_pass = fwd && ps.index == first_f[ch] && !ag_bucket[ch].empty();
      std::int64_t cur_bucket = -1;
      while (ps.next < ps.ops.size()) {
        const std::size_t i = ps.next++;
        const Op* op = ps.ops[i];
        const std::size_t pos = ps.layer_of[i];
        if (gather_pass) {
          const std::int64_t b = bucket_of(ch, pos);
          if (b != cur_bucket) {
            cur_bucket = b;
            if (static_cast<std::size_t>(b) < ag_bucket[ch].size() &&
                ag_bucket[ch][static_cast<std::size_t>(b)] != kNoTask)
              c.pending.push_back(ag_bucket[ch][static_cast<std::size_t>(b)]);
          }
        }
        if (op && !op->is_collective()) {
          const SimTime d = scaled(op_time_[ps.layer_idx[i]][ps.op_idx[i]]);
          std::vector<TaskId>& deps = op_deps;
          deps.assign(c.pending.begin(), c.pending.end());
          for (auto& a : c.asyncs)
            if (a.until == 3 || (a.until == 1 && op->pass == Pass::WeightGrad)) {
              deps.push_back(a.task);
              a.task = kNoTask;
            }
          std::erase_if(c.asyncs, [](const Chain::Async& a) { return a.task == kNoTask; });
          est_clock = std::max(est_clock, est_ready[h]) + d.ns;
          if (d.ns > 0 || !deps.empty()) {
            l.kind = op->pass == Pass::Forward ? TaskKind::Forward
                     : op->pass == Pass::WeightGrad ? TaskKind::WeightGrad
                     : ps.pass->kind == PassKind::BackwardInput ? TaskKind::BackwardInput
                                                                : TaskKind::Backward;
            l.lane = op->stream == Stream::WgradCompute ? StreamLane::WgradCompute : StreamLane::Compute;
            // Ops that take time run through SmShare (NCCL kernels beside them slow them).
            const std::uint64_t kind = kind_base_[ps.layer_idx[i]] + ps.op_idx[i];
            const TaskId t = d.ns > 0 ? add_external(comp, kComputeTag | kind, Cat::Compute,
                                                     compute_cat(*op), l, &op->name, deps)
                                      : add(comp, d, Cat::Compute, compute_cat(*op), l, &op->name, deps);
            ctasks.push_back(t);
            c.last = t;
            c.pending.clear();
          }
          if (op->category == OpCategory::Attention)
            for (auto& a : c.asyncs)
              if (a.until == 2) a.until = 3;
        } else if (op && op->collective != OpCollective::None) {
          const std::vector<int>& grp = group(op->group);
          std::uint32_t in = 0;
          bool skip = false;
          const std::uint64_t site =
              ((static_cast<std::uint64_t>(ps.layer_idx[i]) * 4096 + ps.op_idx[i]) *
                   static_cast<std::uint64_t>(m_ + 1) +
               static_cast<std::uint64_t>(ps.pass->micro_batch)) * 4 +
              static_cast<std::uint64_t>(ps.pass->kind);
          if (op->group == ParallelGroup::Ep) {
            const SimTime d = ticks(ep_collective_time(*op, prog_.layers[ps.layer_idx[i]].moe_index, sp_.moe));
            in = fixed_instance(site, grp, d);
            // DeepEP's SMs are reserved for the whole step where the scenario says so
            // (software.comm_sms, DeepSeek-V3 report §3.2.2): compute already runs on the rest
            // (cf_). Without a reservation the all-to-all is NCCL's grouped send/recv and holds
            // its p2p channels (nccl_all_to_all_sms).
            if (par.comm_sms == 0 && nccl_) {
              auto [it, first] = a2a_sms_.try_emplace(grp, 0);
              if (first) it->second = nccl_all_to_all_sms(topo_, grp);
              inst_[in].sms = static_cast<std::uint16_t>(it->second);
            }
            est_comm_free = std::max(est_comm_free, est_clock) + d.ns;
            est_ready[h] = est_comm_free;
          } else if (grp.size() < 2) {
            skip = true;
          } else {
            Bytes size = op->comm_bytes;
            if (op->collective == OpCollective::RingExchange) {
              const double n = static_cast<double>(grp.size());
              size = size * (n / (n - 1.0));
            }
            in = collective_instance(site, grp, network_kind(op->collective), size);
          }
          const bool dp_layer =
              op->group == ParallelGroup::Dp || op->group == ParallelGroup::DpExpert;
          if (!skip && dp_layer) {
            // ZeRO-3's per-layer collectives (op_program.cpp add_zero3_ops) on the data-parallel
            // stream, in program order with the DP buckets. A parameter gather is waited for at
            // its layer's end: it overlaps that layer's compute, which in steady state costs
            // the same as DeepSpeed/FSDP prefetching it under the previous layer's. A gradient
            // reduce-scatter is waited for only by the optimizer, so it hides under the
            // following layers' backward; the stream serialises both, which exposes them
            // where they outrun compute (as analytical_step.cpp's zero3_exposed).
            const bool gather = op->collective == OpCollective::AllGather;
            l.kind = gather ? TaskKind::DpAllGather : TaskKind::DpReduceScatter;
            l.lane = StreamLane::DataParallel;
            op_deps.assign(1, c.last);
            const TaskId t = add_external(dps, in, Cat::Dp, comm_cat(*op), l, &op->name, op_deps);
            if (gather) c.asyncs.push_back({t, static_cast<std::uint8_t>(0)});
            else rs_tasks.push_back(t);
          } else if (!skip) {
            const bool cp_ring = op->collective == OpCollective::RingExchange;
            const bool tp_hidden = op->group == ParallelGroup::Tp && s_.software.overlap.tp_comm;
            const bool overlapped = op->async || cp_ring || tp_hidden;
            l.kind = op->group == ParallelGroup::Ep ? TaskKind::EpComm : TaskKind::TpComm;
            l.lane = overlapped ? StreamLane::CommAsync : StreamLane::Comm;
            const Cat cc = op->group == ParallelGroup::Ep ? Cat::Ep : Cat::Tp;
            op_deps.assign(1, c.last);
            const TaskId t = add_external(overlapped ? comm_async : comm, in, cc, comm_cat(*op), l,
                                          &op->name, op_deps);
            if (op->async) c.asyncs.push_back({t, static_cast<std::uint8_t>(1)});
            else if (cp_ring) c.asyncs.push_back({t, static_cast<std::uint8_t>(2)});
            else if (tp_hidden) c.asyncs.push_back({t, static_cast<std::uint8_t>(0)});
            else c.pending.push_back(t);
          }
        }
        if (ps.layer_end[i]) {
          // Layer end: its async collectives are waited for before the next layer.
          for (auto& a : c.asyncs) c.pending.push_back(a.task);
          c.asyncs.clear();
          const LayerProgram& lp = prog_.layers[ps.layer_idx[i]];
          if (lp.saved.value > 0 && chunks_ >= 1) {
            if (fwd) mem.emplace_back(c.last, lp.saved.value);
            else if (ps.pass->kind != PassKind::WeightGrad) mem.emplace_back(c.last, -lp.saved.value);
          }
          // DP buckets of the last gradient pass: bucket j leaves once its layer group is done.
          const bool group_end = i + 1 >= ps.ops.size() ||
                                 bucket_of(ch, ps.layer_of[i + 1]) != bucket_of(ch, pos);
          if (grad_pass && group_end) {
            for (const Op* rs : dp_ops(ch, false)) {
              if (!rs->async) continue;
              std::vector<TaskId> deps{c.last};
              for (TaskId pnd : c.pending) deps.push_back(pnd);
              const TaskId t = dp_task(ch, *rs, q - 1 - bucket_of(ch, pos), q, deps);
              if (t != kNoTask) rs_tasks.push_back(t);
            }
          }
        }
        if (paired) break;
      }
    };
    if (paired) {
      std::size_t cur = 2;  // the pass of the last op emitted (2: none yet)
      while (st[0].next < st[0].ops.size() || st[1].next < st[1].ops.size()) {
        std::size_t h = st[0].next < st[0].ops.size() ? 0 : 1;
        if (h == 0 && st[1].next < st[1].ops.size()) {
          const std::int64_t r[2] = {std::max(est_clock, est_ready[0]), std::max(est_clock, est_ready[1])};
          const bool ahead[2] = {a2a_ahead[0][st[0].next] != 0, a2a_ahead[1][st[1].next] != 0};
          if (cur < 2 && r[cur] == est_clock && (ahead[cur] || r[cur ^ 1] > est_clock)) h = cur;
          else if (r[0] != r[1]) h = r[1] < r[0] ? 1 : 0;
          else if (ahead[0] != ahead[1]) h = ahead[1] ? 1 : 0;
          else h = cur < 2 ? cur ^ 1 : 0;
        }
        emit_segment(h);
        cur = h;
      }
    } else {
      emit_segment(0);
    }
    // Pass ends: a join where collectives are still outstanding; then the PP sends.
    for (std::size_t h = 0; h < npass; ++h) {
      PassState& ps = st[h];
      Chain& c = ps.chain;
      for (auto& a : c.asyncs) c.pending.push_back(a.task);
      c.asyncs.clear();
      Label l = lab;
      l.micro_batch = static_cast<int>(ps.pass->micro_batch);
      l.chunk = ps.pass->chunk;
      l.kind = ps.pass->kind == PassKind::Forward ? TaskKind::Forward : TaskKind::Backward;
      if (!c.pending.empty()) {
        const TaskId j = add(comp, SimTime{0}, Cat::Marker, pc_marker, l, nullptr, c.pending);
        ctasks.push_back(j);
        c.last = j;
        c.pending.clear();
      }
      PassTasks& pt = pass_[pidx(pipe, ps.v, ps.pass->micro_batch)];
      const int v = ps.v;
      const int stage_prog = stage_of[static_cast<std::size_t>(ps.pass->chunk)];
      const StageProgram& spg = prog_.stages[static_cast<std::size_t>(stage_prog)];
      if (ps.pass->kind == PassKind::Forward) {
        pt.f_end = c.last;
        if (v + 1 < V_) {
          const int dst_rank = rank_of(v + 1, ps.pass->chunk);
          const int dst = gpu_of(coord.tp, coord.cp, coord.dp, dst_rank);
          l.kind = TaskKind::SendActivation;
          l.lane = StreamLane::SendForward;
          std::vector<TaskId> deps{c.last};
          pt.send_f = add_external(send_f, p2p_instance(gpu, dst, spg.send_forward.comm_bytes),
                                   Cat::Pp, intern_path("pp send-recv"), l,
                                   &spg.send_forward.name, deps);
          if (sp_.record_tasks) rec_.back().peer_stage = dst_rank;
        }
      } else if (ps.pass->kind != PassKind::WeightGrad) {
        pt.b_end = c.last;
        if (v > 0) {
          const int dst_rank = rank_of(v - 1, ps.pass->chunk);
          const int dst = gpu_of(coord.tp, coord.cp, coord.dp, dst_rank);
          l.kind = TaskKind::SendGradient;
          l.lane = StreamLane::SendBackward;
          std::vector<TaskId> deps{c.last};
          pt.send_b = add_external(send_b, p2p_instance(gpu, dst, spg.send_backward.comm_bytes),
                                   Cat::Pp, intern_path("pp send-recv"), l,
                                   &spg.send_backward.name, deps);
          if (sp_.record_tasks) rec_.back().peer_stage = dst_rank;
        }
      }
    }
    if (paired) ++k;
    if (g_.task_count() > sp_.max_tasks)
      throw SimulationBudgetError("des: the step's task graph exceeds the budget of " +
                                  std::to_string(sp_.max_tasks) +
                                  " tasks (simulate fewer ranks, or reduce global_batch)");
  }

  // Gradient reduction without overlap: after the last backward.
  Label l = lab;
  for (int ch = 0; ch < chunks_; ++ch)
    for (const Op* rs : dp_ops(static_cast<std::size_t>(ch), false)) {
      if (rs->async) continue;
      std::vector<TaskId> deps{ctasks.back()};
      const TaskId t = dp_task(static_cast<std::size_t>(ch), *rs, 0, 1, deps);
      if (t != kNoTask) rs_tasks.push_back(t);
    }
  // The optimizer, once every gradient bucket is reduced: each model stage the GPU holds.
  std::vector<TaskId> deps;
  if (!rs_tasks.empty()) deps.push_back(rs_tasks.back());
  std::vector<int> held;
  for (int ch = 0; ch < chunks_; ++ch)
    if (std::find(held.begin(), held.end(), stage_of[static_cast<std::size_t>(ch)]) == held.end())
      held.push_back(stage_of[static_cast<std::size_t>(ch)]);
  l.kind = TaskKind::Optimizer;
  l.lane = StreamLane::Compute;
  bool first = true;
  TaskId opt_last = kNoTask;
  for (int v : held)
    for (const Op& op : prog_.stages[static_cast<std::size_t>(v)].step_ops) {
      if (op.is_collective()) continue;
      const std::uint32_t kind = optimizer_kind(op);
      const SimTime d = scaled(kinds_[kind].alone);
      const std::span<const TaskId> dd = first ? std::span<const TaskId>(deps) : std::span<const TaskId>();
      const TaskId t = d.ns > 0 ? add_external(comp, kComputeTag | kind, Cat::Opt, pc_opt, l, &op.name, dd)
                                : add(comp, d, Cat::Opt, pc_opt, l, &op.name, dd);
      first = false;
      ctasks.push_back(t);
      opt_last = t;
    }
  if (first && !deps.empty()) {
    const TaskId t = add(comp, SimTime{0}, Cat::Marker, pc_marker, l, nullptr, deps);
    ctasks.push_back(t);
    opt_last = t;
  }
  // Parameter all-gather without overlap: after the optimizer, the step ends with it.
  std::vector<TaskId> ags;
  for (int ch = 0; ch < chunks_; ++ch)
    for (const Op* ag : dp_ops(static_cast<std::size_t>(ch), true)) {
      if (ag->async) continue;
      std::vector<TaskId> d2;
      if (opt_last != kNoTask) d2.push_back(opt_last);
      const TaskId t = dp_task(static_cast<std::size_t>(ch), *ag, 0, 1, d2);
      if (t != kNoTask) ags.push_back(t);
    }
  if (!ags.empty()) {
    l.kind = TaskKind::DpAllGather;
    const TaskId t = add(comp, SimTime{0}, Cat::Marker, pc_marker, l, nullptr, ags);
    ctasks.push_back(t);
  }
  (void)par;
}

SimTime overlap(SimTime a0, SimTime a1, SimTime b0, SimTime b1) {
  return SimTime{std::max<std::int64_t>(0, std::min(a1, b1).ns - std::max(a0, b0).ns)};
}

PipelineRun OpSim::run() {
  const auto wall0 = std::chrono::steady_clock::now();
  const auto& par = s_.parallelism;
  p_ = par.pp;
  m_ = s_.micro_batches();
  dual_ = sp_.order == PipelineOrder::DualPipe;
  chunks_ = dual_ ? 2 : sp_.vpp;
  V_ = dual_ ? p_ : p_ * sp_.vpp;
  cf_ = program_compute_fraction(s_);
  eff_ = fabric_efficiency(s_);
  if (prog_.stages.size() != static_cast<std::size_t>(p_))
    throw std::invalid_argument("simulate_op_program: one stage program per pipeline stage expected");

  flows_ = std::make_unique<FlowModel>(*engine_);
  flow_link_.assign(topo_.num_links(), kNoLink);
  compute_shares();

  // Simulated GPUs: all, or one per stage (TP, CP and DP rank 0).
  const std::int64_t world = layout_.world_size();
  slot_of_gpu_.assign(static_cast<std::size_t>(world), -1);
  if (sp_.all_ranks) {
    for (std::int64_t g = 0; g < world; ++g) gpus_.push_back(static_cast<int>(g));
    pipes_ = layout_.ranks_per_stage();
  } else {
    for (int i = 0; i < p_; ++i) gpus_.push_back(gpu_of(0, 0, 0, i));
    pipes_ = 1;
  }
  for (std::size_t k = 0; k < gpus_.size(); ++k) slot_of_gpu_[static_cast<std::size_t>(gpus_[k])] = static_cast<int>(k);
  compute_tasks_.resize(gpus_.size());
  mem_.resize(gpus_.size());
  pass_.assign(static_cast<std::size_t>(pipes_) * static_cast<std::size_t>(V_) * static_cast<std::size_t>(m_),
               PassTasks{});

  // Compute times of every op (the kernel cost model at the SMs compute kernels get).
  op_time_.resize(prog_.layers.size());
  for (std::size_t li = 0; li < prog_.layers.size(); ++li)
    for (const Op& op : prog_.layers[li].ops)
      op_time_[li].push_back(ticks(compute_op_time(s_, op, cf_)));
  // The same, as SmShare's kinds (layer op li, oi is kind kind_base_[li] + oi).
  sms_ = std::max(1, static_cast<int>(s_.gpu.sms.get()));
  nccl_ = s_.gpu.vendor == "NVIDIA";
  for (std::size_t li = 0; li < prog_.layers.size(); ++li) {
    kind_base_.push_back(static_cast<std::uint32_t>(kinds_.size()));
    for (std::size_t oi = 0; oi < prog_.layers[li].ops.size(); ++oi)
      kinds_.push_back({&prog_.layers[li].ops[oi], cf_, op_time_[li][oi], {}});
  }
  for (int g : gpus_)
    speed_.push_back(static_cast<std::size_t>(g) < sp_.gpu_speed.size() ? sp_.gpu_speed[static_cast<std::size_t>(g)] : 1.0);

  // Budget before building: the graph's size is known from the program (a clear error instead
  // of exhausting memory on, say, millions of micro-batches).
  {
    double ops = 0;
    for (const LayerProgram& lp : prog_.layers) ops += static_cast<double>(lp.ops.size());
    const double per_gpu = static_cast<double>(m_) * (ops / p_ + 4.0 * chunks_);
    const double est = per_gpu * static_cast<double>(gpus_.size());
    est_tasks_ = est;
    if (static_cast<double>(V_) * static_cast<double>(m_) > static_cast<double>(kMaxPasses) ||
        est > static_cast<double>(sp_.max_tasks))
      throw SimulationBudgetError(
          "des: the step's task graph (" + std::to_string(static_cast<long long>(est)) +
          " tasks for " + std::to_string(V_) + " model stages x " + std::to_string(m_) +
          " micro-batches on " + std::to_string(gpus_.size()) + " simulated GPUs) exceeds the budget of " +
          std::to_string(sp_.max_tasks) + " tasks (reduce global_batch, raise micro_batch or simulate fewer ranks)");
  }
  // The estimate is within a few per cent of the count (the program gives it): reserving it
  // keeps growing arrays from holding two copies at once, which set the peak memory of
  // every-rank simulations.
  {
    const auto n = static_cast<std::size_t>(est_tasks_ * 1.02) + 1024;
    g_.reserve(n, 0);
    cat_.reserve(n);
    pcat_.reserve(n);
  }
  for (std::size_t k = 0; k < gpus_.size(); ++k) build_gpu(static_cast<int>(k));

  // Data dependencies between model stages: forward activations, backward gradients.
  for (std::int64_t pipe = 0; pipe < pipes_; ++pipe)
    for (int v = 0; v < V_; ++v)
      for (std::int64_t mb = 0; mb < m_; ++mb) {
        PassTasks& pt = pass_[pidx(pipe, v, mb)];
        if (v > 0) {
          const PassTasks& prev = pass_[pidx(pipe, v - 1, mb)];
          g_.add_dependency(prev.send_f, pt.f_entry);
          if (sp_.record_tasks) rec_[prev.send_f].consumer = pt.f_entry;
        }
        if (v + 1 < V_) {
          const PassTasks& next = pass_[pidx(pipe, v + 1, mb)];
          g_.add_dependency(next.send_b, pt.b_entry);
          if (sp_.record_tasks) rec_[next.send_b].consumer = pt.b_entry;
        } else {
          g_.add_dependency(pt.f_end, pt.b_entry);
        }
      }
  // DualPipe pairs start once the backward's input is there too.
  for (const Pair& pr : pairs_) {
    const PassTasks& f = pass_[pidx(pr.pipe, pr.fv, pr.fmb)];
    TaskId src = pr.bv + 1 < V_ ? pass_[pidx(pr.pipe, pr.bv + 1, pr.bmb)].send_b
                                : pass_[pidx(pr.pipe, pr.bv, pr.bmb)].f_end;
    if (src != kNoTask && src != f.f_entry) g_.add_dependency(src, f.f_entry);
  }

  SmShare share(*engine_, gpus_.size(),
                [this](std::uint32_t kind, int slot, int held) { return compute_time(kind, slot, held); });
  CollectiveRunner runner(*engine_, *flows_, inst_, sets_, paths_, share, slot_of_stream_);
  TaskExecutor exec(*engine_, g_, &runner);
  exec.start();
  RunLimits budget;
  budget.max_events = sp_.max_events;
  budget.max_wall_seconds = sp_.max_wall_seconds;
  const auto ran = engine_->run(budget);
  if (ran.reason == StopReason::kEventBudget || ran.reason == StopReason::kWallClockBudget)
    throw SimulationBudgetError(
        std::string("des: the step simulation reached its ") +
        (ran.reason == StopReason::kEventBudget
             ? "event budget of " + std::to_string(sp_.max_events) + " events"
             : "wall-clock budget of " + std::to_string(sp_.max_wall_seconds) + " s") +
        " before the step completed");
  if (!exec.finished()) throw std::logic_error("simulate_op_program: the step did not complete (deadlock)");

  PipelineRun r;
  r.makespan = exec.makespan();
  r.tasks = g_.task_count();
  r.transfers = inst_.size();
  const EngineStats es = engine_->stats();
  r.events = es.events_executed;
  r.fingerprint = engine_->fingerprint();
  r.gpus = gpus_;
  for (int g : gpus_) r.gpu_stage.push_back(layout_.coord(g).pp);
  if (sp_.record_tasks) {
    for (TaskId t = 0; t < rec_.size(); ++t) {
      rec_[t].start = exec.start_time(t);
      rec_[t].end = exec.end_time(t);
    }
    r.task_records = std::move(rec_);
    r.names = names_;
  }
  // Links.
  r.links = flows_->link_count();
  const double horizon = r.makespan.seconds().value;
  for (LinkId l = 0; l < topo_.num_links(); ++l) {
    if (flow_link_[l] == kNoLink) continue;
    const LinkStats ls = flows_->link_stats(flow_link_[l]);
    r.max_link_bytes = std::max(r.max_link_bytes, ls.bytes_carried);
    r.max_link_peak_utilisation = std::max(r.max_link_peak_utilisation, ls.peak_utilisation);
    LinkUse u;
    u.name = describe_link(topo_, l);
    u.bytes = ls.bytes_carried;
    u.peak_utilisation = ls.peak_utilisation;
    u.mean_utilisation = horizon > 0 ? ls.bytes_carried.value / (flows_->capacity(flow_link_[l]) * horizon) : 0.0;
    r.link_use.push_back(std::move(u));
  }
  std::stable_sort(r.link_use.begin(), r.link_use.end(),
                   [](const LinkUse& a, const LinkUse& b) { return a.bytes.value > b.bytes.value; });

  // Predecessors of every task (CSR), for the breakdown of idle time.
  const auto& edges = g_.dependencies();
  std::vector<std::uint32_t> off(g_.task_count() + 1, 0);
  for (const auto& e : edges) ++off[e.second + 1];
  for (std::size_t i = 1; i < off.size(); ++i) off[i] += off[i - 1];
  std::vector<TaskId> preds(edges.size());
  {
    std::vector<std::uint32_t> fill(off.begin(), off.end() - 1);
    for (const auto& e : edges) preds[fill[e.second]++] = e.first;
  }

  // Per simulated GPU: its compute stream's breakdown (adds up to the makespan).
  std::vector<StepBreakdown> per_slot(gpus_.size());
  for (std::size_t slot = 0; slot < gpus_.size(); ++slot) {
    std::int64_t busy_c = 0, busy_o = 0, w_tp = 0, w_ep = 0, w_pp = 0, w_dp = 0, idle = 0;
    SimTime prev{0};
    for (TaskId t : compute_tasks_[slot]) {
      const SimTime s0 = exec.start_time(t), s1 = exec.end_time(t);
      std::int64_t gap = (s0 - prev).ns;
      if (gap > 0) {
        // The dependency that released the task: the gap is exposed communication of its kind
        // while that dependency ran, bubble otherwise.
        TaskId why = kNoTask;
        for (std::uint32_t e = off[t]; e < off[t + 1]; ++e)
          if (why == kNoTask || exec.end_time(preds[e]) > exec.end_time(why)) why = preds[e];
        std::int64_t part = 0;
        if (why != kNoTask) {
          part = overlap(prev, s0, exec.start_time(why), exec.end_time(why)).ns;
          switch (cat_[why]) {
            case Cat::Tp: w_tp += part; break;
            case Cat::Ep: w_ep += part; break;
            case Cat::Pp: w_pp += part; break;
            case Cat::Dp: w_dp += part; break;
            default: part = 0; break;
          }
        }
        idle += gap - part;
      }
      if (cat_[t] == Cat::Opt) busy_o += (s1 - s0).ns;
      else busy_c += (s1 - s0).ns;
      prev = s1;
    }
    idle += (r.makespan - prev).ns;
    auto sec = [](std::int64_t ns) { return Seconds(static_cast<double>(ns) * 1e-9); };
    StepBreakdown& bd = per_slot[slot];
    bd.compute = sec(busy_c);
    bd.optimizer = sec(busy_o);
    bd.exposed_tp_comm = sec(w_tp);
    bd.exposed_ep_comm = sec(w_ep);
    bd.exposed_pp_comm = sec(w_pp);
    bd.exposed_dp_comm = sec(w_dp);
    bd.bubble = sec(idle);
  }
  // The stage's breakdown is its TP/CP/DP rank 0's; the critical stage the busiest.
  double best = -1;
  int crit_slot = 0;
  for (int st = 0; st < p_; ++st) {
    const int slot = slot_of_gpu_[static_cast<std::size_t>(gpu_of(0, 0, 0, st))];
    const StepBreakdown& bd = per_slot[static_cast<std::size_t>(slot)];
    r.stage_breakdown.push_back(bd);
    const double work = (bd.compute + bd.exposed_tp_comm + bd.exposed_ep_comm + bd.optimizer).value;
    if (work > best) {
      best = work;
      r.critical_stage = st;
      crit_slot = slot;
    }
  }
  // Critical path by category: each task of the path by its kind, except that the path's time
  // on other GPUs while the GPU holding most of the path had nothing on its compute stream is
  // that GPU waiting for them (pipeline fill and drain: bubble). Under DualPipe the path hops
  // between the two stages of a pair all the time while both GPUs compute: charging all of it
  // to the bubble would call a busy step idle.
  {
    (void)crit_slot;
    const std::vector<TaskId> cpath = exec.critical_path();
    std::vector<double> on(gpus_.size(), 0.0);
    auto slot_of = [&](TaskId t) { return static_cast<std::size_t>(slot_of_stream_[g_.stream(t)]); };
    for (TaskId t : cpath) on[slot_of(t)] += (exec.end_time(t) - exec.start_time(t)).seconds().value;
    const auto owner = static_cast<std::uint32_t>(std::max_element(on.begin(), on.end()) - on.begin());
    std::vector<double> by(path_names_.size(), 0.0);
    const std::int32_t bubble = intern_path("bubble");
    by.resize(path_names_.size(), 0.0);
    // The owner's compute stream's busy intervals, in time order (stream order).
    std::vector<std::pair<SimTime, SimTime>> busy;
    for (TaskId t : compute_tasks_[owner]) {
      const SimTime s0 = exec.start_time(t), s1 = exec.end_time(t);
      if (s1 > s0) busy.emplace_back(s0, s1);
    }
    auto busy_within = [&](SimTime a, SimTime b) {  // owner's busy time inside [a, b)
      auto it = std::lower_bound(busy.begin(), busy.end(), a,
                                 [](const auto& iv, SimTime x) { return iv.second <= x; });
      std::int64_t ns = 0;
      for (; it != busy.end() && it->first < b; ++it) ns += overlap(a, b, it->first, it->second).ns;
      return static_cast<double>(ns) * 1e-9;
    };
    for (TaskId t : cpath) {
      const SimTime a = exec.start_time(t), b = exec.end_time(t);
      const double d = (b - a).seconds().value;
      if (d <= 0) continue;
      if (slot_of(t) == owner) {
        by[static_cast<std::size_t>(pcat_[t])] += d;
        continue;
      }
      const double own_busy = std::min(d, busy_within(a, b));
      by[static_cast<std::size_t>(pcat_[t])] += own_busy;
      by[static_cast<std::size_t>(bubble)] += d - own_busy;
    }
    for (std::size_t i = 0; i < by.size(); ++i)
      if (by[i] > 0) r.critical_path.push_back({path_names_[i], Seconds(by[i])});
    std::stable_sort(r.critical_path.begin(), r.critical_path.end(),
                     [](const PathShare& a, const PathShare& b) { return a.time.value > b.time.value; });
  }
  // Peak activation bytes per GPU, walked in simulated time.
  for (std::size_t slot = 0; slot < gpus_.size(); ++slot) {
    auto& ev = mem_[slot];
    std::stable_sort(ev.begin(), ev.end(), [&](const auto& a, const auto& b) {
      const SimTime ta = exec.end_time(a.first), tb = exec.end_time(b.first);
      if (ta != tb) return ta < tb;
      return a.second < b.second;  // frees first at equal times
    });
    double cur = 0, peak = 0;
    for (const auto& [t, d] : ev) {
      cur += d;
      peak = std::max(peak, cur);
    }
    r.gpu_peak_activations.push_back(Bytes(peak));
  }
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  r.loop_seconds = ran.wall_seconds;
  return r;
}

}  // namespace

PipelineRun simulate_op_program(const OpSimSpec& spec) {
  if (!spec.scenario || !spec.topology || !spec.program)
    throw std::invalid_argument("simulate_op_program: scenario, topology and program are required");
  OpSim sim(spec);
  return sim.run();
}

}  // namespace clustercost
