#pragma once
/// Closed-form α-β cost of collectives on a Topology: no contention model beyond the rules
/// below, no simulation. The flow-level model (flow_model.hpp) executing the DAGs of
/// collectives.hpp is the detailed alternative.
///
/// Rules (each function says which applies):
///  - A route between two GPUs costs α = the sum of its link latencies (+ the per-step
///    overhead of FabricEfficiency) and has the bandwidth B = the smallest effective capacity
///    of its links (capacity × the efficiency of the link's fabric), the leaf↔spine and
///    spine↔core links counting at port rate / oversubscription (the leaves' realised
///    down/up ratio), so inter-node traffic that climbs above its leaf gets NIC rate /
///    oversubscription.
///  - Rings run in lock step: each of the ring's steps costs α + chunk / B with α the largest
///    route latency and B the smallest route bandwidth among the hops the ring uses.
///    Within a scale-up domain a hop is the GPU-to-GPU route (per-GPU rate on a switch,
///    per-pair rate on a full mesh). A ring that leaves the domain is run, as NCCL does, as q
///    parallel rings ("channels"), q = the fewest distinct NICs the group has in any of its
///    domains; each channel crosses between domains through its own NIC pair (rail-aligned:
///    the j-th NIC of one domain to the j-th of the next) and carries 1/q of the data, so a
///    crossing offers q × its route bandwidth while the GPUs' scale-up links carry the whole
///    ring traffic. Eight GPUs with eight 200G NICs per node thus get ≈ 200 GB/s bus bandwidth
///    across nodes (NCCL measures 192 GB/s on DGX A100: published-runs.md C6).
///  - Trees (double binary tree) are pipelined: 2·height·α + (the largest per-rank sent
///    bytes) / B over the tree edges.
///  - Direct all-to-all is bounded by its most loaded resource: every pair's bytes are placed
///    on its route (flow 0), each link's load is divided by its effective capacity, except the
///    spine layers: a leaf's spine-bound (spine-arriving) bytes are divided by its `up` uplinks
///    × port rate (ideal ECMP spreading; spines are non-blocking by construction). Time = the
///    largest route α + the largest load time. O(n² · route length).
///
/// Results carry nccl-tests algbw = size / time and busbw = algbw × bus_bandwidth_factor
/// (collectives.hpp), so they compare with published nccl-tests numbers.

#include <span>

#include "hardware/topology/topology.hpp"
#include "sim/common/units.hpp"
#include "sim/network/collectives.hpp"

