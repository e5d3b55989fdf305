#pragma once
/// Expert-parallel all-to-all (MoE dispatch and combine) on the Topology, at flow level.
///
/// Input: the GPU of each EP rank and an n×n byte matrix (row = source rank, column =
/// destination rank; the diagonal stays on the GPU and never enters the network), e.g. the
/// tokens a rank sends to each rank × the bytes of one token (one copy per (token, rank) pair:
/// DeepEP and Megatron send a token once to a rank however many of its experts it selects).
///
/// Algorithms:
///  - Direct (NCCL-like alltoallv): one flow per (src, dst) pair on its topology route.
///  - Hierarchical (DeepEP normal kernels, deepseek-ai/DeepEP docs/legacy.md): traffic for
///    another scale-up domain (a node on HGX; an NVL72 rack) crosses the scale-out network only
///    between GPUs of the same local index (the same rail), to the "relay" GPU of the target
///    domain, and the scale-up fabric does the rest:
///      ScaleOutFirst (dispatch): src → relay(domain(dst), local(src)) over scale-out, then
///        relay → dst over scale-up;
///      ScaleUpFirst (combine): src → relay(domain(src), local(dst)) over scale-up, where the
///        partial results of one token are reduced, then relay → dst over scale-out.
///    Within a domain both are one scale-up transfer. Deduplication: a token that selects
///    several ranks of one remote domain crosses the scale-out network once. The scale-out
///    bytes come from `domain_bytes` (n × D, rank × EP domain, see ep_domains(): for
///    ScaleOutFirst the bytes rank i sends to domain D, for ScaleUpFirst the bytes rank i
///    receives from domain D) when given, else from the byte matrix summed over the domain's
///    ranks and divided by AllToAllOptions::dedup_factor (1 = no deduplication, what a direct
///    all-to-all moves).
///    Pipelining: DeepEP forwards chunk by chunk, so the two phases overlap. They are simulated
///    as concurrent flows on the same FlowModel (they share links where their routes do: their
///    contention is modelled), and the time is the makespan plus one chunk crossing the second
///    phase (pipeline fill: the forwarder cannot send a chunk before it has arrived):
///    chunk / B + α of the slowest second-phase route. Data dependencies finer than that are not
///    modelled: when the second phase is the lighter, its flows finish with the first one.
///
/// The flow model (flow_model.hpp) shares every link max-min fairly among the flows crossing
/// it and recomputes rates as flows finish, so a hot destination rank or an oversubscribed spine
/// slows the collective and shows up as the hottest link. Link capacity = capacity × fabric
/// efficiency / share (the pipeline simulation's convention, pipeline_sim.hpp PipelineNetwork).
///
/// estimate_all_to_all() is the α-β view of the same transfers for the analytical fidelity:
/// the largest route latency + the most loaded link's bytes / its effective capacity (the same
/// routes, so on an uncontended uniform all-to-all both agree).
///
/// Errors in arguments (matrix shape, negative or non-finite bytes, GPUs outside the cluster,
/// duplicate ranks) are programming errors: std::invalid_argument.

#include <Eigen/Dense>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "hardware/topology/topology.hpp"
#include "sim/common/units.hpp"
#include "sim/common/value_bytes.hpp"
#include "sim/network/analytical.hpp"

