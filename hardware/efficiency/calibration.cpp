#include "hardware/efficiency/calibration.hpp"

#include <algorithm>
#include <iomanip>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

namespace clustercost {

namespace {

std::vector<std::string> tokens_of(const std::string& name) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : normalize_hardware_name(name)) {
    if (c == '-' || c == ' ' || c == '(' || c == ')' || c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2.0;
}

std::string hex64(std::uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

MeasurementRecord parse_record(const Json& j, const std::string& file, const std::string& path) {
  ObjectReader r(j, file, path);
  MeasurementRecord rec;
  rec.kind = r.one_of("kind", {"gemm", "grouped_gemm", "memory", "attention", "launch", "p2p",
                               "allreduce", "alltoall"});
  rec.name = r.string("name");
  rec.dtype = r.one_of("dtype", {"bf16", "fp8", "fp32", "fp64"});
  ObjectReader s = r.object("shape");
  rec.shape = r.required("shape");
  if (rec.kind == "gemm" || rec.kind == "grouped_gemm") {
    const double m = static_cast<double>(s.positive_integer("m"));
    rec.gemm.n = static_cast<double>(s.positive_integer("n"));
    rec.gemm.k = static_cast<double>(s.positive_integer("k"));
    rec.gemm.groups = 1;
    if (rec.kind == "grouped_gemm") {
      const std::int64_t g = s.positive_integer("groups");
      if (g > 1'000'000) s.fail("groups", "expected at most 1000000 groups");
      rec.gemm.groups = static_cast<int>(g);
      const Json& gm = s.array("group_m");
      if (static_cast<std::int64_t>(gm.size()) != g)
        s.fail("group_m", "expected " + std::to_string(g) + " entries (one per group), got " +
                              std::to_string(gm.size()));
      std::int64_t sum = 0;
      for (std::size_t i = 0; i < gm.size(); ++i)
        sum += json_integer(gm[i], file, index_path(s.path_of("group_m"), i));
      if (sum != static_cast<std::int64_t>(m))
        s.fail("m", "expected the sum of group_m (" + std::to_string(sum) + ")");
    }
    rec.gemm.m = m / rec.gemm.groups;  // the simulator's grouped convention: mean rows per group
  } else if (rec.kind == "memory" || rec.kind == "p2p" || rec.kind == "allreduce" ||
             rec.kind == "alltoall") {
    rec.shape_bytes = s.positive_integer("bytes");
    if (rec.kind != "memory") {
      const std::int64_t ranks = s.integer_or("ranks", 2);
      if (ranks < 2 || ranks > 1'000'000) s.fail("ranks", "expected 2 or more ranks");
      rec.ranks = static_cast<int>(ranks);
    }
  } else if (rec.kind == "attention") {
    s.positive_integer("seq");
    s.positive_integer("heads");
    s.positive_integer("head_dim");
    s.positive_integer_or("batch", 1);
    s.boolean_or("causal", true);
  } else {  // launch
    s.positive_integer("calls");
  }
  // Extension keys inside `shape` are tolerated: no s.finish().
  const double t = r.number("time_s");
  if (!(t >= 0) || !std::isfinite(t)) r.fail("time_s", "expected a finite time >= 0");
  rec.time = Seconds(t);
  const double flops = r.number("flops");
  if (!(flops >= 0) || !std::isfinite(flops)) r.fail("flops", "expected a finite count >= 0");
  rec.flops = FlopCount(flops);
  const double bytes = r.number("bytes");
  if (!(bytes >= 0) || !std::isfinite(bytes)) r.fail("bytes", "expected a finite count >= 0");
  rec.bytes = Bytes(bytes);
  rec.ok = r.boolean("ok");
  rec.impl = r.string_or("impl", "");
  if (auto o = r.optional_object("op")) {
    MeasuredOp op;
    op.layer = o->string_or("layer", "");
    op.pass = o->string_or("pass", "forward");
    op.category = o->string_or("category", "");
    op.role = o->one_of_or("role", {"fprop", "dgrad", "wgrad"}, "fprop");
    op.memory_class = o->string_or("memory_class", "");
    op.attention_kernel = o->string_or("attention_kernel", "");
    op.backward = o->boolean_or("backward", false);
    const std::int64_t kernels = o->positive_integer_or("kernels", 1);
    if (kernels > 1'000'000) o->fail("kernels", "expected at most 1000000");
    op.kernels = static_cast<int>(kernels);
    op.op_dtype = o->string_or("op_dtype", rec.dtype);
    const std::int64_t occ = o->positive_integer_or("occurrences", 1);
    if (occ > 1'000'000) o->fail("occurrences", "expected at most 1000000");
    op.occurrences = static_cast<int>(occ);
    if (auto pl = o->optional_object("per_layer")) {
      const Json& raw = *o->find("per_layer");
      for (auto it = raw.begin(); it != raw.end(); ++it) {
        const std::int64_t c = pl->positive_integer(it.key());
        if (c > 1'000'000) pl->fail(it.key(), "expected at most 1000000");
        op.per_layer[it.key()] = static_cast<int>(c);
      }
    }
    op.scale = o->number_or("scale", 1.0);
    if (!(op.scale > 0 && op.scale <= 1.0)) o->fail("scale", "expected a factor in (0, 1]");
    op.scaled = o->string_or("scaled", "");
    op.note = o->string_or("note", "");
    rec.op = op;
  }
  // times_s, achieved_*, check_rel_error, busbw_gbps and future extensions are not needed.
  return rec;
}

bool is_gemm(const MeasurementRecord& r) { return r.kind == "gemm" || r.kind == "grouped_gemm"; }

/// Tile width of the CPU row split: wider than any GEMM, so a tile is a whole output row.
constexpr int kCpuRowTileN = 1 << 30;

/// The peak kernel_cost() prices attention at (and falls back to): the bf16 slot.
double attention_peak_flops(const GpuSpec& spec) {
  return spec.peak_tflops("bf16").value_or(1.0) * 1e12;
}

Figure derived(double value, const std::string& source) {
  Figure f;
  f.value = value;
  f.source = source;
  f.flag = "E";
  return f;
}

double best_copy_bps(const Measurements& m) {
  double best = 0;
  for (const auto& r : m.records)
    if (r.ok && r.kind == "memory" && r.time.value > 0)
      best = std::max(best, r.bytes.value / r.time.value);
  return best;
}

/// Relative least squares of time = x·a with no fixed term: a = Σ(x/t) / Σ(x/t)².
double fit_slope_only(const std::vector<double>& x, const std::vector<double>& t) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    num += x[i] / t[i];
    den += (x[i] / t[i]) * (x[i] / t[i]);
  }
  return den > 0 ? num / den : 0.0;
}


/// Fits one efficiency e of the profile that enters a kernel's time as work/e + rest (a GEMM
/// role, a memory class, an attention direction): kernel_cost (the one owner of the formula) is
/// evaluated with e = 1 and e = 1/2, which gives work_i and rest_i of every record; then
/// a = 1/e minimises the relative residuals Σ((a·work_i + rest_i − t_i)/t_i)², so
/// a = Σ w_i(1 − rest_i/t_i) / Σ w_i² with w_i = work_i/t_i. Returns e in (0, 1] and the RMS
/// relative residual; nullopt without usable records.
struct EffFit {
  double efficiency = 1;
  double rms = 0;
  int samples = 0;
};
std::optional<EffFit> fit_efficiency(const std::vector<const MeasurementRecord*>& recs,
                                     const GpuSpec& spec, const EfficiencyProfile& base,
                                     const std::function<void(EfficiencyProfile&, double)>& set) {
  EfficiencyProfile p1 = base, p2 = base;
  set(p1, 1.0);
  set(p2, 0.5);
  std::vector<double> work, rest, t;
  for (const MeasurementRecord* r : recs) {
    const KernelDesc k = kernel_desc_of(*r);
    const double t1 = kernel_cost(spec, p1, k).value, t2 = kernel_cost(spec, p2, k).value;
    const double w = t2 - t1;
    if (!(w > 0) || !(r->time.value > 0)) continue;
    work.push_back(w);
    rest.push_back(std::max(0.0, t1 - w));
    t.push_back(r->time.value);
  }
  if (work.empty()) return std::nullopt;
  double num = 0, den = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const double wi = work[i] / t[i];
    num += wi * (1.0 - rest[i] / t[i]);
    den += wi * wi;
  }
  if (!(num > 0) || !(den > 0)) return std::nullopt;
  EffFit f;
  f.efficiency = std::clamp(den / num, 1e-6, 1.0);
  double ss = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const double rel = (work[i] / f.efficiency + rest[i] - t[i]) / t[i];
    ss += rel * rel;
  }
  f.rms = std::sqrt(ss / static_cast<double>(t.size()));
  f.samples = static_cast<int>(t.size());
  return f;
}

}  // namespace

