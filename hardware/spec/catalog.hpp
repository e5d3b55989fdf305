#pragma once
/// The hardware catalogue: accelerators (hardware/catalog/*.json) and node types
/// (hardware/catalog/nodes/*.json), read strictly and cross-checked.
///
/// Every number in the catalogue is a Figure object
///   {"value": <number or null>, "source": "...", "flag": "V|P|S|E|D|U", "note": "..."}
/// so that a report can always say where a peak, a bandwidth or a price came from and how far
/// to trust it (flags as in docs/reference/hardware.md §0; combinations are written with
/// slashes, "S/E"). A null value means "unsupported or not published" (FP8 on A100, FP64 on
/// Ascend) and still needs a source. Unknown keys, missing keys, bad flags and non-positive
/// values are InputErrors naming the file and the JSON path, never crashes.
///
/// Names are looked up case-insensitively, with '_' and ' ' treated as '-', by catalogue key
/// or by any alias ("h800", "h800_sxm" and "H800-SXM" find the same GPU).

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "hardware/spec/gpu_spec.hpp"
#include "sim/common/json_reader.hpp"

namespace clustercost {

/// True for one or more of the letters V P S E D U separated by '/', none repeated ("S/E").
bool is_valid_flag(std::string_view flag);

/// The lookup key of a name: lower case, '_' and ' ' replaced by '-'.
std::string normalize_hardware_name(std::string_view name);

/// Parses one accelerator file's JSON (`file` names it in errors). Checks the figures of one
/// file only; cross-references (default_node) are checked by Catalog.
GpuSpec parse_gpu_spec(const Json& j, const std::string& file);
/// Parses one node-type file's JSON.
NodeSpec parse_node_spec(const Json& j, const std::string& file);

/// The catalogue format of a figure / GPU / node: parse_*_spec(…_to_json(x)) gives x back
/// (except `file`, which is not part of the format).
Json figure_to_json(const Figure& f);
Json gpu_spec_to_json(const GpuSpec& g);
Json node_spec_to_json(const NodeSpec& n);

/// 64-bit FNV-1a of `bytes`, continuing from `state` (pass the previous result to chain).
std::uint64_t fnv1a64(std::string_view bytes, std::uint64_t state = 0xcbf29ce484222325ULL);

class Catalog {
 public:
  /// Loads `catalog_dir`/*.json (one accelerator each, file name = key + ".json") and
  /// `catalog_dir`/nodes/*.json, then cross-checks: unique names and aliases, every node's GPU
  /// exists (an alias is resolved to the key), every GPU's default_node exists and holds it,
  /// the scale-up domain and the node size divide one another.
  static Catalog load(const std::filesystem::path& catalog_dir);
  /// The same checks on specs built in memory (tests, GUI edits); the fingerprint then hashes
  /// their catalogue JSON.
  static Catalog from_specs(std::vector<GpuSpec> gpus, std::vector<NodeSpec> nodes);

  /// By key or alias, case-insensitive; nullptr when unknown.
  const GpuSpec* find_gpu(std::string_view name_or_alias) const;
  const NodeSpec* find_node(std::string_view name) const;
  /// "unknown GPU "x" (did you mean "H800-SXM"?); known: A100-40G-SXM, ..." for error messages.
  std::string unknown_gpu_message(std::string_view name) const;

  const std::vector<GpuSpec>& gpus() const { return gpus_; }    // sorted by name
  const std::vector<NodeSpec>& nodes() const { return nodes_; }  // sorted by name
  std::vector<std::string> gpu_names() const;

  /// Stable hash of the catalogue (FNV-1a 64 over each file's relative path and bytes, in
  /// path order), 16 hex digits, for report provenance: equal catalogues, equal fingerprints.
  std::string fingerprint() const { return fingerprint_; }

 private:
  void index_and_check();

  std::vector<GpuSpec> gpus_;
  std::vector<NodeSpec> nodes_;
  std::map<std::string, std::size_t, std::less<>> gpu_index_;   // normalized name/alias -> gpus_
  std::map<std::string, std::size_t, std::less<>> node_index_;  // normalized name -> nodes_
  std::string fingerprint_;
};

}  // namespace clustercost
