#pragma once
/// Reading user JSON with errors that name the file, the JSON path and what was expected.
///
/// ObjectReader wraps one JSON object: each accessor marks its key as known, and finish()
/// rejects any key no accessor asked for (typos must not pass silently), suggesting the
/// nearest known key. Paths are dotted, with [i] for array elements: "cluster.pools[1].count",
/// the same syntax `--set` uses.

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/common/input_error.hpp"

namespace clustercost {

/// Insertion-ordered JSON so that documents we write keep a readable, stable key order.
using Json = nlohmann::ordered_json;

/// Refuse input files larger than this (a clear error instead of exhausting memory).
inline constexpr std::size_t kMaxJsonFileBytes = 64u * 1024u * 1024u;

/// Refuse JSON nested deeper than this: our formats need fewer than 10 levels, and nlohmann's
/// copy, comparison and dump recurse once per level (a deep document would overflow the stack).
inline constexpr std::size_t kMaxJsonDepth = 100;

/// Reads and parses a JSON file; errors carry the line and column of a syntax error.
Json load_json_file(const std::filesystem::path& file, std::size_t max_bytes = kMaxJsonFileBytes);
/// Parses JSON text (at most kMaxJsonDepth levels deep); `label` names the source in errors.
Json parse_json_text(std::string_view text, const std::string& label);
/// Deepest nesting of arrays and objects in JSON text (brackets inside strings do not count);
/// a linear scan that needs no parse, so it can refuse a document before nlohmann builds it.
std::size_t json_nesting_depth(std::string_view text);

/// "path.key", or "key" at the root.
std::string join_path(const std::string& path, std::string_view key);
/// "path[i]".
std::string index_path(const std::string& path, std::size_t i);
/// A short description of a JSON value for messages: `string "abc"`, `number -3`, `an object`.
std::string describe_json(const Json& j);

class ObjectReader {
 public:
  /// Throws InputError if `j` is not an object.
  ObjectReader(const Json& j, std::string file, std::string path);

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  std::string path_of(std::string_view key) const { return join_path(path_, key); }

  bool has(std::string_view key) const;
  /// The raw value (marks the key known) or nullptr when absent.
  const Json* find(std::string_view key);
  /// The raw value (marks the key known); error when absent.
  const Json& required(std::string_view key);

  double number(std::string_view key);
  double number_or(std::string_view key, double fallback);
  /// Absent or null gives nullopt.
  std::optional<double> optional_number(std::string_view key);
  double positive_number(std::string_view key);
  double positive_number_or(std::string_view key, double fallback);
  double non_negative_number_or(std::string_view key, double fallback);
  /// A number in [lo, hi].
  double number_in_or(std::string_view key, double lo, double hi, double fallback);

  std::int64_t integer(std::string_view key);
  std::int64_t integer_or(std::string_view key, std::int64_t fallback);
  std::int64_t positive_integer(std::string_view key);
  std::int64_t positive_integer_or(std::string_view key, std::int64_t fallback);
  std::int64_t non_negative_integer_or(std::string_view key, std::int64_t fallback);
  std::optional<std::int64_t> optional_positive_integer(std::string_view key);

  bool boolean(std::string_view key);
  bool boolean_or(std::string_view key, bool fallback);

  std::string string(std::string_view key);
  std::string string_or(std::string_view key, std::string fallback);
  std::optional<std::string> optional_string(std::string_view key);
  /// A string that must be one of `choices`.
  std::string one_of(std::string_view key, std::initializer_list<std::string_view> choices);
  std::string one_of_or(std::string_view key, std::initializer_list<std::string_view> choices,
                        std::string fallback);

  ObjectReader object(std::string_view key);
  std::optional<ObjectReader> optional_object(std::string_view key);
  /// The array at `key` (error when absent or not an array).
  const Json& array(std::string_view key);

  [[noreturn]] void fail(std::string_view key, const std::string& message) const;
  /// Rejects keys no accessor asked for.
  void finish() const;

 private:
  const Json* j_;
  std::string file_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
};

/// Value checks usable on any JSON value (for arrays and the like).
double json_number(const Json& j, const std::string& file, const std::string& path);
std::int64_t json_integer(const Json& j, const std::string& file, const std::string& path);
std::string json_string(const Json& j, const std::string& file, const std::string& path);

/// Edit distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace clustercost