KernelDesc kernel_desc_of(const MeasurementRecord& r) {
  KernelDesc k;
  if (r.kind == "gemm") k.op_class = OpClass::Gemm;
  else if (r.kind == "grouped_gemm") k.op_class = OpClass::GroupedGemm;
  else if (r.kind == "attention") k.op_class = OpClass::Attention;
  else k.op_class = OpClass::Memory;
  k.precision = r.dtype;
  k.shape = r.gemm;
  k.flops = r.flops;
  k.bytes = r.bytes;
  if (r.op) {
    k.role = r.op->role == "dgrad" ? GemmRole::Dgrad : r.op->role == "wgrad" ? GemmRole::Wgrad
                                                                              : GemmRole::Fprop;
    k.kernels = r.op->kernels;
    k.backward = r.op->backward;
    k.attention_kernel = r.op->attention_kernel;
    k.memory_class = r.op->memory_class;
  }
  return k;
}

namespace {
}  // namespace

Measurements parse_measurements(const Json& j, const std::string& file) {
  ObjectReader r(j, file, "");
  Measurements m;
  m.file = file;
  m.fnv1a64 = fnv1a64(j.dump());
  const std::string schema = r.string("schema");
  if (schema != "clustercost.measurements/1")
    r.fail("schema", "expected \"clustercost.measurements/1\", got \"" + schema + "\"");
  ObjectReader d = r.object("device");
  m.device.kind = d.one_of("kind", {"cpu", "cuda"});
  m.device.name = d.string("name");
  const std::string units_key = m.device.kind == "cuda" ? "sms" : "cores";
  const std::int64_t units = d.positive_integer(units_key);
  if (units > 1'000'000) d.fail(units_key, "expected at most 1000000");
  m.device.compute_units = static_cast<int>(units);
  if (const Json* c = d.find("clock_mhz"); c && !c->is_null()) {
    const double mhz = json_number(*c, file, d.path_of("clock_mhz"));
    if (!(mhz > 0) || !std::isfinite(mhz)) d.fail("clock_mhz", "expected a clock > 0 MHz or null");
    m.device.clock_mhz = mhz;
  } else if (!c) {
    d.required("clock_mhz");  // contract key: present, possibly null
  }
  m.device.memory_gib = d.number("memory_gib");
  d.string("driver");
  d.string("runtime");
  d.string("compiler");
  m.device.gemm_backend = d.string("gemm_backend");
  m.device.date = d.string("date");
  m.device.host = d.string("host");
  m.device.simd = d.string_or("simd", "");
  const std::int64_t threads = d.non_negative_integer_or("threads", 0);
  if (threads > 1'000'000) d.fail("threads", "expected at most 1000000");
  m.device.threads = static_cast<int>(threads);
  // Other device extensions (compute_capability, l2_bytes, llc_bytes, ...) are tolerated.
  if (auto sc = r.optional_object("scenario")) {
    MeasuredScenario ms;
    ms.file = sc->string_or("file", "");
    ms.name = sc->string_or("name", "");
    ms.gpu = sc->string_or("gpu", "");
    for (const char* key : {"layers", "ops"}) {
      if (const Json* a = sc->find(key)) {
        const Json& arr = sc->array(key);
        (void)a;
        auto& out = std::string(key) == "layers" ? ms.layers : ms.ops;
        for (std::size_t i = 0; i < arr.size(); ++i) {
          if (!arr[i].is_string())
            throw InputError(file, index_path(sc->path_of(key), i), "expected a string");
          out.push_back(arr[i].get<std::string>());
        }
      }
    }
    m.scenario = ms;
  }
  if (const Json* sk = r.find("skipped"); sk && sk->is_array())
    for (const auto& e : *sk)
      if (e.is_string()) m.skipped.push_back(e.get<std::string>());
  const Json& recs = r.array("records");
  for (std::size_t i = 0; i < recs.size(); ++i)
    m.records.push_back(parse_record(recs[i], file, index_path("records", i)));
  return m;
}

