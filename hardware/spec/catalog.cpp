#include "hardware/spec/catalog.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <utility>

namespace clustercost {

namespace {

namespace fs = std::filesystem;

// Whether a figure's value may be null ("unsupported or not published").
enum class ValueRule { kRequired, kNullable };

// Upper bounds that only catch unit slips and garbage (a node of 10^6 GPUs is a typo, not a
// server); real catalogues are far below them.
constexpr std::int64_t kMaxGpusPerNode = 1024;
constexpr std::int64_t kMaxDomainSize = 1 << 20;
constexpr std::int64_t kMaxTiers = 4;

bool blank(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c) != 0; });
}

std::string nonempty_string(ObjectReader& r, std::string_view key) {
  std::string s = r.string(key);
  if (blank(s)) r.fail(key, "must not be empty");
  return s;
}

// Catalogue keys become file names and CLI arguments: keep them to a portable character set.
std::string catalogue_key(ObjectReader& r, std::string_view key) {
  std::string s = nonempty_string(r, key);
  bool ok = s.front() != '.' && std::all_of(s.begin(), s.end(), [](unsigned char c) {
              return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.';
            });
  if (!ok) r.fail(key, "\"" + s + "\" may use only letters, digits, '-', '_' and '.'");
  return s;
}

Figure read_figure(ObjectReader& parent, std::string_view key, ValueRule rule) {
  ObjectReader f = parent.object(key);
  Figure out;
  const Json& v = f.required("value");
  if (v.is_null()) {
    if (rule == ValueRule::kRequired)
      f.fail("value", "a number is required here (null means unsupported or not published)");
  } else {
    double x = json_number(v, f.file(), f.path_of("value"));
    if (!(x > 0)) f.fail("value", "expected a positive number, got " + v.dump());
    out.value = x;
  }
  out.source = f.string("source");
  if (blank(out.source)) f.fail("source", "must say where the figure comes from");
  out.flag = f.string("flag");
  if (!is_valid_flag(out.flag))
    f.fail("flag", "\"" + out.flag +
                       "\" is not a flag: use V, P, S, E, D or U, combined with '/' (e.g. \"S/E\")");
  out.note = f.string_or("note", "");
  f.finish();
  return out;
}

// Figures added after the first catalogue format: absent means "not given".
Figure read_optional_figure(ObjectReader& parent, std::string_view key) {
  if (!parent.has(key)) return Figure{std::nullopt, "not given in the catalogue file", "U", ""};
  return read_figure(parent, key, ValueRule::kNullable);
}

std::vector<std::string> read_aliases(ObjectReader& r, const std::string& name) {
  const Json& a = r.array("aliases");
  const std::string base = r.path_of("aliases");
  std::vector<std::string> out;
  std::set<std::string> seen{normalize_hardware_name(name)};
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::string p = index_path(base, i);
    std::string s = json_string(a[i], r.file(), p);
    if (blank(s)) throw InputError(r.file(), p, "an alias must not be empty");
    std::string n = normalize_hardware_name(s);
    // An alias that only re-spells the key ("h800_sxm" for "H800-SXM") is harmless; a repeat
    // of another alias is a slip.
    if (n != normalize_hardware_name(name) && !seen.insert(n).second)
      throw InputError(r.file(), p, "alias \"" + s + "\" is listed twice");
    out.push_back(std::move(s));
  }
  return out;
}

Capability read_capability(ObjectReader& parent, std::string_view key) {
  Capability c;
  auto o = parent.optional_object(key);
  if (!o) return c;
  c.value = o->boolean("value");
  c.source = o->string("source");
  if (blank(c.source)) o->fail("source", "must say where the statement comes from");
  c.flag = o->string("flag");
  if (!is_valid_flag(c.flag))
    o->fail("flag", "\"" + c.flag +
                        "\" is not a flag: use V, P, S, E, D or U, combined with '/' (e.g. \"S/E\")");
  c.note = o->string_or("note", "");
  o->finish();
  return c;
}

