#include "sim/moe/histogram.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace clustercost {

namespace {

std::string line_path(std::size_t line) { return "line " + std::to_string(line); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    out.push_back(trim(line.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                          : comma - start)));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// Whole field must be a number ("1e3", "-2", "0.5"); from_chars is locale-independent.
bool parse_number(std::string_view f, double& out) {
  if (f.empty()) return false;
  if (f.front() == '+') f.remove_prefix(1);
  const char* end = f.data() + f.size();
  auto [ptr, ec] = std::from_chars(f.data(), end, out);
  return ec == std::errc() && ptr == end;
}

std::string shown(std::string_view f) {
  std::string s(f.substr(0, 40));
  if (f.size() > 40) s += "...";
  return "\"" + s + "\"";
}

void check_shape(const ExpertHistogram& h, std::size_t columns, std::size_t row_index,
                 const std::string& label, const std::string& where) {
  if (columns == 0) throw InputError(label, where, "a row with no experts");
  if (columns > kMaxHistogramExperts)
    throw InputError(label, where, std::to_string(columns) + " experts exceed the limit " +
                                       std::to_string(kMaxHistogramExperts));
  if (row_index >= kMaxHistogramLayers)
    throw InputError(label, where, "more than " + std::to_string(kMaxHistogramLayers) + " layers");
  if (!h.layers.empty() && columns != h.layers.front().size())
    throw InputError(label, where, std::to_string(columns) + " experts, but the first row has " +
                                       std::to_string(h.layers.front().size()));
  if ((row_index + 1) * columns > kMaxHistogramCells)
    throw InputError(label, where, "more than " + std::to_string(kMaxHistogramCells) + " values");
}

void check_value(double v, const std::string& label, const std::string& where) {
  if (!std::isfinite(v) || v < 0)
    throw InputError(label, where, "tokens per expert must be finite and non-negative");
}

void check_row_sum(const std::vector<double>& row, const std::string& label, const std::string& where) {
  double sum = 0;
  for (double v : row) sum += v;
  if (!(sum > 0) || !std::isfinite(sum))
    throw InputError(label, where, "a layer with no tokens (all experts 0)");
}

}  // namespace

ExpertHistogram parse_histogram_csv(std::string_view text, const std::string& label) {
  if (text.size() > kMaxHistogramBytes)
    throw InputError(label, "", "larger than " + std::to_string(kMaxHistogramBytes) + " bytes");
  ExpertHistogram h;
  h.file = label;
  std::size_t line_no = 0, pos = 0;
  bool seen_data_or_header = false;
  while (pos <= text.size()) {
    std::size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    ++line_no;
    if (line.empty() || line.front() == '#') {
      if (nl == text.size()) break;
      continue;
    }
    const auto fields = split_fields(line);
    const std::string where = line_path(line_no);
    std::vector<double> row;
    row.reserve(fields.size());
    std::size_t numeric = 0;
    for (auto f : fields) {
      double v = 0;
      if (parse_number(f, v)) ++numeric;
      row.push_back(v);
    }
    if (numeric == 0 && !seen_data_or_header) {  // header: column names
      seen_data_or_header = true;
      if (nl == text.size()) break;
      continue;
    }
    seen_data_or_header = true;
    check_shape(h, row.size(), h.layers.size(), label, where);
    for (std::size_t i = 0; i < fields.size(); ++i) {
      double v = 0;
      if (!parse_number(fields[i], v))
        throw InputError(label, where + ", column " + std::to_string(i + 1),
                         "expected a number, got " + shown(fields[i]));
      check_value(v, label, where + ", column " + std::to_string(i + 1));
    }
    check_row_sum(row, label, where);
    h.layers.push_back(std::move(row));
    if (nl == text.size()) break;
  }
  if (h.layers.empty()) throw InputError(label, "", "no rows of tokens per expert");
  return h;
}

ExpertHistogram parse_histogram_json(const Json& j, const std::string& label) {
  ObjectReader r(j, label, "");
  (void)r.string_or("source", "");
  const Json& layers = r.array("layers");
  r.finish();
  ExpertHistogram h;
  h.file = label;
  if (layers.empty()) throw InputError(label, "layers", "no rows of tokens per expert");
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string where = index_path("layers", i);
    const Json& row_j = layers[i];
    if (!row_j.is_array())
      throw InputError(label, where, "expected an array of tokens per expert, got " + describe_json(row_j));
    check_shape(h, row_j.size(), i, label, where);
    std::vector<double> row;
    row.reserve(row_j.size());
    for (std::size_t e = 0; e < row_j.size(); ++e) {
      const std::string at = index_path(where, e);
      const double v = json_number(row_j[e], label, at);
      check_value(v, label, at);
      row.push_back(v);
    }
    check_row_sum(row, label, where);
    h.layers.push_back(std::move(row));
  }
  return h;
}

ExpertHistogram load_expert_histogram(const std::filesystem::path& file) {
  const std::string label = file.string();
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".json") return parse_histogram_json(load_json_file(file, kMaxHistogramBytes), label);
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) throw InputError(label, "", "cannot read the histogram file: " + ec.message());
  if (size > kMaxHistogramBytes)
    throw InputError(label, "", "larger than " + std::to_string(kMaxHistogramBytes) + " bytes");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(label, "", "cannot open the histogram file");
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_histogram_csv(ss.str(), label);
}

}  // namespace clustercost