namespace clustercost {

enum class AllToAllAlgorithm : unsigned char { Direct, Hierarchical };
/// Which fabric a hierarchical all-to-all crosses first.
enum class HierarchicalOrder : unsigned char {
  ScaleOutFirst,  ///< dispatch: scale-out to the relay, then scale-up fan-out
  ScaleUpFirst,   ///< combine: scale-up to the relay (reduction), then scale-out
};

/// "direct", "hierarchical".
const char* to_string(AllToAllAlgorithm a);
/// Inverse of to_string; nullopt for an unknown name.
std::optional<AllToAllAlgorithm> all_to_all_algorithm_from_string(const std::string& name);

struct AllToAllOptions {
  AllToAllAlgorithm algorithm = AllToAllAlgorithm::Direct;
  HierarchicalOrder order = HierarchicalOrder::ScaleOutFirst;
  /// Achievable fraction of line rate per fabric (from the EfficiencyProfile's network
  /// section); step_overhead is added once to the time.
  FabricEfficiency efficiency;
  /// Per topology link (indexed by LinkId), ≥ 1: identical all-to-alls of other EP groups that
  /// load the same link at the same time (replicas not simulated). Empty: 1 everywhere.
  std::vector<double> share;
  /// Hierarchical without `domain_bytes`: scale-out bytes = bytes for the domain's ranks /
  /// dedup_factor (≥ 1).
  double dedup_factor = 1.0;
  /// Hierarchical: the chunk DeepEP forwards at a time (pipeline fill). Default ≈ its default
  /// RDMA chunk of 16 tokens (deep_ep Config(…, 16, …)) of 7168 FP8 values + scales.
  Bytes pipeline_chunk{16.0 * 7168.0 * bytes_per_value("fp8")};
};

/// The distinct scale-up domains of the EP ranks' GPUs, ascending: the columns of
/// `domain_bytes`.
std::vector<int> ep_domains(const Topology& topo, std::span<const int> rank_gpu);

/// "gpu 3 → scale-up-switch 0 (nvlink)": the endpoints by kind and ordinal among the vertices
/// of their kind, and the link kind.
std::string describe_link(const Topology& topo, LinkId id);

struct AllToAllResult {
  /// Time from the start until the last byte arrived (+ pipeline fill + step overhead).
  Seconds time;
  /// Per rank: bytes it sends to / receives from other ranks (the off-diagonal row / column
  /// sums of the matrix, whatever the algorithm moves in between).
  std::vector<Bytes> send_bytes, recv_bytes;
  /// Per rank: when the last flow arriving at its GPU ended (receive complete), without the
  /// pipeline fill. The largest is the hot rank.
  std::vector<Seconds> rank_done;
  int hottest_rank = -1;
  /// Bytes of flows whose route uses the scale-out network (a NIC) / the scale-up fabric (a
  /// flow crossing both, like a PXN route, counts in both).
  Bytes scale_out_bytes, scale_up_bytes;
  /// Bytes this all-to-all put on each link it used, ascending link id (one EP group: the
  /// replicas of `share` come on top).
  std::vector<std::pair<LinkId, Bytes>> link_bytes;
  /// The link that needed the longest time to carry its bytes (bytes / modelled capacity);
  /// ties: the lowest id. Undefined (hottest_link_bytes = 0) when nothing crossed a link.
  LinkId hottest_link = 0;
  std::string hottest_link_name;
  Bytes hottest_link_bytes;
  /// Largest fraction of the modelled capacity in use at any time (0..1), and the mean over
  /// `time`.
  double hottest_link_peak_utilisation = 0.0;
  double hottest_link_mean_utilisation = 0.0;
  std::size_t flows = 0;
  std::uint64_t recomputations = 0;
  /// Engine fingerprint (deterministic replay check).
  std::uint64_t fingerprint = 0;
};

/// Simulates one all-to-all at flow level (see the file comment). `bytes` is n×n with n =
/// rank_gpu.size(); `domain_bytes` is empty or n × ep_domains().size() (hierarchical only).
AllToAllResult simulate_all_to_all(const Topology& topo, std::span<const int> rank_gpu,
                                   const Eigen::MatrixXd& bytes, const AllToAllOptions& options,
                                   const Eigen::MatrixXd& domain_bytes = Eigen::MatrixXd());

struct AllToAllEstimate {
  Seconds time;            ///< alpha + bandwidth_term (+ pipeline fill for hierarchical)
  Seconds alpha;           ///< largest route latency + step overhead
  Seconds bandwidth_term;  ///< the most loaded link's bytes / its effective capacity
  Seconds pipeline_fill;   ///< hierarchical: one chunk over the second phase
  LinkId bottleneck_link = 0;
  Bytes bottleneck_bytes;
};

/// α-β estimate of the same transfers on the same routes (no flow simulation).
AllToAllEstimate estimate_all_to_all(const Topology& topo, std::span<const int> rank_gpu,
                                     const Eigen::MatrixXd& bytes, const AllToAllOptions& options,
                                     const Eigen::MatrixXd& domain_bytes = Eigen::MatrixXd());

// ---- DeepEP benchmark traffic (the C1 check) ---------------------------------------------

/// Bytes of one token of `hidden` values: "bf16" 2 per value; "fp8" 1 per value + one FP32
/// scale per 128 values (DeepEP tests: fp8_factor = (1 + 4/128) / 2 of BF16); "fp32" 4.
/// std::invalid_argument for another dtype.
double token_bytes(int hidden, const std::string& dtype);

/// The routing of DeepEP's normal-kernel benchmarks (deepseek-ai/DeepEP tests/test_intranode.py
/// and tests/legacy/test_internode.py): each rank has `tokens` tokens; experts are spread evenly
/// over the ranks and grouped by scale-up domain; a token picks `topk_groups` domains at random
/// (the top groups of i.i.d. scores), then its `top_k` experts at random among theirs (the
/// top-k of i.i.d. scores). Sampled with a seeded std::mt19937_64.
struct DeepEpRouting {
  int tokens = 4096;
  int experts = 256;
  int top_k = 8;
  /// 0: min(domains, 4), the benchmark's default (`num_topk_groups`).
  int topk_groups = 0;
  std::uint64_t seed = 1;
};

/// Token counts of a DeepEP benchmark batch, ranks node-major in `ranks_per_domain` blocks.
struct EpTokenCounts {
  /// rank × rank: tokens of the source rank with at least one expert on the destination rank.
  Eigen::MatrixXd rank_tokens;
  /// rank × domain: tokens of the rank with at least one expert in the domain (own domain
  /// included: DeepEP's num_rdma_token_sent).
  Eigen::MatrixXd domain_tokens;
  /// source rank × global expert: tokens of the rank that selected the expert (rank r holds
  /// experts [r·E/n, (r+1)·E/n)); column sums are the experts' loads.
  Eigen::MatrixXd expert_tokens;
};
EpTokenCounts deepep_routing(const DeepEpRouting& routing, int ranks, int ranks_per_domain);

/// DeepEP's normal-kernel benchmark on our network: dispatch (hierarchical, scale-out first,
/// `dispatch_dtype` tokens, one copy per (token, domain) over scale-out) and combine
/// (hierarchical, scale-up first, `combine_dtype`), and the bandwidth DeepEP prints for rank 0
/// (tests/test_intranode.py, tests/legacy/test_internode.py):
///  - one domain ("intranode", NVL): the tokens rank 0 receives (one per (token, rank), its own
///    included) × token bytes / time;
///  - several ("internode", RDMA): rank 0's (token, domain) pairs, its own domain included
///    (num_rdma_token_sent) × token bytes / time.
/// Combine uses the same token count with the combine dtype. Ranks must be whole domains,
/// node-major (the benchmark's layout).
struct DeepEpBenchmark {
  DeepEpRouting routing;
  int hidden = 7168;
  std::string dispatch_dtype = "fp8";
  std::string combine_dtype = "bf16";
};
struct DeepEpBandwidth {
  bool internode = false;
  Bytes dispatch_bytes, combine_bytes;  ///< DeepEP's byte counts of rank 0
  double dispatch_gbs = 0.0;            ///< dispatch_bytes / dispatch.time / 1e9
  double combine_gbs = 0.0;
  AllToAllResult dispatch, combine;
};
DeepEpBandwidth deepep_bandwidth(const Topology& topo, std::span<const int> rank_gpu,
                                 const DeepEpBenchmark& bench, const FabricEfficiency& efficiency);

}  // namespace clustercost
