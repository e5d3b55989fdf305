#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "hardware/spec/catalog.hpp"
#include "sim/common/value_bytes.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {

namespace {

// Whole-run sanity limits: absurd inputs get a clear error instead of exhausting the machine.
constexpr std::int64_t kMaxGpus = 1'000'000;
constexpr int kMaxParallel = 1 << 20;
// Sequences per step: 16M, far above any published run (DeepSeek-V3: 15,360; hardware.md) and
// small enough that global_batch × seq_len stays exact in a double.
constexpr std::int64_t kMaxGlobalBatch = std::int64_t{1} << 24;
constexpr std::int64_t kMaxSeqLen = std::int64_t{1} << 24;

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

Schedule parse_schedule(const std::string& s) {
  if (s == "gpipe") return Schedule::GPipe;
  if (s == "1f1b") return Schedule::OneFOneB;
  if (s == "interleaved") return Schedule::Interleaved;
  if (s == "zb-h1") return Schedule::ZbH1;
  return Schedule::DualPipe;
}

Recompute parse_recompute(const std::string& s) {
  if (s == "selective") return Recompute::Selective;
  if (s == "full") return Recompute::Full;
  return Recompute::None;
}

int small_positive(ObjectReader& r, std::string_view key, int fallback) {
  auto v = r.positive_integer_or(key, fallback);
  if (v > kMaxParallel) r.fail(key, "value " + std::to_string(v) + " exceeds the limit " +
                                        std::to_string(kMaxParallel));
  return static_cast<int>(v);
}

void parse_cluster(ObjectReader r, Scenario& s, const Catalog& catalog, const DataDirs& dirs) {
  auto& c = s.cluster;
  if (const Json* pools = r.find("pools")) {
    if (!pools->is_array() || pools->empty())
      r.fail("pools", "expected a non-empty array of {gpu, count, ...}");
    for (std::size_t i = 0; i < pools->size(); ++i) {
      ObjectReader p((*pools)[i], r.file(), index_path(r.path_of("pools"), i));
      GpuPool pool;
      pool.gpu = p.string("gpu");
      const GpuSpec* g = catalog.find_gpu(pool.gpu);
      if (!g) p.fail("gpu", catalog.unknown_gpu_message(pool.gpu));
      pool.gpu = g->name;
      pool.count = p.positive_integer("count");
      if (pool.count > kMaxGpus) p.fail("count", "more than " + std::to_string(kMaxGpus) + " GPUs");
      if (auto v = p.optional_number("gpu_hour_usd")) pool.gpu_hour_usd = v;
      if (auto v = p.optional_number("purchase_usd")) pool.purchase_usd = v;
      pool.available_from = p.string_or("available_from", "");
      pool.frozen_after = p.string_or("frozen_after", "");
      for (const char* key : {"available_from", "frozen_after"}) {
        const std::string& v = std::string(key) == "available_from" ? pool.available_from : pool.frozen_after;
        if (!v.empty() && !iso_date_to_days(v))
          p.fail(key, "expected an ISO date \"YYYY-MM-DD\" or \"YYYY-MM\", got \"" + v + "\"");
      }
      p.finish();
      c.pools.push_back(pool);
    }
  }
  // With pools, gpu/gpus default to the first pool (the one the run uses).
  std::string gpu_name;
  if (r.has("gpu") || c.pools.empty()) gpu_name = r.string("gpu");
  else gpu_name = c.pools.front().gpu;
  const GpuSpec* gpu = catalog.find_gpu(gpu_name);
  if (!gpu) r.fail("gpu", catalog.unknown_gpu_message(gpu_name));
  s.gpu = *gpu;
  c.gpu = gpu->name;
  if (r.has("gpus") || c.pools.empty()) {
    c.gpus = r.positive_integer("gpus");
  } else {
    c.gpus = c.pools.front().count;
  }
  if (c.gpus > kMaxGpus)
    r.fail("gpus", std::to_string(c.gpus) + " GPUs exceeds the limit of " +
                       std::to_string(kMaxGpus));
  if (!c.pools.empty()) {
    auto pool = std::find_if(c.pools.begin(), c.pools.end(),
                             [&](const GpuPool& p) { return p.gpu == c.gpu; });
    if (pool == c.pools.end())
      r.fail("gpu", "no pool in cluster.pools holds " + c.gpu);
    if (c.gpus > pool->count)
      r.fail("gpus", "the run uses " + std::to_string(c.gpus) + " GPUs but the " + c.gpu +
                         " pool holds " + std::to_string(pool->count));
  }

  c.node = r.string_or("node", gpu->default_node);
  if (!c.node.empty()) {
    const NodeSpec* node = catalog.find_node(c.node);
    if (!node) r.fail("node", "unknown node type \"" + c.node + "\"");
    s.node = *node;
  }
  int default_per_node = s.node ? s.node->gpus_per_node : 8;
  c.gpus_per_node = small_positive(r, "gpus_per_node", default_per_node);
  if (c.gpus > c.gpus_per_node && c.gpus % c.gpus_per_node != 0)
    r.fail("gpus", std::to_string(c.gpus) + " GPUs is not a whole number of " +
                       std::to_string(c.gpus_per_node) + "-GPU nodes");

  if (auto v = r.optional_object("variation")) {
    VariationConfig& var = c.variation;
    var.compute_spread = v->number_in_or("compute_spread", 0.0, 0.5, 0.0);
    var.step_jitter = v->number_in_or("step_jitter", 0.0, 0.5, 0.0);
    var.slow_links = static_cast<int>(v->non_negative_integer_or("slow_links", 0));
    var.slow_link_factor = v->number_in_or("slow_link_factor", 0.01, 1.0, 0.5);
    var.replicas = static_cast<int>(v->positive_integer_or("replicas", 8));
    if (var.replicas > 1000) v->fail("replicas", "at most 1000 seeded replicas");
    const Json* inline_factors = v->find("factors");
    auto file = v->optional_string("factors_file");
    if (inline_factors && file) v->fail("factors_file", "give factors or factors_file, not both");
    auto read_factors = [&](const Json& arr, const std::string& where_file, const std::string& where) {
      if (!arr.is_array())
        throw InputError(where_file, where, "expected an array of per-GPU speed factors, got " +
                                                describe_json(arr));
      if (static_cast<std::int64_t>(arr.size()) != c.gpus)
        throw InputError(where_file, where, "expected one speed factor per GPU (" +
                                                std::to_string(c.gpus) + "), got " +
                                                std::to_string(arr.size()));
      for (std::size_t i = 0; i < arr.size(); ++i) {
        const double f = json_number(arr[i], where_file, index_path(where, i));
        if (!(f > 0.0) || f > 10.0)
          throw InputError(where_file, index_path(where, i),
                           "a speed factor must be in (0, 10], got " + describe_json(arr[i]));
        var.factors.push_back(f);
      }
    };
    if (inline_factors) read_factors(*inline_factors, s.file, v->path_of("factors"));
    if (file) {
      std::filesystem::path fp(*file);
      if (fp.is_relative()) fp = std::filesystem::path(s.file).parent_path() / fp;
      Json arr;
      try {
        arr = load_json_file(fp);
      } catch (const InputError&) {
        throw;
      } catch (const std::exception& e) {
        throw InputError(s.file, v->path_of("factors_file"), e.what());
      }
      read_factors(arr, fp.string(), "");
    }
    v->finish();
  }

  // One reader for `cluster.network`, shared with the topology builder; then the node's and
  // the GPU's defaults fill what the scenario leaves out.
  if (auto n = r.optional_object("network")) c.network_overrides = read_network_overrides(*n);
  c.network_overrides.source = s.file;
  const NetworkOverrides& ov = c.network_overrides;
  auto& net = c.network;
  net.topology = ov.topology ? std::string(to_string(*ov.topology))
                             : (s.node && !s.node->default_topology.empty() ? s.node->default_topology
                                                                            : "fat-tree");
  // The fabric the topology builder would make (and its errors, at load time): 2 tiers unless
  // the scenario says otherwise or 2 cannot hold the cluster.
  const TopologyConfig fabric =
      topology_config_from(*gpu, s.node ? &*s.node : nullptr, static_cast<int>(c.gpus),
                           c.gpus_per_node, ov);
  net.tiers = fabric.scale_out.tiers;
  net.oversubscription = ov.oversubscription.value_or(1.0);
  net.scale_out_gbps_per_gpu = ov.scale_out_gbps_per_gpu.value_or(gpu->nic_gbps.get());
  net.scale_up_gbs_uni = ov.scale_up_gbs_uni.value_or(gpu->scale_up.gbs_uni_per_gpu.get());
  net.in_switch_reduction = fabric.scale_up.in_switch_reduction;

  c.profile = r.string_or("profile", "");
  if (c.profile.empty()) {
    s.profile = load_default_profile(dirs.profiles(), *gpu);
  } else {
    std::filesystem::path p = c.profile;
    if (p.is_relative() && !s.file.empty() && s.file != "<inline>") {
      auto beside = std::filesystem::path(s.file).parent_path() / p;
      if (std::filesystem::exists(beside)) p = beside;
    }
    if (!std::filesystem::exists(p)) r.fail("profile", "profile file \"" + c.profile + "\" not found");
    s.profile = load_efficiency_profile(p);
  }
  r.finish();
}

// Returns whether `parallelism.comm_sms` was written (software.comm_sms must then agree).
bool parse_parallelism(ObjectReader r, Scenario& s) {
  auto& p = s.parallelism;
  p.tp = small_positive(r, "tp", 1);
  p.cp = small_positive(r, "cp", 1);
  p.pp = small_positive(r, "pp", 1);
  p.ep = small_positive(r, "ep", 1);
  p.vpp = small_positive(r, "vpp", 1);
  p.schedule = parse_schedule(
      r.one_of_or("schedule", {"gpipe", "1f1b", "interleaved", "zb-h1", "dualpipe"},
                  p.vpp > 1 ? "interleaved" : "1f1b"));
  p.micro_batch = small_positive(r, "micro_batch", 1);
  const std::int64_t zero = r.non_negative_integer_or("zero", 1);  // checked before narrowing
  if (zero > 3) r.fail("zero", "expected a ZeRO stage 0, 1, 2 or 3, got " + std::to_string(zero));
  p.zero = static_cast<int>(zero);
  p.sequence_parallel = r.boolean_or("sequence_parallel", p.tp > 1);
  p.recompute = parse_recompute(r.one_of_or("recompute", {"none", "selective", "full"}, "none"));
  if (const Json* mods = r.find("recompute_modules")) {
    if (!mods->is_array()) r.fail("recompute_modules", "expected an array of module names");
    for (std::size_t i = 0; i < mods->size(); ++i) {
      const std::string path = index_path(r.path_of("recompute_modules"), i);
      std::string name = json_string((*mods)[i], r.file(), path);
      if (name != "layernorm" && name != "mla_up_proj" && name != "moe_act" && name != "mlp_act")
        throw InputError(r.file(), path, "expected \"layernorm\", \"mla_up_proj\", \"moe_act\" "
                                         "or \"mlp_act\", got \"" + name + "\"");
      if (name == "mla_up_proj" && s.model.attention != AttentionKind::Mla)
        throw InputError(r.file(), path, s.model.name + " has no MLA up-projections");
      if (name == "moe_act" && !s.model.is_moe())
        throw InputError(r.file(), path, s.model.name + " has no experts");
      if (std::find(p.recompute_modules.begin(), p.recompute_modules.end(), name) == p.recompute_modules.end())
        p.recompute_modules.push_back(name);
    }
    if (!p.recompute_modules.empty() && p.recompute == Recompute::Full)
      r.fail("recompute_modules", "full recomputation already recomputes every module");
  }
  const bool comm_sms_given = r.has("comm_sms");
  const std::int64_t comm_sms = r.non_negative_integer_or("comm_sms", 0);
  if (comm_sms >= static_cast<std::int64_t>(s.gpu.sms.get()))
    r.fail("comm_sms", std::to_string(comm_sms) + " SMs reserved for communication leaves none of " +
                           num(s.gpu.sms.get()) + " for compute");
  p.comm_sms = static_cast<int>(comm_sms);

  const std::int64_t gpus = s.cluster.gpus;
  const std::int64_t mp = static_cast<std::int64_t>(p.tp) * p.cp * p.pp;
  if (gpus % mp != 0)
    r.fail("tp", "tp·cp·pp = " + std::to_string(p.tp) + "·" + std::to_string(p.cp) + "·" +
                     std::to_string(p.pp) + " = " + std::to_string(mp) + " does not divide " +
                     std::to_string(gpus) + " GPUs");
  std::int64_t dp = gpus / mp;
  if (auto given = r.optional_positive_integer("dp")) {
    if (*given != dp)
      r.fail("dp", "dp = " + std::to_string(*given) + " but gpus / (tp·cp·pp) = " +
                       std::to_string(gpus) + " / " + std::to_string(mp) + " = " +
                       std::to_string(dp));
  }
  p.dp = dp;

  const ModelSpec& m = s.model;
  const int domain = std::max(s.gpu.scale_up.domain_size, s.cluster.gpus_per_node);
  if (p.tp > domain)
    r.fail("tp", "tp = " + std::to_string(p.tp) + " exceeds the scale-up domain of " +
                     std::to_string(domain) + " GPUs: tensor parallelism must stay inside it");
  if (m.heads % p.tp != 0)
    r.fail("tp", "tp = " + std::to_string(p.tp) + " does not divide the " +
                     std::to_string(m.heads) + " attention heads of " + m.name);
  if (m.attention != AttentionKind::Mla && m.kv_heads % p.tp != 0 && p.tp % m.kv_heads != 0)
    r.fail("tp", "tp = " + std::to_string(p.tp) + " and the " + std::to_string(m.kv_heads) +
                     " KV heads of " + m.name + " neither divide the other");
  if (m.is_moe()) {
    const auto& moe = *m.moe;
    if (moe.routed_experts % p.ep != 0)
      r.fail("ep", "ep = " + std::to_string(p.ep) + " does not divide the " +
                       std::to_string(moe.routed_experts) + " routed experts of " + m.name);
    if ((dp * p.cp) % p.ep != 0)
      r.fail("ep", "ep = " + std::to_string(p.ep) + " does not divide dp·cp = " +
                       std::to_string(dp * p.cp) + " (expert-parallel groups are carved from "
                       "the data-parallel ranks)");
  } else if (p.ep != 1) {
    r.fail("ep", "ep = " + std::to_string(p.ep) + " but " + m.name + " is a dense model (no experts)");
  }
  const int layers = m.layers;
  if (static_cast<std::int64_t>(p.pp) * p.vpp > layers)  // each is ≤ 2^20: no int overflow
    r.fail("pp", "pp·vpp = " + std::to_string(static_cast<std::int64_t>(p.pp) * p.vpp) + " model chunks for only " +
                     std::to_string(layers) + " layers");
  if (p.schedule == Schedule::Interleaved && p.vpp < 2)
    r.fail("vpp", "the interleaved schedule needs vpp >= 2, got " + std::to_string(p.vpp));
  if (p.vpp > 1 && p.schedule != Schedule::Interleaved)
    r.fail("vpp", "vpp = " + std::to_string(p.vpp) + " needs schedule \"interleaved\"");
  if (p.schedule == Schedule::DualPipe && p.pp % 2 != 0)
    r.fail("schedule", "dualpipe needs an even number of pipeline stages, got pp = " +
                           std::to_string(p.pp));
  p.stage_layers = split_layers(layers, p.pp);
  r.finish();
  return comm_sms_given;
}

void parse_training(ObjectReader r, Scenario& s) {
  auto& t = s.training;
  const std::int64_t seq_len = r.positive_integer("seq_len");  // checked before narrowing
  if (seq_len > kMaxSeqLen)
    r.fail("seq_len", "sequence length " + std::to_string(seq_len) + " exceeds the limit of " +
                          std::to_string(kMaxSeqLen) + " tokens");
  t.seq_len = static_cast<int>(seq_len);
  t.global_batch = r.positive_integer("global_batch");
  if (t.global_batch > kMaxGlobalBatch)
    r.fail("global_batch", "global_batch " + std::to_string(t.global_batch) +
                               " exceeds the limit of " + std::to_string(kMaxGlobalBatch) +
                               " sequences per step");
  t.tokens = r.positive_number("tokens");
  if (t.tokens > 1e18) r.fail("tokens", "more than 1e18 tokens is not supported");
  t.precision = r.one_of_or("precision", {"bf16", "fp16", "fp8"}, "bf16");
  t.optimizer_moments = r.one_of_or("optimizer_moments", {"fp32", "bf16"}, "fp32");
  t.grad_dtype = r.one_of_or("grad_dtype", {"fp32", "bf16"}, "fp32");
  if (auto br = r.optional_object("batch_ramp")) {
    TrainingConfig::BatchRamp ramp;
    ramp.start_batch = br->positive_integer("start_batch");
    ramp.tokens = br->positive_number("tokens");
    if (ramp.start_batch >= t.global_batch)
      br->fail("start_batch", "the ramp starts at " + std::to_string(ramp.start_batch) +
                                  " sequences, not below global_batch " + std::to_string(t.global_batch));
    if (ramp.tokens > t.tokens)
      br->fail("tokens", "the ramp (" + num(ramp.tokens) + " tokens) is longer than the run (" +
                             num(t.tokens) + " tokens)");
    br->finish();
    t.batch_ramp = ramp;
  }
  if (t.precision == "fp8" && !s.gpu.peak_tflops("fp8"))
    r.fail("precision", s.gpu.name + " has no FP8 tensor units; use \"bf16\"");
  const auto& p = s.parallelism;
  const std::int64_t per_step = p.dp * p.micro_batch;
  if (t.global_batch % per_step != 0)
    r.fail("global_batch", "global_batch " + std::to_string(t.global_batch) +
                               " is not divisible into micro-batches: dp·micro_batch = " +
                               std::to_string(p.dp) + "·" + std::to_string(p.micro_batch) +
                               " = " + std::to_string(per_step));
  if (t.seq_len % p.cp != 0)
    r.fail("seq_len", "cp = " + std::to_string(p.cp) + " does not divide seq_len " +
                          std::to_string(t.seq_len));
  const std::int64_t m = t.global_batch / per_step;
  if (p.schedule == Schedule::Interleaved && m % p.pp != 0)
    r.fail("global_batch", "the interleaved schedule needs the number of micro-batches (" +
                               std::to_string(m) + ") to be a multiple of pp = " + std::to_string(p.pp));
  if (p.schedule == Schedule::DualPipe && m < 2 * static_cast<std::int64_t>(p.pp))
    r.fail("global_batch", "dualpipe needs at least 2·pp = " + std::to_string(2 * p.pp) +
                               " micro-batches per data-parallel rank, got " + std::to_string(m));
  if (s.tokens_per_step() > t.tokens)
    r.fail("tokens", "the run (" + num(t.tokens) + " tokens) is shorter than one step (" +
                         num(s.tokens_per_step()) + " tokens)");
  r.finish();
}

// A file named in the scenario: relative paths resolve against the scenario file's folder first
// (then the working directory); a missing file is an error at `key`.
std::filesystem::path resolve_beside(const ObjectReader& r, std::string_view key,
                                     const std::string& written, const std::string& scenario_file) {
  std::filesystem::path p = written;
  if (p.is_relative() && !scenario_file.empty() && scenario_file != "<inline>") {
    auto beside = std::filesystem::path(scenario_file).parent_path() / p;
    std::error_code ec;
    if (std::filesystem::exists(beside, ec)) p = beside;
  }
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec))
    r.fail(key, "file \"" + written + "\" not found (relative paths start at the scenario's folder)");
  return p;
}

