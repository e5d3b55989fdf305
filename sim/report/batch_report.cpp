// Batch reports (CSV, HTML) over report JSON documents: see batch_report.hpp.
#include "sim/report/batch_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "sim/report/report.hpp"

namespace clustercost {

namespace {

// Where each csv_columns() column lives in the report JSON (DESIGN.md "Report"); "a|b": the
// first of the pointers present.
const std::map<std::string, std::string>& column_pointers() {
  static const std::map<std::string, std::string> m = {
      {"name", "/scenario/name"},
      {"model", "/scenario/model"},
      {"gpu", "/scenario/cluster/gpu"},
      {"gpus", "/scenario/cluster/gpus"},
      {"tp", "/scenario/parallelism/tp"},
      {"cp", "/scenario/parallelism/cp"},
      {"pp", "/scenario/parallelism/pp"},
      {"dp", "/scenario/parallelism/dp"},
      {"ep", "/scenario/parallelism/ep"},
      {"vpp", "/scenario/parallelism/vpp"},
      {"schedule", "/scenario/parallelism/schedule"},
      {"micro_batch", "/scenario/parallelism/micro_batch"},
      {"zero", "/scenario/parallelism/zero"},
      {"recompute", "/scenario/parallelism/recompute"},
      {"precision", "/scenario/training/precision"},
      {"seq_len", "/scenario/training/seq_len"},
      {"global_batch", "/scenario/training/global_batch"},
      {"tokens", "/scenario/training/tokens"},
      {"params_total", "/model/params_total"},
      {"params_active", "/model/params_active"},
      {"flops_per_token", "/model/flops_per_token"},
      {"step_time_s", "/step/time_s"},
      {"tokens_per_s_per_gpu", "/step/tokens_per_s_per_gpu"},
      {"mfu", "/step/mfu"},
      {"hfu", "/step/hfu"},
      {"compute_s", "/step/breakdown_s/compute"},
      {"exposed_tp_comm_s", "/step/breakdown_s/exposed_tp_comm"},
      {"exposed_ep_comm_s", "/step/breakdown_s/exposed_ep_comm"},
      {"exposed_pp_comm_s", "/step/breakdown_s/exposed_pp_comm"},
      {"exposed_dp_comm_s", "/step/breakdown_s/exposed_dp_comm"},
      {"bubble_s", "/step/breakdown_s/bubble"},
      {"optimizer_s", "/step/breakdown_s/optimizer"},
      {"memory_gib_per_gpu", "/memory/peak_gib_per_gpu"},
      {"memory_capacity_gib", "/memory/capacity_gib"},
      {"fits", "/memory/fits"},
      {"steps", "/run/steps"},
      {"wall_days", "/run/wall_days"},
      {"gpu_hours", "/run/gpu_hours"},
      {"interruptions", "/run/interruptions"},
      {"goodput", "/run/goodput"},
      {"total_usd", "/cost/total_usd"},
      {"usd_per_million_tokens", "/cost/usd_per_million_tokens"},
      {"energy_mwh", "/cost/energy_mwh"},
      // Monte Carlo percentiles; without replicas report_to_csv() repeats the mean.
      {"wall_days_p10", "/run/distribution/wall_days/p10|/run/wall_days"},
      {"wall_days_p50", "/run/distribution/wall_days/p50|/run/wall_days"},
      {"wall_days_p90", "/run/distribution/wall_days/p90|/run/wall_days"},
      {"total_usd_p10", "/cost/distribution/total_usd/p10"},
      {"total_usd_p50", "/cost/distribution/total_usd/p50"},
      {"total_usd_p90", "/cost/distribution/total_usd/p90"},
      {"cost_model", "/cost/model"},
      {"co2_tonnes", "/cost/co2_tonnes"},
      // batch_extra_columns(): the rate the cost used (the scenario's, for reports written
      // before the cost section carried it) and the fullest GPU's memory by kind.
      {"gpu_hour_usd", "/cost/gpu_hour_usd|/scenario/economics/gpu_hour_usd"},
      {"memory_weights_gib", "/memory/breakdown_gib/weights"},
      {"memory_gradients_gib", "/memory/breakdown_gib/gradients"},
      {"memory_optimizer_gib", "/memory/breakdown_gib/optimizer"},
      {"memory_activations_gib", "/memory/breakdown_gib/activations"},
  };
  return m;
}

const Json* at(const Json& doc, const std::string& pointers) {
  if (doc.is_null()) return nullptr;
  std::size_t start = 0;
  for (;;) {
    const std::size_t bar = pointers.find('|', start);
    const Json::json_pointer p(pointers.substr(start, bar - start));
    if (doc.contains(p)) return &doc.at(p);
    if (bar == std::string::npos) return nullptr;
    start = bar + 1;
  }
}

double number_at(const Json& doc, const std::string& pointer) {
  const Json* v = at(doc, pointer);
  return v && v->is_number() ? v->get<double>() : std::nan("");
}

// report.cpp's sig() and num(): 6 significant digits, printed with 10 (so a row matches
// report_to_csv() byte for byte).
std::string csv_number(double v) {
  if (v != 0 && std::isfinite(v)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    v = std::strtod(buf, nullptr);
  }
  std::ostringstream os;
  os << std::setprecision(10) << v;
  return os.str();
}

std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\n\r") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string fixed(double v, int prec) {
  if (!std::isfinite(v)) return "–";
  std::ostringstream os;
  os << std::fixed << std::setprecision(prec) << v;
  return os.str();
}

std::string human(double v) {
  if (!std::isfinite(v)) return "–";
  const char* units[] = {"", "K", "M", "B", "T", "P"};
  int u = 0;
  while (std::fabs(v) >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  return fixed(v, std::fabs(v) < 10 ? 2 : 1) + units[u];
}

// nlohmann's parse_error text without its "[json.exception.parse_error.101] " prefix: the
// position and what was read are useful, the library's error code is not.
std::string parse_error_text(const nlohmann::json::parse_error& e) {
  std::string m = e.what();
  if (!m.empty() && m.front() == '[') {
    const auto close = m.find("] ");
    if (close != std::string::npos) m = m.substr(close + 2);
  }
  return m;
}

// What a document that is not results is, with what to run to get results from it; empty when
// it is not recognised.
std::string what_else(const Json& doc, const std::string& label) {
  if (!doc.is_object()) return "";
  if (doc.contains("base") && (doc.contains("grid") || doc.contains("zip") || doc.contains("points")))
    return "this is a sweep file, not results: run `clustercost sweep " + label +
           " -o results.jsonl` first, then report results.jsonl";
  if (doc.contains("cluster") || doc.contains("parallelism") || doc.contains("training"))
    return "this is a scenario, not a report: run `clustercost run " + label +
           " --format json -o report.json` first, then report report.json";
  return "";
}

BatchEntry entry_from(const Json& doc, const std::string& label, const std::string& file) {
  BatchEntry e;
  if (doc.contains("schema")) {  // a single report
    if (doc["schema"] != "clustercost.report/1")
      throw InputError(label, "schema", "expected \"clustercost.report/1\" (`clustercost run "
                                        "--format json`), got " + describe_json(doc["schema"]));
    e.report = doc;
    return e;
  }
  if (const std::string hint = what_else(doc, file); !hint.empty()) throw InputError(label, "", hint);
  if (!doc.contains("id") || !doc["id"].is_string())
    throw InputError(label, "id", "expected a report or a results line with a string \"id\"");
  e.id = doc["id"].get<std::string>();
  if (doc.contains("sweep") && doc["sweep"].is_string()) e.sweep = doc["sweep"].get<std::string>();
  if (doc.contains("overrides")) e.overrides = doc["overrides"];
  if (doc.contains("report") && doc["report"].is_object()) e.report = doc["report"];
  else if (doc.contains("error") && doc["error"].is_object()) e.error = doc["error"];
  else throw InputError(label, "", "expected \"report\" or \"error\"");
  return e;
}

}  // namespace

std::vector<BatchEntry> parse_batch(const std::string& text, const std::string& label) {
  std::vector<BatchEntry> out;
  // Files people mistake for results: the reports clustercost writes.
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  const char* expected = "expected the JSON of `clustercost run --format json` or a sweep's "
                         "results file (JSON Lines)";
  if (first != std::string::npos && text[first] == '<')
    throw InputError(label, "", std::string("this is HTML or XML (a written report?), not results: ") + expected);
  if (text.compare(0, 5, "%PDF-") == 0)
    throw InputError(label, "", std::string("this is a PDF, not results: ") + expected);
  // One document (a pretty-printed report) first; else JSON Lines.
  try {
    const Json doc = Json::parse(text);
    if (doc.is_object()) {
      out.push_back(entry_from(doc, label, label));
      return out;
    }
  } catch (const nlohmann::json::parse_error&) {
  }
  std::size_t pos = 0, number = 0;
  while (pos < text.size()) {
    const std::size_t nl = text.find('\n', pos);
    ++number;
    if (nl == std::string::npos) break;  // a torn last line: skipped
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = label + " line " + std::to_string(number);
    Json doc;
    try {
      doc = Json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw InputError(label, "line " + std::to_string(number),
                       "not valid JSON (" + parse_error_text(e) + "); " + expected);
    }
    if (!doc.is_object()) throw InputError(label, "line " + std::to_string(number), "expected an object");
    out.push_back(entry_from(doc, where, label));
  }
  if (out.empty()) throw InputError(label, "", "no reports in the file");
  return out;
}

std::vector<BatchEntry> load_batch(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string(), "", "cannot open the results file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_batch(ss.str(), file.string());
}

std::vector<std::string> batch_extra_columns() {
  return {"gpu_hour_usd", "memory_weights_gib", "memory_gradients_gib", "memory_optimizer_gib",
          "memory_activations_gib"};
}

std::vector<std::string> batch_csv_columns() {
  std::vector<std::string> cols = {"id"};
  for (auto& c : csv_columns()) cols.push_back(c);
  for (auto& c : batch_extra_columns()) cols.push_back(c);
  cols.push_back("overrides");
  cols.push_back("error");
  return cols;
}

std::string report_json_csv_value(const Json& report, const std::string& column) {
  const auto& pointers = column_pointers();
  const auto it = pointers.find(column);
  if (it == pointers.end()) throw std::logic_error("batch CSV: no JSON source for column " + column);
  const Json* v = at(report, it->second);
  if (!v || v->is_null()) return "";
  if (column == "model" && v->is_object()) v = v->contains("name") ? &(*v)["name"] : nullptr;
  if (!v) return "";
  if (v->is_string()) return csv_field(v->get<std::string>());
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  if (v->is_number_integer()) return v->dump();
  if (v->is_number()) return csv_number(v->get<double>());
  return csv_field(v->dump());
}

std::string batch_to_csv(const std::vector<BatchEntry>& entries) {
  std::ostringstream os;
  const auto cols = batch_csv_columns();
  for (std::size_t i = 0; i < cols.size(); ++i) os << (i ? "," : "") << cols[i];
  os << "\n";
  std::vector<std::string> report_cols = csv_columns();
  for (auto& c : batch_extra_columns()) report_cols.push_back(c);
  for (const auto& e : entries) {
    os << csv_field(e.id);
    for (const auto& c : report_cols) os << "," << report_json_csv_value(e.report, c);
    os << "," << csv_field(e.overrides.empty() ? std::string() : e.overrides.dump());
    os << "," << (e.error.is_object() && e.error.contains("message") && e.error["message"].is_string()
                      ? csv_field(e.error["message"].get<std::string>())
                      : std::string());
    os << "\n";
  }
  return os.str();
}

namespace {

const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};

std::string label_of(const BatchEntry& e) {
  std::string s;
  for (auto it = e.overrides.begin(); it != e.overrides.end(); ++it) {
    if (!s.empty()) s += " ";
    s += it.key() + "=" + (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  }
  if (s.empty()) {
    const Json* n = at(e.report, "/scenario/name");
    s = n && n->is_string() ? n->get<std::string>() : e.id;
  }
  return s;
}

// The rental price per GPU-hour the cost used, as "$2.49" ("–" when the report has none).
std::string price(const Json& report) {
  const double v = number_at(report, "/cost/gpu_hour_usd|/scenario/economics/gpu_hour_usd");
  return std::isfinite(v) ? "$" + fixed(v, 2) : "–";
}

// Stacked horizontal bars of the critical-path step breakdown, one bar per report.
void breakdown_chart(std::ostream& os, const std::vector<const BatchEntry*>& rows, std::size_t total) {
  struct Part { const char* key; const char* name; };
  const Part parts[] = {{"compute", "compute"},         {"exposed_tp_comm", "exposed TP"},
                        {"exposed_ep_comm", "exposed EP"}, {"exposed_pp_comm", "exposed PP"},
                        {"exposed_dp_comm", "exposed DP"}, {"bubble", "bubble"},
                        {"optimizer", "optimizer"}};
  double max_t = 0;
  for (const auto* e : rows) max_t = std::max(max_t, number_at(e->report, "/step/time_s"));
  const int bar_h = 18, top = 40, left = 10, width = 860;
  const int height = top + static_cast<int>(rows.size()) * (bar_h * 2 + 4) + 20;
  os << "<h2>Step-time breakdown (critical stage, s)</h2>\n";
  if (rows.size() < total)
    os << "<p>The first " << rows.size() << " of " << total << " reports.</p>\n";
  os << "<svg id=\"chart-breakdown\" xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\""
     << height << "\" role=\"img\" aria-label=\"step breakdown\">\n";
  int lx = left;
  for (std::size_t i = 0; i < std::size(parts); ++i) {
    os << "<rect x=\"" << lx << "\" y=\"8\" width=\"12\" height=\"12\" fill=\"" << kPalette[i]
       << "\"/><text x=\"" << lx + 16 << "\" y=\"19\" font-size=\"12\">" << parts[i].name
       << "</text>\n";
    lx += 120;
  }
  int y = top;
  for (const auto* e : rows) {
    os << "<text x=\"" << left << "\" y=\"" << y + 12 << "\" font-size=\"11\">"
       << html_escape(label_of(*e)) << " (" << fixed(number_at(e->report, "/step/time_s"), 3)
       << " s)</text>\n";
    double x = left;
    for (std::size_t i = 0; i < std::size(parts); ++i) {
      const double v = number_at(e->report, std::string("/step/breakdown_s/") + parts[i].key);
      if (!(v > 0) || !(max_t > 0)) continue;
      const double w = width * v / max_t;
      os << "<rect class=\"bar\" x=\"" << fixed(x, 1) << "\" y=\"" << y + bar_h - 2 << "\" width=\""
         << fixed(w, 1) << "\" height=\"" << bar_h << "\" fill=\"" << kPalette[i] << "\"><title>"
         << parts[i].name << ": " << fixed(v, 3) << " s</title></rect>\n";
      x += w;
    }
    y += bar_h * 2 + 4;
  }
  os << "</svg>\n";
}

// One value against GPU count, a series per GPU type and layout: every report a dot, the best
// (lowest) value at each count of a series joined by a line. A what-if with its own layout (a
// sweep's explicit point, pp8 next to a pp4 grid) is its own series, a lone dot, never a kink in
// the grid's line. GPU counts are labelled as whole numbers, the value axis names its unit.
void scaling_chart(std::ostream& os, const std::string& id, const std::string& title,
                   const std::string& pointer, const std::vector<const BatchEntry*>& reports,
                   bool money) {
  // Series key: the GPU, then the layout when more than one layout shares the chart.
  auto layout_of = [](const Json& r) {
    std::string l;
    for (const char* k : {"tp", "cp", "pp", "ep", "vpp"}) {
      const Json* v = at(r, std::string("/scenario/parallelism/") + k);
      if (v && v->is_number() && (v->get<double>() != 1 || std::string(k) == "tp" ||
                                  std::string(k) == "pp"))
        l += std::string(l.empty() ? "" : " ") + k + v->dump();
    }
    const Json* sch = at(r, "/scenario/parallelism/schedule");
    if (sch && sch->is_string()) l += " " + sch->get<std::string>();
    return l;
  };
  std::set<std::string> layouts;
  for (const auto* e : reports) layouts.insert(layout_of(e->report));
  std::map<std::string, std::vector<std::pair<double, double>>> series;
  for (const auto* e : reports) {
    const Json* g = at(e->report, "/scenario/cluster/gpu");
    const double x = number_at(e->report, "/scenario/cluster/gpus");
    const double y = number_at(e->report, pointer);
    if (g && g->is_string() && x > 0 && std::isfinite(y) && y > 0)
      series[g->get<std::string>() + (layouts.size() > 1 ? " " + layout_of(e->report) : "")]
          .push_back({x, y});
  }
  os << "<h2>" << html_escape(title) << "</h2>\n";
  if (series.empty()) {
    os << "<p>No data.</p>\n";
    return;
  }
  double x0 = 1e300, x1 = 0, y1 = 0;
  for (const auto& [g, pts] : series)
    for (const auto& [x, y] : pts) {
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y1 = std::max(y1, y);
    }
  // GPU counts usually double from one option to the next: a log2 axis spaces them evenly.
  const bool logx = x1 / x0 >= 4;
  auto fx = [&](double x) {
    const double t = x1 == x0 ? 0.5
                     : logx   ? std::log2(x / x0) / std::log2(x1 / x0)
                              : (x - x0) / (x1 - x0);
    return 90 + t * 740;
  };
  auto fy = [&](double y) { return 330 - 290 * y / (y1 * 1.05); };
  constexpr std::size_t kPerRow = 3;
  const std::size_t legend_rows = (series.size() + kPerRow - 1) / kPerRow;
  const int height = 392 + 20 * static_cast<int>(legend_rows);
  os << "<svg id=\"" << id << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\""
     << height << "\" role=\"img\" aria-label=\"" << html_escape(title) << "\">\n";
  os << "<line x1=\"90\" y1=\"330\" x2=\"840\" y2=\"330\" stroke=\"#333\"/>"
     << "<line x1=\"90\" y1=\"30\" x2=\"90\" y2=\"330\" stroke=\"#333\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double v = y1 * 1.05 * i / 4;
    os << "<text x=\"84\" y=\"" << fixed(fy(v) + 4, 1) << "\" font-size=\"11\" text-anchor=\"end\">"
       << (money ? "$" + human(v) : fixed(v, v >= 10 ? 0 : 1)) << "</text>\n";
  }
  os << "<text x=\"18\" y=\"180\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 18 180)\">"
     << (money ? "total cost (USD)" : "wall-clock days") << "</text>\n";
  std::set<double> xs;
  for (const auto& [g, pts] : series)
    for (const auto& p : pts) xs.insert(p.first);
  for (double x : xs)
    os << "<text x=\"" << fixed(fx(x), 1) << "\" y=\"348\" font-size=\"11\" text-anchor=\"middle\">"
       << std::llround(x) << "</text>\n";
  os << "<text x=\"465\" y=\"370\" font-size=\"12\" text-anchor=\"middle\">GPUs"
     << (logx ? " (log₂ scale)" : "") << "</text>\n";
  std::size_t k = 0;
  for (const auto& [g, pts] : series) {
    const char* color = kPalette[k % std::size(kPalette)];
    std::map<double, double> best;
    for (const auto& [x, y] : pts) {
      auto it = best.find(x);
      if (it == best.end() || y < it->second) best[x] = y;
      os << "<circle class=\"point\" cx=\"" << fixed(fx(x), 1) << "\" cy=\"" << fixed(fy(y), 1)
         << "\" r=\"" << (best.size() == 1 && pts.size() == 1 ? 5 : 3) << "\" fill=\"" << color
         << "\" fill-opacity=\"0.7\"><title>" << html_escape(g) << ", " << std::llround(x)
         << " GPUs: " << (money ? "$" : "") << human(y) << "</title></circle>\n";
    }
    if (best.size() > 1) {
      os << "<polyline class=\"series\" fill=\"none\" stroke-width=\"2\" stroke=\"" << color
         << "\" points=\"";
      for (const auto& [x, y] : best) os << fixed(fx(x), 1) << "," << fixed(fy(y), 1) << " ";
      os << "\"/>\n";
    }
    const std::size_t lx = 20 + 290 * (k % kPerRow), ly = 384 + 20 * (k / kPerRow);
    os << "<rect x=\"" << lx << "\" y=\"" << ly << "\" width=\"12\" height=\"12\" fill=\"" << color
       << "\"/><text x=\"" << lx + 16 << "\" y=\"" << ly + 11 << "\" font-size=\"12\">"
       << html_escape(g) << "</text>\n";
    ++k;
  }
  os << "</svg>\n";
}

}  // namespace

