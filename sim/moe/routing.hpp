#pragma once
/// MoE routing: which EP rank each token copy goes to, per MoE layer and micro-batch.
///
/// Uniform all-to-all is what simulators usually assume; real routers are skewed, node-limited
/// and sometimes drop tokens. A RoutingModel samples, for one MoE layer and one micro-batch:
///
///  1. Expert popularity p (sums to 1), a property of the layer's router: `uniform`; `zipf`
///     (the i-th hottest expert ∝ i^−s, over a seeded random permutation of the experts);
///     `dirichlet` (p ~ Dir(α,…,α) from gamma draws); `histogram` (a measured row of tokens per
///     expert, sim/moe/histogram.hpp; MoE layer l uses row l mod rows). Popularity is seeded by
///     (scenario seed, MoE layer) and is the same for every micro-batch of the layer: the hot
///     experts of a router persist across micro-batches, which is what EPLB's load statistics
///     rely on. The micro-batch index seeds the token draws.
///  2. Every token of every source EP rank picks top_k distinct experts. Its affinity ranking is
///     a Plackett–Luce draw from p (the order of Gumbel-perturbed log-popularities, i.e.
///     successive sampling without replacement ∝ p); the token takes the top_k experts of that
///     ranking that its limits allow:
///     - `node_limit` M (DeepSeek-V3, arXiv 2412.19437 §2.1.2): the token keeps to M nodes.
///       DeepSeek-V3 ranks nodes by the sum of the top-(k/M) affinities on each node; we rank
///       them by the order in which they first appear in the token's affinity ranking, i.e. by
///       each node's best affinity (the first term of DeepSeek's sum), then take the top_k
///       experts of the chosen nodes exactly. With uniform popularity a token then reaches
///       min(D, M) nodes, D being the nodes its unrestricted top_k would reach.
///     - `device_limit` M (DeepSeek-V2, arXiv 2405.04434 §2.2.2): the same over EP ranks.
///     Limits apply to an expert's home rank (replicas do not widen the choice).
///     Tokens are routed one by one (so node deduplication and limits are exact): a multinomial
///     per source rank does not give the same distribution (a token takes an expert at most
///     once, and limits couple its k choices; the joint law of the k-subsets has no closed
///     form). Draws use an alias table (O(1)) with rejection of taken or disallowed experts,
///     falling back to an exact O(experts) draw after repeated rejections. Source ranks have
///     independent streams and are routed on parallel threads (same result for any count).
///  3. Capacity (optional): each source rank may send at most ⌈cf·T·k/E⌉ copies to an expert
///     (T its tokens), times the expert's replicas; later copies are dropped and counted
///     (Megatron-Core's per-rank `get_capacity`/`apply_token_drop`, drop policy "position").
///  4. Placement: contiguous (expert e on rank e/(E/ep)) or a `placement` file (a JSON list
///     expert → EP rank, every rank holding E/ep experts). `redundant_experts` N adds EPLB
///     replicas (github.com/deepseek-ai/EPLB; DeepSeek-V3 inference deploys 32, §3.4): N times,
///     the expert with the highest popularity per replica gets a replica on the least-loaded
///     rank that does not hold it, at most ⌈N/ep⌉ extra experts per rank; a source rank sends
///     an expert's copies to its replicas in turn.
///
/// Token accounting is exact integers: tokens·top_k = delivered + dropped, for every sample.
/// Shared experts run on the token's own rank and never travel.
///
/// Random numbers come from sim/common/random.hpp (xoshiro256** and hand-written transforms), so a
/// seed gives the same sample with every compiler and standard library.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sim/moe/histogram.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {

/// Exact token counts; row-major so that a source rank's row is contiguous.
using TokenMatrix = Eigen::Matrix<std::int64_t, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// One EP group and its routing settings (RoutingModel::from_scenario fills it from a Scenario).
struct RoutingSetup {
  int routed_experts = 0;
  int top_k = 0;
  int shared_experts = 0;
  int ep = 1;                        ///< EP ranks in the group
  int ranks_per_node = 1;            ///< EP ranks per node (the group starts at a node boundary)
  std::int64_t tokens_per_rank = 0;  ///< tokens each EP rank routes per micro-batch
  std::uint64_t seed = 1;
  MoeRoutingConfig config;
  std::string file = "<inline>";     ///< the scenario file, for errors about the settings
  /// Threads routing one sample (0: one per hardware thread); source ranks are split between
  /// them and each has its own random stream, so the result does not depend on this.
  int threads = 0;
  /// Same samples (everything but `file` and `threads`, which do not change them).
  bool same_samples(const RoutingSetup& o) const {
    return routed_experts == o.routed_experts && top_k == o.top_k &&
           shared_experts == o.shared_experts && ep == o.ep && ranks_per_node == o.ranks_per_node &&
           tokens_per_rank == o.tokens_per_rank && seed == o.seed && config == o.config;
  }
};

/// Expert placement over EP ranks: replicas[e] lists the ranks holding expert e, home first.
struct ExpertPlacement {
  std::vector<std::vector<int>> replicas;
  int home(int expert) const { return replicas[static_cast<std::size_t>(expert)].front(); }
};

