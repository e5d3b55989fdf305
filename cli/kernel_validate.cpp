// clustercost validate --measurements FILE [--profile FILE]: per-kernel predictions of the
// default and the calibrated profile against what the probe measured.
#include <cstdio>
#include <map>
#include <optional>
#include <filesystem>
#include <sstream>

#include "cli/calibration_commands.hpp"
#include "cli/cli_common.hpp"
#include "hardware/efficiency/calibration.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/report/report.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost::cli {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

/// Per layer kind: the measured and predicted times of its forward and backward ops at the
/// measured (scaled) sizes, each op counted as often as the layer runs it.
struct LayerTotals {
  double fwd_measured = 0, fwd_default = 0, fwd_calibrated = 0;
  double bwd_measured = 0, bwd_default = 0, bwd_calibrated = 0;
};
std::map<std::string, LayerTotals> layer_totals(const std::vector<KernelPrediction>& rows) {
  std::map<std::string, LayerTotals> out;
  for (const auto& r : rows) {
    if (!r.op) continue;
    const bool fwd = r.op->pass == "forward";
    std::map<std::string, int> uses = r.op->per_layer;
    if (uses.empty()) uses[r.op->layer] = r.op->occurrences;
    for (const auto& [layer, n] : uses) {
      LayerTotals& t = out[layer];
      (fwd ? t.fwd_measured : t.bwd_measured) += n * r.measured.value;
      (fwd ? t.fwd_default : t.bwd_default) += n * r.predicted_default.value;
      (fwd ? t.fwd_calibrated : t.bwd_calibrated) += n * r.predicted_calibrated.value;
    }
  }
  return out;
}

/// The scenario's step predicted with its own profile and with the calibrated one, at the
/// scenario's fidelity. The step only: the campaign (its horizon, failures) is not run, so a
/// profile measured on a slow device still gives its step.
struct StepPrediction {
  std::string scenario, fidelity;
  double default_s = 0, calibrated_s = 0;
  std::string note;
};
std::optional<StepPrediction> repredict_step(const Measurements& m, const EfficiencyProfile& cal,
                                             const DataDirs& dirs, const Catalog& catalog) {
  if (!m.scenario || m.scenario->file.empty()) return std::nullopt;
  std::filesystem::path file = m.scenario->file;
  if (!std::filesystem::exists(file)) {
    // Relative to the measurements file's folder, then to the data folder.
    const auto near = std::filesystem::path(m.file).parent_path() / file;
    if (std::filesystem::exists(near)) file = near;
    else if (std::filesystem::exists(dirs.root / file)) file = dirs.root / file;
    else
      throw InputError(m.file, "scenario.file",
                       "the scenario " + m.scenario->file + " that was probed is not found");
  }
  Scenario s = load_scenario(file, {"reliability.replicas=0"}, catalog, dirs);
  StepPrediction out;
  out.scenario = file.string();
  out.fidelity = s.simulation.fidelity;
  out.default_s = simulate_step(s).step_time.value;
  EfficiencyProfile p = cal;
  // A profile fitted on another device keeps the scenario's network efficiencies unless the
  // probe measured collectives (fit.network).
  if (!cal.fit.is_object() || !cal.fit.contains("network")) p.network = s.profile.network;
  s.profile = p;
  out.calibrated_s = simulate_step(s).step_time.value;
  if (m.device.kind != "cuda" || m.scenario->gpu.empty() ||
      device_spec_from(m, &catalog).name != s.gpu.name)
    out.note = "the calibrated profile was measured on " + m.device.name + " (" + m.device.kind +
               "), the scenario runs on " + s.gpu.name +
               ": its efficiencies (fractions of peak) are applied to the " + s.gpu.name +
               "'s peaks";
  return out;
}

}  // namespace

