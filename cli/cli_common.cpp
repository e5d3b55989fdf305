#include "cli/cli_common.hpp"

#include <algorithm>
#include <map>

#include "hardware/spec/catalog.hpp"
#include "hardware/spec/catalog_table.hpp"

#include "sim/common/atomic_file.hpp"
#include "sim/common/input_error.hpp"

#ifndef CLUSTERCOST_DEFAULT_DATA_DIR
#define CLUSTERCOST_DEFAULT_DATA_DIR "."
#endif

namespace clustercost::cli {

DataDirs data_dirs() {
  return data_dirs_from_environment(CLUSTERCOST_DEFAULT_DATA_DIR);
}

void emit(const std::string& output, const std::string& content) {
  if (output.empty() || output == "-") {
    std::cout << content;
    std::cout.flush();
  } else {
    write_file_atomically(output, content);
  }
}

namespace {

// The format an output file's extension names; empty for none or an unknown one.
std::string format_of_extension(const std::string& output) {
  if (output.empty() || output == "-") return "";
  std::string ext = std::filesystem::path(output).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::map<std::string, std::string> by_ext = {
      {".txt", "text"}, {".json", "json"}, {".csv", "csv"},
      {".html", "html"}, {".htm", "html"}, {".pdf", "pdf"}};
  const auto it = by_ext.find(ext);
  return it == by_ext.end() ? "" : it->second;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i == 0 ? "" : i + 1 == v.size() ? " or " : ", ") + v[i];
  return s;
}

}  // namespace

std::string output_format(const std::string& given, const std::string& output,
                          const std::vector<std::string>& allowed, const std::string& fallback) {
  const std::string implied = format_of_extension(output);
  const std::string ext = std::filesystem::path(output).extension().string();
  if (!given.empty() && !implied.empty() && given != implied)
    throw InputError("--format", "",
                     given + " does not match the output file " + output + " (" + ext +
                         " is " + implied + "): change the file's extension or drop --format");
  if (!given.empty()) return given;
  if (!implied.empty()) {
    if (std::find(allowed.begin(), allowed.end(), implied) == allowed.end())
      throw InputError(output, "",
                       "this command writes " + join(allowed) + ", not " + implied +
                           " (choose an extension for one of those, or --format)");
    return implied;
  }
  if (fallback.empty())
    throw InputError("--format", "",
                     "expected " + join(allowed) + ", or an output file whose extension names "
                     "one (" + output + " does not)");
  return fallback;
}

void note_gpu_aliases(const Json& scenario, const Catalog& catalog) {
  if (!scenario.is_object() || !scenario.contains("cluster") || !scenario["cluster"].is_object()) return;
  const Json& cluster = scenario["cluster"];
  auto note = [&](const Json& gpu, const std::string& path) {
    if (!gpu.is_string()) return;
    if (auto n = gpu_alias_note(catalog, gpu.get<std::string>()))
      std::cerr << "note: " << path << ": " << *n << "\n";
  };
  if (cluster.contains("gpu")) note(cluster["gpu"], "cluster.gpu");
  if (cluster.contains("pools") && cluster["pools"].is_array())
    for (std::size_t i = 0; i < cluster["pools"].size(); ++i)
      if (cluster["pools"][i].is_object() && cluster["pools"][i].contains("gpu"))
        note(cluster["pools"][i]["gpu"], "cluster.pools[" + std::to_string(i) + "].gpu");
}

void note_gpu_aliases(const std::string& scenario_file, const std::vector<std::string>& sets,
                      const Catalog& catalog) {
  try {
    Json doc = load_json_file(scenario_file);
    for (const auto& s : sets) apply_override(doc, s);
    note_gpu_aliases(doc, catalog);
  } catch (const InputError&) {
    // The loader reports the file's problems with their context.
  }
}

int report_sweep_failures(const std::string& sweep_file, const std::string& results_file,
                          const std::vector<SweepFailure>& failures) {
  // Enough to see every distinct mistake of a hand-written sweep; a whole grid failing for one
  // reason should not bury the terminal.
  constexpr std::size_t kMaxFailureLines = 100;
  bool internal = false;
  for (std::size_t i = 0; i < failures.size(); ++i) {
    internal = internal || failures[i].internal;
    if (i < kMaxFailureLines) std::cerr << "error: " << sweep_file << ": " << describe_failure(failures[i]) << "\n";
  }
  if (failures.size() > kMaxFailureLines)
    std::cerr << "error: " << sweep_file << ": " << failures.size() - kMaxFailureLines
              << " more failed points (their error lines are in " << results_file << ")\n";
  if (!failures.empty())
    std::cerr << "error: " << sweep_file << ": " << failures.size() << " point"
              << (failures.size() == 1 ? "" : "s") << " failed; fix the sweep or the base "
              << "scenario and run again with --resume (failed points are evaluated again)\n";
  if (failures.empty()) return 0;
  return internal ? 1 : 2;
}

int guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const InputError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace clustercost::cli
