// clustercost list gpus|nodes|models|scenarios [--format text|json]
#include <algorithm>
#include <memory>
#include <sstream>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "hardware/spec/catalog.hpp"
#include "hardware/spec/catalog_table.hpp"
#include "models/accounting.hpp"
#include "sim/common/json_reader.hpp"

namespace clustercost::cli {

namespace {
struct ListOptions {
  std::string what;
  std::string format = "text";
};

std::vector<std::filesystem::path> json_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::exists(dir)) return out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".json") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

Action add_list_command(CLI::App& app) {
  auto opt = std::make_shared<ListOptions>();
  auto* sub = app.add_subcommand("list", "List the GPU catalogue, node types, model presets or shipped scenarios");
  sub->add_option("what", opt->what, "gpus, nodes, models or scenarios")
      ->required()
      ->check(CLI::IsMember({"gpus", "nodes", "models", "scenarios"}));
  sub->add_option("--format", opt->format, "Output format")->check(CLI::IsMember({"text", "json"}));
  return [opt]() {
    DataDirs dirs = data_dirs();
    const bool json = opt->format == "json";
    if (opt->what == "gpus" || opt->what == "nodes") {
      Catalog c = Catalog::load(dirs.catalog());
      if (opt->what == "gpus") emit("", json ? gpu_table_json(c).dump(2) + "\n" : gpu_table_text(c));
      else emit("", json ? node_table_json(c).dump(2) + "\n" : node_table_text(c));
      return 0;
    }
    if (opt->what == "models") {
      Json out = Json::array();
      std::ostringstream os;
      char line[256];
      std::snprintf(line, sizeof line, "%-18s %7s %9s %9s %6s %6s %-5s %s\n", "model", "layers",
                    "params", "active", "hidden", "heads", "attn", "moe");
      os << line;
      // By family, then by size: megatron-1.7b, -3.6b, ..., -145.6b, -1t (file-name order
      // would put 145.6b before 18.4b and 1t after 1.7b).
      struct Preset {
        std::string family;
        ModelSpec model;
        ParameterCounts params;
      };
      std::vector<Preset> presets;
      for (const auto& f : json_files(dirs.presets())) {
        Preset p;
        const std::string stem = f.stem().string();
        p.family = stem.substr(0, stem.find('-'));
        p.model = load_model_preset(dirs.presets(), stem, "list models", "");
        p.params = count_parameters(p.model);
        presets.push_back(std::move(p));
      }
      std::stable_sort(presets.begin(), presets.end(), [](const Preset& a, const Preset& b) {
        if (a.family != b.family) return a.family < b.family;
        return a.params.total < b.params.total;
      });
      for (const auto& preset : presets) {
        const ModelSpec& m = preset.model;
        const ParameterCounts& pc = preset.params;
        const char* attn = m.attention == AttentionKind::Mla ? "mla"
                           : m.attention == AttentionKind::Gqa ? "gqa" : "mha";
        std::string moe = m.moe ? std::to_string(m.moe->routed_experts) + "e top-" +
                                      std::to_string(m.moe->top_k) +
                                      (m.moe->shared_experts ? " +" + std::to_string(m.moe->shared_experts) + " shared" : "")
                                : "-";
        std::snprintf(line, sizeof line, "%-18s %7d %8.1fB %8.1fB %6d %6d %-5s %s\n",
                      m.name.c_str(), m.layers, pc.total / 1e9, pc.active / 1e9, m.hidden,
                      m.heads, attn, moe.c_str());
        os << line;
        out.push_back({{"name", m.name}, {"layers", m.layers}, {"params_total", pc.total},
                       {"params_active", pc.active}, {"hidden", m.hidden}, {"heads", m.heads},
                       {"attention", attn}, {"moe", moe}});
      }
      emit("", json ? out.dump(2) + "\n" : os.str());
      return 0;
    }
    Json out = Json::array();
    std::ostringstream os;
    for (const auto& f : json_files(dirs.scenarios())) {
      Json j = load_json_file(f);
      std::string name = j.value("name", f.stem().string());
      std::string desc = j.value("description", "");
      os << f.filename().string() << "\n    " << desc << "\n";
      out.push_back({{"file", f.filename().string()}, {"name", name}, {"description", desc}});
    }
    emit("", json ? out.dump(2) + "\n" : os.str());
    return 0;
  };
}

}  // namespace clustercost::cli
