#pragma once
/// The report: everything one scenario run produced, and its writers (JSON per DESIGN.md
/// "Report", text summary, CSV row, self-contained HTML).

#include <string>
#include <vector>

#include "models/accounting.hpp"
#include "sim/campaign/run_result.hpp"
#include "sim/cost/cost_result.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/step/step_result.hpp"

namespace clustercost {

struct Report {
  Scenario scenario;
  ParameterCounts params;
  StepResult step;
  RunResult run;
  CostResult cost;
  std::vector<std::string> warnings;  // also printed on stderr by the CLI
  std::string version;
};

/// scenario → step (at the scenario's fidelity) → run → cost. "des" falls back to the
/// analytical model (with a warning) until the discrete-event step simulator is built in.
Report run_scenario(const Scenario& s);

/// The report JSON of DESIGN.md (schema clustercost.report/1), every key present.
Json report_to_json(const Report& r);
/// A readable summary for the terminal.
std::string report_to_text(const Report& r);
/// CSV: a header line and one row (flat, documented columns; see csv_columns()).
std::string report_to_csv(const std::vector<Report>& reports);
std::vector<std::string> csv_columns();
/// One self-contained HTML page (no network), inline SVG breakdown chart.
std::string report_to_html(const Report& r);

/// Rounds to 6 significant digits so JSON documents are readable and stable across platforms'
/// last-bit differences in libm (0 and non-finite values pass through).
double round_significant6(double v);
/// Escapes &, <, > and " for HTML text and attribute values.
std::string html_escape(const std::string& s);
/// The library version string.
std::string clustercost_version();

}  // namespace clustercost
