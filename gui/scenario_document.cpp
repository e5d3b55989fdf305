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

}  // namespace

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
  validate();
}

void ScenarioDocument::load_file(const std::filesystem::path& file) {
  Json doc = load_json_file(file);  // throws InputError; the document stays as it was
  set_document(std::move(doc), file.string());
}

void ScenarioDocument::set_document(Json doc, std::string file) {
  doc_ = std::move(doc);
  file_ = std::move(file);
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
  try {
    scenario_ = parse(doc_);
  } catch (const InputError& e) {
    error_ = e.what();
    error_path_ = e.json_path();
  } catch (const std::exception& e) {
    // Not an InputError (a library bug or an unexpected type): still shown, never a crash.
    error_ = file_ + ": " + e.what();
  }
  return valid();
}

}  // namespace clustercost
