#pragma once
/// Measured expert load: tokens routed to each expert, one row per MoE layer, as exported from a
/// real router (for instance Megatron-Core's per-layer `tokens_per_expert`). Two formats:
///
///   CSV   one line per layer, one column per expert; blank lines and lines starting with '#'
///         are skipped; an optional first line of column names (no field is a number) is a
///         header. Separators: ',' (spaces around fields are ignored).
///   JSON  {"layers": [[n0, n1, ...], ...], "source": "optional provenance text"}
///
/// Values are non-negative finite numbers (averaged counts may be fractional); every row has the
/// same number of columns and a positive sum. Sizes are bounded (the reader is fuzzed): errors
/// are InputError naming the file and "line N" (CSV) or the JSON path.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "sim/common/json_reader.hpp"

namespace clustercost {

/// Bounds on a histogram: a clear error instead of exhausting memory.
inline constexpr std::size_t kMaxHistogramBytes = 64u * 1024u * 1024u;
inline constexpr std::size_t kMaxHistogramLayers = 4096;
inline constexpr std::size_t kMaxHistogramExperts = 65536;
inline constexpr std::size_t kMaxHistogramCells = 16u * 1024u * 1024u;

struct ExpertHistogram {
  std::string file;                        // where it came from (for messages)
  std::vector<std::vector<double>> layers; // [layer][expert] tokens
  std::size_t experts() const { return layers.empty() ? 0 : layers.front().size(); }
};

/// Parses CSV text (`label` names the source in errors).
ExpertHistogram parse_histogram_csv(std::string_view text, const std::string& label);
/// Parses the JSON form.
ExpertHistogram parse_histogram_json(const Json& j, const std::string& label);
/// Reads a file: ".json" (any case) is JSON, anything else CSV.
ExpertHistogram load_expert_histogram(const std::filesystem::path& file);

}  // namespace clustercost