int validate_measurements(const std::string& measurements, const std::string& profile,
                          const std::string& format, const std::string& output) {
  return guarded([&]() {
    if (format != "text" && format != "json")
      throw InputError("--format", "", "expected text or json, got \"" + format + "\"");
    const Measurements m = load_measurements(measurements);
    const DataDirs dirs = data_dirs();
    const Catalog catalog = Catalog::load(dirs.catalog());
    const GpuSpec spec = device_spec_from(m, &catalog);
    // Default: the shipped profile of the catalogue GPU; CPUs and unknown GPUs have none, so
    // the neutral struct defaults stand in (and the output says so).
    EfficiencyProfile def = neutral_profile(spec);
    if (m.device.kind == "cuda" &&
        std::filesystem::exists(dirs.profiles() / (spec.name + ".json")))
      def = load_default_profile(dirs.profiles(), spec);
    const EfficiencyProfile cal = profile.empty() ? calibrate(m, spec, measurements)
                                                  : load_efficiency_profile(profile);
    const auto rows = predict_kernels(m, spec, def, cal);
    const KernelMape k = kernel_mape(rows);
    const auto by_kind = kernel_mape_by_kind(rows);
    const auto totals = layer_totals(rows);
    const auto step = repredict_step(m, cal, dirs, catalog);
    if (format == "json") {
      Json j;
      j["measurements"] = measurements;
      j["device"] = m.device.name;
      j["default_profile"] = def.name;
      j["calibrated_profile"] = profile.empty() ? "fitted on the fly from the measurements" : profile;
      Json arr = Json::array();
      for (const auto& r : rows) {
        Json row = {{"name", r.name}, {"kind", r.kind}, {"dtype", r.dtype},
                    {"measured_s", r.measured.value},
                    {"predicted_default_s", r.predicted_default.value},
                    {"error_default", r.error_default},
                    {"predicted_calibrated_s", r.predicted_calibrated.value},
                    {"error_calibrated", r.error_calibrated}};
        if (r.op) {
          row["layer"] = r.op->layer;
          row["pass"] = r.op->pass;
          row["occurrences"] = r.op->occurrences;
          row["scale"] = r.op->scale;
          if (!r.op->role.empty() && (r.kind == "gemm" || r.kind == "grouped_gemm")) row["role"] = r.op->role;
          if (!r.op->note.empty()) row["note"] = r.op->note;
        }
        arr.push_back(row);
      }
      j["kernels"] = arr;
      Json layers = Json::object();
      for (const auto& [layer, t] : totals)
        layers[layer] = {{"forward_measured_s", t.fwd_measured},
                         {"forward_default_s", t.fwd_default},
                         {"forward_calibrated_s", t.fwd_calibrated},
                         {"backward_measured_s", t.bwd_measured},
                         {"backward_default_s", t.bwd_default},
                         {"backward_calibrated_s", t.bwd_calibrated}};
      if (!totals.empty()) j["layers"] = layers;
      if (step)
        j["step"] = {{"scenario", step->scenario}, {"fidelity", step->fidelity}, {"default_s", step->default_s},
                     {"calibrated_s", step->calibrated_s}, {"note", step->note}};
      j["skipped"] = m.skipped;
      j["mape_default"] = k.default_profile;
      j["mape_calibrated"] = k.calibrated;
      Json kinds = Json::object();
      for (const auto& [kind, km] : by_kind)
        kinds[kind] = {{"kernels", km.kernels}, {"mape_default", km.default_profile},
                       {"mape_calibrated", km.calibrated}};
      j["mape_by_kind"] = kinds;
      emit(output, j.dump(2) + "\n");
      return 0;
    }
    std::ostringstream o;
    o << "Kernels of " << measurements << " (" << m.device.name << ")\n"
      << "default:    " << def.name << "\n"
      << "calibrated: " << (profile.empty() ? "fitted on the fly from the same file" : profile)
      << "\n\n";
    char line[256];
    std::snprintf(line, sizeof line, "%-14s %-34s %-11s %-5s %12s %12s %8s %12s %8s\n", "kind",
                  "name", "pass", "dtype", "measured_us", "default_us", "err", "calib_us", "err");
    o << line;
    for (const auto& r : rows) {
      std::snprintf(line, sizeof line,
                    "%-14s %-34s %-11s %-5s %12.2f %12.2f %7.1f%% %12.2f %7.1f%%\n",
                    r.kind.c_str(), r.name.c_str(), r.op ? r.op->pass.c_str() : "-",
                    r.dtype.c_str(), r.measured.value * 1e6, r.predicted_default.value * 1e6,
                    r.error_default * 100, r.predicted_calibrated.value * 1e6,
                    r.error_calibrated * 100);
      o << line;
    }
    bool any_scaled = false;
    for (const auto& r : rows) any_scaled = any_scaled || (r.op && r.op->scale < 1.0);
    if (any_scaled)
      o << "(ops marked scaled in the measurements ran at a reduced size; times are at that size)\n";
    if (!totals.empty()) {
      o << "\nLayer totals at the measured sizes (each op times its uses in the layer)\n";
      std::snprintf(line, sizeof line, "%-10s %-9s %12s %12s %8s %12s %8s\n", "layer", "pass",
                    "measured_us", "default_us", "err", "calib_us", "err");
      o << line;
      const auto err = [](double p, double mm) { return mm > 0 ? (p - mm) / mm * 100 : 0.0; };
      for (const auto& [layer, t] : totals) {
        for (int b = 0; b < 2; ++b) {
          const double mm = b ? t.bwd_measured : t.fwd_measured;
          const double d = b ? t.bwd_default : t.fwd_default;
          const double c = b ? t.bwd_calibrated : t.fwd_calibrated;
          if (mm <= 0) continue;
          std::snprintf(line, sizeof line, "%-10s %-9s %12.2f %12.2f %7.1f%% %12.2f %7.1f%%\n",
                        layer.c_str(), b ? "backward" : "forward", mm * 1e6, d * 1e6, err(d, mm),
                        c * 1e6, err(c, mm));
          o << line;
        }
      }
    }
    if (!m.skipped.empty()) {
      o << "\nNot measured:\n";
      for (const auto& sk : m.skipped) o << "  " << sk << "\n";
    }
    o << "\n";
    std::snprintf(line, sizeof line, "%-14s %8s %12s %12s\n", "MAPE by kind", "kernels", "default",
                  "calibrated");
    o << line;
    for (const auto& [kind, km] : by_kind) {
      std::snprintf(line, sizeof line, "%-14s %8d %11.1f%% %11.1f%%\n", kind.c_str(), km.kernels,
                    km.default_profile * 100, km.calibrated * 100);
      o << line;
    }
    o << "\nMAPE over " << k.kernels << " kernels: default " << fmt("%.1f%%", k.default_profile * 100)
      << ", calibrated " << fmt("%.1f%%", k.calibrated * 100) << "\n";
    if (step) {
      o << "\nStep of " << step->scenario << " (" << step->fidelity << ")\n"
        << "  default profile:    " << fmt("%.4f s", step->default_s) << "\n"
        << "  calibrated profile: " << fmt("%.4f s", step->calibrated_s) << "\n";
      if (!step->note.empty()) o << "  note: " << step->note << "\n";
    }
    emit(output, o.str());
    return 0;
  });
}

}  // namespace clustercost::cli
