#include <string>

#include "sim/scenario/scenario.hpp"

namespace clustercost {

namespace {

// Splits "a.b[2].c" into steps: a key, or an index.
struct Step {
  std::string key;
  long index = -1;
};

std::vector<Step> split_path(const std::string& path, const std::string& assignment) {
  std::vector<Step> steps;
  std::string cur;
  auto flush = [&]() {
    if (!cur.empty()) steps.push_back({cur, -1});
    cur.clear();
  };
  for (std::size_t i = 0; i < path.size(); ++i) {
    char ch = path[i];
    if (ch == '.') {
      if (cur.empty() && (steps.empty() || steps.back().index < 0))
        throw InputError("--set", path, "empty path component in \"" + assignment + "\"");
      flush();
    } else if (ch == '[') {
      flush();
      auto close = path.find(']', i);
      if (close == std::string::npos)
        throw InputError("--set", path, "unclosed '[' in \"" + assignment + "\"");
      std::string idx = path.substr(i + 1, close - i - 1);
      if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos)
        throw InputError("--set", path, "expected an array index, got \"" + idx + "\"");
      if (idx.size() > 9)  // std::stol would throw out_of_range (exit 1) on 20 digits
        throw InputError("--set", path, "array index " + idx + " is out of range");
      steps.push_back({"", std::stol(idx)});
      i = close;
    } else {
      cur += ch;
    }
  }
  flush();
  if (steps.empty()) throw InputError("--set", path, "empty path in \"" + assignment + "\"");
  if (steps.size() > kMaxJsonDepth)  // each step may create one more level of nesting
    throw InputError("--set", path.substr(0, 80), "path deeper than the limit of " +
                                                      std::to_string(kMaxJsonDepth) + " levels");
  return steps;
}

}  // namespace

void apply_override(Json& scenario, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw InputError("--set", "", "expected PATH=VALUE, got \"" + assignment + "\"");
  std::string path = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);
  Json value;
  if (json_nesting_depth(text) > kMaxJsonDepth)
    throw InputError("--set", path, "value nested deeper than the limit of " +
                                        std::to_string(kMaxJsonDepth) + " levels");
  try {
    value = Json::parse(text);
  } catch (const nlohmann::json::parse_error&) {
    value = text;  // not JSON: a plain string such as H100-SXM
  } catch (const nlohmann::json::out_of_range&) {  // "1e400": a number beyond double's range
    throw InputError("--set", path, "number out of range in \"" + text.substr(0, 80) + "\"");
  }
  auto steps = split_path(path, assignment);
  Json* node = &scenario;
  std::string walked;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& st = steps[i];
    const bool last = i + 1 == steps.size();
    if (st.index >= 0) {
      walked = index_path(walked, static_cast<std::size_t>(st.index));
      if (!node->is_array() || static_cast<std::size_t>(st.index) >= node->size())
        throw InputError("--set", walked, "no such array element");
      node = &(*node)[static_cast<std::size_t>(st.index)];
    } else {
      walked = join_path(walked, st.key);
      if (node->is_null()) *node = Json::object();
      if (!node->is_object())
        throw InputError("--set", walked, "cannot set a key inside " + describe_json(*node));
      node = &(*node)[st.key];
    }
    if (last) *node = value;
  }
}

}  // namespace clustercost
