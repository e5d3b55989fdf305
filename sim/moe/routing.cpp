#include "sim/moe/routing.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "sim/common/random.hpp"
#include "sim/common/value_bytes.hpp"

namespace clustercost {

namespace {

using portable_random::mix_seed;
using portable_random::Rng;

// Stream tags keep the popularity and the per-rank token streams independent.
constexpr std::uint64_t kPopularityStream = 0x706F70756C6172ull;  // "popular"
constexpr std::uint64_t kTokenStream = 0x746F6B656E73ull;         // "tokens"

// Bounds that keep one sample's memory and time sane (a clear error instead).
constexpr int kMaxExperts = 1 << 16;
constexpr int kMaxEp = 1 << 16;
constexpr std::int64_t kMaxTokensPerRank = std::int64_t{1} << 24;
constexpr std::int64_t kMaxCopiesPerSample = std::int64_t{1} << 34;

// Every expert keeps at least this share of popularity, so that a token can always fill its
// top_k within its limits (histogram zeros, Dirichlet underflow); far below any count we report.
constexpr double kPopularityFloor = 1e-9;

// Consecutive alias-table rejections before the exact O(experts) draw (skewed popularity, or a
// token confined to few nodes, makes rejections frequent).
constexpr int kMaxRejections = 32;

// Vose's alias method (Vose 1991, "A linear algorithm for generating random numbers with a
// given distribution"): one 64-bit draw gives an expert; the high 32 bits pick a column, the low
// 32 bits the coin. Probabilities are quantised to 2^-32.
class AliasTable {
 public:
  explicit AliasTable(const std::vector<double>& p) : n_(static_cast<std::uint32_t>(p.size())) {
    threshold_.assign(p.size(), std::uint64_t{1} << 32);
    alias_.resize(p.size());
    std::iota(alias_.begin(), alias_.end(), 0u);
    std::vector<double> q(p.size());
    std::vector<std::uint32_t> small, large;
    for (std::size_t i = 0; i < p.size(); ++i) {
      q[i] = p[i] * static_cast<double>(p.size());
      (q[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
    }
    while (!small.empty() && !large.empty()) {
      const std::uint32_t s = small.back(), l = large.back();
      small.pop_back();
      large.pop_back();
      threshold_[s] = static_cast<std::uint64_t>(std::max(0.0, q[s]) * 4294967296.0);
      alias_[s] = l;
      q[l] = (q[l] + q[s]) - 1.0;
      (q[l] < 1.0 ? small : large).push_back(l);
    }
    // Leftovers are 1 up to rounding: always accepted (threshold 2^32).
  }

  std::uint32_t draw(Rng& rng) const {
    const std::uint64_t x = rng.next();
    const auto column = static_cast<std::uint32_t>(((x >> 32) * n_) >> 32);
    const std::uint64_t coin = x & 0xFFFFFFFFull;
    return coin < threshold_[column] ? column : alias_[column];
  }

 private:
  std::uint32_t n_;
  std::vector<std::uint64_t> threshold_;
  std::vector<std::uint32_t> alias_;
};

void normalise(std::vector<double>& w) {
  double sum = 0;
  for (double v : w) sum += v;
  if (!(sum > 0) || !std::isfinite(sum)) {
    std::fill(w.begin(), w.end(), 1.0 / static_cast<double>(w.size()));
    return;
  }
  for (double& v : w) v /= sum;
}

// Threads for one sample: `requested` (0: the hardware's), at most one per source rank, and one
// for small samples where starting threads costs more than routing.
int worker_count(int requested, int ep, std::int64_t copies) {
  if (copies < (std::int64_t{1} << 18)) return 1;
  int n = requested > 0 ? requested : static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(n, 1, std::max(1, ep));
}


}  // namespace

// --- RoutingSample ------------------------------------------------------------------------

std::int64_t RoutingSample::busiest_rank_tokens() const {
  return rank_tokens.empty() ? 0 : *std::max_element(rank_tokens.begin(), rank_tokens.end());
}

double RoutingSample::mean_rank_tokens() const {
  if (rank_tokens.empty()) return 0;
  return static_cast<double>(std::accumulate(rank_tokens.begin(), rank_tokens.end(), std::int64_t{0})) /
         static_cast<double>(rank_tokens.size());
}

double RoutingSample::cross_node_copies_per_token(bool dedup) const {
  const std::int64_t t = total_tokens();
  if (t <= 0) return 0;
  return static_cast<double>(dedup ? remote_token_nodes : remote_copies) / static_cast<double>(t);
}

double RoutingSample::cross_node_bytes_per_token(double elem_bytes, int hidden, bool dedup) const {
  return cross_node_copies_per_token(dedup) * hidden * elem_bytes;
}

Eigen::MatrixXd RoutingSample::dispatch_bytes(double elem_bytes, int hidden) const {
  return tokens.cast<double>() * (elem_bytes * hidden);
}

// --- Placement files ----------------------------------------------------------------------

std::vector<int> parse_expert_placement(const Json& j, const std::string& label, int experts, int ep) {
  if (!j.is_array())
    throw InputError(label, "", "expected a JSON list of EP ranks, one per expert, got " + describe_json(j));
  if (j.size() != static_cast<std::size_t>(experts))
    throw InputError(label, "", "expected " + std::to_string(experts) + " entries (one EP rank per routed expert), got " +
                                    std::to_string(j.size()));
  std::vector<int> home(static_cast<std::size_t>(experts));
  std::vector<int> held(static_cast<std::size_t>(ep), 0);
  for (std::size_t e = 0; e < j.size(); ++e) {
    const std::string at = index_path("", e);
    const std::int64_t r = json_integer(j[e], label, at);
    if (r < 0 || r >= ep)
      throw InputError(label, at, "EP rank " + std::to_string(r) + " is outside 0.." + std::to_string(ep - 1));
    home[e] = static_cast<int>(r);
    ++held[static_cast<std::size_t>(r)];
  }
  const int per = experts / ep;
  for (int r = 0; r < ep; ++r)
    if (held[static_cast<std::size_t>(r)] != per)
      throw InputError(label, "", "EP rank " + std::to_string(r) + " holds " +
                                      std::to_string(held[static_cast<std::size_t>(r)]) +
                                      " experts; every rank must hold " + std::to_string(per) +
                                      " (routed experts / ep)");
  return home;
}

std::vector<int> load_expert_placement(const std::filesystem::path& file, int experts, int ep) {
  return parse_expert_placement(load_json_file(file), file.string(), experts, ep);
}

// --- RoutingModel -------------------------------------------------------------------------

RoutingModel::RoutingModel(RoutingSetup setup) : setup_(std::move(setup)) {
  const auto& s = setup_;
  const auto& cfg = s.config;
  auto fail = [&](const std::string& key, const std::string& msg) {
    throw InputError(s.file, key, msg);
  };
  if (s.routed_experts < 1 || s.routed_experts > kMaxExperts)
    fail("model.moe.routed_experts", "expected 1.." + std::to_string(kMaxExperts) + " routed experts");
  if (s.top_k < 1 || s.top_k > s.routed_experts)
    fail("model.moe.top_k", "expected 1..routed_experts experts per token");
  if (s.shared_experts < 0) fail("model.moe.shared_experts", "expected a non-negative count");
  if (s.ep < 1 || s.ep > kMaxEp || s.routed_experts % s.ep != 0)
    fail("parallelism.ep", "ep must divide the " + std::to_string(s.routed_experts) + " routed experts");
  if (s.ranks_per_node < 1) fail("cluster.gpus_per_node", "expected at least one EP rank per node");
  if (s.tokens_per_rank < 1 || s.tokens_per_rank > kMaxTokensPerRank)
    fail("training.seq_len", "tokens per EP rank must be 1.." + std::to_string(kMaxTokensPerRank));
  if (s.tokens_per_rank * s.ep * s.top_k > kMaxCopiesPerSample)
    fail("parallelism.ep", "too many token copies per routing sample");
  if (cfg.redundant_experts < 0 || cfg.redundant_experts > s.routed_experts)
    fail("moe_routing.redundant_experts", "expected 0.." + std::to_string(s.routed_experts));
  if (cfg.capacity_factor && !(*cfg.capacity_factor > 0))
    fail("moe_routing.capacity_factor", "expected a positive capacity factor");

  const int per_rank = s.routed_experts / s.ep;
  const int rpn = std::min(s.ranks_per_node, s.ep);
  setup_.ranks_per_node = rpn;
  nodes_ = (s.ep + rpn - 1) / rpn;
  if (cfg.node_limit) {
    if (*cfg.node_limit < 1) fail("moe_routing.node_limit", "expected a positive node limit");
    if (*cfg.node_limit < nodes_) {
      node_limit_ = *cfg.node_limit;
      // The last node may hold fewer ranks when ranks_per_node does not divide ep.
      const int fewest = (s.ep - (nodes_ - 1) * rpn) * per_rank;
      if (static_cast<std::int64_t>(node_limit_) * std::min(fewest, rpn * per_rank) < s.top_k)
        fail("moe_routing.node_limit", std::to_string(node_limit_) + " nodes of " +
                                           std::to_string(fewest) + " experts cannot hold top_k " +
                                           std::to_string(s.top_k) + " experts");
    }
  }
  if (cfg.device_limit) {
    if (*cfg.device_limit < 1) fail("moe_routing.device_limit", "expected a positive device limit");
    if (*cfg.device_limit < s.ep) {
      device_limit_ = *cfg.device_limit;
      if (static_cast<std::int64_t>(device_limit_) * per_rank < s.top_k)
        fail("moe_routing.device_limit", std::to_string(device_limit_) + " ranks of " +
                                             std::to_string(per_rank) + " experts cannot hold top_k " +
                                             std::to_string(s.top_k) + " experts");
    }
  }

  if (cfg.imbalance.kind == "histogram") {
    std::filesystem::path p = cfg.imbalance.histogram_path.empty()
                                  ? std::filesystem::path(cfg.imbalance.histogram_file)
                                  : cfg.imbalance.histogram_path;
    if (p.empty()) fail("moe_routing.imbalance.file", "a histogram imbalance needs a file");
    auto h = std::make_shared<ExpertHistogram>(load_expert_histogram(p));
    if (h->experts() != static_cast<std::size_t>(s.routed_experts))
      throw InputError(h->file, "", "rows have " + std::to_string(h->experts()) + " experts; the model has " +
                                        std::to_string(s.routed_experts) + " routed experts");
    histogram_ = std::move(h);
  } else if (cfg.imbalance.kind != "uniform" && cfg.imbalance.kind != "zipf" &&
             cfg.imbalance.kind != "dirichlet") {
    fail("moe_routing.imbalance.kind", "expected \"uniform\", \"zipf\", \"dirichlet\" or \"histogram\"");
  }
  if (cfg.imbalance.kind == "zipf" && !(cfg.imbalance.zipf_s >= 0 && std::isfinite(cfg.imbalance.zipf_s)))
    fail("moe_routing.imbalance.s", "expected a finite exponent ≥ 0");
  if (cfg.imbalance.kind == "dirichlet" &&
      !(cfg.imbalance.dirichlet_alpha > 0 && std::isfinite(cfg.imbalance.dirichlet_alpha)))
    fail("moe_routing.imbalance.alpha", "expected a finite concentration > 0");

  if (!cfg.placement_path.empty() || !cfg.placement_file.empty()) {
    std::filesystem::path p = cfg.placement_path.empty() ? std::filesystem::path(cfg.placement_file)
                                                         : cfg.placement_path;
    home_rank_ = load_expert_placement(p, s.routed_experts, s.ep);
  } else {
    home_rank_.resize(static_cast<std::size_t>(s.routed_experts));
    for (int e = 0; e < s.routed_experts; ++e) home_rank_[static_cast<std::size_t>(e)] = e / per_rank;
  }
}

RoutingModel RoutingModel::from_scenario(const Scenario& sc) {
  if (!sc.model.is_moe()) throw InputError(sc.file, "model", sc.model.name + " has no MoE layers to route");
  const auto& moe = *sc.model.moe;
  const auto& par = sc.parallelism;
  RoutingSetup st;
  st.routed_experts = moe.routed_experts;
  st.top_k = moe.top_k;
  st.shared_experts = moe.shared_experts;
  st.ep = par.ep;
  // EP groups are carved out of cp·dp with TP innermost (sim/workload/rank_layout.hpp), so an
  // EP group's ranks are tp GPUs apart.
  st.ranks_per_node = std::clamp(sc.cluster.gpus_per_node / std::max(1, par.tp), 1, std::max(1, par.ep));
  // Tokens an EP rank routes per micro-batch: micro_batch·seq_len/cp, split by the TP group
  // (models/accounting.cpp, Shard::moe_tokens).
  const std::int64_t tokens = static_cast<std::int64_t>(par.micro_batch) * sc.training.seq_len /
                              (static_cast<std::int64_t>(par.cp) * par.tp);
  st.tokens_per_rank = std::max<std::int64_t>(1, tokens);
  st.seed = sc.simulation.seed;
  st.config = sc.moe_routing;
  st.file = sc.file;
  return RoutingModel(std::move(st));
}

std::vector<double> RoutingModel::popularity(int moe_layer) const {
  const auto& imb = setup_.config.imbalance;
  const auto n = static_cast<std::size_t>(setup_.routed_experts);
  std::vector<double> w(n, 1.0 / static_cast<double>(n));
  if (imb.kind == "uniform") return w;
  Rng rng(mix_seed(mix_seed(setup_.seed, kPopularityStream), static_cast<std::uint64_t>(moe_layer)));
  if (imb.kind == "zipf") {
    std::vector<std::uint32_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0u);
    for (std::size_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[rng.below(static_cast<std::uint32_t>(i))]);
    for (std::size_t i = 0; i < n; ++i) w[perm[i]] = std::pow(static_cast<double>(i + 1), -imb.zipf_s);
  } else if (imb.kind == "dirichlet") {
    for (auto& v : w) v = rng.gamma(imb.dirichlet_alpha);
  } else if (imb.kind == "histogram" && histogram_) {
    const auto& rows = histogram_->layers;
    w = rows[static_cast<std::size_t>(moe_layer) % rows.size()];
  }
  normalise(w);
  for (auto& v : w) v = (1.0 - kPopularityFloor) * v + kPopularityFloor / static_cast<double>(n);
  return w;
}

ExpertPlacement RoutingModel::placement(const std::vector<double>& pop) const {
  const int experts = setup_.routed_experts, ep = setup_.ep;
  ExpertPlacement pl;
  pl.replicas.resize(static_cast<std::size_t>(experts));
  std::vector<double> load(static_cast<std::size_t>(ep), 0.0);
  for (int e = 0; e < experts; ++e) {
    const int r = home_rank_[static_cast<std::size_t>(e)];
    pl.replicas[static_cast<std::size_t>(e)].push_back(r);
    load[static_cast<std::size_t>(r)] += pop[static_cast<std::size_t>(e)];
  }
  const int n = setup_.config.redundant_experts;
  if (n <= 0) return pl;
  // EPLB (github.com/deepseek-ai/EPLB, replicate_experts): each new replica goes to the expert
  // with the highest load per replica; we place it on the least-loaded rank that has a free
  // redundant slot and does not already hold that expert.
  const int slots_per_rank = (n + ep - 1) / ep;
  std::vector<int> slots(static_cast<std::size_t>(ep), slots_per_rank);
  std::vector<char> saturated(static_cast<std::size_t>(experts), 0);
  for (int added = 0; added < n;) {
    int best = -1;
    double best_load = -1;
    for (int e = 0; e < experts; ++e) {
      if (saturated[static_cast<std::size_t>(e)]) continue;
      const double per = pop[static_cast<std::size_t>(e)] /
                         static_cast<double>(pl.replicas[static_cast<std::size_t>(e)].size());
      if (per > best_load) { best_load = per; best = e; }
    }
    if (best < 0) break;  // every expert is everywhere it can be
    auto& reps = pl.replicas[static_cast<std::size_t>(best)];
    int target = -1;
    for (int r = 0; r < ep; ++r) {
      if (slots[static_cast<std::size_t>(r)] == 0) continue;
      if (std::find(reps.begin(), reps.end(), r) != reps.end()) continue;
      if (target < 0 || load[static_cast<std::size_t>(r)] < load[static_cast<std::size_t>(target)]) target = r;
    }
    if (target < 0) {
      saturated[static_cast<std::size_t>(best)] = 1;
      continue;
    }
    const double p = pop[static_cast<std::size_t>(best)];
    const double m = static_cast<double>(reps.size());
    for (int r : reps) load[static_cast<std::size_t>(r)] -= p / m - p / (m + 1.0);
    load[static_cast<std::size_t>(target)] += p / (m + 1.0);
    reps.push_back(target);
    --slots[static_cast<std::size_t>(target)];
    ++added;
  }
  return pl;
}

RoutingSample RoutingModel::sample(int moe_layer, std::int64_t micro_batch) const {
  const auto& st = setup_;
  const int experts = st.routed_experts, ep = st.ep, k = st.top_k;
  const auto ue = static_cast<std::size_t>(experts);

  RoutingSample out;
  out.ep = ep;
  out.nodes = nodes_;
  out.top_k = k;
  out.routed_experts = experts;
  out.shared_experts = st.shared_experts;
  out.tokens_per_rank = st.tokens_per_rank;
  out.node_of_rank.resize(static_cast<std::size_t>(ep));
  for (int r = 0; r < ep; ++r) out.node_of_rank[static_cast<std::size_t>(r)] = node_of_rank(r);
  out.popularity = popularity(moe_layer);
  out.placement = placement(out.popularity);
  out.tokens = TokenMatrix::Zero(ep, ep);
  out.node_tokens = TokenMatrix::Zero(ep, nodes_);
  out.expert_tokens.assign(ue, 0);
  out.rank_tokens.assign(static_cast<std::size_t>(ep), 0);
  out.dropped_by_source.assign(static_cast<std::size_t>(ep), 0);

  const std::vector<double>& pop = out.popularity;
  const AliasTable alias(pop);
  // Flat lookup tables: the token loop below is the hot path (one pass per routed token).
  std::vector<int> home_node(ue), single_dst(ue), rank_node(static_cast<std::size_t>(ep));
  for (int r = 0; r < ep; ++r) rank_node[static_cast<std::size_t>(r)] = node_of_rank(r);
  for (std::size_t e = 0; e < ue; ++e) {
    home_node[e] = rank_node[static_cast<std::size_t>(home_rank_[e])];
    single_dst[e] = out.placement.replicas[e].size() == 1 ? out.placement.replicas[e].front() : -1;
  }

  // Per-(source rank, expert) capacity (Megatron-Core get_capacity: ceil(T·k/E·cf)).
  std::int64_t capacity = std::numeric_limits<std::int64_t>::max();
  if (st.config.capacity_factor) {
    const double c = std::ceil(static_cast<double>(st.tokens_per_rank) * k / experts * *st.config.capacity_factor);
    capacity = static_cast<std::int64_t>(std::min(c, 9.0e18));
  }
  std::vector<std::int64_t> cap(ue);
  for (std::size_t e = 0; e < ue; ++e) {
    const auto m = static_cast<std::int64_t>(out.placement.replicas[e].size());
    cap[e] = capacity > std::numeric_limits<std::int64_t>::max() / m ? capacity : capacity * m;
  }

  const int node_limit = node_limit_, device_limit = device_limit_;

  // Each source rank has its own random stream and writes only its own rows, so ranks can be
  // routed on several threads with the same result as one.
  struct Partial {
    std::vector<std::int64_t> expert_tokens;
    std::int64_t dropped = 0, remote_copies = 0, remote_nodes = 0;
    bool failed = false;
  };
  auto route = [&](int src_begin, int src_end, Partial& part) {
    part.expert_tokens.assign(ue, 0);
    std::vector<unsigned char> taken(ue, 0), node_used(static_cast<std::size_t>(nodes_), 0),
        dev_used(static_cast<std::size_t>(ep), 0), node_hit(static_cast<std::size_t>(nodes_), 0);
    std::vector<int> picks(static_cast<std::size_t>(k)), used_nodes, used_devs, hit_nodes;
    used_nodes.reserve(static_cast<std::size_t>(nodes_));
    used_devs.reserve(static_cast<std::size_t>(ep));
    hit_nodes.reserve(static_cast<std::size_t>(nodes_));
    std::vector<std::int64_t> sent(ue), turn(ue);
    for (int src = src_begin; src < src_end; ++src) {
      Rng rng(mix_seed(mix_seed(mix_seed(mix_seed(st.seed, kTokenStream), static_cast<std::uint64_t>(moe_layer)),
                                static_cast<std::uint64_t>(micro_batch)),
                       static_cast<std::uint64_t>(src)));
      std::fill(sent.begin(), sent.end(), 0);
      std::fill(turn.begin(), turn.end(), 0);
      const int src_node = rank_node[static_cast<std::size_t>(src)];
      std::int64_t* row = out.tokens.data() + static_cast<std::ptrdiff_t>(src) * ep;  // row-major
      std::int64_t* node_row = out.node_tokens.data() + static_cast<std::ptrdiff_t>(src) * nodes_;
      std::int64_t dropped = 0, remote_copies = 0, remote_nodes = 0;

      auto allowed = [&](std::size_t e) {
        if (taken[e]) return false;
        if (node_limit > 0 && !node_used[static_cast<std::size_t>(home_node[e])] &&
            static_cast<int>(used_nodes.size()) >= node_limit)
          return false;
        if (device_limit > 0 && !dev_used[static_cast<std::size_t>(home_rank_[e])] &&
            static_cast<int>(used_devs.size()) >= device_limit)
          return false;
        return true;
      };

      for (std::int64_t t = 0; t < st.tokens_per_rank; ++t) {
        for (int j = 0; j < k; ++j) {
          std::size_t e = 0;
          bool found = false;
          for (int tries = 0; tries < kMaxRejections; ++tries) {
            e = alias.draw(rng);
            if (allowed(e)) { found = true; break; }
          }
          if (!found) {
            // Exact draw ∝ popularity over the allowed experts.
            double total = 0;
            for (std::size_t x = 0; x < ue; ++x)
              if (allowed(x)) total += pop[x];
            double u = rng.uniform() * total;
            std::size_t last = ue;
            for (std::size_t x = 0; x < ue; ++x) {
              if (!allowed(x)) continue;
              last = x;
              u -= pop[x];
              if (u < 0) break;
            }
            if (last == ue) {  // cannot happen for a validated setup; never throw from a worker
              part.failed = true;
              return;
            }
            e = last;
          }
          taken[e] = 1;
          picks[static_cast<std::size_t>(j)] = static_cast<int>(e);
          const auto hn = static_cast<std::size_t>(home_node[e]);
          if (!node_used[hn]) { node_used[hn] = 1; used_nodes.push_back(static_cast<int>(hn)); }
          const auto hd = static_cast<std::size_t>(home_rank_[e]);
          if (!dev_used[hd]) { dev_used[hd] = 1; used_devs.push_back(static_cast<int>(hd)); }
        }
        for (int j = 0; j < k; ++j) {
          const auto e = static_cast<std::size_t>(picks[static_cast<std::size_t>(j)]);
          taken[e] = 0;
          if (sent[e] >= cap[e]) { ++dropped; continue; }
          ++sent[e];
          int dst = single_dst[e];
          if (dst < 0) {
            const auto& reps = out.placement.replicas[e];
            dst = reps[static_cast<std::size_t>((turn[e]++ + src) % static_cast<std::int64_t>(reps.size()))];
          }
          ++row[dst];
          ++part.expert_tokens[e];
          const int dn = rank_node[static_cast<std::size_t>(dst)];
          if (dn != src_node) ++remote_copies;
          if (!node_hit[static_cast<std::size_t>(dn)]) {
            node_hit[static_cast<std::size_t>(dn)] = 1;
            hit_nodes.push_back(dn);
            ++node_row[dn];
            if (dn != src_node) ++remote_nodes;
          }
        }
        for (int n : used_nodes) node_used[static_cast<std::size_t>(n)] = 0;
        for (int d : used_devs) dev_used[static_cast<std::size_t>(d)] = 0;
        for (int n : hit_nodes) node_hit[static_cast<std::size_t>(n)] = 0;
        used_nodes.clear();
        used_devs.clear();
        hit_nodes.clear();
      }
      out.dropped_by_source[static_cast<std::size_t>(src)] = dropped;
      part.dropped += dropped;
      part.remote_copies += remote_copies;
      part.remote_nodes += remote_nodes;
    }
  };

  const int workers = worker_count(st.threads, ep, st.tokens_per_rank * ep * k);
  std::vector<Partial> parts(static_cast<std::size_t>(workers));
  if (workers == 1) {
    route(0, ep, parts[0]);
  } else {
    std::vector<std::thread> pool;
    for (int w = 0; w < workers; ++w)
      pool.emplace_back(route, ep * w / workers, ep * (w + 1) / workers, std::ref(parts[static_cast<std::size_t>(w)]));
    for (auto& t : pool) t.join();
  }
  for (const auto& part : parts) {
    if (part.failed) throw std::logic_error("moe routing: no expert left within the routing limits");
    for (std::size_t e = 0; e < ue; ++e) out.expert_tokens[e] += part.expert_tokens[e];
    out.dropped += part.dropped;
    out.remote_copies += part.remote_copies;
    out.remote_token_nodes += part.remote_nodes;
  }
  for (int r = 0; r < ep; ++r) out.rank_tokens[static_cast<std::size_t>(r)] = out.tokens.col(r).sum();
  return out;
}

// --- Summary ------------------------------------------------------------------------------

std::vector<MoeLayerRouting> summarize_routing(const Scenario& s, const RoutingSummaryOptions& options) {
  std::vector<MoeLayerRouting> out;
  if (!s.model.is_moe()) return out;
  const RoutingModel model = RoutingModel::from_scenario(s);
  const std::int64_t available = std::max<std::int64_t>(1, s.micro_batches());
  const int samples = static_cast<int>(std::clamp<std::int64_t>(options.micro_batches, 1, available));
  const double elem = bytes_per_value(s.moe_routing.dispatch_dtype);
  const bool dedup = s.moe_routing.node_dedup;
  int moe_layer = 0;
  for (int layer = 0; layer < s.model.layers; ++layer) {
    if (!s.model.layer_is_moe(layer)) continue;
    MoeLayerRouting lr;
    lr.layer = layer;
    lr.moe_layer = moe_layer;
    lr.samples = samples;
    lr.mean_tokens = Eigen::MatrixXd::Zero(s.parallelism.ep, s.parallelism.ep);
    lr.mean_node_tokens = Eigen::MatrixXd::Zero(s.parallelism.ep, model.nodes());
    for (int mb = 0; mb < samples; ++mb) {
      const RoutingSample smp = model.sample(moe_layer, mb);
      lr.max_rank_tokens += static_cast<double>(smp.busiest_rank_tokens());
      lr.mean_rank_tokens += smp.mean_rank_tokens();
      lr.dropped_tokens += static_cast<double>(smp.dropped);
      lr.cross_node_copies_per_token += smp.cross_node_copies_per_token(dedup);
      lr.mean_tokens += smp.tokens.cast<double>();
      lr.mean_node_tokens += smp.node_tokens.cast<double>();
    }
    const double inv = 1.0 / samples;
    lr.max_rank_tokens *= inv;
    lr.mean_rank_tokens *= inv;
    lr.dropped_tokens *= inv;
    lr.cross_node_copies_per_token *= inv;
    lr.cross_node_bytes_per_token = lr.cross_node_copies_per_token * s.model.hidden * elem;
    lr.mean_tokens *= inv;
    lr.mean_node_tokens *= inv;
    out.push_back(std::move(lr));
    ++moe_layer;
  }
  return out;
}

// --- Closed form --------------------------------------------------------------------------

double expected_reached_nodes(int experts, int nodes, int top_k, int node_limit) {
  if (experts < 1 || nodes < 1 || top_k < 1 || top_k > experts) return 0;
  nodes = std::min(nodes, experts);
  // f[j][d]: ways to choose j experts from the nodes seen so far, reaching d of them. All terms
  // are positive (no inclusion–exclusion cancellation); experts spread as evenly as possible.
  const auto K = static_cast<std::size_t>(top_k);
  std::vector<std::vector<double>> f(K + 1, std::vector<double>(K + 1, 0.0));
  f[0][0] = 1.0;
  for (int n = 0; n < nodes; ++n) {
    const int g = experts / nodes + (n < experts % nodes ? 1 : 0);
    std::vector<double> binom(K + 1, 0.0);  // C(g, c)
    binom[0] = 1.0;
    for (std::size_t c = 1; c <= K && static_cast<int>(c) <= g; ++c)
      binom[c] = binom[c - 1] * static_cast<double>(g - static_cast<int>(c) + 1) / static_cast<double>(c);
    auto next = f;  // c = 0: this node is not reached
    for (std::size_t j = 0; j <= K; ++j)
      for (std::size_t d = 0; d < K; ++d) {
        if (f[j][d] == 0) continue;
        for (std::size_t c = 1; j + c <= K; ++c) next[j + c][d + 1] += f[j][d] * binom[c];
      }
    f = std::move(next);
  }
  double total = 0, mean = 0;
  for (std::size_t d = 1; d <= K; ++d) {
    total += f[K][d];
    const double reached = node_limit > 0 ? std::min<double>(static_cast<double>(d), node_limit)
                                          : static_cast<double>(d);
    mean += f[K][d] * reached;
  }
  return total > 0 ? mean / total : 0;
}

}  // namespace clustercost