// An NCCL channel count (scale_up.nccl_*_channels): a sourced whole number of CTAs, at most
// NCCL's MAXCHANNELS (64 in src/include/device.h of NCCL 2.2x), or null where the GPU's
// collectives are not NCCL's. Absent: "not given" (older catalogue files).
constexpr double kMaxNcclChannels = 64;
Figure read_channel_count(ObjectReader& s, std::string_view key) {
  Figure f = read_optional_figure(s, key);
  if (f.value && (*f.value != std::floor(*f.value) || *f.value > kMaxNcclChannels))
    throw InputError(s.file(), join_path(s.path_of(key), "value"),
                     "expected a whole number of channels from 1 to 64, got " +
                         std::to_string(*f.value));
  return f;
}

ScaleUpFabric read_scale_up(ObjectReader& parent) {
  ObjectReader s = parent.object("scale_up");
  ScaleUpFabric f;
  f.name = nonempty_string(s, "name");
  f.topology = s.one_of("topology", {"switch", "full-mesh"});
  f.gbs_uni_per_gpu = read_figure(s, "gbs_uni_per_gpu", ValueRule::kRequired);
  std::int64_t domain = s.positive_integer("domain_size");
  if (domain > kMaxDomainSize) s.fail("domain_size", "is implausibly large");
  f.domain_size = static_cast<int>(domain);
  f.latency_us = read_figure(s, "latency_us", ValueRule::kRequired);
  f.in_switch_reduction = read_capability(s, "in_switch_reduction");
  if (f.in_switch_reduction.value && f.topology != "switch")
    s.fail("in_switch_reduction", "needs topology \"switch\": a full mesh has no switch to reduce in");
  f.nccl_coll_channels = read_channel_count(s, "nccl_coll_channels");
  f.nccl_p2p_channels = read_channel_count(s, "nccl_p2p_channels");
  f.nccl_nvls_channels = read_channel_count(s, "nccl_nvls_channels");
  if (f.topology == "full-mesh") {
    if (f.domain_size < 2) s.fail("domain_size", "a full mesh needs at least 2 devices");
    f.per_pair_gbs_uni = read_figure(s, "per_pair_gbs_uni", ValueRule::kRequired);
    double pair = *f.per_pair_gbs_uni.value, total = *f.gbs_uni_per_gpu.value;
    // A pair cannot get more than a device sends in total, and the peer links together must
    // be able to carry the per-device figure, or one of the two numbers is wrong.
    if (pair > total * (1 + 1e-9))
      throw InputError(s.file(), join_path(s.path_of("per_pair_gbs_uni"), "value"),
                       "the per-pair rate exceeds gbs_uni_per_gpu");
    if (pair * (f.domain_size - 1) < total * (1 - 1e-9))
      throw InputError(s.file(), join_path(s.path_of("gbs_uni_per_gpu"), "value"),
                       "exceeds what the " + std::to_string(f.domain_size - 1) +
                           " peer links carry together (per_pair_gbs_uni x (domain_size - 1))");
  } else if (s.has("per_pair_gbs_uni")) {
    s.fail("per_pair_gbs_uni",
           "applies only to topology \"full-mesh\" (a switch gives any pair the full rate)");
  }
  s.finish();
  return f;
}

Price read_price(ObjectReader& parent) {
  ObjectReader p = parent.object("price");
  Price out;
  out.purchase_usd = read_figure(p, "purchase_usd", ValueRule::kNullable);
  out.rental_usd_per_gpu_hour = read_figure(p, "rental_usd_per_gpu_hour", ValueRule::kNullable);
  out.date = nonempty_string(p, "date");
  p.finish();
  return out;
}

void put_optional(Json& j, const char* key, const std::string& s) {
  if (!s.empty()) j[key] = s;
}

std::string hex64(std::uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string read_bytes(const fs::path& file) {
  const std::string label = file.string();
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) throw InputError(label, "", "cannot read file: " + ec.message());
  if (size > kMaxJsonFileBytes)
    throw InputError(label, "", "file is " + std::to_string(size) + " bytes; the limit is " +
                                    std::to_string(kMaxJsonFileBytes) + " bytes");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(label, "", "cannot open file");
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// Regular *.json files directly in `dir`, sorted by name (the directory order is not stable).
std::vector<fs::path> json_files(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json" && it->is_regular_file(ec)) out.push_back(it->path());
  }
  if (ec) throw InputError(dir.string(), "", "cannot list directory: " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s;
}

}  // namespace

