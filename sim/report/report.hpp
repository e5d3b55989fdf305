#pragma once
/// The report: everything one scenario run produced, and its writers (JSON per DESIGN.md
/// "Report", text summary, CSV row, self-contained HTML).

#include <string>
#include <vector>

#include "models/accounting.hpp"
#include "sim/campaign/run_result.hpp"
#include "sim/cost/cost_result.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/step/step_cache.hpp"
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

/// One step at the scenario's fidelity ("des": the op-level DES; "analytical": the closed form,
/// reusing `cache`'s topology and routing samples where given). The one place that dispatches
/// on `simulation.fidelity`.
StepResult simulate_step(const Scenario& s, StepCache* cache = nullptr);

/// scenario → step (at the scenario's fidelity) → run → cost.
Report run_scenario(const Scenario& s);
/// As above; analytical steps keep their topology and routing samples in `cache` (null: none)
/// for the next calls (sweeps, plan): the report is the same.
Report run_scenario(const Scenario& s, StepCache* cache);
/// As run_scenario, around a step already simulated at `s`'s fidelity (such as the result of a
/// DES run made with task records for a timeline), so that it is not simulated twice. A batch
/// ramp's second step is still simulated here.
Report run_scenario_with_step(const Scenario& s, StepResult step, StepCache* cache = nullptr);

/// The report JSON of DESIGN.md (schema clustercost.report/1), every key present.
Json report_to_json(const Report& r);
/// A readable summary for the terminal.
std::string report_to_text(const Report& r);
/// CSV: a header line and one row (flat, documented columns; see csv_columns()).
std::string report_to_csv(const std::vector<Report>& reports);
std::vector<std::string> csv_columns();
/// One self-contained HTML page (no network, inline SVG charts) a planner can hand on:
/// report_page_html of the report with its GPU's catalogue entry and MoE traffic matrix.
std::string report_to_html(const Report& r);

/// What a report page shows beyond the report JSON: the catalogue entry of its GPU (the
/// assumptions table's sources) and the MoE dispatch matrix (heatmap). Each may be absent
/// (a report read back from JSON has no matrix); the page then says less.
struct ReportPageExtras {
  const GpuSpec* gpu = nullptr;
  const std::vector<double>* moe_traffic_bytes = nullptr;  ///< EP × EP, row-major
  std::string heading;  ///< the page's <h1>; empty: the scenario's name
};
/// The body of one report page, every number read from `report` (a report_to_json document):
/// resolved cluster and layout, the base scenario's description marked as such, summary,
/// step breakdown and memory charts with axes, MoE traffic, run and cost with P10/P50/P90,
/// hardware assumptions with sources, inputs and provenance, notes and warnings.
std::string report_page_html(const Json& report, const ReportPageExtras& extras = {});
/// The discrete-event simulation's results in a report JSON (`step.simulation`), for the HTML
/// and PDF reports: the critical path by op category (most time first, seconds and share of the
/// step), the links the simulated flows crossed (links_by_utilisation order: every link when
/// there are at most kReportLinks, else the kReportLinks hottest and how many more the JSON
/// has) and each simulated GPU's peak memory (every GPU up to kReportGpus, else the largest of
/// each stage). Headed `<h2>heading</h2>`; empty for a report without them (analytical).
inline constexpr std::size_t kReportLinks = 20;
inline constexpr std::size_t kReportGpus = 32;
std::string des_results_html(const Json& report,
                             const std::string& heading = "Discrete-event simulation");
/// The report JSON holds the discrete-event simulation's results (des_results_html is not
/// empty).
bool has_des_results(const Json& report);

/// The DES's links (StepResult::link_use) in the order reports and the GUI list them: highest
/// peak utilisation first, ties by mean utilisation, then bytes (both decreasing), then name,
/// so the first is the hottest link.
std::vector<LinkUse> links_by_utilisation(std::vector<LinkUse> links);

/// The report pages' CSS.
std::string report_html_style();
/// A complete HTML document around `body` with report_html_style().
std::string html_document(const std::string& title, const std::string& body);

/// Rounds to 6 significant digits so JSON documents are readable and stable across platforms'
/// last-bit differences in libm (0 and non-finite values pass through).
double round_significant6(double v);
/// Escapes &, <, > and " for HTML text and attribute values.
std::string html_escape(const std::string& s);
/// The library version string.
std::string clustercost_version();

}  // namespace clustercost