namespace clustercost {

/// Achievable fraction of line rate per fabric, and per-step software latency. The defaults
/// are the ideal (line rate, no overhead); callers supply calibrated values from an efficiency
/// profile. Published examples (for orientation, not defaults): NCCL ring all-reduce reaches
/// ≈ 0.8 of NVLink (235 of 300 GB/s on A100, 370 of 450 on H100: published-runs.md C5), CX-7
/// NICs ≈ 0.97 (48–49 of 50 GB/s: C6), PCIe Gen5 ≈ 0.87 (55 of 64 GB/s: C7).
struct FabricEfficiency {
  double scale_up = 1.0;       ///< NVLink / HCCS / Infinity Fabric / UB links
  double scale_out = 1.0;      ///< NIC ↔ leaf and switch-to-switch links
  double pcie = 1.0;           ///< GPU ↔ NIC
  /// NVLink SHARP collectives (NVLS): bytes per GPU per direction / (line rate × time); 0 where
  /// not measured, and then NVLS is not a candidate (collective_runs.hpp).
  double nvls = 0.0;
  Seconds step_overhead{0.0};  ///< added to α at every step
};

/// Throws std::invalid_argument unless the fractions are finite and > 0 and the overhead ≥ 0.
void check(const FabricEfficiency& eff);

/// Capacity × the efficiency of the link's fabric, bytes/s.
double effective_bandwidth(const Link& link, const FabricEfficiency& eff);

/// α and B of one route (rules above).
struct RouteCost {
  Seconds alpha;             ///< link latencies + step overhead
  double bytes_per_s = 0.0;  ///< bottleneck effective bandwidth (infinity for src == dst)
};
RouteCost route_cost(const Topology& topo, std::span<const LinkId> route,
                     const FabricEfficiency& eff);
/// The cost of route(src, dst, 0).
RouteCost route_cost(const Topology& topo, int src, int dst, const FabricEfficiency& eff);

/// The per-step α and B a ring over `group` sees, and its channel count q (1 when the ring
/// stays inside one scale-up domain).
struct RingCost {
  Seconds alpha;
  double bytes_per_s = 0.0;
  int channels = 1;
};
RingCost ring_cost(const Topology& topo, std::span<const int> group, const FabricEfficiency& eff);

struct CollectiveCost {
  CollectiveKind kind = CollectiveKind::AllReduce;
  int ranks = 0;
  Bytes size;                ///< nccl-tests size (collectives.hpp conventions)
  Seconds time;              ///< latency_term + bandwidth_term
  Seconds latency_term;      ///< steps × α
  Seconds bandwidth_term;    ///< the bytes part
  Seconds alpha;             ///< per-step latency used
  double bytes_per_s = 0.0;  ///< the bottleneck bandwidth B used
  int steps = 0;
  double algbw_bytes_per_s = 0.0;  ///< size / time (0 when time is 0)
  double busbw_bytes_per_s = 0.0;  ///< algbw × bus_bandwidth_factor(kind, ranks)
};

/// 2(n−1) steps of size/n: time = 2(n−1)·α + 2(n−1)/n · size / B.
CollectiveCost ring_all_reduce_cost(const Topology& topo, std::span<const int> group, Bytes size,
                                    const FabricEfficiency& eff = {});
/// n−1 steps of size/n.
CollectiveCost ring_reduce_scatter_cost(const Topology& topo, std::span<const int> group,
                                        Bytes size, const FabricEfficiency& eff = {});
/// n−1 steps of size/n.
CollectiveCost ring_all_gather_cost(const Topology& topo, std::span<const int> group, Bytes size,
                                    const FabricEfficiency& eff = {});
/// Double binary tree, pipelined: 2·height·α + max per-rank sent bytes / B.
CollectiveCost tree_all_reduce_cost(const Topology& topo, std::span<const int> group, Bytes size,
                                    const FabricEfficiency& eff = {});
/// NVLink SHARP (NCCL's NVLS) inside one switched scale-up domain whose switches reduce
/// (Topology config scale_up.in_switch_reduction) and where `eff.nvls` is measured; see
/// nvls_available(). The switch reads and sums each shard from every member (multimem
/// ld_reduce) and multicasts results (multimem st), so each GPU moves, per direction:
///  - all-reduce: size·(n+1)/n (its whole buffer up for the reduction plus its reduced shard
///    up for the multicast; the mirror image down), in 2 steps;
///  - reduce-scatter and all-gather: size (the reduction reads, or the multicast writes, every
///    shard over each GPU's own link), in 1 step.
/// time = steps·α + bytes / (line rate of the slowest member's scale-up link × eff.nvls).
/// eff.nvls is fitted on the all-reduce peak (docs/reference/published-runs.md C5), so the
/// efficiency covers NVLS's protocol overheads. Throws std::invalid_argument when NVLS is not
/// available to the group or `kind` is not one of the three.
CollectiveCost nvls_cost(const Topology& topo, CollectiveKind kind, std::span<const int> group,
                         Bytes size, const FabricEfficiency& eff);
/// Bytes each member moves per direction under NVLS (rules of nvls_cost).
Bytes nvls_bytes_per_gpu(CollectiveKind kind, int ranks, Bytes size);
/// Lock-step phases of NVLS (rules of nvls_cost): 2 for all-reduce, else 1.
int nvls_steps(CollectiveKind kind);
/// Whether NVLS can run `group`: at least 2 members, all in one scale-up domain with a switch
/// that reduces, and a measured eff.nvls.
bool nvls_available(const Topology& topo, std::span<const int> group, const FabricEfficiency& eff);

/// Intra-local ring reduce-scatter + m concurrent inter-local ring all-reduces of size/m (their
/// bandwidth divided by the number of them that share a NIC when they cross domains) +
/// intra-local all-gather. local_size = 0 takes the topology's gpus_per_node.
CollectiveCost hierarchical_all_reduce_cost(const Topology& topo, std::span<const int> group,
                                            Bytes size, const FabricEfficiency& eff = {},
                                            int local_size = 0);
/// Pipelined chain along the ring from `root`, `chunks` pieces: (n − 2 + chunks) steps of
/// α + size/chunks / B (the DAG of collectives.hpp broadcast(), in lock step).
CollectiveCost broadcast_cost(const Topology& topo, std::span<const int> group, int root,
                              Bytes size, const FabricEfficiency& eff = {}, int chunks = 1);
/// α + size / B of the route.
CollectiveCost send_recv_cost(const Topology& topo, int src, int dst, Bytes size,
                              const FabricEfficiency& eff = {});
/// Direct all-to-all, size/n per pair, by the most loaded resource (rules above).
CollectiveCost all_to_all_cost(const Topology& topo, std::span<const int> group, Bytes size,
                               const FabricEfficiency& eff = {});
/// Direct all-to-all with an n×n row-major byte matrix (collectives.hpp all_to_all_v). The
/// reported `size` is the largest row sum (the busiest sender's buffer, diagonal included).
CollectiveCost all_to_all_v_cost(const Topology& topo, std::span<const int> group,
                                 std::span<const double> bytes, const FabricEfficiency& eff = {});

}  // namespace clustercost
