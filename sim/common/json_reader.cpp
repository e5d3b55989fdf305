#include "sim/common/json_reader.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

namespace clustercost {

namespace {

// Line and column (1-based) of a byte offset, for syntax errors.
std::pair<std::size_t, std::size_t> line_col(std::string_view text, std::size_t offset) {
  std::size_t line = 1, col = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

std::string choices_text(std::initializer_list<std::string_view> choices) {
  std::string s;
  for (auto c : choices) {
    if (!s.empty()) s += ", ";
    s += '"';
    s += c;
    s += '"';
  }
  return s;
}

}  // namespace

std::size_t json_nesting_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((ch == ']' || ch == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Json parse_json_text(std::string_view text, const std::string& label) {
  if (json_nesting_depth(text) > kMaxJsonDepth)
    throw InputError(label, "", "JSON nested deeper than the limit of " +
                                    std::to_string(kMaxJsonDepth) + " levels");
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based position of the offending byte.
    auto [line, col] = line_col(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    // Keep nlohmann's explanation after its "parse error at ...: " prefix.
    auto pos = what.find(": syntax error");
    std::string detail = pos == std::string::npos ? what : what.substr(pos + 2);
    throw InputError(label, "", "malformed JSON at line " + std::to_string(line) + ", column " +
                                    std::to_string(col) + ": " + detail);
  } catch (const nlohmann::json::exception& e) {
    // Found by fuzzing: a number beyond double's range ("1e400") is out_of_range.406, not a
    // parse_error, and escaped as an uncaught exception (exit 1 instead of 2).
    std::string what = e.what();
    auto pos = what.find("] ");
    throw InputError(label, "", "malformed JSON: " +
                                    (pos == std::string::npos ? what : what.substr(pos + 2)));
  }
}

Json load_json_file(const std::filesystem::path& file, std::size_t max_bytes) {
  const std::string label = file.string();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw InputError(label, "", "file not found");
  if (std::filesystem::is_directory(file, ec))
    throw InputError(label, "", "expected a JSON file, found a directory");
  auto size = std::filesystem::file_size(file, ec);
  if (ec) throw InputError(label, "", "cannot read file: " + ec.message());
  if (size > max_bytes)
    throw InputError(label, "", "file is " + std::to_string(size) + " bytes; the limit is " +
                                    std::to_string(max_bytes) + " bytes");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(label, "", "cannot open file");
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return parse_json_text(text, label);
}

std::string join_path(const std::string& path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return path + "." + std::string(key);
}

std::string index_path(const std::string& path, std::size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string describe_json(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return std::string("boolean ") + (j.get<bool>() ? "true" : "false");
    case Json::value_t::string: {
      std::string s = j.get<std::string>();
      if (s.size() > 40) s = s.substr(0, 40) + "...";
      return "string \"" + s + "\"";
    }
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float: return "number " + j.dump();
    case Json::value_t::object: return "an object";
    case Json::value_t::array: return "an array";
    default: return "an unsupported value";
  }
}

double json_number(const Json& j, const std::string& file, const std::string& path) {
  if (!j.is_number()) throw InputError(file, path, "expected a number, got " + describe_json(j));
  double v = j.get<double>();
  if (!std::isfinite(v)) throw InputError(file, path, "expected a finite number");
  return v;
}

std::int64_t json_integer(const Json& j, const std::string& file, const std::string& path) {
  if (j.is_number_integer()) return j.get<std::int64_t>();
  if (j.is_number_unsigned()) {
    auto u = j.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw InputError(file, path, "integer " + j.dump() + " is out of range");
    return static_cast<std::int64_t>(u);
  }
  if (j.is_number_float()) {
    // 14.8e12 is written as a float but is a whole number: accept integral values in range.
    double v = j.get<double>();
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9.0e18)
      return static_cast<std::int64_t>(v);
    throw InputError(file, path, "expected an integer, got " + describe_json(j));
  }
  throw InputError(file, path, "expected an integer, got " + describe_json(j));
}

std::string json_string(const Json& j, const std::string& file, const std::string& path) {
  if (!j.is_string()) throw InputError(file, path, "expected a string, got " + describe_json(j));
  return j.get<std::string>();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

ObjectReader::ObjectReader(const Json& j, std::string file, std::string path)
    : j_(&j), file_(std::move(file)), path_(std::move(path)) {
  if (!j.is_object())
    throw InputError(file_, path_, "expected an object, got " + describe_json(j));
}

bool ObjectReader::has(std::string_view key) const {
  return j_->find(std::string(key)) != j_->end();
}

const Json* ObjectReader::find(std::string_view key) {
  known_.insert(std::string(key));
  auto it = j_->find(std::string(key));
  return it == j_->end() ? nullptr : &*it;
}

const Json& ObjectReader::required(std::string_view key) {
  const Json* v = find(key);
  if (!v) throw InputError(file_, path_of(key), "required key is missing");
  return *v;
}

void ObjectReader::fail(std::string_view key, const std::string& message) const {
  throw InputError(file_, path_of(key), message);
}

double ObjectReader::number(std::string_view key) {
  return json_number(required(key), file_, path_of(key));
}

double ObjectReader::number_or(std::string_view key, double fallback) {
  const Json* v = find(key);
  return (v && !v->is_null()) ? json_number(*v, file_, path_of(key)) : fallback;
}

std::optional<double> ObjectReader::optional_number(std::string_view key) {
  const Json* v = find(key);
  if (!v || v->is_null()) return std::nullopt;
  return json_number(*v, file_, path_of(key));
}

double ObjectReader::positive_number(std::string_view key) {
  double v = number(key);
  if (!(v > 0)) fail(key, "expected a positive number, got " + required(key).dump());
  return v;
}

double ObjectReader::positive_number_or(std::string_view key, double fallback) {
  if (!has(key) || j_->at(std::string(key)).is_null()) {
    known_.insert(std::string(key));
    return fallback;
  }
  return positive_number(key);
}

double ObjectReader::non_negative_number_or(std::string_view key, double fallback) {
  double v = number_or(key, fallback);
  if (v < 0) fail(key, "expected a number >= 0, got " + required(key).dump());
  return v;
}

double ObjectReader::number_in_or(std::string_view key, double lo, double hi, double fallback) {
  double v = number_or(key, fallback);
  if (v < lo || v > hi) {
    std::ostringstream os;
    os << "expected a number in [" << lo << ", " << hi << "], got " << v;
    fail(key, os.str());
  }
  return v;
}

std::int64_t ObjectReader::integer(std::string_view key) {
  return json_integer(required(key), file_, path_of(key));
}

std::int64_t ObjectReader::integer_or(std::string_view key, std::int64_t fallback) {
  const Json* v = find(key);
  return (v && !v->is_null()) ? json_integer(*v, file_, path_of(key)) : fallback;
}

std::int64_t ObjectReader::positive_integer(std::string_view key) {
  auto v = integer(key);
  if (v <= 0) fail(key, "expected a positive integer, got " + std::to_string(v));
  return v;
}

std::int64_t ObjectReader::positive_integer_or(std::string_view key, std::int64_t fallback) {
  auto v = integer_or(key, fallback);
  if (v <= 0) fail(key, "expected a positive integer, got " + std::to_string(v));
  return v;
}

std::int64_t ObjectReader::non_negative_integer_or(std::string_view key, std::int64_t fallback) {
  auto v = integer_or(key, fallback);
  if (v < 0) fail(key, "expected an integer >= 0, got " + std::to_string(v));
  return v;
}

std::optional<std::int64_t> ObjectReader::optional_positive_integer(std::string_view key) {
  const Json* v = find(key);
  if (!v || v->is_null()) return std::nullopt;
  auto n = json_integer(*v, file_, path_of(key));
  if (n <= 0) fail(key, "expected a positive integer, got " + std::to_string(n));
  return n;
}

bool ObjectReader::boolean(std::string_view key) {
  const Json& v = required(key);
  if (!v.is_boolean()) fail(key, "expected true or false, got " + describe_json(v));
  return v.get<bool>();
}

bool ObjectReader::boolean_or(std::string_view key, bool fallback) {
  const Json* v = find(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_boolean()) fail(key, "expected true or false, got " + describe_json(*v));
  return v->get<bool>();
}

std::string ObjectReader::string(std::string_view key) {
  return json_string(required(key), file_, path_of(key));
}

std::string ObjectReader::string_or(std::string_view key, std::string fallback) {
  const Json* v = find(key);
  return (v && !v->is_null()) ? json_string(*v, file_, path_of(key)) : fallback;
}

std::optional<std::string> ObjectReader::optional_string(std::string_view key) {
  const Json* v = find(key);
  if (!v || v->is_null()) return std::nullopt;
  return json_string(*v, file_, path_of(key));
}

std::string ObjectReader::one_of(std::string_view key,
                                 std::initializer_list<std::string_view> choices) {
  std::string v = string(key);
  if (std::find(choices.begin(), choices.end(), v) == choices.end())
    fail(key, "expected one of " + choices_text(choices) + ", got \"" + v + "\"");
  return v;
}

std::string ObjectReader::one_of_or(std::string_view key,
                                    std::initializer_list<std::string_view> choices,
                                    std::string fallback) {
  const Json* v = find(key);
  if (!v || v->is_null()) return fallback;
  return one_of(key, choices);
}

ObjectReader ObjectReader::object(std::string_view key) {
  return ObjectReader(required(key), file_, path_of(key));
}

std::optional<ObjectReader> ObjectReader::optional_object(std::string_view key) {
  const Json* v = find(key);
  if (!v || v->is_null()) return std::nullopt;
  return ObjectReader(*v, file_, path_of(key));
}

const Json& ObjectReader::array(std::string_view key) {
  const Json& v = required(key);
  if (!v.is_array()) fail(key, "expected an array, got " + describe_json(v));
  return v;
}

void ObjectReader::finish() const {
  for (auto it = j_->begin(); it != j_->end(); ++it) {
    if (known_.count(it.key())) continue;
    std::string msg = "unknown key \"" + it.key() + "\"";
    // Nearest known key; ties go to the longer common prefix ("tpp" -> "tp", not "pp").
    std::string best;
    std::size_t best_d = 3, best_prefix = 0;  // suggest only close matches
    for (const auto& k : known_) {
      auto d = edit_distance(k, it.key());
      std::size_t prefix = 0;
      while (prefix < k.size() && prefix < it.key().size() && k[prefix] == it.key()[prefix])
        ++prefix;
      if (d < best_d || (d == best_d && !best.empty() && prefix > best_prefix)) {
        best_d = d;
        best = k;
        best_prefix = prefix;
      }
    }
    if (!best.empty()) msg += " (did you mean \"" + best + "\"?)";
    if (!known_.empty()) {
      msg += "; allowed keys: ";
      bool first = true;
      for (const auto& k : known_) {
        if (!first) msg += ", ";
        msg += k;
        first = false;
      }
    }
    throw InputError(file_, path_of(it.key()), msg);
  }
}

}  // namespace clustercost