Measurements load_measurements(const std::filesystem::path& file) {
  // Size first: a huge file is refused before it is read into memory.
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (!ec && size > kMaxJsonFileBytes)
    throw InputError(file.string(), "", "file is " + std::to_string(size) +
                                            " bytes; the limit is " +
                                            std::to_string(kMaxJsonFileBytes) + " bytes");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(file.string(), "", "cannot open the measurements file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() > kMaxJsonFileBytes)
    throw InputError(file.string(), "", "file is larger than the limit of " +
                                            std::to_string(kMaxJsonFileBytes) + " bytes");
  Measurements m = parse_measurements(parse_json_text(bytes, file.string()), file.string());
  m.fnv1a64 = fnv1a64(bytes);
  return m;
}

const GpuSpec* match_catalog_gpu(const Catalog& catalog, const std::string& device_name) {
  if (const GpuSpec* g = catalog.find_gpu(device_name)) return g;
  const std::vector<std::string> dev = tokens_of(device_name);
  const GpuSpec* best = nullptr;
  int best_score = 0;
  for (const GpuSpec& g : catalog.gpus()) {  // sorted by name: ties keep the first
    const std::vector<std::string> key = tokens_of(g.name);
    if (key.empty() || std::find(dev.begin(), dev.end(), key.front()) == dev.end()) continue;
    int score = 1;
    for (std::size_t i = 1; i < key.size(); ++i)
      for (const auto& t : dev)
        if (t.rfind(key[i], 0) == 0) {  // "80g" matches "80gb", "sxm" matches "sxm4"
          ++score;
          break;
        }
    if (score > best_score) {
      best = &g;
      best_score = score;
    }
  }
  return best;
}

namespace {

/// Above this implied clock a CPU GEMM record is refused (MHz).
constexpr double kMaxImpliedCpuClockMhz = 100'000.0;

/// A clock or rate as whole units, for any finite double (no integer cast to overflow).
std::string mhz_text(double v) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(0) << v;
  return os.str();
}

/// A rate in 3 significant digits (1.23e+95 for nonsense), for messages.
std::string rate_text(double v) {
  std::ostringstream os;
  os << std::setprecision(3) << v;
  return os.str();
}

}  // namespace