bool is_valid_flag(std::string_view flag) {
  if (flag.empty()) return false;
  std::string seen;
  for (std::size_t i = 0; i < flag.size(); ++i) {
    char c = flag[i];
    if (i % 2 == 1) {
      if (c != '/' || i + 1 == flag.size()) return false;
      continue;
    }
    if (std::string_view("VPSEDU").find(c) == std::string_view::npos) return false;
    if (seen.find(c) != std::string::npos) return false;
    seen += c;
  }
  return true;
}

std::string normalize_hardware_name(std::string_view name) {
  std::string s;
  s.reserve(name.size());
  for (unsigned char c : name) {
    if (c == '_' || c == ' ') s += '-';
    else s += static_cast<char>(std::tolower(c));
  }
  return s;
}

std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t state) {
  for (unsigned char c : bytes) {
    state ^= c;
    state *= 0x100000001b3ULL;
  }
  return state;
}

GpuSpec parse_gpu_spec(const Json& j, const std::string& file) {
  ObjectReader r(j, file, "");
  GpuSpec g;
  g.name = catalogue_key(r, "name");
  g.vendor = nonempty_string(r, "vendor");
  g.full_name = nonempty_string(r, "full_name");
  g.launch = nonempty_string(r, "launch");
  g.aliases = read_aliases(r, g.name);

  g.fp64_tflops = read_figure(r, "fp64_tflops", ValueRule::kNullable);
  g.fp32_tflops = read_optional_figure(r, "fp32_tflops");
  g.tf32_tflops = read_figure(r, "tf32_tflops", ValueRule::kNullable);
  g.bf16_tflops = read_figure(r, "bf16_tflops", ValueRule::kRequired);
  g.fp8_tflops = read_figure(r, "fp8_tflops", ValueRule::kNullable);
  g.int8_tops = read_figure(r, "int8_tops", ValueRule::kNullable);

  g.hbm_gb = read_figure(r, "hbm_gb", ValueRule::kRequired);
  g.hbm_usable_gib = read_figure(r, "hbm_usable_gib", ValueRule::kRequired);
  // "80 GB" parts often hold 80 GiB of which frameworks see ~79; more than the marketed
  // number, read in the larger unit, is a unit slip.
  if (*g.hbm_usable_gib.value > *g.hbm_gb.value * (1 + 1e-9))
    throw InputError(file, "hbm_usable_gib.value",
                     "the usable capacity exceeds hbm_gb (usable GiB cannot exceed marketed GB)");
  g.hbm_tbps = read_figure(r, "hbm_tbps", ValueRule::kRequired);
  g.l2_mb = read_figure(r, "l2_mb", ValueRule::kNullable);
  g.sms = read_figure(r, "sms", ValueRule::kNullable);
  g.tdp_w = read_figure(r, "tdp_w", ValueRule::kRequired);

  g.scale_up = read_scale_up(r);
  g.nic_gbps = read_figure(r, "nic_gbps", ValueRule::kRequired);
  g.nic_latency_us = read_figure(r, "nic_latency_us", ValueRule::kRequired);
  g.pcie_gbs_uni = read_optional_figure(r, "pcie_gbs_uni");

  g.price = read_price(r);
  g.export_control = r.string("export_control");
  g.default_node = catalogue_key(r, "default_node");
  g.note = r.string_or("note", "");
  r.finish();
  return g;
}

NodeSpec parse_node_spec(const Json& j, const std::string& file) {
  ObjectReader r(j, file, "");
  NodeSpec n;
  n.name = catalogue_key(r, "name");
  n.gpu = nonempty_string(r, "gpu");
  std::int64_t gpus = r.positive_integer("gpus_per_node");
  if (gpus > kMaxGpusPerNode) r.fail("gpus_per_node", "is implausibly large");
  n.gpus_per_node = static_cast<int>(gpus);
  std::int64_t nics = r.positive_integer("nics_per_node");
  if (nics > kMaxGpusPerNode) r.fail("nics_per_node", "is implausibly large");
  n.nics_per_node = static_cast<int>(nics);
  n.nic_gbps = read_figure(r, "nic_gbps", ValueRule::kRequired);
  n.default_topology = r.one_of("default_topology", {"fat-tree", "rail-optimized", "multi-plane"});
  std::int64_t tiers = r.integer("default_tiers");
  if (tiers < 1 || tiers > kMaxTiers)
    r.fail("default_tiers", "expected 1 to " + std::to_string(kMaxTiers) + " switch tiers, got " +
                                std::to_string(tiers));
  n.default_tiers = static_cast<int>(tiers);
  n.node_power_w = read_figure(r, "node_power_w", ValueRule::kRequired);
  n.server_share_usd = read_figure(r, "server_share_usd", ValueRule::kRequired);
  n.source = nonempty_string(r, "source");
  n.note = r.string_or("note", "");
  r.finish();
  return n;
}

