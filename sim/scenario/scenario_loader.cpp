#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "hardware/spec/catalog.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {

namespace {

// Whole-run sanity limits: absurd inputs get a clear error instead of exhausting the machine.
constexpr std::int64_t kMaxGpus = 1'000'000;
constexpr int kMaxParallel = 1 << 20;

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

void parse_parallelism(ObjectReader r, Scenario& s) {
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
  p.zero = static_cast<int>(r.non_negative_integer_or("zero", 1));
  if (p.zero > 3) r.fail("zero", "expected a ZeRO stage 0, 1, 2 or 3, got " + std::to_string(p.zero));
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
  p.comm_sms = static_cast<int>(r.non_negative_integer_or("comm_sms", 0));
  if (p.comm_sms >= static_cast<int>(s.gpu.sms.get()))
    r.fail("comm_sms", std::to_string(p.comm_sms) + " SMs reserved for communication leaves none of " +
                           num(s.gpu.sms.get()) + " for compute");

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
  if (p.pp * p.vpp > layers)
    r.fail("pp", "pp·vpp = " + std::to_string(p.pp * p.vpp) + " model chunks for only " +
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
}

void parse_training(ObjectReader r, Scenario& s) {
  auto& t = s.training;
  t.seq_len = static_cast<int>(r.positive_integer("seq_len"));
  if (t.seq_len > (1 << 24)) r.fail("seq_len", "sequence length above 16M tokens is not supported");
  t.global_batch = r.positive_integer("global_batch");
  t.tokens = r.positive_number("tokens");
  if (t.tokens > 1e18) r.fail("tokens", "more than 1e18 tokens is not supported");
  t.precision = r.one_of_or("precision", {"bf16", "fp16", "fp8"}, "bf16");
  t.optimizer_moments = r.one_of_or("optimizer_moments", {"fp32", "bf16"}, "fp32");
  t.grad_dtype = r.one_of_or("grad_dtype", {"fp32", "bf16"}, "fp32");
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

void parse_moe_routing(ObjectReader r, Scenario& s) {
  auto& m = s.moe_routing;
  if (auto imb = r.optional_object("imbalance")) {
    m.imbalance.kind = imb->one_of_or("kind", {"uniform", "zipf", "dirichlet", "histogram"}, "uniform");
    m.imbalance.zipf_s = imb->non_negative_number_or("s", 0.0);
    m.imbalance.dirichlet_alpha = imb->positive_number_or("alpha", 1.0);
    m.imbalance.histogram_file = imb->string_or("file", "");
    if (m.imbalance.kind == "histogram" && m.imbalance.histogram_file.empty())
      imb->fail("file", "a histogram imbalance needs the file of measured tokens per expert");
    imb->finish();
  }
  if (auto v = r.optional_positive_integer("node_limit")) m.node_limit = static_cast<int>(*v);
  if (auto v = r.optional_positive_integer("device_limit")) m.device_limit = static_cast<int>(*v);
  if (auto v = r.optional_number("capacity_factor")) {
    if (*v <= 0) r.fail("capacity_factor", "expected a positive capacity factor or null");
    m.capacity_factor = v;
  }
  m.dispatch_dtype = r.one_of_or("dispatch_dtype", {"bf16", "fp8"}, s.training.precision == "fp8" ? "fp8" : "bf16");
  m.combine_dtype = r.one_of_or("combine_dtype", {"bf16", "fp8"}, "bf16");
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

}  // namespace

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
  if (s.training.precision == "fp8") a.linear_input_bytes = 1.0 + 4.0 / 128.0;
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
  parse_parallelism(r.object("parallelism"), s);
  parse_training(r.object("training"), s);
  if (auto mr = r.optional_object("moe_routing")) {
    parse_moe_routing(*mr, s);
  } else if (s.model.is_moe()) {
    s.moe_routing.dispatch_dtype = s.training.precision == "fp8" ? "fp8" : "bf16";
  }
  if (auto e = r.optional_object("economics")) {
    s.economics.gpu_hour_usd = e->positive_number_or("gpu_hour_usd", 0.0);
    s.economics.usd_per_kwh = e->non_negative_number_or("usd_per_kwh", 0.08);
    s.economics.pue = e->number_in_or("pue", 1.0, 3.0, 1.3);
    e->finish();
  }
  if (s.economics.gpu_hour_usd <= 0) {
    auto rental = s.gpu.price.rental_usd_per_gpu_hour.value;
    if (!rental || *rental <= 0)
      throw InputError(file, "economics.gpu_hour_usd",
                       "the catalogue has no rental price for " + s.gpu.name + "; give one");
    s.economics.gpu_hour_usd = *rental;
  }
  if (auto rel = r.optional_object("reliability")) {
    s.reliability.gpu_mtbf_hours = rel->positive_number_or("gpu_mtbf_hours", 50000);
    s.reliability.checkpoint_interval_min = rel->non_negative_number_or("checkpoint_interval_min", 0);
    s.reliability.checkpoint_write_min = rel->non_negative_number_or("checkpoint_write_min", 1.0);
    s.reliability.restart_min = rel->non_negative_number_or("restart_min", 20);
    rel->finish();
  }
  if (auto sim = r.optional_object("simulation")) {
    s.simulation.fidelity = sim->one_of_or("fidelity", {"analytical", "des"}, "des");
    auto seed = sim->non_negative_integer_or("seed", 1);
    s.simulation.seed = static_cast<std::uint64_t>(seed);
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