void parse_moe_routing(ObjectReader r, Scenario& s) {
  auto& m = s.moe_routing;
  if (auto imb = r.optional_object("imbalance")) {
    m.imbalance.kind = imb->one_of_or("kind", {"uniform", "zipf", "dirichlet", "histogram"}, "uniform");
    m.imbalance.zipf_s = imb->non_negative_number_or("s", 0.0);
    m.imbalance.dirichlet_alpha = imb->positive_number_or("alpha", 1.0);
    m.imbalance.histogram_file = imb->string_or("file", "");
    if (m.imbalance.kind == "histogram" && m.imbalance.histogram_file.empty())
      imb->fail("file", "a histogram imbalance needs the file of measured tokens per expert");
    if (m.imbalance.kind == "histogram")
      m.imbalance.histogram_path = resolve_beside(*imb, "file", m.imbalance.histogram_file, s.file);
    imb->finish();
  }
  if (auto v = r.optional_string("placement"); v && !v->empty()) {
    m.placement_file = *v;
    m.placement_path = resolve_beside(r, "placement", *v, s.file);
  }
  {
    const std::int64_t most = s.model.is_moe() ? s.model.moe->routed_experts : 0;
    const auto n = r.non_negative_integer_or("redundant_experts", 0);
    if (n > most)
      r.fail("redundant_experts", "at most " + std::to_string(most) +
                                      " redundant experts (one per routed expert), got " + std::to_string(n));
    m.redundant_experts = static_cast<int>(n);
  }
  m.node_dedup = r.boolean_or("node_dedup", true);
  // Bounded before narrowing to int: a limit beyond the largest EP group means "none" anyway.
  constexpr std::int64_t kMaxRoutingLimit = 1 << 20;
  if (auto v = r.optional_positive_integer("node_limit")) {
    if (*v > kMaxRoutingLimit)
      r.fail("node_limit", "at most " + std::to_string(kMaxRoutingLimit) + ", got " + std::to_string(*v));
    m.node_limit = static_cast<int>(*v);
  }
  if (auto v = r.optional_positive_integer("device_limit")) {
    if (*v > kMaxRoutingLimit)
      r.fail("device_limit", "at most " + std::to_string(kMaxRoutingLimit) + ", got " + std::to_string(*v));
    m.device_limit = static_cast<int>(*v);
  }
  if (auto v = r.optional_number("capacity_factor")) {
    if (*v <= 0) r.fail("capacity_factor", "expected a positive capacity factor or null");
    m.capacity_factor = v;
  }
  m.dispatch_dtype = r.one_of_or("dispatch_dtype", {"bf16", "fp8"}, s.training.precision == "fp8" ? "fp8" : "bf16");
  m.combine_dtype = r.one_of_or("combine_dtype", {"bf16", "fp8"}, "bf16");
  // DeepEP's node-limited kernels forward over NVLink inside the destination node.
  m.all_to_all = r.one_of_or("all_to_all", {"direct", "hierarchical"},
                             m.node_limit ? "hierarchical" : "direct");
  {
    const auto n = r.non_negative_integer_or("layer_samples", 4);
    if (n > 100000) r.fail("layer_samples", "at most 100000 sampled MoE layers, got " + std::to_string(n));
    m.layer_samples = static_cast<int>(n);
  }
  if (s.model.is_moe() && m.node_limit) {
    const int ep_nodes = std::max(1, s.parallelism.ep / s.cluster.gpus_per_node);
    if (*m.node_limit > ep_nodes)
      s.notes.push_back("moe_routing.node_limit " + std::to_string(*m.node_limit) +
                        " exceeds the " + std::to_string(ep_nodes) +
                        " nodes an EP group spans: it never binds");
  }
  if (!s.model.is_moe() && (m.node_limit || m.device_limit))
    r.fail("node_limit", s.model.name + " is dense: routing limits do not apply");
  r.finish();
}

