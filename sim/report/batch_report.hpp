#pragma once
/// Reports over many scenarios, for readers who will not run the tool: a CSV table and a
/// self-contained HTML page (inline SVG charts, no network) built from report JSON, that is from
/// `clustercost run --format json` or from a sweep's results file (JSON Lines, sim/sweep).
///
/// CSV columns (batch_csv_columns()): `id` (the sweep point id; empty for a single report), then
/// exactly the columns of csv_columns() in report.hpp with the same formatting as
/// report_to_csv(), read from the report JSON (so that part of a row equals `run --format csv`'s
/// row), then batch_extra_columns() (`gpu_hour_usd`, the rental price per GPU-hour the cost used,
/// and `memory_*_gib`, the fullest GPU's memory by kind), then `overrides` (the point's overrides
/// as compact JSON) and `error` (the message of a point that failed; its other columns are
/// empty).

#include <filesystem>
#include <string>
#include <vector>

#include "sim/common/json_reader.hpp"

namespace clustercost {

/// One scenario of a batch: a report, or the error that replaced it.
struct BatchEntry {
  std::string id;
  std::string sweep;  ///< the sweep's name (results lines carry it); empty for a single report
  Json overrides = Json::object();
  Json report;  ///< report_to_json document; null for an error
  Json error;   ///< {"message", "file", "path"}; null for a report
};

/// Reads RESULTS: one report JSON document, or a results file (one JSON object per line, with
/// "id" and "report" or "error"); a torn last line (no newline) is skipped. Errors: InputError.
std::vector<BatchEntry> load_batch(const std::filesystem::path& file);
/// The same from text; `label` names the source in errors.
std::vector<BatchEntry> parse_batch(const std::string& text, const std::string& label);

/// The columns after csv_columns(): price and memory breakdown.
std::vector<std::string> batch_extra_columns();
/// "id", csv_columns()..., batch_extra_columns()..., "overrides", "error".
std::vector<std::string> batch_csv_columns();
/// A report's title: the sweep's name (names joined with " + " when the entries come from
/// several sweeps), else the scenario's name for a single report, else `fallback` (such as the
/// results file's name, for results written before lines carried the sweep's name).
std::string batch_title(const std::vector<BatchEntry>& entries, const std::string& fallback);
/// The value of csv_columns() column `column` in a report document, formatted as
/// report_to_csv() formats it; empty when the document lacks it.
std::string report_json_csv_value(const Json& report, const std::string& column);
/// A header line and one row per entry.
std::string batch_to_csv(const std::vector<BatchEntry>& entries);
/// One self-contained HTML page: comparison table (with the price per GPU-hour), step-breakdown
/// bars, cost and days against GPU count per GPU type, errors, inputs and provenance.
std::string batch_to_html(const std::vector<BatchEntry>& entries, const std::string& title);

}  // namespace clustercost
