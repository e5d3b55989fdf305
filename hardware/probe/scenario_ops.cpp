#include "hardware/probe/scenario_ops.hpp"

#include <charconv>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace clustercost::probe {

namespace {

// Values are percent-escaped so that a token never holds a space, '=' or a line break.
std::string esc(const std::string& v) {
  std::string out;
  for (const char c : v) {
    if (c == ' ' || c == '%' || c == '=' || c == '\n' || c == '\r' || c == '\t' || c == ',') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out.empty() ? "%00" : out;  // %00: the empty string
}

std::string unesc(const std::string& v, const std::string& where) {
  if (v == "%00") return "";
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '%') {
      out += v[i];
      continue;
    }
    unsigned code = 0;
    if (i + 2 >= v.size() + 0 || std::from_chars(v.data() + i + 1, v.data() + i + 3, code, 16).ec != std::errc())
      throw std::runtime_error(where + ": bad escape in \"" + v + "\"");
    out += static_cast<char>(code);
    i += 2;
  }
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : " ") + esc(s);
  return out;
}

template <class T>
T number(const std::map<std::string, std::string>& kv, const char* key, T fallback,
         const std::string& where) {
  const auto it = kv.find(key);
  if (it == kv.end()) return fallback;
  std::istringstream in(it->second);
  T v{};
  if (!(in >> v)) throw std::runtime_error(where + ": " + key + " is not a number: " + it->second);
  return v;
}

std::string text(const std::map<std::string, std::string>& kv, const char* key,
                 const std::string& where) {
  const auto it = kv.find(key);
  return it == kv.end() ? "" : unesc(it->second, where);
}

}  // namespace

std::string write_scenario_plan(const ScenarioProbePlan& p) {
  std::ostringstream o;
  o.precision(17);
  o << kScenarioPlanFormat << '\n';
  o << "scenario file=" << esc(p.scenario.file) << " name=" << esc(p.scenario.name)
    << " gpu=" << esc(p.scenario.gpu) << '\n';
  o << "layers " << join(p.scenario.layers) << '\n';
  o << "ops " << join(p.scenario.ops) << '\n';
  for (const ScenarioOp& op : p.ops) {
    const ScenarioOpInfo& i = op.info;
    o << "op kind=" << esc(op.kind) << " name=" << esc(op.name) << " layer=" << esc(i.layer)
      << " pass=" << esc(i.pass) << " category=" << esc(i.category) << " role=" << esc(i.role)
      << " memory_class=" << esc(i.memory_class) << " attention_kernel=" << esc(i.attention_kernel)
      << " backward=" << (i.backward ? 1 : 0) << " kernels=" << i.kernels
      << " op_dtype=" << esc(i.op_dtype) << " occurrences=" << i.occurrences << " per_layer=";
    bool first = true;
    for (const auto& [layer, n] : i.per_layer) {
      o << (first ? "" : ",") << esc(layer) << ":" << n;
      first = false;
    }
    if (first) o << "%00";
    o << " scale=" << i.scale << " scaled=" << esc(i.scaled) << " note=" << esc(i.note)
      << " m=" << op.gemm.m << " n=" << op.gemm.n << " k=" << op.gemm.k << " gn=" << op.grouped.n
      << " gk=" << op.grouped.k << " group_m=";
    for (std::size_t g = 0; g < op.grouped.group_m.size(); ++g)
      o << (g ? "," : "") << op.grouped.group_m[g];
    if (op.grouped.group_m.empty()) o << "%00";
    o << " seq=" << op.attention.seq << " heads=" << op.attention.heads
      << " head_dim=" << op.attention.head_dim << " batch=" << op.attention.batch
      << " bytes=" << op.bytes << " width=" << op.width << " fp8_recipe=" << esc(op.fp8_recipe)
      << " top_k=" << op.top_k << '\n';
  }
  for (const std::string& s : p.skipped) o << "skipped " << esc(s) << '\n';
  return o.str();
}

