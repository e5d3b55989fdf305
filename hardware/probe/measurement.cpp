#include "hardware/probe/measurement.hpp"

#include <ctime>
#include <exception>
#include <sstream>
#include <system_error>

#include "hardware/probe/json_writer.hpp"
#include "hardware/probe/probe.hpp"
#include "sim/common/atomic_file.hpp"

namespace clustercost::probe {

namespace {

struct ShapeWriter {
  JsonWriter& w;
  void operator()(const GemmShape& s) const {
    w.field("m", s.m);
    w.field("n", s.n);
    w.field("k", s.k);
  }
  void operator()(const GroupedGemmShape& s) const {
    w.field("m", s.total_m());
    w.field("n", s.n);
    w.field("k", s.k);
    w.field("groups", static_cast<std::int64_t>(s.group_m.size()));
    w.key("group_m");
    w.begin_array(true);
    for (auto m : s.group_m) w.value(m);
    w.end_array();
  }
  void operator()(const BytesShape& s) const {
    w.field("bytes", s.bytes);
    if (s.ranks > 0) w.field("ranks", s.ranks);
  }
  void operator()(const AttentionShape& s) const {
    w.field("seq", s.seq);
    w.field("heads", s.heads);
    w.field("head_dim", s.head_dim);
    w.field("batch", s.batch);
    w.field("causal", s.causal);
  }
  void operator()(const LaunchShape& s) const { w.field("calls", s.calls); }
};

void write_optional(JsonWriter& w, std::string_view key, const std::optional<double>& v) {
  w.key(key);
  if (v) {
    w.value(*v);
  } else {
    w.null();
  }
}

void write_device(JsonWriter& w, const DeviceInfo& d) {
  w.key("device");
  w.begin_object();
  w.field("kind", d.kind);
  w.field("name", d.name);
  w.field(d.kind == "cuda" ? "sms" : "cores", d.compute_units);
  write_optional(w, "clock_mhz", d.clock_mhz);
  w.field("memory_gib", d.memory_gib);
  w.field("driver", d.driver);
  w.field("runtime", d.runtime);
  w.field("compiler", d.compiler);
  w.field("gemm_backend", d.gemm_backend);
  w.field("date", d.date);
  w.field("host", d.host);
  if (!d.compute_capability.empty()) w.field("compute_capability", d.compute_capability);
  if (d.cache_bytes > 0) w.field(d.kind == "cuda" ? "l2_bytes" : "llc_bytes", d.cache_bytes);
  if (!d.simd.empty()) w.field("simd", d.simd);
  if (d.threads > 0) w.field("threads", d.threads);
  if (d.device_count > 0) w.field("device_count", d.device_count);
  w.end_object();
}

void write_record(JsonWriter& w, const Measurement& m) {
  const double t = m.median().value;
  const auto rate = [t](double amount, double unit) -> std::optional<double> {
    if (!(t > 0.0)) return std::nullopt;
    return amount / t / unit;
  };
  w.begin_object();
  w.field("kind", m.kind);
  w.field("name", m.name);
  w.field("dtype", m.dtype);
  w.key("shape");
  w.begin_object(true);
  std::visit(ShapeWriter{w}, m.shape);
  w.end_object();
  w.field("time_s", t);
  w.key("times_s");
  w.begin_array(true);
  for (const Seconds s : m.samples) w.value(s.value);
  w.end_array();
  w.field("flops", m.flops.value);
  w.field("bytes", m.bytes.value);
  write_optional(w, "achieved_tflops", rate(m.flops.value, 1e12));
  write_optional(w, "achieved_gbps", rate(m.bytes.value, 1e9));
  if (m.busbw_factor) {
    const auto algbw = rate(m.bytes.value, 1e9);
    write_optional(w, "busbw_gbps",
                   algbw ? std::optional<double>(*algbw * *m.busbw_factor) : std::nullopt);
  }
  w.field("check_rel_error", m.check_rel_error);
  w.field("ok", m.ok);
  if (!m.impl.empty()) w.field("impl", m.impl);
  if (m.op) {
    const ScenarioOpInfo& o = *m.op;
    w.key("op");
    w.begin_object(true);
    w.field("layer", o.layer);
    w.field("pass", o.pass);
    w.field("category", o.category);
    if (!o.role.empty()) w.field("role", o.role);
    if (!o.memory_class.empty()) w.field("memory_class", o.memory_class);
    if (!o.attention_kernel.empty()) w.field("attention_kernel", o.attention_kernel);
    if (m.kind == "attention") w.field("backward", o.backward);
    w.field("kernels", o.kernels);
    w.field("op_dtype", o.op_dtype);
    w.field("occurrences", o.occurrences);
    if (!o.per_layer.empty()) {
      w.key("per_layer");
      w.begin_object(true);
      for (const auto& [layer, n] : o.per_layer) w.field(layer, n);
      w.end_object();
    }
    w.field("scale", o.scale);
    if (!o.scaled.empty()) w.field("scaled", o.scaled);
    if (!o.note.empty()) w.field("note", o.note);
    w.end_object();
  }
  w.end_object();
}

}  // namespace

void write_measurements_json(const MeasurementDoc& doc, std::ostream& out) {
  JsonWriter w(out);
  w.begin_object();
  w.field("schema", kMeasurementsSchema);
  write_device(w, doc.device);
  if (doc.scenario) {
    const ScenarioProbeInfo& sc = *doc.scenario;
    w.key("scenario");
    w.begin_object();
    w.field("file", sc.file);
    w.field("name", sc.name);
    w.field("gpu", sc.gpu);
    w.key("layers");
    w.begin_array(true);
    for (const std::string& l : sc.layers) w.value(l);
    w.end_array();
    w.key("ops");
    w.begin_array(true);
    for (const std::string& o : sc.ops) w.value(o);
    w.end_array();
    w.end_object();
  }
  w.key("settings");
  w.begin_object(true);
  w.field("quick", doc.settings.quick);
  w.field("warmup", doc.settings.warmup);
  w.field("repetitions", doc.settings.repetitions);
  w.field("threads", doc.settings.threads);
  w.end_object();
  w.key("records");
  w.begin_array();
  for (const Measurement& m : doc.records) write_record(w, m);
  w.end_array();
  w.key("skipped");
  w.begin_array();
  for (const std::string& s : doc.skipped) w.value(s);
  w.end_array();
  if (!doc.errors.empty()) {
    w.key("errors");
    w.begin_array();
    for (const std::string& e : doc.errors) w.value(e);
    w.end_array();
  }
  w.end_object();
  out << '\n';
}

std::optional<std::string> write_file_atomically(const std::filesystem::path& path,
                                                 const std::string& content) {
  namespace fs = std::filesystem;
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "directory " + dir.string() + " does not exist";
  try {
    clustercost::write_file_atomically(path, content);
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

std::string iso8601_utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace clustercost::probe
