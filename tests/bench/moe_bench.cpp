// Microbenchmarks of the expert-parallel pieces at DeepSeek-V3 scale (2,048 H800, EP64):
//
//   cc_engine_bench --benchmark_filter='Routing|AllToAll|Topology'
//
// Speed lives here, not in timed unit tests (those fail under sanitizers or on a loaded machine
// without anything being wrong). Measured 2026-11-29, release build, 2-core CI-class machine:
//  - one routing sample, EP64 × 4,096 tokens, top-8 of 256, node-limited to 4 (Arg: threads,
//    0 = one per core): 62 ms on one thread, 38 ms on two. It is most of the DeepSeek DES call
//    (`clustercost bench`); an earlier goal of 5 ms is not met;
//  - one hierarchical (DeepEP-style) EP64 all-to-all at flow level: 3.4 ms (goal ≤ 20 ms); the
//    direct one, 4,032 flows with a max-min re-solve per completion, 385 ms;
//  - building the 16,384-GPU topology graph (DeepSeek's MPFT size): 12 ms.

#include <benchmark/benchmark.h>

#include <vector>

#include "hardware/topology/topology.hpp"
#include "sim/moe/routing.hpp"
#include "sim/network/all_to_all.hpp"
#include "tests/common/reference_cluster.hpp"
#include "tests/common/reference_ep_group.hpp"

using namespace clustercost;

namespace {

// H800 nodes: 200 GB/s NVLink per GPU each way, one 400 Gb/s NIC per GPU (arXiv 2412.19437
// §3.1), on DeepSeek's multi-plane fabric.
TopologyConfig h800_cluster(int gpus) {
  TopologyConfig c = test::hgx_cluster(gpus, 200.0, 400.0, ScaleOutKind::MultiPlane);
  c.scale_out.tiers = 2;  // MPFT: two tiers per plane up to 16,384 GPUs (arXiv 2505.09343 Table 3)
  return c;
}

void BM_RoutingSampleEp64(benchmark::State& state) {
  RoutingSetup s = test::deepseek_v3_group(4096);
  s.config.node_limit = 4;
  s.threads = static_cast<int>(state.range(0));  // 1, or 0: one per core
  const RoutingModel m(s);
  std::int64_t layer = 0;
  for (auto _ : state) benchmark::DoNotOptimize(m.sample(layer++, 0));
  state.SetItemsProcessed(state.iterations() * s.ep * s.tokens_per_rank);
}
// Real time: with threads the caller's CPU time misses the workers' work.
BENCHMARK(BM_RoutingSampleEp64)->Arg(1)->Arg(0)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_AllToAllEp64(benchmark::State& state) {
  const Topology t(h800_cluster(2048));
  std::vector<int> ranks(64);
  for (int i = 0; i < 64; ++i) ranks[static_cast<std::size_t>(i)] = i;
  const EpTokenCounts c = deepep_routing(DeepEpRouting{}, 64, 8);
  const double tb = token_bytes(7168, "fp8");
  AllToAllOptions o;
  o.efficiency.scale_up = 0.8;    // published-runs.md C4: 160 of 200 GB/s NVLink
  o.efficiency.scale_out = 0.97;  // published-runs.md C6: 48-49 of 50 GB/s CX-7
  o.algorithm = state.range(0) ? AllToAllAlgorithm::Hierarchical : AllToAllAlgorithm::Direct;
  const Eigen::MatrixXd bytes = c.rank_tokens * tb, domain = c.domain_tokens * tb;
  for (auto _ : state)
    benchmark::DoNotOptimize(simulate_all_to_all(t, ranks, bytes, o, domain));
  state.SetLabel(to_string(o.algorithm));
}
BENCHMARK(BM_AllToAllEp64)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

void BM_Topology16k(benchmark::State& state) {
  const TopologyConfig c = h800_cluster(16384);
  for (auto _ : state) benchmark::DoNotOptimize(Topology(c).num_links());
}
BENCHMARK(BM_Topology16k)->Unit(benchmark::kMillisecond);

}  // namespace
