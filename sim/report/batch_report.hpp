#pragma once
/// Reports over many scenarios, for readers who will not run the tool: a CSV table and a
/// self-contained HTML page (inline SVG charts, no network) built from report JSON, that is from
/// `clustercost run --format json` or from a sweep's results file (JSON Lines, sim/sweep).
///
/// CSV columns (batch_csv_columns()): `id` (the sweep point id; empty for a single report), then
/// exactly the columns of csv_columns() in report.hpp with the same formatting as
/// report_to_csv(), read from the report JSON (so a row equals `run --format csv`'s row), then
/// `overrides` (the point's overrides as compact JSON) and `error` (the message of a point that
/// failed; its other columns are empty).

#include <filesystem>
#include <string>
#include <vector>

#include "sim/common/json_reader.hpp"

namespace clustercost {

/// One scenario of a batch: a report, or the error that replaced it.
struct BatchEntry {
  std::string id;
  Json overrides = Json::object();
  Json report;  ///< report_to_json document; null for an error
  Json error;   ///< {"message", "file", "path"}; null for a report
};

/// Reads RESULTS: one report JSON document, or a results file (one JSON object per line, with
/// "id" and "report" or "error"); a torn last line (no newline) is skipped. Errors: InputError.
std::vector<BatchEntry> load_batch(const std::filesystem::path& file);
/// The same from text; `label` names the source in errors.
std::vector<BatchEntry> parse_batch(const std::string& text, const std::string& label);

/// "id", csv_columns()..., "overrides", "error".
std::vector<std::string> batch_csv_columns();
/// The value of csv_columns() column `column` in a report document, formatted as
/// report_to_csv() formats it; empty when the document lacks it.
std::string report_json_csv_value(const Json& report, const std::string& column);
/// A header line and one row per entry.
std::string batch_to_csv(const std::vector<BatchEntry>& entries);
/// One self-contained HTML page: comparison table, step-breakdown bars, cost and days against
/// GPU count per GPU type, errors, inputs and provenance.
std::string batch_to_html(const std::vector<BatchEntry>& entries, const std::string& title);

}  // namespace clustercost
