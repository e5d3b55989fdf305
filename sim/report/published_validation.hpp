#pragma once
/// `clustercost validate --published`: runs the published training runs the simulator can
/// express (scenarios/published/cases.json, sourced from docs/reference/published-runs.md)
/// and compares prediction with publication. These measure our error; nothing is tuned to them.

#include <filesystem>
#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace clustercost {

class Catalog;

struct PublishedCase {
  std::string id;          // "A2", "B1-1.7B"
  std::string description;
  std::string scenario;    // file under scenarios/
  std::vector<std::string> overrides;
  std::string metric;      // see published_metric_names()
  double published = 0;
  std::string source;
  std::string category;    // metric "profile_ms": which DeepSeek profile category
};

struct ValidationRow {
  PublishedCase c;
  double predicted = 0;
  double error = 0;        // (predicted − published) / published
  std::string failure;     // non-empty when the case could not run (with the reason)
};

std::vector<std::string> published_metric_names();
/// Kernel categories of DeepSeek's H800 profile of one DualPipe chunk pair
/// (docs/reference/deepseek-v3-train-profile.md), "total" for all compute kernels.
std::vector<std::string> profile_categories();
struct Op;
/// The profile category of one op of our program.
std::string profile_category_of(const Op& op);
/// Our time (ms) for a profile category over one chunk pair (4 MoE layers, all passes).
double profile_category_ms(const Scenario& s, const std::string& category);
std::vector<PublishedCase> load_published_cases(const std::filesystem::path& file);
std::vector<ValidationRow> validate_published(const std::vector<PublishedCase>& cases,
                                              const Catalog& catalog, const DataDirs& dirs);
/// The table as printed by the CLI, with the mean absolute percentage error per metric.
std::string validation_table_text(const std::vector<ValidationRow>& rows);
Json validation_to_json(const std::vector<ValidationRow>& rows);

}  // namespace clustercost