// ---- economics, reliability, pools, batch ramp (campaign and cost) ----

void parse_economics(std::optional<ObjectReader> e, Scenario& s) {
  auto& ec = s.economics;
  const GpuSpec& g = s.gpu;
  if (e) {
    ec.model = e->one_of_or("model", {"rental", "ownership"}, "rental");
    ec.gpu_hour_usd = e->positive_number_or("gpu_hour_usd", 0.0);
    ec.usd_per_kwh = e->non_negative_number_or("usd_per_kwh", 0.08);
    ec.pue = e->number_in_or("pue", 1.0, 3.0, 1.3);
    ec.purchase_usd = e->positive_number_or("purchase_usd", 0.0);
    ec.server_share_usd = -1.0;  // resolved below
    if (auto v = e->optional_number("server_share_usd")) {
      if (*v < 0) e->fail("server_share_usd", "expected a number >= 0, got " + num(*v));
      ec.server_share_usd = *v;
    }
    ec.network_share_usd = e->non_negative_number_or("network_share_usd", 0.0);
    ec.lifetime_years = e->number_in_or("lifetime_years", 0.1, 50.0, 4.0);
    ec.idle_power_fraction = e->number_in_or("idle_power_fraction", 0.0, 1.0, 0.25);
    if (auto v = e->optional_number("co2_kg_per_kwh")) {
      if (*v < 0 || *v > 5) e->fail("co2_kg_per_kwh", "expected a grid intensity in 0..5 kg CO2 per kWh");
      ec.co2_kg_per_kwh = v;
    }
    e->finish();
  } else {
    ec.server_share_usd = -1.0;
  }
  // The pool the run uses may carry its own prices (cluster.pools[i].gpu_hour_usd/purchase_usd).
  const GpuPool* pool = nullptr;
  for (const auto& p : s.cluster.pools)
    if (p.gpu == s.cluster.gpu) { pool = &p; break; }
  const bool given_rate = e && e->has("gpu_hour_usd");
  const bool given_price = e && e->has("purchase_usd");
  if (!given_rate && pool && pool->gpu_hour_usd) ec.gpu_hour_usd = *pool->gpu_hour_usd;
  if (!given_price && pool && pool->purchase_usd) ec.purchase_usd = *pool->purchase_usd;
  if (ec.gpu_hour_usd <= 0) {
    auto rental = g.price.rental_usd_per_gpu_hour.value;
    if (!rental || *rental <= 0)
      throw InputError(s.file, "economics.gpu_hour_usd",
                       "the catalogue has no rental price for " + g.name + "; give one");
    ec.gpu_hour_usd = *rental;
  }
  if (ec.purchase_usd <= 0) {
    auto price = g.price.purchase_usd.value;
    if (price && *price > 0) ec.purchase_usd = *price;
    else if (ec.model == "ownership")
      throw InputError(s.file, "economics.purchase_usd",
                       "the catalogue has no purchase price for " + g.name +
                           "; give one for the ownership model");
  }
  if (ec.server_share_usd < 0)
    ec.server_share_usd = s.node ? s.node->server_share_usd.get() : 0.0;
}