GpuSpec device_spec_from(const Measurements& m, const Catalog* catalog) {
  const MeasuredDevice& d = m.device;
  GpuSpec spec;
  const double copy_bps = best_copy_bps(m);
  if (d.kind == "cuda") {
    if (const GpuSpec* g = catalog ? match_catalog_gpu(*catalog, d.name) : nullptr) {
      spec = *g;
      spec.sms = derived(d.compute_units, "measured device block (" + m.file + ")");
      spec.sms.flag = "V";
      return spec;
    }
    // Unknown GPU: the probe cannot know tensor-core peaks, so the best achieved rate per dtype
    // stands for the peak (efficiencies are then relative to the best measured kernel).
    spec.name = d.name;
    spec.full_name = d.name;
    std::map<std::string, double> best;
    for (const auto& r : m.records)
      if (r.ok && r.time.value > 0 && r.flops.value > 0 &&
          (is_gemm(r) || r.kind == "attention"))
        best[r.dtype] = std::max(best[r.dtype], r.flops.value / r.time.value / 1e12);
    const std::string src = "best achieved in " + m.file + " (GPU not in the catalogue)";
    if (best.count("bf16")) spec.bf16_tflops = derived(best["bf16"], src);
    if (best.count("fp8")) spec.fp8_tflops = derived(best["fp8"], src);
    if (best.count("fp32")) spec.fp32_tflops = derived(best["fp32"], src);
    if (best.count("fp64")) spec.fp64_tflops = derived(best["fp64"], src);
    spec.sms = derived(d.compute_units, "measured device block");
    if (copy_bps > 0)
      spec.hbm_tbps = derived(copy_bps / 1e12, "best measured copy bandwidth (" + m.file + ")");
    spec.hbm_gb = derived(d.memory_gib * kGiB / 1e9, "measured device block");
    return spec;
  }
  // CPU. Peak = threads × clock × FLOPs/cycle. FLOPs/cycle per core = lanes × 2 (an FMA is two
  // FLOPs) × 2 FMA pipes (Intel server cores since Haswell, AMD Zen 2+: Intel 64 and IA-32
  // Architectures Optimization Reference Manual; AMD Software Optimization Guides). A core with
  // one pipe then shows half the efficiency: the fitted efficiency absorbs it.
  if (!d.clock_mhz)
    throw InputError(m.file, "device.clock_mhz",
                     "the CPU peak needs the clock (threads × clock × SIMD FLOPs/cycle); the "
                     "probe could not read it: edit the file to give the peak clock in MHz");
  const auto has = [&](const char* isa) { return d.simd.find(isa) != std::string::npos; };
  int vector_bits = 64;  // scalar: one double per instruction
  if (has("avx512f")) vector_bits = 512;
  else if (has("avx")) vector_bits = 256;
  else if (has("sse") || has("neon") || has("asimd")) vector_bits = 128;
  const bool fma = has("fma") || has("avx512f") || has("neon") || has("asimd");
  const int threads = d.threads > 0 ? d.threads : d.compute_units;
  const double per_cycle_fp64 = std::max(1, vector_bits / 64) * (fma ? 2.0 : 1.0) * 2.0;
  double clock_mhz = *d.clock_mhz;
  // The clock the OS reports can be below the one the cores ran at (a VM's cpufreq often shows
  // the base clock, turbo goes beyond it): a GEMM cannot beat the peak, so when one did, the
  // clock is raised to the lowest that explains it (common to fp32 and fp64: one clock).
  double implied_mhz = 0;
  for (std::size_t i = 0; i < m.records.size(); ++i) {
    const auto& r = m.records[i];
    if (!r.ok || !is_gemm(r) || r.time.value <= 0 || (r.dtype != "fp32" && r.dtype != "fp64"))
      continue;
    const double per_cycle = per_cycle_fp64 * (r.dtype == "fp32" ? 2.0 : 1.0);
    const double mhz = r.flops.value / r.time.value / (threads * per_cycle) / 1e6;
    // No CPU core runs near 100 GHz, even with the SIMD width misread 4×: such a record's time
    // or FLOP count is wrong (found by fuzzing: 1e95 MHz overflowed the formula's int).
    if (mhz > kMaxImpliedCpuClockMhz)
      throw InputError(m.file, "records[" + std::to_string(i) + "]",
                       "this GEMM's " + rate_text(r.flops.value / r.time.value / 1e12) +
                           " TFLOP/s on " + std::to_string(threads) + " threads of '" + d.simd +
                           "' implies a clock over " + mhz_text(kMaxImpliedCpuClockMhz) +
                           " MHz: its time_s or flops is wrong");
    implied_mhz = std::max(implied_mhz, mhz);
  }
  const bool raised = implied_mhz > clock_mhz;
  if (raised) clock_mhz = implied_mhz;
  const double peak_fp64 = threads * clock_mhz * 1e6 * per_cycle_fp64 / 1e12;
  const std::string formula =
      "derived: " + std::to_string(threads) + " threads × " + mhz_text(clock_mhz) + " MHz × " +
      "SIMD FLOPs/cycle of '" + d.simd + "' (× 2 FMA pipes)" +
      (raised ? "; clock raised from the reported " + mhz_text(*d.clock_mhz) +
                    " MHz to the lowest that the fastest measured GEMM implies"
              : "");
  spec.name = "cpu";
  spec.vendor = "cpu";
  spec.full_name = d.name;
  spec.fp64_tflops = derived(peak_fp64, formula);
  spec.fp32_tflops = derived(2 * peak_fp64, formula);
  spec.bf16_tflops = derived(2 * peak_fp64, formula + "; the fp32 peak: the CPU attention is fp32");
  spec.bf16_tflops.note = "kernel_cost prices attention at the bf16 slot";
  if (copy_bps > 0)
    spec.hbm_tbps = derived(copy_bps / 1e12,
                            "best measured copy bandwidth (" + m.file + "): no nominal DRAM figure");
  spec.hbm_gb = derived(d.memory_gib * kGiB / 1e9, "measured device block");
  spec.sms = derived(threads, "worker threads of the probe (wave quantisation over them)");
  return spec;
}

