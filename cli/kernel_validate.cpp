// clustercost validate --measurements FILE [--profile FILE]: per-kernel predictions of the
// default and the calibrated profile against what the probe measured.
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/calibration_commands.hpp"
#include "cli/cli_common.hpp"
#include "hardware/efficiency/calibration.hpp"
#include "hardware/spec/catalog.hpp"

namespace clustercost::cli {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
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
    if (format == "json") {
      Json j;
      j["measurements"] = measurements;
      j["device"] = m.device.name;
      j["default_profile"] = def.name;
      j["calibrated_profile"] = profile.empty() ? "fitted on the fly from the measurements" : profile;
      Json arr = Json::array();
      for (const auto& r : rows)
        arr.push_back({{"name", r.name}, {"kind", r.kind}, {"dtype", r.dtype},
                       {"measured_s", r.measured.value},
                       {"predicted_default_s", r.predicted_default.value},
                       {"error_default", r.error_default},
                       {"predicted_calibrated_s", r.predicted_calibrated.value},
                       {"error_calibrated", r.error_calibrated}});
      j["kernels"] = arr;
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
    std::snprintf(line, sizeof line, "%-14s %-28s %-5s %12s %12s %8s %12s %8s\n", "kind", "name",
                  "dtype", "measured_us", "default_us", "err", "calib_us", "err");
    o << line;
    for (const auto& r : rows) {
      std::snprintf(line, sizeof line, "%-14s %-28s %-5s %12.2f %12.2f %7.1f%% %12.2f %7.1f%%\n",
                    r.kind.c_str(), r.name.c_str(), r.dtype.c_str(), r.measured.value * 1e6,
                    r.predicted_default.value * 1e6, r.error_default * 100,
                    r.predicted_calibrated.value * 1e6, r.error_calibrated * 100);
      o << line;
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
    emit(output, o.str());
    return 0;
  });
}

}  // namespace clustercost::cli