void parse_reliability(std::optional<ObjectReader> rel, Scenario& s) {
  auto& r = s.reliability;
  const double gpus = static_cast<double>(s.cluster.gpus);
  std::array<std::optional<double>, kFailureClassCount> given{};
  std::optional<double> write_min;
  std::optional<std::int64_t> spares;
  if (rel) {
    r.gpu_mtbf_hours = rel->positive_number_or("gpu_mtbf_hours", 50000);
    if (auto fr = rel->optional_object("failure_rates_per_hour")) {
      for (int c = 0; c < kFailureClassCount; ++c) {
        const char* name = failure_class_name(static_cast<FailureClass>(c));
        if (fr->has(name)) {
          const double v = fr->number(name);
          if (!(v >= 0) || v > 1.0)
            fr->fail(name, "expected a failure rate per " +
                               std::string(failure_class_unit(static_cast<FailureClass>(c))) +
                               "-hour in 0..1, got " + num(v));
          given[static_cast<std::size_t>(c)] = v;
        }
      }
      fr->finish();
    }
    // Bounds keep every duration of the campaign well inside its int64-nanosecond clock.
    r.checkpoint_interval_min = rel->non_negative_number_or("checkpoint_interval_min", 0);
    if (r.checkpoint_interval_min > 365.0 * 24 * 60)
      rel->fail("checkpoint_interval_min", "at most a year (525600 min) between checkpoints");
    if (rel->has("checkpoint_write_min")) write_min = rel->non_negative_number_or("checkpoint_write_min", 0);
    r.storage_gbs = rel->positive_number_or("storage_gbs", 0.0);
    r.restart_min = rel->non_negative_number_or("restart_min", 20);
    if (rel->has("spare_nodes")) spares = rel->non_negative_integer_or("spare_nodes", 0);
    r.repair_hours = rel->positive_number_or("repair_hours", 48);
    if (r.repair_hours > 365.0 * 24) rel->fail("repair_hours", "a repair longer than a year (8760 h) is not supported");
    const auto replicas = rel->non_negative_integer_or("replicas", 200);
    if (replicas > 1'000'000) rel->fail("replicas", "at most 1,000,000 Monte Carlo replicas");
    r.replicas = static_cast<int>(replicas);
    rel->finish();
  }
  if (r.restart_min > 7 * 24 * 60)
    throw InputError(s.file, "reliability.restart_min", "a restart longer than a week is not supported");
  // Per-unit rates: given, or the class's share of 1 / gpu_mtbf_hours spread over its units.
  for (int c = 0; c < kFailureClassCount; ++c) {
    const auto fc = static_cast<FailureClass>(c);
    const double units = std::string(failure_class_unit(fc)) == "node" ? s.nodes() : gpus;
    const auto& g = given[static_cast<std::size_t>(c)];
    r.failure_rates_per_hour[static_cast<std::size_t>(c)] =
        g ? *g : failure_class_share(fc) * gpus / units / r.gpu_mtbf_hours;
  }
  // Checkpoint: bf16 weights + fp32 master weights + Adam moments, of every parameter (MTP too).
  const ParameterCounts pc = count_parameters(s.model);
  const double moments = s.training.optimizer_moments == "bf16" ? 4.0 : 8.0;
  r.checkpoint_gb = (pc.total + pc.mtp) * (2.0 + 4.0 + moments) / 1e9;
  if (r.storage_gbs <= 0) r.storage_gbs = 2000.0 / 16384.0 * gpus;
  r.checkpoint_write_min = write_min ? *write_min : r.checkpoint_gb / r.storage_gbs / 60.0;
  if (r.checkpoint_write_min > 7 * 24 * 60)
    throw InputError(s.file, write_min ? "reliability.checkpoint_write_min" : "reliability.storage_gbs",
                     "a checkpoint write longer than a week is not supported (" +
                         num(r.checkpoint_write_min) + " min: " + num(r.checkpoint_gb) + " GB at " +
                         num(r.storage_gbs) + " GB/s)");

  // Spares, and what the pool can hold.
  const GpuPool* pool = nullptr;
  for (const auto& p : s.cluster.pools)
    if (p.gpu == s.cluster.gpu) { pool = &p; break; }
  const std::int64_t per_node = s.cluster.gpus_per_node;
  const std::int64_t pool_spares = pool ? (pool->count - s.cluster.gpus) / per_node : 0;
  if (spares) {
    r.spare_nodes = *spares;
    if (pool && !pool->frozen_after.empty() && *spares > pool_spares)
      throw InputError(s.file, "reliability.spare_nodes",
                       "the job's " + std::to_string(s.cluster.gpus) + " GPUs plus " +
                           std::to_string(*spares) + " spare nodes of " + std::to_string(per_node) +
                           " need " + std::to_string(s.cluster.gpus + *spares * per_node) +
                           " " + s.cluster.gpu + " GPUs, but the pool holds " +
                           std::to_string(pool->count) + " and cannot grow after " +
                           pool->frozen_after);
    if (pool && *spares > pool_spares)
      s.notes.push_back("the " + s.cluster.gpu + " pool must grow by " +
                        std::to_string((*spares - pool_spares) * per_node) +
                        " GPUs to hold the spare nodes");
  } else {
    // Enough spares that waits are rare: the nodes in repair are Poisson with mean m = hardware
    // failure rate × repair time; take m + 3√m, and at least 1% of the nodes (ESTIMATE, E).
    double hw_rate = 0;  // hardware failures per hour, whole job
    for (int c = 0; c < kFailureClassCount; ++c) {
      const auto fc = static_cast<FailureClass>(c);
      if (!failure_class_needs_spare(fc)) continue;
      const double units = std::string(failure_class_unit(fc)) == "node" ? s.nodes() : gpus;
      hw_rate += r.failure_rates_per_hour[static_cast<std::size_t>(c)] * units;
    }
    const double m = hw_rate * r.repair_hours;
    r.spare_nodes = std::max<std::int64_t>((s.nodes() + 99) / 100,
                                           static_cast<std::int64_t>(std::ceil(m + 3.0 * std::sqrt(m))));
    if (pool && r.spare_nodes > pool_spares) {
      s.notes.push_back("reliability.spare_nodes: the " + s.cluster.gpu + " pool holds " +
                        std::to_string(pool_spares) + " spare nodes beyond the job (default " +
                        std::to_string(r.spare_nodes) + ")");
      r.spare_nodes = pool_spares;
    }
  }
}

}  // namespace