EfficiencyProfile neutral_profile(const GpuSpec& spec) {
  EfficiencyProfile p;
  p.name = spec.name + " neutral (EfficiencyProfile struct defaults)";
  p.gpu = spec.name;
  p.source = "struct defaults, not fitted";
  return p;
}

EfficiencyProfile calibrate(const Measurements& m, const GpuSpec& spec, const std::string& source) {
  EfficiencyProfile p;
  p.name = (spec.full_name.empty() ? spec.name : spec.full_name) + " calibrated " + m.device.date;
  p.gpu = spec.name;
  p.source = source + " (fnv1a64 " + hex64(m.fnv1a64) + ", " + m.device.date + ")";
  Json fit;
  fit["measurements"] = source;
  fit["measurements_fnv1a64"] = hex64(m.fnv1a64);
  fit["date"] = m.device.date;
  fit["device"] = m.device.name;

  // Launch overhead first: kernel_cost adds it to every kernel, so the other fits subtract it.
  // GPUs give a back-to-back (GPU view) and a launch-and-sync (host view) record; queued
  // kernels pay the former, so it is preferred.
  std::vector<double> launch_us, launch_b2b_us;
  for (const auto& r : m.records)
    if (r.ok && r.kind == "launch") {
      launch_us.push_back(r.time.value * 1e6);
      if (r.name.find("back_to_back") != std::string::npos)
        launch_b2b_us.push_back(r.time.value * 1e6);
    }
  const bool cpu = m.device.kind == "cpu";
  const bool one_thread = cpu && static_cast<int>(spec.sms.get()) <= 1;
  if (!launch_us.empty()) {
    const double measured_us = median(launch_b2b_us.empty() ? launch_us : launch_b2b_us);
    // A CPU kernel pays the wake-up of its helper threads; on one thread there are none (the
    // pool calls the kernel directly), so the measured wake-up is recorded but not charged.
    p.launch_overhead_us = one_thread ? 0.0 : measured_us;
    fit["launch"] = {{"samples", launch_us.size()}, {"overhead_us", p.launch_overhead_us}};
    if (one_thread) fit["launch"]["measured_thread_wake_us"] = measured_us;
  }
  const double launch_s = p.launch_overhead_us * 1e-6;

  // Memory: median achieved / nominal of copy and triad.
  const double nominal_bps = spec.hbm_tbps.get() * 1e12;
  std::vector<double> mem;
  for (const auto& r : m.records)
    if (r.ok && r.kind == "memory" && (r.name == "copy" || r.name == "triad") &&
        r.time.value > launch_s && nominal_bps > 0)
      mem.push_back(r.bytes.value / (r.time.value - launch_s) / nominal_bps);
  if (!mem.empty()) {
    p.memory.efficiency = std::clamp(median(mem), 1e-6, 1.0);
    p.memory.source = "median achieved/nominal of " + std::to_string(mem.size()) +
                      " copy/triad records of " + source;
    fit["memory"] = {{"samples", mem.size()}, {"efficiency", p.memory.efficiency}};
  }

  // GEMMs: per precision, grouped GEMMs with their groups. GPUs (roofline form): the
  // compute-bound records (FLOP time at peak ≥ byte time at nominal bandwidth). CPUs (serial
  // form): all of them, since packing and arithmetic add (GemmForm::Serial).
  // The base parameters come from the dense forward ("fprop") GEMMs of a precision; the role and
  // grouped efficiencies are fitted after them (below). A precision measured only through other
  // roles or grouped GEMMs fits its base on all of them.
  const auto usable_gemm = [&](const MeasurementRecord& r) {
    if (!r.ok || !is_gemm(r) || r.time.value <= 0) return false;
    const auto peak = spec.peak_tflops(r.dtype);
    if (!peak) return false;
    const double flop_t = r.flops.value / (*peak * 1e12);
    const double byte_t = nominal_bps > 0 ? r.bytes.value / nominal_bps : 0.0;
    return cpu || flop_t >= byte_t;
  };
  const auto dense_fprop = [](const MeasurementRecord& r) {
    return r.kind == "gemm" && (!r.op || r.op->role == "fprop");
  };
  std::set<std::string> has_dense_fprop;
  for (const auto& r : m.records)
    if (usable_gemm(r) && dense_fprop(r)) has_dense_fprop.insert(r.dtype);
  std::map<std::string, std::vector<GemmSample>> by_dtype;
  for (const auto& r : m.records) {
    if (!usable_gemm(r)) continue;
    if (has_dense_fprop.count(r.dtype) && !dense_fprop(r)) continue;
    by_dtype[r.dtype].push_back(GemmSample{r.gemm, r.dtype, r.time, r.name});
  }
  Json gfit = Json::object();
  const int sms = static_cast<int>(spec.sms.get());
  for (const auto& [dtype, samples] : by_dtype) {
    if (cpu) {
      // Launch overhead (thread wake-ups) is added by kernel_cost: fit what remains.
      std::vector<GemmSample> net = samples;
      for (auto& s : net) s.time = Seconds(std::max(s.time.value - launch_s, 1e-12));
      // The CPU kernels split output rows over the threads (cpu_kernels.cpp), so the "tile" of
      // the quantisation is one full-width row and the "SMs" are the threads.
      const GemmFit f = fit_gemm_serial(net, *spec.peak_tflops(dtype), sms, 1, kCpuRowTileN);
      if (f.samples == 0) continue;
      GemmEfficiency g = f.params;
      g.source = "non-negative least squares (arithmetic + packing of k×n + fixed time) over " +
                 std::to_string(samples.size()) + " GEMMs of " + source;
      p.gemm[dtype] = g;
      gfit[dtype] = {{"samples", samples.size()}, {"rms_relative_error", f.rms_relative_error},
                     {"form", "serial"}, {"efficiency", g.efficiency},
                     {"packing_gbps", g.packing_gbps}, {"overhead_us", g.overhead_us}};
      continue;
    }
    const double peak = *spec.peak_tflops(dtype);
    GemmFit f = fit_gemm_efficiency(samples, peak, sms);
    // Ideal times x_i = W/(peak·q) for the one-parameter fallbacks and the residuals.
    std::vector<double> x, t;
    for (const auto& s : samples) {
      const double w = 2.0 * s.shape.m * s.shape.n * s.shape.k * std::max(s.shape.groups, 1);
      x.push_back(w / (peak * 1e12 *
                       wave_quantisation(s.shape.m, s.shape.n, s.shape.groups, 128, 128, sms)));
      t.push_back(s.time.value);
    }
    GemmEfficiency g;
    if (samples.size() < 2 || f.params.overhead_us <= 0) {
      // One sample, or the two-parameter fit wanted a negative fixed time (which it clamps to
      // zero without refitting the slope): fit the efficiency alone, with no fixed time.
      const double a = fit_slope_only(x, t);
      g.efficiency = a > 0 ? std::min(1.0, 1.0 / a) : 1.0;
      g.overhead_us = 0;
    } else {
      g = f.params;
    }
    // kernel_cost adds the launch overhead to the GEMM's fixed time: do not count it twice.
    const double t0 = g.overhead_us * 1e-6;
    g.overhead_us = std::max(0.0, g.overhead_us - p.launch_overhead_us);
    double ss = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double rel = (x[i] / g.efficiency + t0 - t[i]) / t[i];
      ss += rel * rel;
    }
    const double rms = std::sqrt(ss / static_cast<double>(x.size()));
    g.source = "least squares over " + std::to_string(samples.size()) +
               " compute-bound GEMMs of " + source;
    p.gemm[dtype] = g;
    gfit[dtype] = {{"samples", samples.size()}, {"rms_relative_error", rms},
                   {"efficiency", g.efficiency}, {"overhead_us", g.overhead_us}};
  }
  // GEMM roles and grouped GEMMs: one efficiency each, the base parameters fixed (fit_efficiency).
  for (auto& [dtype, g] : p.gemm) {
    if (!has_dense_fprop.count(dtype)) continue;
    struct RoleFit {
      const char* key;
      std::function<bool(const MeasurementRecord&)> pick;
      double GemmEfficiency::*field;
    };
    const RoleFit roles[] = {
        {"grouped_efficiency",
         [](const MeasurementRecord& r) { return r.kind == "grouped_gemm" && (!r.op || r.op->role == "fprop"); },
         &GemmEfficiency::grouped_efficiency},
        {"dgrad_efficiency", [](const MeasurementRecord& r) { return r.op && r.op->role == "dgrad"; },
         &GemmEfficiency::dgrad_efficiency},
        {"wgrad_efficiency", [](const MeasurementRecord& r) { return r.op && r.op->role == "wgrad"; },
         &GemmEfficiency::wgrad_efficiency}};
    std::string roles_used;
    for (const RoleFit& rf : roles) {
      std::vector<const MeasurementRecord*> recs;
      for (const auto& r : m.records)
        if (r.dtype == dtype && usable_gemm(r) && rf.pick(r)) recs.push_back(&r);
      const std::string d = dtype;
      const auto f = fit_efficiency(recs, spec, p, [&, d](EfficiencyProfile& q, double e) {
        q.gemm[d].*(rf.field) = e;
      });
      if (!f) continue;
      g.*(rf.field) = f->efficiency;
      gfit[dtype][rf.key] = {{"samples", f->samples}, {"efficiency", f->efficiency},
                             {"rms_relative_error", f->rms}};
      roles_used += (roles_used.empty() ? "" : ", ") + std::string(rf.key) + " over " +
                    std::to_string(f->samples) + " records";
    }
    if (!roles_used.empty())
      g.roles_source = "relative least squares with the base parameters fixed (" + roles_used +
                       ") of " + source;
  }
  fit["gemm"] = gfit;

  // Memory-bound classes of `probe --scenario` records: one bandwidth fraction per class, with
  // the launch time t0 of every kernel: time = kernels·t0 + bytes/(bw·e_class), the size ramp.
  {
    std::map<std::string, std::vector<const MeasurementRecord*>> by_class;
    for (const auto& r : m.records)
      if (r.ok && r.kind == "memory" && r.op && !r.op->memory_class.empty() && r.time.value > 0)
        by_class[r.op->memory_class].push_back(&r);
    Json cfit = Json::object();
    for (const auto& [cls, recs] : by_class) {
      const std::string c = cls;
      const auto f = fit_efficiency(recs, spec, p, [c](EfficiencyProfile& q, double e) {
        q.memory.by_class[c] = e;
      });
      if (!f) continue;
      p.memory.by_class[cls] = f->efficiency;
      cfit[cls] = {{"samples", f->samples}, {"efficiency", f->efficiency},
                   {"rms_relative_error", f->rms}};
    }
    if (!cfit.empty()) {
      p.memory.by_class_source = "relative least squares per class (launch time fixed) over the "
                                 "memory-bound op records of " + source;
      fit["memory_by_class"] = cfit;
    }
  }

  // Attention forward: median achieved / the peak kernel_cost uses for attention.
  std::vector<double> att;
  const double att_peak = attention_peak_flops(spec);
  for (const auto& r : m.records)
    if (r.ok && r.kind == "attention" && r.time.value > launch_s && r.flops.value > 0)
      att.push_back(r.flops.value / (r.time.value - launch_s) / att_peak);
  if (!att.empty()) {
    p.attention.forward = std::clamp(median(att), 1e-6, 1.0);
    p.attention.source = "median achieved/peak of " + std::to_string(att.size()) +
                         " attention records of " + source + "; backward left at the default";
    fit["attention"] = {{"samples", att.size()}, {"forward", p.attention.forward}};
  }

  // Attention of `probe --scenario` records: per implementation, forward and backward.
  {
    std::map<std::pair<std::string, bool>, std::vector<const MeasurementRecord*>> by_kernel;
    for (const auto& r : m.records)
      if (r.ok && r.kind == "attention" && r.op && !r.op->attention_kernel.empty() && r.time.value > 0)
        by_kernel[{r.op->attention_kernel, r.op->backward}].push_back(&r);
    Json afit = Json::object();
    for (const auto& [key, recs] : by_kernel) {
      const auto [kernel, backward] = key;
      if (kernel != "flash1" && kernel != "flash2" && kernel != "flash3") continue;  // profile keys
      if (!p.attention.by_kernel.count(kernel))
        p.attention.by_kernel[kernel] = p.attention.for_kernel(kernel);
      const std::string kn = kernel;
      const bool bwd = backward;
      const auto f = fit_efficiency(recs, spec, p, [kn, bwd](EfficiencyProfile& q, double e) {
        (bwd ? q.attention.by_kernel[kn].backward : q.attention.by_kernel[kn].forward) = e;
      });
      if (!f) continue;
      auto& k = p.attention.by_kernel[kernel];
      (backward ? k.backward : k.forward) = f->efficiency;
      k.source = "relative least squares over the " + kernel + " records of " + source;
      afit[kernel][backward ? "backward" : "forward"] = {
          {"samples", f->samples}, {"efficiency", f->efficiency}, {"rms_relative_error", f->rms}};
    }
    if (!afit.empty()) fit["attention_by_kernel"] = afit;
  }

  // Network: peer copies and all-reduce against the scale-up line rate (nccl-tests busbw).
  std::vector<double> net;
  const double line_bps = spec.scale_up.gbs_uni_per_gpu.get() * 1e9;
  for (const auto& r : m.records) {
    if (!r.ok || r.time.value <= 0 || line_bps <= 0) continue;
    const double algbw = r.bytes.value / r.time.value;
    if (r.kind == "p2p") net.push_back(algbw / line_bps);
    if (r.kind == "allreduce" && r.ranks >= 2)
      net.push_back(algbw * 2.0 * (r.ranks - 1) / r.ranks / line_bps);
  }
  if (!net.empty()) {
    p.network.scale_up = std::clamp(median(net), 1e-6, 1.0);
    p.network.source = "median busbw/line rate of " + std::to_string(net.size()) +
                       " p2p/all-reduce records of " + source + "; scale-out left at the default";
    fit["network"] = {{"samples", net.size()}, {"scale_up", p.network.scale_up}};
  } else {
    p.network.source = "default (no p2p or all-reduce measured)";
  }
  int used = 0;
  for (const auto& r : m.records) used += r.ok ? 1 : 0;
  fit["ok_records"] = used;
  fit["records"] = m.records.size();
  p.fit = fit;
  return p;
}

