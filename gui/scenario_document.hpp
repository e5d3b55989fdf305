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
/// The value at a dotted path, nullptr when absent.
const Json* json_at(const Json& doc, const std::string& path);

/// One problem the loader reports: its message (file, JSON path, expectation) and the path.
struct ScenarioProblem {
  std::string message;
  std::string path;  ///< "parallelism.tp"; empty when the loader names none
  /// The loader rejects the key itself as unknown (a typo such as "pipline"): removing it from
  /// the document is a fix.
  bool unknown_key = false;
};

/// What File ▸ New starts from: a complete scenario that loads and runs as it is (Llama 3 8B on
/// 64 H100-SXM), every key the scenario panel edits written out, so that what the panel shows
/// is what the document says and Save writes a usable file.
Json default_scenario_document();

class ScenarioDocument {
 public:
  /// Loads the catalogue from `dirs`; throws InputError when it is broken.
  explicit ScenarioDocument(DataDirs dirs);

  /// Reads a scenario file. Throws InputError when the file is not readable JSON (the document
  /// is then unchanged); a readable but invalid scenario is kept, with valid() false.
  void load_file(const std::filesystem::path& file);
  /// Replaces the document; `file` names it in messages (empty: a new, unsaved document).
  void set_document(Json doc, std::string file);
  /// Starts a new document from default_scenario_document().
  void new_document();

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
  /// Every problem found, the first one being error(): the loader stops at the first, so each
  /// further one is found by validating a scratch copy without the keys already reported
  /// (their defaults take their place). Empty when valid.
  const std::vector<ScenarioProblem>& problems() const { return problems_; }
  /// The resolved scenario (scenario_to_json: defaults filled in) of the document, or of its
  /// last valid state while it is invalid: what a field whose key is absent will use. Null
  /// before any valid state.
  const Json& resolved() const { return resolved_; }
  /// The validated scenario; nullptr while the document is invalid.
  const Scenario* scenario() const { return scenario_ ? &*scenario_ : nullptr; }

  const Json& json() const { return doc_; }
  /// The file the document was loaded from or last saved to; "<new>" for a new document.
  const std::string& file() const { return file_; }
  bool is_new() const { return file_ == kNewFile; }
  /// True when the document differs from what was last loaded or saved.
  bool modified() const { return doc_ != saved_; }
  /// Records that the document now lives in `file` as it is (after Save / Save As).
  void mark_saved(std::string file);

  static constexpr const char* kNewFile = "<new>";
  const Catalog& catalog() const { return catalog_; }
  const DataDirs& dirs() const { return dirs_; }

  /// Parses `doc` with this document's catalogue and data dirs (variants, scaling sweeps).
  Scenario parse(const Json& doc) const;

 private:
  bool validate();

  DataDirs dirs_;
  Catalog catalog_;
  void find_more_problems();

  Json doc_ = Json::object();
  Json saved_ = Json::object();
  std::string file_ = kNewFile;
  std::optional<Scenario> scenario_;
  std::string error_;
  std::string error_path_;
  std::vector<ScenarioProblem> problems_;
  Json resolved_;
};

}  // namespace clustercost
