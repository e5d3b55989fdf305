#include "sim/network/collective_runs.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>

#include "sim/engine/engine.hpp"
#include "sim/network/flow_model.hpp"

namespace clustercost {

const char* to_string(CollectiveAlgorithm a) {
  switch (a) {
    case CollectiveAlgorithm::Ring: return "ring";
    case CollectiveAlgorithm::Tree: return "tree";
    case CollectiveAlgorithm::Nvls: return "nvls";
  }
  return "?";
}

AlgorithmChoice nccl_algorithm(const Topology& topo, CollectiveKind kind, std::span<const int> group,
                               Bytes size, const FabricEfficiency& eff) {
  AlgorithmChoice c;
  switch (kind) {
    case CollectiveKind::AllReduce: {
      const CollectiveCost ring = ring_all_reduce_cost(topo, group, size, eff);
      const CollectiveCost tree = tree_all_reduce_cost(topo, group, size, eff);
      if (tree.time < ring.time) {
        c.algorithm = CollectiveAlgorithm::Tree;
        c.cost = tree;
      } else {
        c.cost = ring;
      }
      break;
    }
    case CollectiveKind::ReduceScatter:
      c.cost = ring_reduce_scatter_cost(topo, group, size, eff);
      break;
    case CollectiveKind::AllGather:
      c.cost = ring_all_gather_cost(topo, group, size, eff);
      break;
    default:
      throw std::invalid_argument(std::string("nccl_algorithm: no algorithm choice for ") +
                                  to_string(kind));
  }
  if (nvls_available(topo, group, eff)) {
    const CollectiveCost nvls = nvls_cost(topo, kind, group, size, eff);
    if (nvls.time < c.cost.time) {
      c.algorithm = CollectiveAlgorithm::Nvls;
      c.cost = nvls;
    }
  }
  return c;
}

int nccl_collective_sms(const Topology& topo, std::span<const int> group,
                        CollectiveAlgorithm algorithm, const FabricEfficiency& eff) {
  if (group.size() < 2) return 0;
  bool one_domain = true;
  for (int g : group) one_domain &= topo.same_domain(g, group.front());
  const ScaleUpConfig& u = topo.config().scale_up;
  if (algorithm == CollectiveAlgorithm::Nvls) {
    if (!one_domain)
      throw std::invalid_argument("nccl_collective_sms: NVLS runs inside one scale-up domain only");
    // NCCL's NVLS kernels run on its nvls channels; without a catalogue figure, the coll ones.
    return u.nccl_nvls_channels > 0 ? u.nccl_nvls_channels : u.nccl_coll_channels;
  }
  if (one_domain) return u.nccl_coll_channels;
  return kNcclChannelsPerNic * ring_cost(topo, group, eff).channels;
}

int nccl_p2p_sms(const Topology& topo, int src, int dst) {
  if (src == dst) return 0;
  return topo.same_domain(src, dst) ? topo.config().scale_up.nccl_p2p_channels
                                    : kNcclNetChannelsPerPeer;
}

int nccl_all_to_all_sms(const Topology& topo, std::span<const int> group) {
  // The pool NCCL spreads a grouped send/recv's peers over (comm->p2pnChannels).
  const int pool = topo.config().scale_up.nccl_p2p_channels;
  if (group.size() < 2 || pool <= 0) return 0;
  int sum = 0;
  for (int peer : group) {
    sum += nccl_p2p_sms(topo, group.front(), peer);  // 0 for the member itself
    if (sum >= pool) return pool;
  }
  return sum;
}

namespace {

/// NVLS as its load on the links (collective_dag's rule): one transfer per member to its ring
/// successor.
TransferDag nvls_load(CollectiveKind kind, std::span<const int> group, Bytes size) {
  TransferDag dag;
  const std::vector<int> ring = ring_order(group);
  const int n = static_cast<int>(ring.size());
  if (n < 2) return dag;
  const Bytes bytes = nvls_bytes_per_gpu(kind, n, size);
  for (int k = 0; k < n; ++k) dag.transfers.push_back({ring[k], ring[(k + 1) % n], bytes, 0, {}});
  dag.steps = nvls_steps(kind);
  return dag;
}

}  // namespace

TransferDag collective_dag(CollectiveKind kind, CollectiveAlgorithm algorithm,
                           std::span<const int> group, Bytes size) {
  if (algorithm == CollectiveAlgorithm::Nvls) return nvls_load(kind, group, size);
  switch (kind) {
    case CollectiveKind::AllReduce:
      return algorithm == CollectiveAlgorithm::Tree ? tree_all_reduce(group, size)
                                                    : ring_all_reduce(group, size);
    case CollectiveKind::ReduceScatter: return ring_reduce_scatter(group, size);
    case CollectiveKind::AllGather: return ring_all_gather(group, size);
    default:
      throw std::invalid_argument(std::string("collective_dag: not a ring/tree collective: ") +
                                  to_string(kind));
  }
}

namespace {

/// Starts each transfer of a DAG when its dependencies have arrived.
class DagRun final : public CompletionSink {
 public:
  DagRun(FlowModel& flows, const TransferDag& dag, std::vector<std::vector<LinkId>> paths)
      : flows_(flows), dag_(dag), paths_(std::move(paths)) {
    left_.resize(dag.transfers.size());
    next_.resize(dag.transfers.size());
    for (std::uint32_t t = 0; t < dag.transfers.size(); ++t) {
      left_[t] = static_cast<std::uint32_t>(dag.transfers[t].deps.size());
      for (std::uint32_t d : dag.transfers[t].deps) next_.at(d).push_back(t);
    }
  }
  void start() {
    for (std::uint32_t t = 0; t < dag_.transfers.size(); ++t)
      if (left_[t] == 0) launch(t);
  }
  void on_complete(std::uint64_t token, Engine& engine) override {
    last_ = engine.now();
    for (std::uint32_t n : next_[token])
      if (--left_[n] == 0) launch(n);
  }
  SimTime last() const { return last_; }