/// One MoE layer, one micro-batch, the whole EP group.
struct RoutingSample {
  int ep = 0, nodes = 0, top_k = 0, routed_experts = 0, shared_experts = 0;
  std::int64_t tokens_per_rank = 0;
  std::vector<int> node_of_rank;       ///< EP rank → node index inside the group
  std::vector<double> popularity;      ///< expert popularity used (sums to 1)
  ExpertPlacement placement;           ///< including EPLB replicas
  TokenMatrix tokens;                  ///< [src rank][dst rank] token copies delivered
  /// [src rank][node] tokens arriving at a node, each token counted once per node it reaches
  /// (what a node-deduplicating dispatch such as DeepEP sends over the scale-out).
  TokenMatrix node_tokens;
  std::vector<std::int64_t> expert_tokens;  ///< copies each (logical) expert processes
  std::vector<std::int64_t> rank_tokens;    ///< copies each rank's experts process
  std::vector<std::int64_t> dropped_by_source;  ///< dropped copies per source rank
  std::int64_t dropped = 0;
  std::int64_t remote_copies = 0;       ///< delivered copies whose node differs from the source's
  std::int64_t remote_token_nodes = 0;  ///< Σ over tokens of the remote nodes each reaches

  std::int64_t total_tokens() const { return tokens_per_rank * ep; }
  std::int64_t delivered() const { return tokens.sum(); }
  /// Tokens each rank's shared experts process (its own tokens; nothing travels).
  std::int64_t shared_tokens_per_rank() const { return tokens_per_rank * shared_experts; }
  std::int64_t busiest_rank_tokens() const;
  double mean_rank_tokens() const;
  /// Scale-out crossings per source token: with `dedup` one per distinct remote node reached,
  /// else one per remote copy.
  double cross_node_copies_per_token(bool dedup) const;
  /// cross_node_copies_per_token × hidden × elem_bytes.
  double cross_node_bytes_per_token(double elem_bytes, int hidden, bool dedup) const;
  /// [src][dst] dispatch bytes: copies × hidden × elem_bytes.
  Eigen::MatrixXd dispatch_bytes(double elem_bytes, int hidden) const;
};

class RoutingModel {
 public:
  /// Validates the setup and reads the histogram and placement files it names. Errors are
  /// InputError naming the file (and the scenario key, for settings).
  explicit RoutingModel(RoutingSetup setup);
  /// The EP group of a MoE scenario: tokens per rank micro_batch·seq_len/(cp·tp), EP ranks per
  /// node gpus_per_node/tp (at least 1, at most ep). Throws InputError for a dense model.
  static RoutingModel from_scenario(const Scenario& s);

  const RoutingSetup& setup() const { return setup_; }
  int nodes() const { return nodes_; }
  int node_of_rank(int rank) const { return rank / setup_.ranks_per_node; }
  /// The effective limits (0: none binds).
  int node_limit() const { return node_limit_; }
  int device_limit() const { return device_limit_; }

  /// Expert popularity of a MoE layer (0-based among MoE layers); sums to 1.
  std::vector<double> popularity(int moe_layer) const;
  /// Placement for a popularity vector (contiguous or file, plus EPLB replicas).
  ExpertPlacement placement(const std::vector<double>& popularity) const;
  /// Routes every token of every EP rank for one MoE layer and micro-batch.
  RoutingSample sample(int moe_layer, std::int64_t micro_batch) const;

 private:
  RoutingSetup setup_;
  int nodes_ = 1;
  int node_limit_ = 0, device_limit_ = 0;
  std::vector<int> home_rank_;  // placement file or contiguous
  std::shared_ptr<const ExpertHistogram> histogram_;
};

/// Reads a placement file: a JSON list of EP ranks, one per expert, each rank holding
/// experts/ep of them. Errors name the file and the element.
std::vector<int> load_expert_placement(const std::filesystem::path& file, int experts, int ep);
/// The same checks on a parsed document (`label` names it in errors).
std::vector<int> parse_expert_placement(const Json& j, const std::string& label, int experts, int ep);

/// Routing of one MoE layer averaged over micro-batches: what the step model consumes.
struct MoeLayerRouting {
  int layer = 0;      ///< model layer index
  int moe_layer = 0;  ///< index among the MoE layers
  int samples = 0;    ///< micro-batches averaged
  double max_rank_tokens = 0;   ///< busiest rank's routed copies (mean over micro-batches)
  double mean_rank_tokens = 0;  ///< routed copies per rank: tokens·top_k/ep less drops
  double dropped_tokens = 0;    ///< dropped copies per micro-batch, whole EP group
  double cross_node_copies_per_token = 0;  ///< with the scenario's node_dedup
  double cross_node_bytes_per_token = 0;   ///< × hidden × dispatch dtype bytes
  Eigen::MatrixXd mean_tokens;             ///< [src][dst] copies, mean over micro-batches
  Eigen::MatrixXd mean_node_tokens;        ///< [src][node] deduplicated tokens, mean
};

struct RoutingSummaryOptions {
  /// Micro-batches sampled per MoE layer (first ones of the step; each costs about one
  /// routing of tokens_per_rank·ep tokens). At most the scenario's micro-batches per DP rank.
  int micro_batches = 2;
};

/// Per-MoE-layer routing summary of a scenario (empty for a dense model).
std::vector<MoeLayerRouting> summarize_routing(const Scenario& s,
                                               const RoutingSummaryOptions& options = {});

/// E[min(D, node_limit)] where D is the number of distinct nodes that `top_k` distinct experts
/// drawn uniformly from `experts` spread evenly over `nodes` nodes reach (node_limit 0: E[D]).
/// The exact mean of what uniform node-limited routing above reaches per token.
double expected_reached_nodes(int experts, int nodes, int top_k, int node_limit);

}  // namespace clustercost
