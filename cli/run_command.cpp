// clustercost run SCENARIO [--set PATH=VALUE]... [--replicas N] [--format text|json|csv|html] [-o FILE]
//
// Without --format the output file's extension chooses (x.html → HTML, x.json → JSON, x.csv →
// CSV, x.txt or none → text); --format and an extension that disagree are an error (exit 2,
// checked before the simulation, nothing written).
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/commands.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/report/report.hpp"

namespace clustercost::cli {

namespace {
struct RunOptions {
  std::string scenario;
  std::vector<std::string> sets;
  std::string format;  // empty: from the output file's extension, else text
  std::string output;
  int replicas = -1;  // -1: the scenario's reliability.replicas
};
}  // namespace

Action add_run_command(CLI::App& app) {
  auto opt = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "Estimate step time, run length and cost of a scenario");
  sub->add_option("scenario", opt->scenario, "Scenario JSON file")->required();
  sub->add_option("--set", opt->sets, "Override one value: PATH=VALUE (VALUE parsed as JSON, else a string)");
  sub->add_option("--format", opt->format,
                  "Output format (default: from the -o file's extension, else text)")
      ->check(CLI::IsMember({"text", "json", "csv", "html"}));
  sub->add_option("-o,--output", opt->output, "Output file (written atomically); default stdout");
  sub->add_option("--replicas", opt->replicas,
                  "Monte Carlo replicas of the campaign (seeded by simulation.seed; 0: the "
                  "expected-value model only; default 200, or reliability.replicas)")
      ->check(CLI::Range(0, 1000000));
  return [opt]() {
    const std::string format =
        output_format(opt->format, opt->output, {"text", "json", "csv", "html"}, "text");
    DataDirs dirs = data_dirs();
    Catalog catalog = Catalog::load(dirs.catalog());
    std::vector<std::string> sets = opt->sets;
    if (opt->replicas >= 0) sets.push_back("reliability.replicas=" + std::to_string(opt->replicas));
    Scenario s = load_scenario(opt->scenario, sets, catalog, dirs);
    note_gpu_aliases(opt->scenario, sets, catalog);
    Report r = run_scenario(s);
    std::string out;
    if (format == "json") out = report_to_json(r).dump(2) + "\n";
    else if (format == "csv") out = report_to_csv({r});
    else if (format == "html") out = report_to_html(r);
    else out = report_to_text(r);
    // Warnings go to stderr, except when the text summary (which ends with them) is itself
    // going to the terminal.
    const bool text_to_stdout = format == "text" && (opt->output.empty() || opt->output == "-");
    if (!text_to_stdout)
      for (const auto& w : r.warnings) std::cerr << "warning: " << w << "\n";
    emit(opt->output, out);
    return 0;
  };
}

}  // namespace clustercost::cli
