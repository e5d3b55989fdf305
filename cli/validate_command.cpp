// clustercost validate --published [--format text|json]
#include <memory>

#include "cli/calibration_commands.hpp"
#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/report/published_validation.hpp"

namespace clustercost::cli {

namespace {
struct ValidateOptions {
  bool published = false;
  std::string measurements;
  std::string profile;
  std::string cases;
  std::string format = "text";
  std::string output;
};
}  // namespace

Action add_validate_command(CLI::App& app) {
  auto opt = std::make_shared<ValidateOptions>();
  auto* sub = app.add_subcommand("validate", "Compare predictions with published runs or measurements");
  sub->add_flag("--published", opt->published, "Run the published training runs and print the error");
  sub->add_option("--measurements", opt->measurements,
                  "Probe measurements: predict each kernel with the default and a calibrated profile");
  sub->add_option("--profile", opt->profile,
                  "Calibrated profile for --measurements (default: fitted from the same file)");
  sub->add_option("--cases", opt->cases, "Cases file (default scenarios/published/cases.json)");
  sub->add_option("--format", opt->format, "Output format")->check(CLI::IsMember({"text", "json"}));
  sub->add_option("-o,--output", opt->output, "Output file");
  return [opt]() {
    if (!opt->measurements.empty())
      return validate_measurements(opt->measurements, opt->profile, opt->format, opt->output);
    if (!opt->published) {
      std::cerr << "error: validate: give --published, or --measurements FILE from `clustercost probe`\n";
      return 2;
    }
    DataDirs dirs = data_dirs();
    Catalog catalog = Catalog::load(dirs.catalog());
    auto file = opt->cases.empty() ? dirs.scenarios() / "published" / "cases.json"
                                   : std::filesystem::path(opt->cases);
    auto rows = validate_published(load_published_cases(file), catalog, dirs);
    emit(opt->output, opt->format == "json" ? validation_to_json(rows).dump(2) + "\n"
                                            : validation_table_text(rows));
    return 0;
  };
}

}  // namespace clustercost::cli
