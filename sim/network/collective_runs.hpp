#pragma once
/// How a collective runs on the network: the algorithm NCCL would pick for it, its transfers
/// (collectives.hpp), and the time of those transfers executed by the flow model (flow_model.hpp)
/// on their topology routes. The one owner of the algorithm choice: the analytical pricing
/// (sim/step/program_cost.cpp) and the discrete-event simulator (sim/workload/op_sim.cpp) both
/// call nccl_algorithm().
///
/// Algorithm choice (NCCL's tuner, src/graph/tuning.cc, picks the algorithm with the lowest
/// modelled time per size; we model the times with the α-β rules of analytical.hpp): all-reduce
/// takes the cheapest of ring, double binary tree and NVLS; reduce-scatter and all-gather the
/// cheaper of ring and NVLS. NVLS (NVLink SHARP) is a candidate only for a group inside one
/// scale-up domain whose switches reduce (H100-class NVSwitch, catalogue
/// scale_up.in_switch_reduction) with a measured NVLS efficiency (profile network.nvls). With
/// the published H100 figures NVLS wins all-reduce at every size (2 steps instead of 2(n−1);
/// 9/8 of the buffer per direction instead of 7/4) and loses reduce-scatter and all-gather to
/// the ring (the whole buffer over each link at NVLS's lower efficiency). NCCL's NVLS-Tree
/// across nodes and CollNet (in-network reduction on the scale-out switches) are not modelled.

#include <cstdint>
#include <span>
#include <vector>

#include "hardware/topology/topology.hpp"
#include "sim/common/units.hpp"
#include "sim/network/analytical.hpp"
#include "sim/network/collectives.hpp"

namespace clustercost {

enum class CollectiveAlgorithm : std::uint8_t { Ring, Tree, Nvls };
const char* to_string(CollectiveAlgorithm a);

/// The algorithm for `kind` over `group` with nccl-tests size `size`, and its α-β cost.
struct AlgorithmChoice {
  CollectiveAlgorithm algorithm = CollectiveAlgorithm::Ring;
  CollectiveCost cost;
};
/// kind: AllReduce, ReduceScatter or AllGather (std::invalid_argument otherwise).
AlgorithmChoice nccl_algorithm(const Topology& topo, CollectiveKind kind, std::span<const int> group,
                               Bytes size, const FabricEfficiency& eff);

/// The transfers of the chosen algorithm (ring_all_reduce / tree_all_reduce / ring_reduce_scatter
/// / ring_all_gather of collectives.hpp). NVLS, whose traffic goes through the switch (reduced
/// or multicast there), is given as its load on the GPUs' links: each member sends its
/// nvls_bytes_per_gpu to its ring successor, which puts exactly NVLS's bytes on every GPU's link
/// into and out of the switch; `steps` is NVLS's (2 for all-reduce, else 1). Its rate is NVLS's,
/// not the scale-up efficiency: price it with nvls_cost, or cap its flows at nvls_cost's
/// bytes_per_s.
TransferDag collective_dag(CollectiveKind kind, CollectiveAlgorithm algorithm,
                           std::span<const int> group, Bytes size);

/// Executes `dag` alone on a private flow model over the topology's links (capacities × the
/// fabric efficiencies): a transfer starts once the transfers it depends on have arrived, flows
/// share links max-min fairly. Returns the time the last transfer arrives (0 for an empty DAG).
Seconds simulate_dag_alone(const Topology& topo, const TransferDag& dag,
                           const FabricEfficiency& eff);

/// The DAG as concurrent flows, one per (source, destination) pair carrying all the bytes that
/// pair exchanges, and the latency the lock-step rounds add on top: (steps − 1) × the largest
/// route latency of its pairs. For rings in the bandwidth-bound regime this is the pipelined
/// execution NCCL's chunking gives (each link carries its share continuously); the discrete-event
/// simulator uses it for collectives whose transfers share links with other traffic, so that a
/// 1,000-rank ring is a thousand flows rather than two million.
struct CoalescedFlows {
  struct Pair {
    int src = 0, dst = 0;
    Bytes bytes;
  };
  std::vector<Pair> pairs;
  SimTime tail;
};
CoalescedFlows coalesce(const Topology& topo, const TransferDag& dag);

/// SMs an NCCL kernel holds on each GPU it runs on, from its launch to its end (waiting for late
/// peers included): one per channel, since NCCL runs one CTA per channel and its CTAs do not
/// share an SM with compute kernels (docs/reference/communication-sms.md §1). Channel counts
/// are NCCL's defaults (same file, §2):
///  - a ring or tree collective whose members stay in one scale-up domain: the GPU's in-node
///    collective channels (catalogue scale_up.nccl_coll_channels via ScaleUpConfig: 24 on A100
///    and H100, 16 on H800, 32 on B200);
///  - an NVLS collective (only ever inside one domain, nvls_available): NCCL's separate nvls
///    channels (catalogue scale_up.nccl_nvls_channels: 16 on H100 and H200, 24 on B200; NCCL's
///    src/transport/nvls.cc). A catalogue without the figure (null or absent, ScaleUpConfig 0)
///    gives it the coll channels instead, so that a copy which turns NVLS on for a GPU NCCL
///    runs none on (the H800 logs "0 nvls channels") still holds SMs; NCCL's SM90 figure, 16,
///    equals the H800's coll channels;
///  - one that crosses the scale-out network: 2 per NIC it runs a ring through
///    (kNcclChannelsPerNic × ring_cost's channels), 16 for a node with 8 NICs;
///  - a point-to-point transfer: the GPU's in-node p2p channels inside a scale-up domain
///    (catalogue scale_up.nccl_p2p_channels), 2 across the network (kNcclNetChannelsPerPeer,
///    NCCL_NCHANNELS_PER_NET_PEER);
///  - an all-to-all: NCCL runs it as grouped send/recv, on its p2p channels. Each peer gets its
///    per-peer channels (nccl_p2p_sms) out of the communicator's pool of p2p channels
///    (comm->p2pnChannels, the catalogue's nccl_p2p_channels), so the kernel holds the sum over
///    the first member's peers, capped at the pool: 32 on an 8 x H100 node (7 × 32 capped),
///    16 on H800, 2 for a pair across nodes.
/// `algorithm` is nccl_algorithm's choice for the group (std::invalid_argument for NVLS on a
/// group that leaves its domain). Groups of fewer than 2 GPUs, and GPUs whose catalogue has no
/// NCCL figure, give 0.
inline constexpr int kNcclChannelsPerNic = 2;
inline constexpr int kNcclNetChannelsPerPeer = 2;
int nccl_collective_sms(const Topology& topo, std::span<const int> group,
                        CollectiveAlgorithm algorithm, const FabricEfficiency& eff);
int nccl_p2p_sms(const Topology& topo, int src, int dst);
int nccl_all_to_all_sms(const Topology& topo, std::span<const int> group);

}  // namespace clustercost