Json figure_to_json(const Figure& f) {
  Json j = Json::object();
  if (!f.value) {
    j["value"] = nullptr;
  } else if (double v = *f.value; std::fabs(v) < 9.0e15 && v == std::floor(v)) {
    j["value"] = static_cast<std::int64_t>(v);  // 989, not 989.0
  } else {
    j["value"] = v;
  }
  j["source"] = f.source;
  j["flag"] = f.flag;
  put_optional(j, "note", f.note);
  return j;
}

Json gpu_spec_to_json(const GpuSpec& g) {
  Json j = Json::object();
  j["name"] = g.name;
  j["vendor"] = g.vendor;
  j["full_name"] = g.full_name;
  j["launch"] = g.launch;
  j["aliases"] = g.aliases;
  j["fp64_tflops"] = figure_to_json(g.fp64_tflops);
  j["fp32_tflops"] = figure_to_json(g.fp32_tflops);
  j["tf32_tflops"] = figure_to_json(g.tf32_tflops);
  j["bf16_tflops"] = figure_to_json(g.bf16_tflops);
  j["fp8_tflops"] = figure_to_json(g.fp8_tflops);
  j["int8_tops"] = figure_to_json(g.int8_tops);
  j["hbm_gb"] = figure_to_json(g.hbm_gb);
  j["hbm_usable_gib"] = figure_to_json(g.hbm_usable_gib);
  j["hbm_tbps"] = figure_to_json(g.hbm_tbps);
  j["l2_mb"] = figure_to_json(g.l2_mb);
  j["sms"] = figure_to_json(g.sms);
  j["tdp_w"] = figure_to_json(g.tdp_w);
  Json s = Json::object();
  s["name"] = g.scale_up.name;
  s["topology"] = g.scale_up.topology;
  s["gbs_uni_per_gpu"] = figure_to_json(g.scale_up.gbs_uni_per_gpu);
  if (g.scale_up.topology == "full-mesh")
    s["per_pair_gbs_uni"] = figure_to_json(g.scale_up.per_pair_gbs_uni);
  s["domain_size"] = g.scale_up.domain_size;
  s["latency_us"] = figure_to_json(g.scale_up.latency_us);
  if (!g.scale_up.in_switch_reduction.source.empty()) {
    const Capability& c = g.scale_up.in_switch_reduction;
    Json cj = {{"value", c.value}, {"source", c.source}, {"flag", c.flag}};
    put_optional(cj, "note", c.note);
    s["in_switch_reduction"] = std::move(cj);
  }
  s["nccl_coll_channels"] = figure_to_json(g.scale_up.nccl_coll_channels);
  s["nccl_p2p_channels"] = figure_to_json(g.scale_up.nccl_p2p_channels);
  s["nccl_nvls_channels"] = figure_to_json(g.scale_up.nccl_nvls_channels);
  j["scale_up"] = std::move(s);
  j["nic_gbps"] = figure_to_json(g.nic_gbps);
  j["nic_latency_us"] = figure_to_json(g.nic_latency_us);
  j["pcie_gbs_uni"] = figure_to_json(g.pcie_gbs_uni);
  Json p = Json::object();
  p["purchase_usd"] = figure_to_json(g.price.purchase_usd);
  p["rental_usd_per_gpu_hour"] = figure_to_json(g.price.rental_usd_per_gpu_hour);
  p["date"] = g.price.date;
  j["price"] = std::move(p);
  j["export_control"] = g.export_control;
  j["default_node"] = g.default_node;
  put_optional(j, "note", g.note);
  return j;
}

