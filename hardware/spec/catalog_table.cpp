#include "hardware/spec/catalog_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace clustercost {

namespace {

enum class Align { kLeft, kRight };

struct Column {
  std::string header;
  Align align;
};

// Whole numbers without decimals (989, 25000), others with up to 4 significant decimals
// trimmed (3.35, 2.039, 0.8).
std::string format_number(double v) {
  char buf[64];
  if (std::fabs(v) < 1e15 && v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  std::snprintf(buf, sizeof buf, "%.4f", v);
  std::string s = buf;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string cell(const Figure& f, double scale = 1.0) {
  if (!f.value) return f.estimated_or_disputed() ? "-*" : "-";
  std::string s = format_number(*f.value * scale);
  if (f.estimated_or_disputed()) s += '*';
  return s;
}

// Prices per hour in dollars and cents: "2*" reads as "twice", "2.00*" as a price.
std::string money_cell(const Figure& f) {
  if (!f.value) return f.estimated_or_disputed() ? "-*" : "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", *f.value);
  std::string s = buf;
  if (f.estimated_or_disputed()) s += '*';
  return s;
}

// Every other part whose name or one of whose aliases starts with `key` (normalized).
std::vector<std::string> other_parts_named(const Catalog& catalog, const GpuSpec& chosen,
                                           const std::string& key) {
  std::vector<std::string> out;
  for (const auto& g : catalog.gpus()) {
    if (&g == &chosen) continue;
    bool match = normalize_hardware_name(g.name).rfind(key, 0) == 0;
    for (const auto& a : g.aliases) match = match || normalize_hardware_name(a).rfind(key, 0) == 0;
    if (match) out.push_back(g.name);
  }
  return out;
}

std::string render(const std::vector<Column>& cols, const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(cols.size());
  for (std::size_t c = 0; c < cols.size(); ++c) {
    width[c] = cols[c].header.size();
    for (const auto& r : rows) width[c] = std::max(width[c], r[c].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t c = 0; c < cols.size(); ++c) {
      if (c > 0) s += "  ";
      std::string pad(width[c] - cells[c].size(), ' ');
      s += cols[c].align == Align::kLeft ? cells[c] + pad : pad + cells[c];
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::vector<std::string> headers;
  for (const auto& c : cols) headers.push_back(c.header);
  std::string out = line(headers);
  std::vector<std::string> rule;
  for (std::size_t c = 0; c < cols.size(); ++c) rule.push_back(std::string(width[c], '-'));
  out += line(rule);
  for (const auto& r : rows) out += line(r);
  return out;
}

const char* kLegend =
    "* estimated, disputed or unverified (flag E, D or U); - unsupported or not published.\n"
    "Flags: V vendor, P paper, S secondary, E estimate, D disputed, U unverified; the JSON listing\n"
    "gives every figure with its source, flag and note.\n";

std::string file_name(const std::string& path) {
  return std::filesystem::path(path).filename().generic_string();
}

}  // namespace

std::string gpu_table_text(const Catalog& catalog) {
  const std::vector<Column> cols = {
      {"name", Align::kLeft},         {"vendor", Align::kLeft},
      {"BF16 TF", Align::kRight},     {"FP8 TF", Align::kRight},
      {"HBM GB", Align::kRight},      {"HBM TB/s", Align::kRight},
      {"scale-up GB/s", Align::kRight}, {"NIC Gb/s", Align::kRight},
      {"TDP W", Align::kRight},       {"$/GPU-h", Align::kRight},
      {"purchase $", Align::kRight}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& g : catalog.gpus()) {
    rows.push_back({g.name, g.vendor, cell(g.bf16_tflops), cell(g.fp8_tflops), cell(g.hbm_gb),
                    cell(g.hbm_tbps), cell(g.scale_up.gbs_uni_per_gpu), cell(g.nic_gbps),
                    cell(g.tdp_w), money_cell(g.price.rental_usd_per_gpu_hour),
                    cell(g.price.purchase_usd)});
  }
  std::string aliases;
  for (const auto& g : catalog.gpus())
    for (const auto& a : g.aliases)
      if (auto note = gpu_alias_note(catalog, a)) aliases += "  " + *note + "\n";
  return render(cols, rows) +
         "Dense peaks (no sparsity); scale-up is per direction per GPU (NVLink marketing counts "
         "both); $/GPU-h is the default rental price (a scenario's economics.gpu_hour_usd "
         "overrides it).\n" +
         kLegend + (aliases.empty() ? "" : "Short names that stand for one of several parts:\n" + aliases);
}

std::optional<std::string> gpu_alias_note(const Catalog& catalog, std::string_view given) {
  const GpuSpec* g = catalog.find_gpu(given);
  if (!g) return std::nullopt;
  const std::string key = normalize_hardware_name(given);
  if (key == normalize_hardware_name(g->name)) return std::nullopt;
  const auto others = other_parts_named(catalog, *g, key);
  if (others.empty()) return std::nullopt;
  std::string names;
  for (std::size_t i = 0; i < others.size(); ++i)
    names += (i == 0 ? "" : i + 1 == others.size() ? " and " : ", ") + others[i];
  return "\"" + std::string(given) + "\" means " + g->name + " (" + names +
         (others.size() == 1 ? " is" : " are") + " also in the catalogue: write the full name to " +
         "choose)";
}

Json gpu_table_json(const Catalog& catalog) {
  Json j = Json::object();
  j["schema"] = "clustercost.gpu-list/1";
  j["catalog"] = catalog.fingerprint();
  Json list = Json::array();
  for (const auto& g : catalog.gpus()) {
    Json e = gpu_spec_to_json(g);
    e["file"] = file_name(g.file);
    list.push_back(std::move(e));
  }
  j["gpus"] = std::move(list);
  return j;
}

std::string node_table_text(const Catalog& catalog) {
  const std::vector<Column> cols = {
      {"name", Align::kLeft},      {"GPU", Align::kLeft},         {"GPUs", Align::kRight},
      {"NICs", Align::kRight},     {"NIC Gb/s", Align::kRight},   {"topology", Align::kLeft},
      {"tiers", Align::kRight},    {"power kW", Align::kRight},   {"server $/GPU", Align::kRight}};
  std::vector<std::vector<std::string>> rows;
  for (const auto& n : catalog.nodes()) {
    rows.push_back({n.name, n.gpu, std::to_string(n.gpus_per_node),
                    std::to_string(n.nics_per_node), cell(n.nic_gbps), n.default_topology,
                    std::to_string(n.default_tiers), cell(n.node_power_w, 1e-3),
                    cell(n.server_share_usd)});
  }
  return render(cols, rows) +
         "server $/GPU: host, chassis and scale-out network share per GPU, for ownership costs.\n" +
         kLegend;
}

Json node_table_json(const Catalog& catalog) {
  Json j = Json::object();
  j["schema"] = "clustercost.node-list/1";
  j["catalog"] = catalog.fingerprint();
  Json list = Json::array();
  for (const auto& n : catalog.nodes()) {
    Json e = node_spec_to_json(n);
    e["file"] = file_name(n.file);
    list.push_back(std::move(e));
  }
  j["nodes"] = std::move(list);
  return j;
}

}  // namespace clustercost