std::string batch_title(const std::vector<BatchEntry>& entries, const std::string& fallback) {
  std::set<std::string> sweeps;
  for (const auto& e : entries)
    if (!e.sweep.empty()) sweeps.insert(e.sweep);
  std::string title;
  for (const auto& s : sweeps) title += (title.empty() ? "" : " + ") + s;
  if (!title.empty()) return title;
  if (entries.size() == 1 && entries.front().id.empty()) {
    const Json* n = at(entries.front().report, "/scenario/name");
    if (n && n->is_string() && !n->get<std::string>().empty()) return n->get<std::string>();
  }
  return fallback;
}

std::string batch_to_html(const std::vector<BatchEntry>& entries, const std::string& title) {
  constexpr std::size_t kMaxBars = 40, kMaxRows = 2000;
  std::vector<const BatchEntry*> reports, errors;
  for (const auto& e : entries) (e.report.is_object() ? reports : errors).push_back(&e);
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>clustercost: "
     << html_escape(title) << "</title>\n<style>body{font-family:sans-serif;margin:2em;"
     << "max-width:1100px}table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;"
     << "border-bottom:1px solid #ddd;text-align:right}th{background:#f4f4f4}"
     << "td.l,th.l{text-align:left}td.nw{white-space:nowrap}.warn{color:#b00}pre{font-size:12px;background:#f8f8f8;"
     << "padding:8px;overflow:auto}</style></head><body>\n";
  os << "<h1>" << html_escape(title) << "</h1>\n<p>" << reports.size() << " scenario"
     << (reports.size() == 1 ? "" : "s") << " reported";
  if (!errors.empty()) os << ", <span class=\"warn\">" << errors.size() << " failed</span>";
  os << ".</p>\n";

  // Comparison table, cheapest first.
  std::vector<const BatchEntry*> sorted = reports;
  std::stable_sort(sorted.begin(), sorted.end(), [](const BatchEntry* a, const BatchEntry* b) {
    const double ca = number_at(a->report, "/cost/total_usd"), cb = number_at(b->report, "/cost/total_usd");
    return (std::isnan(cb) && !std::isnan(ca)) || ca < cb;
  });
  os << "<h2>Comparison (cheapest first)</h2>\n";
  if (sorted.size() > kMaxRows)
    os << "<p>The " << kMaxRows << " cheapest of " << sorted.size() << "; the CSV report has all.</p>\n";
  os << "<table id=\"comparison\"><tr><th class=\"l\">id</th><th class=\"l\">what-if</th>"
     << "<th class=\"l\">GPU</th><th>GPUs</th><th>$/GPU-hour</th><th>tp·cp·pp·dp·ep</th><th>step (s)</th>"
     << "<th>MFU</th><th>days</th><th>GPU-hours</th><th>total</th><th>$/M tokens</th>"
     << "<th>memory (GiB)</th></tr>\n";
  for (std::size_t i = 0; i < sorted.size() && i < kMaxRows; ++i) {
    const Json& r = sorted[i]->report;
    auto str = [&](const std::string& p) {
      const Json* v = at(r, p);
      return v ? (v->is_string() ? v->get<std::string>() : v->dump()) : std::string();
    };
    const Json* fits = at(r, "/memory/fits");
    os << "<tr><td class=\"l\">" << html_escape(sorted[i]->id) << "</td><td class=\"l\">"
       << html_escape(label_of(*sorted[i])) << "</td><td class=\"l nw\">"
       << html_escape(str("/scenario/cluster/gpu")) << "</td><td>" << str("/scenario/cluster/gpus")
       << "</td><td>" << price(r) << "</td><td>" << str("/scenario/parallelism/tp") << "·" << str("/scenario/parallelism/cp")
       << "·" << str("/scenario/parallelism/pp") << "·" << str("/scenario/parallelism/dp") << "·"
       << str("/scenario/parallelism/ep") << "</td><td>" << fixed(number_at(r, "/step/time_s"), 3)
       << "</td><td>" << fixed(100 * number_at(r, "/step/mfu"), 1) << "%</td><td>"
       << fixed(number_at(r, "/run/wall_days"), 1) << "</td><td>"
       << human(number_at(r, "/run/gpu_hours")) << "</td><td>$"
       << human(number_at(r, "/cost/total_usd")) << "</td><td>"
       << fixed(number_at(r, "/cost/usd_per_million_tokens"), 3) << "</td><td"
       << (fits && fits->is_boolean() && !fits->get<bool>() ? " class=\"warn\"" : "") << ">"
       << fixed(number_at(r, "/memory/peak_gib_per_gpu"), 1) << (fits && fits->is_boolean() && !fits->get<bool>() ? " (does not fit)" : "")
       << "</td></tr>\n";
  }
  os << "</table>\n";

  std::vector<const BatchEntry*> bars(reports.begin(),
                                      reports.begin() + static_cast<std::ptrdiff_t>(std::min(kMaxBars, reports.size())));
  if (!bars.empty()) breakdown_chart(os, bars, reports.size());
  scaling_chart(os, "chart-cost", "Total cost against GPU count, per GPU type", "/cost/total_usd",
                reports, true);
  scaling_chart(os, "chart-days", "Wall-clock days against GPU count, per GPU type",
                "/run/wall_days", reports, false);

  // The DES's own results (critical path, links, per-GPU peaks) of each report that has them:
  // in full for a single report, behind a toggle per point for a sweep (its PDF has them on
  // each point's page).
  std::vector<const BatchEntry*> des;
  for (const auto* e : reports)
    if (has_des_results(e->report)) des.push_back(e);
  if (reports.size() == 1 && des.size() == 1) {
    os << des_results_html(des.front()->report);
  } else if (!des.empty()) {
    os << "<h2>Discrete-event simulation per point</h2>\n<p>" << des.size() << " of "
       << reports.size() << " points ran the discrete-event simulation; open one for its "
       << "critical path, links and per-GPU peak memory.</p>\n";
    for (const auto* e : des)
      os << "<details><summary>" << html_escape(e->id.empty() ? label_of(*e) : e->id + ": " + label_of(*e))
         << "</summary>\n" << des_results_html(e->report, "Point " + e->id) << "</details>\n";
  }

  if (!errors.empty()) {
    os << "<h2 class=\"warn\">Failed points</h2>\n<table id=\"errors\"><tr><th class=\"l\">id</th>"
       << "<th class=\"l\">what-if</th><th class=\"l\">file</th><th class=\"l\">path</th>"
       << "<th class=\"l\">message</th></tr>\n";
    for (const auto* e : errors) {
      auto field = [&](const char* k) {
        return e->error.contains(k) && e->error[k].is_string() ? e->error[k].get<std::string>() : std::string();
      };
      os << "<tr><td class=\"l\">" << html_escape(e->id) << "</td><td class=\"l\">"
         << html_escape(label_of(*e)) << "</td><td class=\"l\">" << html_escape(field("file"))
         << "</td><td class=\"l\">" << html_escape(field("path")) << "</td><td class=\"l\">"
         << html_escape(field("message")) << "</td></tr>\n";
    }
    os << "</table>\n";
  }

  // Inputs and provenance: what produced these numbers.
  std::set<std::string> versions, catalogs, profiles;
  for (const auto* e : reports) {
    auto put = [&](std::set<std::string>& s, const char* p) {
      const Json* v = at(e->report, p);
      if (v) s.insert(v->is_string() ? v->get<std::string>() : v->dump());
    };
    put(versions, "/provenance/version");
    put(catalogs, "/provenance/catalog");
    put(profiles, "/provenance/profile");
  }
  auto join = [](const std::set<std::string>& s) {
    std::string o;
    for (const auto& v : s) o += (o.empty() ? "" : ", ") + v;
    return o;
  };
  os << "<h2>Inputs and provenance</h2>\n<table id=\"provenance\">"
     << "<tr><td class=\"l\">clustercost version</td><td class=\"l\">" << html_escape(join(versions))
     << "</td></tr><tr><td class=\"l\">catalogue fingerprint</td><td class=\"l\">"
     << html_escape(join(catalogs)) << "</td></tr><tr><td class=\"l\">efficiency profiles</td>"
     << "<td class=\"l\">" << html_escape(join(profiles)) << "</td></tr></table>\n";
  if (!reports.empty()) {
    os << "<details><summary>Resolved scenario of the first report (the others differ by their "
          "overrides)</summary>\n<pre>"
       << html_escape(reports.front()->report.contains("scenario")
                          ? reports.front()->report["scenario"].dump(2)
                          : std::string())
       << "</pre></details>\n";
  }
  os << "</body></html>\n";
  return os.str();
}

}  // namespace clustercost