std::vector<KernelPrediction> predict_kernels(const Measurements& m, const GpuSpec& spec,
                                              const EfficiencyProfile& default_profile,
                                              const EfficiencyProfile& calibrated) {
  std::vector<KernelPrediction> out;
  const auto predict = [&](const MeasurementRecord& r, const EfficiencyProfile& p) {
    if (r.kind == "launch") return Seconds(p.launch_overhead_us * 1e-6);
    return kernel_cost(spec, p, kernel_desc_of(r));
  };
  // A CPU probe on one thread wakes no helper thread in its kernels: its thread-wake record
  // says what multi-threaded kernels would pay, which no kernel of this file paid.
  const bool one_cpu_thread = m.device.kind == "cpu" && static_cast<int>(spec.sms.get()) <= 1;
  for (const auto& r : m.records) {
    if (!r.ok || r.time.value <= 0) continue;
    if (!(is_gemm(r) || r.kind == "memory" || r.kind == "attention" || r.kind == "launch")) continue;
    if (r.kind == "launch" && one_cpu_thread) continue;
    KernelPrediction k;
    k.name = r.name;
    k.kind = r.kind;
    k.dtype = r.dtype;
    k.op = r.op;
    k.measured = r.time;
    k.predicted_default = predict(r, default_profile);
    k.predicted_calibrated = predict(r, calibrated);
    k.error_default = (k.predicted_default.value - r.time.value) / r.time.value;
    k.error_calibrated = (k.predicted_calibrated.value - r.time.value) / r.time.value;
    out.push_back(k);
  }
  return out;
}

KernelMape kernel_mape(const std::vector<KernelPrediction>& rows) {
  KernelMape k;
  for (const auto& r : rows) {
    k.default_profile += std::abs(r.error_default);
    k.calibrated += std::abs(r.error_calibrated);
  }
  k.kernels = static_cast<int>(rows.size());
  if (k.kernels > 0) {
    k.default_profile /= k.kernels;
    k.calibrated /= k.kernels;
  }
  return k;
}

std::map<std::string, KernelMape> kernel_mape_by_kind(const std::vector<KernelPrediction>& rows) {
  std::map<std::string, std::vector<KernelPrediction>> by_kind;
  for (const auto& r : rows) by_kind[r.kind].push_back(r);
  std::map<std::string, KernelMape> out;
  for (const auto& [kind, list] : by_kind) out[kind] = kernel_mape(list);
  return out;
}

}  // namespace clustercost