Json node_spec_to_json(const NodeSpec& n) {
  Json j = Json::object();
  j["name"] = n.name;
  j["gpu"] = n.gpu;
  j["gpus_per_node"] = n.gpus_per_node;
  j["nics_per_node"] = n.nics_per_node;
  j["nic_gbps"] = figure_to_json(n.nic_gbps);
  j["default_topology"] = n.default_topology;
  j["default_tiers"] = n.default_tiers;
  j["node_power_w"] = figure_to_json(n.node_power_w);
  j["server_share_usd"] = figure_to_json(n.server_share_usd);
  j["source"] = n.source;
  put_optional(j, "note", n.note);
  return j;
}

Catalog Catalog::load(const fs::path& catalog_dir) {
  std::error_code ec;
  if (!fs::is_directory(catalog_dir, ec))
    throw InputError(catalog_dir.string(), "", "catalogue directory not found");

  Catalog c;
  std::vector<std::pair<std::string, std::string>> hashed;  // relative path, bytes
  for (const auto& p : json_files(catalog_dir)) {
    std::string bytes = read_bytes(p);
    GpuSpec g = parse_gpu_spec(parse_json_text(bytes, p.string()), p.string());
    if (p.stem().string() != g.name)
      throw InputError(p.string(), "name", "\"" + g.name + "\" does not match the file name (" +
                                               p.filename().string() + "); the key is the file name");
    g.file = p.string();
    c.gpus_.push_back(std::move(g));
    hashed.emplace_back(p.filename().generic_string(), std::move(bytes));
  }
  if (c.gpus_.empty())
    throw InputError(catalog_dir.string(), "", "no accelerator files (*.json) in the catalogue");

  fs::path nodes_dir = catalog_dir / "nodes";
  if (fs::is_directory(nodes_dir, ec)) {
    for (const auto& p : json_files(nodes_dir)) {
      std::string bytes = read_bytes(p);
      NodeSpec n = parse_node_spec(parse_json_text(bytes, p.string()), p.string());
      if (p.stem().string() != n.name)
        throw InputError(p.string(), "name", "\"" + n.name + "\" does not match the file name (" +
                                                 p.filename().string() + ")");
      n.file = p.string();
      c.nodes_.push_back(std::move(n));
      hashed.emplace_back("nodes/" + p.filename().generic_string(), std::move(bytes));
    }
  }

  // Path and content, each followed by a NUL, so that moving bytes between files or renaming
  // a file changes the hash.
  std::sort(hashed.begin(), hashed.end());
  std::uint64_t h = fnv1a64("");
  for (const auto& [path, bytes] : hashed) {
    h = fnv1a64(path, h);
    h = fnv1a64(std::string_view("\0", 1), h);
    h = fnv1a64(bytes, h);
    h = fnv1a64(std::string_view("\0", 1), h);
  }
  c.fingerprint_ = hex64(h);
  c.index_and_check();
  return c;
}

Catalog Catalog::from_specs(std::vector<GpuSpec> gpus, std::vector<NodeSpec> nodes) {
  Catalog c;
  std::vector<std::string> dumps;
  // Validating through the file format keeps one set of rules for files and memory.
  for (auto& g : gpus) {
    std::string label = g.file.empty() ? "<memory:" + g.name + ">" : g.file;
    Json j = gpu_spec_to_json(g);
    GpuSpec parsed = parse_gpu_spec(j, label);
    parsed.file = label;
    dumps.push_back(parsed.name + '\0' + j.dump());
    c.gpus_.push_back(std::move(parsed));
  }
  for (auto& n : nodes) {
    std::string label = n.file.empty() ? "<memory:" + n.name + ">" : n.file;
    Json j = node_spec_to_json(n);
    NodeSpec parsed = parse_node_spec(j, label);
    parsed.file = label;
    dumps.push_back("nodes/" + parsed.name + '\0' + j.dump());
    c.nodes_.push_back(std::move(parsed));
  }
  if (c.gpus_.empty()) throw InputError("<memory>", "", "a catalogue needs at least one GPU");
  std::sort(dumps.begin(), dumps.end());
  std::uint64_t h = fnv1a64("");
  for (const auto& d : dumps) h = fnv1a64(std::string_view(d.data(), d.size() + 1), h);
  c.fingerprint_ = hex64(h);
  c.index_and_check();
  return c;
}