 private:
  void launch(std::uint32_t t) {
    flows_.start_flow(dag_.transfers[t].bytes, paths_[t], this, t);
  }
  FlowModel& flows_;
  const TransferDag& dag_;
  std::vector<std::vector<LinkId>> paths_;
  std::vector<std::uint32_t> left_;
  std::vector<std::vector<std::uint32_t>> next_;
  SimTime last_{0};
};

}  // namespace

Seconds simulate_dag_alone(const Topology& topo, const TransferDag& dag,
                           const FabricEfficiency& eff) {
  if (dag.transfers.empty()) return Seconds(0);
  Engine engine;
  FlowModel flows(engine);
  std::map<LinkId, LinkId> flow_link;
  std::vector<std::vector<LinkId>> paths;
  paths.reserve(dag.transfers.size());
  std::vector<LinkId> route;
  for (const Transfer& t : dag.transfers) {
    route.clear();
    topo.append_route(t.src, t.dst, 0, route);
    std::vector<LinkId> path;
    for (LinkId l : route) {
      auto it = flow_link.find(l);
      if (it == flow_link.end())
        it = flow_link
                 .emplace(l, flows.add_link(effective_bandwidth(topo.link(l), eff),
                                            topo.link(l).latency))
                 .first;
      path.push_back(it->second);
    }
    paths.push_back(std::move(path));
  }
  DagRun run(flows, dag, std::move(paths));
  run.start();
  engine.run();
  return run.last().seconds();
}

CoalescedFlows coalesce(const Topology& topo, const TransferDag& dag) {
  CoalescedFlows c;
  std::map<std::pair<int, int>, double> bytes;
  for (const Transfer& t : dag.transfers) bytes[{t.src, t.dst}] += t.bytes.value;
  SimTime lat{0};
  for (const auto& [k, b] : bytes) {
    c.pairs.push_back({k.first, k.second, Bytes(b)});
    lat = std::max(lat, topo.latency(topo.route(k.first, k.second, 0)));
  }
  c.tail = SimTime{lat.ns * std::max(0, dag.steps - 1)};
  return c;
}

}  // namespace clustercost