ScenarioProbePlan parse_scenario_plan(const std::string& content, const std::string& file) {
  std::istringstream in(content);
  std::string line;
  ScenarioProbePlan p;
  int no = 0;
  if (!std::getline(in, line) || line != kScenarioPlanFormat)
    throw std::runtime_error(file + ":1: expected \"" + std::string(kScenarioPlanFormat) + "\"");
  ++no;
  while (std::getline(in, line)) {
    ++no;
    const std::string where = file + ":" + std::to_string(no);
    if (line.empty()) continue;
    std::istringstream ls(line);
    std::string head;
    ls >> head;
    std::vector<std::string> words;
    std::map<std::string, std::string> kv;
    for (std::string t; ls >> t;) {
      words.push_back(t);
      if (const auto eq = t.find('='); eq != std::string::npos) kv[t.substr(0, eq)] = t.substr(eq + 1);
    }
    if (head == "scenario") {
      p.scenario.file = text(kv, "file", where);
      p.scenario.name = text(kv, "name", where);
      p.scenario.gpu = text(kv, "gpu", where);
    } else if (head == "layers" || head == "ops") {
      auto& out = head == "layers" ? p.scenario.layers : p.scenario.ops;
      for (const auto& w : words) out.push_back(unesc(w, where));
    } else if (head == "skipped") {
      p.skipped.push_back(words.empty() ? "" : unesc(words.front(), where));
    } else if (head == "op") {
      ScenarioOp op;
      op.kind = text(kv, "kind", where);
      if (op.kind != "gemm" && op.kind != "grouped_gemm" && op.kind != "attention" && op.kind != "memory")
        throw std::runtime_error(where + ": kind must be gemm, grouped_gemm, attention or memory");
      op.name = text(kv, "name", where);
      ScenarioOpInfo& i = op.info;
      i.layer = text(kv, "layer", where);
      i.pass = text(kv, "pass", where);
      i.category = text(kv, "category", where);
      i.role = text(kv, "role", where);
      i.memory_class = text(kv, "memory_class", where);
      i.attention_kernel = text(kv, "attention_kernel", where);
      i.backward = number<int>(kv, "backward", 0, where) != 0;
      i.kernels = number<int>(kv, "kernels", 1, where);
      i.op_dtype = text(kv, "op_dtype", where);
      i.occurrences = number<int>(kv, "occurrences", 1, where);
      if (const auto it = kv.find("per_layer"); it != kv.end() && it->second != "%00") {
        std::istringstream pl(it->second);
        for (std::string e; std::getline(pl, e, ',');) {
          const auto c = e.rfind(':');
          if (c == std::string::npos) throw std::runtime_error(where + ": per_layer entry " + e);
          i.per_layer[unesc(e.substr(0, c), where)] = std::stoi(e.substr(c + 1));
        }
      }
      i.scale = number<double>(kv, "scale", 1.0, where);
      i.scaled = text(kv, "scaled", where);
      i.note = text(kv, "note", where);
      op.gemm = {number<std::int64_t>(kv, "m", 0, where), number<std::int64_t>(kv, "n", 0, where),
                 number<std::int64_t>(kv, "k", 0, where)};
      op.grouped.n = number<std::int64_t>(kv, "gn", 0, where);
      op.grouped.k = number<std::int64_t>(kv, "gk", 0, where);
      if (const auto it = kv.find("group_m"); it != kv.end() && it->second != "%00") {
        std::istringstream gm(it->second);
        for (std::string e; std::getline(gm, e, ',');) op.grouped.group_m.push_back(std::stoll(e));
      }
      op.attention.seq = number<std::int64_t>(kv, "seq", 0, where);
      op.attention.heads = number<std::int64_t>(kv, "heads", 0, where);
      op.attention.head_dim = number<std::int64_t>(kv, "head_dim", 0, where);
      op.attention.batch = number<std::int64_t>(kv, "batch", 1, where);
      op.bytes = number<std::int64_t>(kv, "bytes", 0, where);
      op.width = number<std::int64_t>(kv, "width", 0, where);
      op.fp8_recipe = text(kv, "fp8_recipe", where);
      op.top_k = number<int>(kv, "top_k", 0, where);
      const bool bad = (op.kind == "gemm" && (op.gemm.m <= 0 || op.gemm.n <= 0 || op.gemm.k <= 0)) ||
                       (op.kind == "grouped_gemm" && (op.grouped.group_m.empty() || op.grouped.n <= 0 || op.grouped.k <= 0)) ||
                       (op.kind == "attention" && (op.attention.seq <= 0 || op.attention.heads <= 0 || op.attention.head_dim <= 0)) ||
                       (op.kind == "memory" && op.bytes <= 0);
      if (bad) throw std::runtime_error(where + ": op " + op.name + " has no positive shape");
      p.ops.push_back(std::move(op));
    } else {
      throw std::runtime_error(where + ": unknown line \"" + head + "\"");
    }
  }
  return p;
}

}  // namespace clustercost::probe
