#pragma once
/// The scenario being edited in the GUI: a JSON document in the public scenario format, edited
/// one path at a time exactly as `clustercost run --set PATH=VALUE` does (apply_override), and
/// re-validated with the library's own loader (parse_scenario) after every edit, so the GUI
/// accepts and rejects precisely what the CLI accepts and rejects. No Qt in here.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hardware/spec/catalog.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {

/// CLUSTERCOST_DATA_DIR from the environment, else the source tree the GUI was built from.
DataDirs default_data_dirs();

/// Reads a number at a dotted path ("parallelism.tp") of a document; nullopt when absent or not
/// a number (the GUI shows a default then, and the loader reports the problem).
std::optional<double> json_number_at(const Json& doc, const std::string& path);
std::optional<std::string> json_string_at(const Json& doc, const std::string& path);

class ScenarioDocument {
 public:
  /// Loads the catalogue from `dirs`; throws InputError when it is broken.
  explicit ScenarioDocument(DataDirs dirs);

  /// Reads a scenario file. Throws InputError when the file is not readable JSON (the document
  /// is then unchanged); a readable but invalid scenario is kept, with valid() false.
  void load_file(const std::filesystem::path& file);
  /// Replaces the document (e.g. a new empty one); `file` names it in messages.
  void set_document(Json doc, std::string file);

  /// Applies "PATH=TEXT" with the CLI's rule (TEXT parsed as JSON, else taken as a string),
  /// then re-validates. Returns valid(). Never throws for bad input.
  bool set_text(const std::string& path, const std::string& text);
  /// Applies a JSON value at PATH, then re-validates. Returns valid().
  bool set_value(const std::string& path, const Json& value);
  /// Removes the key at PATH (absent keys take the loader's defaults), then re-validates.
  bool erase(const std::string& path);

  bool valid() const { return scenario_.has_value(); }
  /// The loader's message (InputError::what(): file, JSON path, expectation) when invalid.
  const std::string& error() const { return error_; }
  /// The JSON path of the error ("parallelism.tp"), empty when valid or unknown.
  const std::string& error_path() const { return error_path_; }
  /// The validated scenario; nullptr while the document is invalid.
  const Scenario* scenario() const { return scenario_ ? &*scenario_ : nullptr; }

  const Json& json() const { return doc_; }
  const std::string& file() const { return file_; }
  const Catalog& catalog() const { return catalog_; }
  const DataDirs& dirs() const { return dirs_; }

  /// Parses `doc` with this document's catalogue and data dirs (variants, scaling sweeps).
  Scenario parse(const Json& doc) const;

 private:
  bool validate();

  DataDirs dirs_;
  Catalog catalog_;
  Json doc_ = Json::object();
  std::string file_ = "<new>";
  std::optional<Scenario> scenario_;
  std::string error_;
  std::string error_path_;
};

}  // namespace clustercost