std::optional<std::int64_t> iso_date_to_days(const std::string& text) {
  int y = 0, m = 0, d = 1;
  char tail = 0;
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &y, &m, &d, &tail);
  if (n == 2 && text.size() == 7) d = 1;
  else if (n != 3 || text.size() != 10) return std::nullopt;
  if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1970) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(m)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return std::chrono::sys_days{ymd}.time_since_epoch().count();
}

std::string days_to_iso_date(std::int64_t days) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{days}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

const char* failure_class_name(FailureClass c) {
  switch (c) {
    case FailureClass::Gpu: return "gpu";
    case FailureClass::Hbm: return "hbm";
    case FailureClass::Nic: return "nic";
    case FailureClass::Switch: return "switch";
    case FailureClass::Host: return "host";
    case FailureClass::Software: return "software";
  }
  return "gpu";
}

const char* failure_class_unit(FailureClass c) {
  switch (c) {
    case FailureClass::Host: return "node";
    case FailureClass::Nic: return "nic";
    default: return "gpu";
  }
}

bool failure_class_needs_spare(FailureClass c) {
  return c != FailureClass::Switch && c != FailureClass::Software;
}

double failure_class_share(FailureClass c) {
  // Llama 3 405B, 54 days on 16,384 H100 (arXiv 2407.21783 Table 5; hardware.md §7): counts by
  // root cause, grouped. (The paper prints 30.1% for its 148 faulty-GPU count; 148/419 = 35.3%:
  // the counts add up to 419, so we use them.)
  switch (c) {
    case FailureClass::Gpu: return 196.0 / 419.0;
    case FailureClass::Hbm: return 72.0 / 419.0;
    case FailureClass::Nic: return 7.0 / 419.0;
    case FailureClass::Switch: return 35.0 / 419.0;
    case FailureClass::Host: return 46.0 / 419.0;
    case FailureClass::Software: return 63.0 / 419.0;
  }
  return 0;
}