void Catalog::index_and_check() {
  std::sort(gpus_.begin(), gpus_.end(),
            [](const GpuSpec& a, const GpuSpec& b) { return a.name < b.name; });
  std::sort(nodes_.begin(), nodes_.end(),
            [](const NodeSpec& a, const NodeSpec& b) { return a.name < b.name; });

  gpu_index_.clear();
  node_index_.clear();
  for (std::size_t i = 0; i < gpus_.size(); ++i) {
    const GpuSpec& g = gpus_[i];
    auto claim = [&](const std::string& key, const std::string& path) {
      auto [it, inserted] = gpu_index_.emplace(normalize_hardware_name(key), i);
      if (!inserted && it->second != i)
        throw InputError(g.file, path, "\"" + key + "\" is already the name or an alias of " +
                                           gpus_[it->second].name + " (" +
                                           gpus_[it->second].file + ")");
    };
    claim(g.name, "name");
    for (std::size_t a = 0; a < g.aliases.size(); ++a)
      claim(g.aliases[a], index_path("aliases", a));
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    NodeSpec& n = nodes_[i];
    auto [it, inserted] = node_index_.emplace(normalize_hardware_name(n.name), i);
    if (!inserted)
      throw InputError(n.file, "name", "node type \"" + n.name + "\" is defined twice (also in " +
                                           nodes_[it->second].file + ")");
    const GpuSpec* g = find_gpu(n.gpu);
    if (!g) throw InputError(n.file, "gpu", unknown_gpu_message(n.gpu));
    n.gpu = g->name;  // aliases resolve to the catalogue key
    // A scale-up domain either fits in a node (several per node) or spans whole nodes.
    int d = g->scale_up.domain_size, p = n.gpus_per_node;
    if (d % p != 0 && p % d != 0)
      throw InputError(n.file, "gpus_per_node",
                       std::to_string(p) + " GPUs per node and a scale-up domain of " +
                           std::to_string(d) + " (" + g->name +
                           ") do not divide one another");
  }
  for (const GpuSpec& g : gpus_) {
    const NodeSpec* n = find_node(g.default_node);
    if (!n) {
      std::vector<std::string> known;
      for (const auto& x : nodes_) known.push_back(x.name);
      throw InputError(g.file, "default_node",
                       "unknown node type \"" + g.default_node + "\"; known: " +
                           (known.empty() ? std::string("none") : join_names(known)));
    }
    if (n->gpu != g.name)
      throw InputError(g.file, "default_node",
                       "node type " + n->name + " holds " + n->gpu + ", not " + g.name);
  }
}

const GpuSpec* Catalog::find_gpu(std::string_view name_or_alias) const {
  auto it = gpu_index_.find(normalize_hardware_name(name_or_alias));
  return it == gpu_index_.end() ? nullptr : &gpus_[it->second];
}

const NodeSpec* Catalog::find_node(std::string_view name) const {
  auto it = node_index_.find(normalize_hardware_name(name));
  return it == node_index_.end() ? nullptr : &nodes_[it->second];
}

std::string Catalog::unknown_gpu_message(std::string_view name) const {
  std::string msg = "unknown GPU \"" + std::string(name) + "\"";
  const std::string key = normalize_hardware_name(name);
  // The closest name or alias; ties go to the longer common prefix ("h80" -> "h800", not "h20").
  std::size_t best_d = 3, best_prefix = 0;  // suggest only close matches
  std::string best;
  for (const auto& [k, i] : gpu_index_) {
    std::size_t d = edit_distance(k, key);
    std::size_t prefix = 0;
    while (prefix < k.size() && prefix < key.size() && k[prefix] == key[prefix]) ++prefix;
    if (d < best_d || (d == best_d && !best.empty() && prefix > best_prefix)) {
      best_d = d;
      best_prefix = prefix;
      best = gpus_[i].name;
    }
  }
  if (!best.empty()) msg += " (did you mean \"" + best + "\"?)";
  msg += "; known: " + join_names(gpu_names());
  return msg;
}

std::vector<std::string> Catalog::gpu_names() const {
  std::vector<std::string> out;
  out.reserve(gpus_.size());
  for (const auto& g : gpus_) out.push_back(g.name);
  return out;
}

}  // namespace clustercost
