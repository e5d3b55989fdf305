// clustercost calibrate MEASUREMENTS.json -o profile.json
#include <memory>

#include "cli/calibration_commands.hpp"
#include "cli/cli_common.hpp"
#include "hardware/efficiency/calibration.hpp"
#include "hardware/spec/catalog.hpp"

namespace clustercost::cli {

namespace {
struct CalibrateOptions {
  std::string measurements;
  std::string output;
};
}  // namespace

Action add_calibrate_command(CLI::App& app) {
  auto opt = std::make_shared<CalibrateOptions>();
  auto* sub = app.add_subcommand("calibrate", "Fit an efficiency profile from probe measurements");
  sub->add_option("measurements", opt->measurements, "Measurements file (clustercost probe)")
      ->required();
  sub->add_option("-o,--output", opt->output, "Profile file to write (default stdout)");
  return [opt]() {
    return guarded([&]() {
      const Measurements m = load_measurements(opt->measurements);
      const Catalog catalog = Catalog::load(data_dirs().catalog());
      const GpuSpec spec = device_spec_from(m, &catalog);
      const EfficiencyProfile p = calibrate(m, spec, opt->measurements);
      emit(opt->output, efficiency_profile_to_json(p).dump(2) + "\n");
      return 0;
    });
  };
}

}  // namespace clustercost::cli