std::vector<int> split_layers(int layers, int pp) {
  std::vector<int> out(static_cast<std::size_t>(pp), layers / pp);
  int extra = layers % pp;
  // Extra layers go to the middle stages first: stages 1..pp-2, then the last, then the first.
  for (int i = 1; i < pp - 1 && extra > 0; ++i, --extra) ++out[static_cast<std::size_t>(i)];
  if (extra > 0 && pp > 1) { ++out.back(); --extra; }
  if (extra > 0) { ++out.front(); --extra; }
  return out;
}

ActivationSavings activation_savings(const Scenario& s) {
  ActivationSavings a;
  for (const auto& m : s.parallelism.recompute_modules) {
    if (m == "layernorm") a.recompute_norms = true;
    if (m == "mla_up_proj") a.recompute_mla_up_proj = true;
    if (m == "moe_act") a.recompute_moe_act = true;
    if (m == "mlp_act") a.recompute_mlp_act = true;
  }
  if (s.training.precision == "fp8") a.linear_input_bytes = bytes_per_value("fp8");
  return a;
}

std::int64_t Scenario::micro_batches() const {
  return training.global_batch / (parallelism.dp * parallelism.micro_batch);
}

double Scenario::tokens_per_step() const {
  return static_cast<double>(training.global_batch) * training.seq_len;
}

