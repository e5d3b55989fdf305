#include "gui/scenario_document.hpp"

#include <algorithm>
#include <cstdlib>
#include <exception>

#include "sim/common/input_error.hpp"

#ifndef CLUSTERCOST_DEFAULT_DATA_DIR
#define CLUSTERCOST_DEFAULT_DATA_DIR "."
#endif

namespace clustercost {

DataDirs default_data_dirs() {
  return data_dirs_from_environment(CLUSTERCOST_DEFAULT_DATA_DIR);
}

namespace {

bool is_unknown_key(const std::string& message) {
  return message.find("unknown key \"") != std::string::npos;
}

}  // namespace

Json default_scenario_document() {
  // Runs in well under a second at either fidelity and fits in HBM (42.9 of 79.1 GiB).
  return Json::parse(R"({
    "name": "new-scenario",
    "description": "Llama 3 8B on 64 H100-SXM: a starting point to edit.",
    "model": "llama3-8b",
    "cluster": { "gpu": "H100-SXM", "gpus": 64, "gpus_per_node": 8 },
    "parallelism": { "tp": 2, "cp": 1, "pp": 1, "ep": 1, "vpp": 1, "schedule": "1f1b",
                     "micro_batch": 1, "zero": 1, "recompute": "selective" },
    "training": { "seq_len": 8192, "global_batch": 512, "tokens": 1e12, "precision": "bf16" }
  })");
}

namespace {

// Follows a dotted path of object keys; nullptr when any step is missing or not an object.
const Json* find_path(const Json& doc, const std::string& path) {
  const Json* node = &doc;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos
                                                                        : dot - start);
    if (!node->is_object()) return nullptr;
    auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
  return nullptr;
}

Json* find_path(Json& doc, const std::string& path) {
  return const_cast<Json*>(find_path(static_cast<const Json&>(doc), path));
}

}  // namespace

const Json* json_at(const Json& doc, const std::string& path) { return find_path(doc, path); }

std::optional<double> json_number_at(const Json& doc, const std::string& path) {
  const Json* v = find_path(doc, path);
  if (!v || !v->is_number()) return std::nullopt;
  return v->get<double>();
}

std::optional<std::string> json_string_at(const Json& doc, const std::string& path) {
  const Json* v = find_path(doc, path);
  if (!v || !v->is_string()) return std::nullopt;
  return v->get<std::string>();
}

ScenarioDocument::ScenarioDocument(DataDirs dirs)
    : dirs_(std::move(dirs)), catalog_(Catalog::load(dirs_.catalog())) {
  new_document();
}

void ScenarioDocument::new_document() {
  resolved_ = Json();
  set_document(default_scenario_document(), kNewFile);
}

void ScenarioDocument::mark_saved(std::string file) {
  file_ = std::move(file);
  saved_ = doc_;
}

void ScenarioDocument::load_file(const std::filesystem::path& file) {
  Json doc = load_json_file(file);  // throws InputError; the document stays as it was
  set_document(std::move(doc), file.string());
}

void ScenarioDocument::set_document(Json doc, std::string file) {
  doc_ = std::move(doc);
  saved_ = doc_;
  file_ = file.empty() ? std::string(kNewFile) : std::move(file);
  resolved_ = Json();  // a different document: the previous one's values do not apply
  validate();
}

bool ScenarioDocument::set_text(const std::string& path, const std::string& text) {
  Json copy = doc_;
  try {
    apply_override(copy, path + "=" + text);
  } catch (const InputError& e) {
    scenario_.reset();
    error_ = e.what();
    error_path_ = e.json_path();
    return false;
  } catch (const std::exception& e) {
    scenario_.reset();
    error_ = std::string("--set ") + path + ": " + e.what();
    error_path_ = path;
    return false;
  }
  doc_ = std::move(copy);
  return validate();
}

bool ScenarioDocument::set_value(const std::string& path, const Json& value) {
  return set_text(path, value.dump());
}

bool ScenarioDocument::erase(const std::string& path) {
  const auto dot = path.rfind('.');
  Json* parent = &doc_;
  if (dot != std::string::npos) {
    // Only erase inside an existing object; a missing parent means the key is absent already.
    Json* node = &doc_;
    std::size_t start = 0;
    const std::string parent_path = path.substr(0, dot);
    while (node && start <= parent_path.size()) {
      const auto d = parent_path.find('.', start);
      const std::string key = parent_path.substr(start, d == std::string::npos ? std::string::npos
                                                                               : d - start);
      if (!node->is_object() || !node->contains(key)) {
        node = nullptr;
        break;
      }
      node = &(*node)[key];
      if (d == std::string::npos) break;
      start = d + 1;
    }
    parent = node;
  }
  if (parent && parent->is_object())
    parent->erase(dot == std::string::npos ? path : path.substr(dot + 1));
  return validate();
}

Scenario ScenarioDocument::parse(const Json& doc) const {
  return parse_scenario(doc, file_, catalog_, dirs_);
}

bool ScenarioDocument::validate() {
  scenario_.reset();
  error_.clear();
  error_path_.clear();
  problems_.clear();
  try {
    scenario_ = parse(doc_);
    resolved_ = scenario_to_json(*scenario_);
  } catch (const InputError& e) {
    error_ = e.what();
    error_path_ = e.json_path();
  } catch (const std::exception& e) {
    // Not an InputError (a library bug or an unexpected type): still shown, never a crash.
    error_ = file_ + ": " + e.what();
  }
  if (!valid()) {
    problems_.push_back({error_, error_path_, is_unknown_key(error_)});
    find_more_problems();
  }
  return valid();
}

void ScenarioDocument::find_more_problems() {
  // The loader stops at its first problem. Put a stand-in at each reported key of a scratch copy
  // and validate again: the new document's value where it has that key (a required one), else
  // nothing (the loader's default; an unknown key goes). Stop when the loader names no key, or
  // one already reported, or the copy loads.
  constexpr std::size_t kMaxProblems = 12;
  static const Json stand_ins = default_scenario_document();
  Json scratch = doc_;
  while (problems_.size() < kMaxProblems) {
    const std::string path = problems_.back().path;
    if (path.empty() || !find_path(scratch, path)) return;
    const auto dot = path.rfind('.');
    Json* parent = &scratch;
    if (dot != std::string::npos) parent = find_path(scratch, path.substr(0, dot));
    if (!parent || !parent->is_object()) return;
    const std::string key = dot == std::string::npos ? path : path.substr(dot + 1);
    const Json* stand_in = problems_.back().unknown_key ? nullptr : find_path(stand_ins, path);
    if (stand_in) (*parent)[key] = *stand_in;
    else parent->erase(key);
    try {
      parse(scratch);
      return;
    } catch (const InputError& e) {
      for (const auto& p : problems_)
        if (p.path == e.json_path()) return;
      problems_.push_back({e.what(), e.json_path(), is_unknown_key(e.what())});
    } catch (const std::exception&) {
      return;
    }
  }
}

}  // namespace clustercost
