#include "sim/workload/pipeline_sim.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "sim/engine/engine.hpp"
#include "sim/engine/task_graph.hpp"
#include "sim/network/flow_model.hpp"

namespace clustercost {

namespace {

enum class Cat : std::uint8_t { Compute, Tp, Ep, Opt, Xfer, Dp };

/// One point-to-point message between two stage GPUs.
struct P2pMessage {
  std::uint32_t path = 0;  // index into the route table
};

/// Starts transfers as flows on the flow model (or completes them at once without a network).
class TransferRunner final : public ExternalTaskRunner {
 public:
  TransferRunner(FlowModel* flows, const std::vector<P2pMessage>& transfers,
                 const std::vector<std::vector<LinkId>>& paths, Bytes message)
      : flows_(flows), transfers_(transfers), paths_(paths), message_(message) {}

  void start_external(TaskId task, std::uint64_t tag, TaskExecutor& executor, Engine&) override {
    if (flows_ == nullptr) {
      executor.complete(task);
      return;
    }
    const auto& path = paths_[transfers_[tag].path];
    flows_->start_flow(message_, path, &executor, task);
  }

 private:
  FlowModel* flows_;
  const std::vector<P2pMessage>& transfers_;
  const std::vector<std::vector<LinkId>>& paths_;
  Bytes message_;
};

SimTime scaled(SimTime t, std::int64_t parts) { return SimTime{(t.ns + parts - 1) / parts}; }

SimTime overlap(SimTime a0, SimTime a1, SimTime b0, SimTime b1) {
  return SimTime{std::max<std::int64_t>(0, std::min(a1, b1).ns - std::max(a0, b0).ns)};
}

}  // namespace

PipelineRun simulate_pipeline(const PipelineSpec& spec, const PipelineNetwork* network) {
  const auto wall0 = std::chrono::steady_clock::now();
  const int p = static_cast<int>(spec.stages.size());
  const std::int64_t m = spec.micro_batches;
  const int vpp = spec.vpp;
  if (p == 0 || m <= 0 || vpp <= 0 || spec.dp_buckets <= 0)
    throw std::invalid_argument("simulate_pipeline: empty pipeline");
  if (network &&
      (network->topology == nullptr || network->stage_gpu.size() != static_cast<std::size_t>(p)))
    throw std::invalid_argument(
        "simulate_pipeline: the network needs a topology and one GPU per stage");
  const bool dual = spec.order == PipelineOrder::DualPipe;
  // Model chunks per rank: vpp, or DualPipe's two directions.
  const int chunks = dual ? 2 : vpp;
  const int vstages = dual ? p : p * vpp;
  // Virtual (model) stage of a pass of rank i, and the rank holding virtual stage v for the
  // chunk (direction) `ch`.
  const auto vstage = [&](int i, int ch) { return dual ? (ch == 0 ? i : p - 1 - i) : ch * p + i; };
  const auto rank_of = [&](int v, int ch) { return dual ? (ch == 0 ? v : p - 1 - v) : v % p; };
  const auto vidx = [&](int v, std::int64_t mb) {
    return static_cast<std::size_t>(v) * static_cast<std::size_t>(m) + static_cast<std::size_t>(mb);
  };
  if (static_cast<std::uint64_t>(vstages) * static_cast<std::uint64_t>(m) > spec.max_passes)
    throw SimulationBudgetError(
        "simulate_pipeline: " + std::to_string(vstages) + " model stages x " + std::to_string(m) +
        " micro-batches exceeds the budget of " + std::to_string(spec.max_passes) +
        " passes per step (reduce global_batch or raise micro_batch)");
  const std::size_t vm = static_cast<std::size_t>(vstages) * static_cast<std::size_t>(m);

  TaskGraph g;
  std::vector<Cat> cat;
  std::vector<TaskId> wait_pp, wait_pp2;
  std::vector<std::pair<TaskId, TaskId>> wait_dp;
  // Trace labels (spec.record_tasks): `cur` labels the next task added, recorded in id order.
  const bool record = spec.record_tasks;
  TaskRecord cur;
  std::vector<TaskRecord> rec;
  std::vector<StreamLane> lane_of;  // per stream
  auto add = [&](StreamId st, SimTime d, Cat c, std::initializer_list<TaskId> deps) {
    TaskId id = g.add_task(st, d, deps);
    cat.push_back(c);
    if (record) rec.push_back(cur);
    wait_pp.push_back(kNoTask);
    wait_pp2.push_back(kNoTask);
    wait_dp.emplace_back(kNoTask, kNoTask);
    return id;
  };

  std::vector<TaskId> fwd_first(vm, kNoTask), fwd_last(vm, kNoTask), bwd_first(vm, kNoTask),
      bwd_last(vm, kNoTask), fwd_xfer(vm, kNoTask), bwd_xfer(vm, kNoTask);
  std::vector<P2pMessage> transfers;
  std::vector<std::vector<LinkId>> paths;                // flow-model link ids
  std::map<std::pair<int, int>, std::uint32_t> path_of;  // (src stage, dst stage) → paths index
  const bool has_transfers = p > 1;

  std::unique_ptr<Engine> engine = std::make_unique<Engine>();
  std::unique_ptr<FlowModel> flows;
  std::vector<LinkId> flow_link;  // topology link → flow link
  if (network) {
    flows = std::make_unique<FlowModel>(*engine);
    flow_link.assign(network->topology->num_links(), std::numeric_limits<LinkId>::max());
  }
  auto path_index = [&](int src_stage, int dst_stage) -> std::uint32_t {
    auto key = std::make_pair(src_stage, dst_stage);
    auto it = path_of.find(key);
    if (it != path_of.end()) return it->second;
    std::vector<LinkId> path;
    if (network) {
      const Topology& topo = *network->topology;
      for (LinkId l : topo.route(network->stage_gpu[static_cast<std::size_t>(src_stage)],
                                 network->stage_gpu[static_cast<std::size_t>(dst_stage)], 0)) {
        if (flow_link[l] == std::numeric_limits<LinkId>::max()) {
          double share = l < network->share.size() ? std::max(1.0, network->share[l]) : 1.0;
          flow_link[l] = flows->add_link(
              effective_bandwidth(topo.link(l), network->efficiency) / share, topo.link(l).latency);
        }
        path.push_back(flow_link[l]);
      }
    }
    paths.push_back(std::move(path));
    auto idx = static_cast<std::uint32_t>(paths.size() - 1);
    path_of.emplace(key, idx);
    return idx;
  };

  std::vector<std::vector<TaskId>> compute_tasks(static_cast<std::size_t>(p));
  // DualPipe F&B pairs: (forward slot, backward slot).
  std::vector<std::pair<std::size_t, std::size_t>> pairs;
  std::vector<TaskId> last_rs(static_cast<std::size_t>(p), kNoTask),
      first_rs(static_cast<std::size_t>(p), kNoTask);

  for (int i = 0; i < p; ++i) {
    const StageCost& c = spec.stages[static_cast<std::size_t>(i)];
    const StreamId comp = g.add_stream("stage " + std::to_string(i) + " compute");
    const StreamId send_f = g.add_stream("stage " + std::to_string(i) + " send forward");
    const StreamId send_b = g.add_stream("stage " + std::to_string(i) + " send backward");
    const StreamId dp = g.add_stream("stage " + std::to_string(i) + " data-parallel");
    lane_of.insert(lane_of.end(), {StreamLane::Compute, StreamLane::SendForward,
                                   StreamLane::SendBackward, StreamLane::DataParallel});
    cur = TaskRecord{};
    cur.stage = i;
    auto& ctasks = compute_tasks[static_cast<std::size_t>(i)];
    auto on_compute = [&](SimTime d, Cat k) {
      TaskId t = add(comp, d, k, {});
      ctasks.push_back(t);
      return t;
    };

    const auto order = pipeline_order(spec.order, i, p, m, vpp);
    // Per chunk: the first forward, and the last pass producing weight gradients.
    std::vector<std::size_t> first_f(static_cast<std::size_t>(chunks), order.size()),
        last_grad(static_cast<std::size_t>(chunks), order.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
      const auto ch = static_cast<std::size_t>(order[k].chunk);
      if (order[k].kind == PassKind::Forward && first_f[ch] == order.size()) first_f[ch] = k;
      if (order[k].kind == PassKind::Backward || order[k].kind == PassKind::WeightGrad)
        last_grad[ch] = k;
    }

    const std::int64_t q = spec.dp_buckets;
    const SimTime rs_bucket = scaled(c.grad_reduce, static_cast<std::int64_t>(chunks) * q);
    const SimTime ag_bucket = scaled(c.param_gather, static_cast<std::int64_t>(chunks) * q);

    for (std::size_t k = 0; k < order.size(); ++k) {
      const PipelinePass& pass = order[k];
      const int v = vstage(i, pass.chunk);
      const std::size_t slot = vidx(v, pass.micro_batch);
      if (pass.paired && k + 1 < order.size())
        pairs.emplace_back(slot, vidx(vstage(i, order[k + 1].chunk), order[k + 1].micro_batch));
      const auto ch = static_cast<std::size_t>(pass.chunk);
      cur.micro_batch = static_cast<int>(pass.micro_batch);
      cur.chunk = pass.chunk;
      // The pass's costs: a 1/vpp share of the rank's stage, or under DualPipe the whole model
      // stage v (rank i holds stages i and p−1−i).
      const StageCost& sc = dual ? spec.stages[static_cast<std::size_t>(v)] : c;
      const std::int64_t parts = dual ? 1 : vpp;
      const SimTime w = scaled(sc.weight_grad, parts);
      const SimTime b_full = scaled(sc.backward, parts);
      TaskId first = kNoTask, last = kNoTask;
      auto append = [&](TaskId t) {
        if (first == kNoTask) first = t;
        last = t;
      };
      // The compute of a pass, cut into DP buckets where it overlaps a DP collective.
      const TaskKind pass_kind = pass.kind == PassKind::Forward    ? TaskKind::Forward
                                 : pass.kind == PassKind::Backward ? TaskKind::Backward
                                 : pass.kind == PassKind::BackwardInput
                                     ? TaskKind::BackwardInput
                                     : TaskKind::WeightGrad;
      cur.kind = pass_kind;
      auto compute = [&](SimTime d, bool gather, bool reduce) {
        if (!gather && !reduce) {
          append(on_compute(d, Cat::Compute));
          return;
        }
        for (std::int64_t j = 0; j < q; ++j) {
          const SimTime piece = scaled(d, q);
          if (gather) {
            cur.kind = TaskKind::DpAllGather;
            TaskId ag = add(dp, ag_bucket, Cat::Dp, {});
            cur.kind = pass_kind;
            TaskId t = on_compute(piece, Cat::Compute);
            g.add_dependency(ag, t);
            wait_dp[t] = {ag, ag};
            append(t);
          } else {
            TaskId t = on_compute(piece, Cat::Compute);
            append(t);
            cur.kind = TaskKind::DpReduceScatter;
            TaskId rs = add(dp, rs_bucket, Cat::Dp, {t});
            cur.kind = pass_kind;
            if (first_rs[static_cast<std::size_t>(i)] == kNoTask)
              first_rs[static_cast<std::size_t>(i)] = rs;
            last_rs[static_cast<std::size_t>(i)] = rs;
          }
        }
      };
      switch (pass.kind) {
        case PassKind::Forward: {
          const SimTime tpf = scaled(sc.tp_forward, parts), epf = scaled(sc.ep_forward, parts);
          compute(scaled(sc.forward, parts), k == first_f[ch] && c.param_gather.ns > 0, false);
          cur.kind = TaskKind::TpComm;
          if (tpf.ns > 0) append(on_compute(tpf, Cat::Tp));
          cur.kind = TaskKind::EpComm;
          if (epf.ns > 0) append(on_compute(epf, Cat::Ep));
          fwd_first[slot] = first;
          fwd_last[slot] = last;
          if (v < vstages - 1 && has_transfers) {
            transfers.push_back({path_index(i, rank_of(v + 1, pass.chunk))});
            TaskId x = g.add_external_task(send_f, transfers.size() - 1, {last});
            cat.push_back(Cat::Xfer);
            if (record) {
              rec.push_back(cur);
              rec.back().kind = TaskKind::SendActivation;
              rec.back().peer_stage = rank_of(v + 1, pass.chunk);
            }
            wait_pp.push_back(kNoTask);
            wait_pp2.push_back(kNoTask);
            wait_dp.emplace_back(kNoTask, kNoTask);
            fwd_xfer[slot] = x;
          }
          break;
        }
        case PassKind::Backward:
        case PassKind::BackwardInput: {
          const SimTime tpb = scaled(sc.tp_backward, parts), epb = scaled(sc.ep_backward, parts);
          const SimTime b = pass.kind == PassKind::Backward
                                ? b_full
                                : SimTime{std::max<std::int64_t>(0, b_full.ns - w.ns)};
          compute(b, false, k == last_grad[ch] && c.grad_reduce.ns > 0);
          cur.kind = TaskKind::TpComm;
          if (tpb.ns > 0) append(on_compute(tpb, Cat::Tp));
          cur.kind = TaskKind::EpComm;
          if (epb.ns > 0) append(on_compute(epb, Cat::Ep));
          bwd_first[slot] = first;
          bwd_last[slot] = last;
          if (v > 0 && has_transfers) {
            transfers.push_back({path_index(i, rank_of(v - 1, pass.chunk))});
            TaskId x = g.add_external_task(send_b, transfers.size() - 1, {last});
            cat.push_back(Cat::Xfer);
            if (record) {
              rec.push_back(cur);
              rec.back().kind = TaskKind::SendGradient;
              rec.back().peer_stage = rank_of(v - 1, pass.chunk);
            }
            wait_pp.push_back(kNoTask);
            wait_pp2.push_back(kNoTask);
            wait_dp.emplace_back(kNoTask, kNoTask);
            bwd_xfer[slot] = x;
          }
          break;
        }
        case PassKind::WeightGrad:
          compute(w, false, k == last_grad[ch] && c.grad_reduce.ns > 0);
          break;
      }
    }
    // The optimizer steps once every gradient bucket of the stage is reduced.
    cur.kind = TaskKind::Optimizer;
    cur.micro_batch = -1;
    cur.chunk = -1;
    TaskId opt = on_compute(c.optimizer, Cat::Opt);
    if (last_rs[static_cast<std::size_t>(i)] != kNoTask) {
      g.add_dependency(last_rs[static_cast<std::size_t>(i)], opt);
      wait_dp[opt] = {first_rs[static_cast<std::size_t>(i)], last_rs[static_cast<std::size_t>(i)]};
    }
  }

  // Data dependencies between virtual stages.
  for (int v = 0; v < vstages; ++v) {
    for (std::int64_t mb = 0; mb < m; ++mb) {
      const std::size_t slot = vidx(v, mb);
      if (v > 0) {
        const std::size_t prev = vidx(v - 1, mb);
        TaskId src = has_transfers ? fwd_xfer[prev] : fwd_last[prev];
        g.add_dependency(src, fwd_first[slot]);
        if (has_transfers) wait_pp[fwd_first[slot]] = src;
        if (has_transfers && record) rec[src].consumer = fwd_first[slot];
      }
      if (v < vstages - 1) {
        const std::size_t next = vidx(v + 1, mb);
        TaskId src = has_transfers ? bwd_xfer[next] : bwd_last[next];
        g.add_dependency(src, bwd_first[slot]);
        if (has_transfers) wait_pp[bwd_first[slot]] = src;
        if (has_transfers && record) rec[src].consumer = bwd_first[slot];
      } else if (fwd_last[slot] != bwd_first[slot]) {
        g.add_dependency(fwd_last[slot], bwd_first[slot]);
      }
    }
  }

  // A DualPipe F&B pair starts when the backward's input is there too.
  for (auto [fs, bs] : pairs) {
    const int v = static_cast<int>(bs / static_cast<std::size_t>(m));
    TaskId src = v < vstages - 1 ? (has_transfers ? bwd_xfer[bs + static_cast<std::size_t>(m)]
                                                  : bwd_last[bs + static_cast<std::size_t>(m)])
                                 : fwd_last[bs];
    if (src == kNoTask || src == fwd_first[fs]) continue;
    g.add_dependency(src, fwd_first[fs]);
    if (has_transfers && v < vstages - 1) wait_pp2[fwd_first[fs]] = src;
  }

  TransferRunner runner(flows.get(), transfers, paths, spec.message);
  TaskExecutor exec(*engine, g, &runner);
  exec.start();
  RunLimits budget;
  budget.max_events = spec.max_events;
  budget.max_wall_seconds = spec.max_wall_seconds;
  const auto ran = engine->run(budget);
  if (ran.reason == StopReason::kEventBudget || ran.reason == StopReason::kWallClockBudget)
    throw SimulationBudgetError(
        std::string("simulate_pipeline: the step simulation reached its ") +
        (ran.reason == StopReason::kEventBudget
             ? "event budget of " + std::to_string(spec.max_events) + " events"
             : "wall-clock budget of " + std::to_string(spec.max_wall_seconds) + " s") +
        " before the step completed");
  if (!exec.finished()) throw std::logic_error("simulate_pipeline: the step did not complete");

  PipelineRun r;
  r.makespan = exec.makespan();
  r.tasks = g.task_count();
  r.transfers = transfers.size();
  const EngineStats es = engine->stats();
  r.events = es.events_executed;
  r.fingerprint = engine->fingerprint();
  if (record) {
    if (rec.size() != g.task_count())
      throw std::logic_error("simulate_pipeline: a task was added without a trace label");
    for (TaskId t = 0; t < rec.size(); ++t) {
      rec[t].start = exec.start_time(t);
      rec[t].end = exec.end_time(t);
      rec[t].lane = lane_of[g.stream(t)];
    }
    r.task_records = std::move(rec);
  }
  if (flows) {
    r.links = flows->link_count();
    for (LinkId l = 0; l < flows->link_count(); ++l) {
      LinkStats ls = flows->link_stats(l);
      r.max_link_bytes = std::max(r.max_link_bytes, ls.bytes_carried);
      r.max_link_peak_utilisation = std::max(r.max_link_peak_utilisation, ls.peak_utilisation);
    }
  }

  // Measure each stage's compute stream.
  double best = -1;
  for (int i = 0; i < p; ++i) {
    std::int64_t busy[6] = {0, 0, 0, 0, 0, 0};
    std::int64_t pp_wait = 0, dp_wait = 0, idle = 0;
    SimTime prev{0};
    for (TaskId t : compute_tasks[static_cast<std::size_t>(i)]) {
      const SimTime s0 = exec.start_time(t), s1 = exec.end_time(t);
      const std::int64_t gap = (s0 - prev).ns;
      if (gap > 0) {
        std::int64_t dpart = 0, ppart = 0;
        if (wait_dp[t].first != kNoTask)
          dpart =
              overlap(prev, s0, exec.start_time(wait_dp[t].first), exec.end_time(wait_dp[t].second))
                  .ns;
        for (TaskId x : {wait_pp[t], wait_pp2[t]})
          if (x != kNoTask)
            ppart = std::max(
                ppart,
                std::min(gap - dpart, overlap(prev, s0, exec.start_time(x), exec.end_time(x)).ns));
        dp_wait += dpart;
        pp_wait += ppart;
        idle += gap - dpart - ppart;
      }
      busy[static_cast<int>(cat[t])] += (s1 - s0).ns;
      prev = s1;
    }
    idle += (r.makespan - prev).ns;
    StepBreakdown bd;
    auto sec = [](std::int64_t ns) { return Seconds(static_cast<double>(ns) * 1e-9); };
    bd.compute = sec(busy[static_cast<int>(Cat::Compute)]);
    bd.exposed_tp_comm = sec(busy[static_cast<int>(Cat::Tp)]);
    bd.exposed_ep_comm = sec(busy[static_cast<int>(Cat::Ep)]);
    bd.optimizer = sec(busy[static_cast<int>(Cat::Opt)]);
    bd.exposed_pp_comm = sec(pp_wait);
    bd.exposed_dp_comm = sec(dp_wait);
    bd.bubble = sec(idle);
    const double work = (bd.compute + bd.exposed_tp_comm + bd.exposed_ep_comm + bd.optimizer).value;
    if (work > best) {
      best = work;
      r.critical_stage = i;
    }
    r.stage_breakdown.push_back(bd);
  }
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  r.loop_seconds = ran.wall_seconds;
  return r;
}

}  // namespace clustercost