std::int64_t Scenario::steps() const {
  return static_cast<std::int64_t>(std::ceil(training.tokens / tokens_per_step()));
}

int Scenario::nodes() const {
  return static_cast<int>((cluster.gpus + cluster.gpus_per_node - 1) / cluster.gpus_per_node);
}

std::string schedule_name(Schedule s) {
  switch (s) {
    case Schedule::GPipe: return "gpipe";
    case Schedule::OneFOneB: return "1f1b";
    case Schedule::Interleaved: return "interleaved";
    case Schedule::ZbH1: return "zb-h1";
    case Schedule::DualPipe: return "dualpipe";
  }
  return "1f1b";
}

std::string recompute_name(Recompute r) {
  switch (r) {
    case Recompute::None: return "none";
    case Recompute::Selective: return "selective";
    case Recompute::Full: return "full";
  }
  return "none";
}

Scenario parse_scenario(const Json& j, const std::string& file, const Catalog& catalog,
                        const DataDirs& dirs) {
  ObjectReader r(j, file, "");
  Scenario s;
  s.file = file;
  s.catalog_fingerprint = catalog.fingerprint();
  s.name = r.string_or("name", std::filesystem::path(file).stem().string());
  s.description = r.string_or("description", "");

  const Json& model = r.required("model");
  if (model.is_string()) {
    s.model_ref = model.get<std::string>();
    s.model = load_model_preset(dirs.presets(), s.model_ref, file, "model");
  } else if (model.is_object()) {
    s.model_ref = "inline";
    s.model = parse_model_spec(model, file, "model");
  } else {
    r.fail("model", "expected a preset name or a model object, got " + describe_json(model));
  }

  parse_cluster(r.object("cluster"), s, catalog, dirs);
  const bool comm_sms_given = parse_parallelism(r.object("parallelism"), s);
  parse_training(r.object("training"), s);
  s.software = parse_software(r.optional_object("software"),
                              comm_sms_given ? s.parallelism.comm_sms : -1,
                              static_cast<int>(s.gpu.sms.get()));
  s.parallelism.comm_sms = s.software.comm_sms;  // one value; software owns it
  if (auto mr = r.optional_object("moe_routing")) {
    parse_moe_routing(*mr, s);
  } else if (s.model.is_moe()) {
    s.moe_routing.dispatch_dtype = s.training.precision == "fp8" ? "fp8" : "bf16";
  }
  parse_economics(r.optional_object("economics"), s);
  parse_reliability(r.optional_object("reliability"), s);
  if (auto sim = r.optional_object("simulation")) {
    s.simulation.fidelity = sim->one_of_or("fidelity", {"analytical", "des"}, "des");
    auto seed = sim->non_negative_integer_or("seed", 1);
    s.simulation.seed = static_cast<std::uint64_t>(seed);
    s.simulation.ranks = sim->one_of_or("ranks", {"auto", "all"}, "auto");
    sim->finish();
  }
  r.finish();

  const auto& sl = s.parallelism.stage_layers;
  if (sl.size() > 1 && *std::min_element(sl.begin(), sl.end()) != *std::max_element(sl.begin(), sl.end())) {
    std::string split;
    for (int n : sl) split += (split.empty() ? "" : ",") + std::to_string(n);
    s.notes.push_back(std::to_string(s.model.layers) + " layers do not divide evenly into " +
                      std::to_string(sl.size()) + " stages; layers per stage: " + split);
  }
  return s;
}

Scenario load_scenario(const std::filesystem::path& file, const std::vector<std::string>& overrides,
                       const Catalog& catalog, const DataDirs& dirs) {
  Json j = load_json_file(file);
  for (const auto& o : overrides) apply_override(j, o);
  return parse_scenario(j, file.string(), catalog, dirs);
}

}  // namespace clustercost
