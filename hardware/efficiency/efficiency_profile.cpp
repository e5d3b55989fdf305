#include "hardware/efficiency/efficiency_profile.hpp"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

namespace clustercost {

const GemmEfficiency& EfficiencyProfile::gemm_for(const std::string& precision) const {
  // The requested precision, else BF16 (GPU profiles), else FP32 (CPU profiles), else any.
  for (const char* p : {precision.c_str(), "bf16", "fp32"}) {
    auto it = gemm.find(p);
    if (it != gemm.end()) return it->second;
  }
  if (!gemm.empty()) return gemm.begin()->second;
  static const GemmEfficiency kNeutral{};  // immutable default, not state
  return kNeutral;
}

namespace {

double fraction(ObjectReader& r, std::string_view key, double fallback) {
  double v = r.number_or(key, fallback);
  if (!(v > 0 && v <= 1.0)) r.fail(key, "expected an efficiency in (0, 1], got " + std::to_string(v));
  return v;
}

}  // namespace

EfficiencyProfile parse_efficiency_profile(const Json& j, const std::string& file) {
  ObjectReader r(j, file, "");
  EfficiencyProfile p;
  std::string schema = r.string_or("schema", "clustercost.profile/1");
  if (schema != "clustercost.profile/1")
    r.fail("schema", "expected \"clustercost.profile/1\", got \"" + schema + "\"");
  p.name = r.string_or("name", "");
  p.gpu = r.string("gpu");
  p.source = r.string_or("source", file);
  auto gemm = r.object("gemm");
  const Json& graw = j.at("gemm");
  if (graw.empty()) r.fail("gemm", "expected at least one precision (bf16, fp8, tf32, fp32, fp64)");
  for (auto it = graw.begin(); it != graw.end(); ++it) {
    const std::string& prec = it.key();
    if (prec != "bf16" && prec != "fp8" && prec != "fp32" && prec != "fp64" && prec != "tf32")
      gemm.fail(prec, "expected a precision: bf16, fp8, tf32, fp32 or fp64");
    auto g = gemm.object(prec);
    GemmEfficiency e;
    e.efficiency = fraction(g, "efficiency", 0.8);
    e.overhead_us = g.non_negative_number_or("overhead_us", 0.0);
    e.tile_m = static_cast<int>(g.positive_integer_or("tile_m", 128));
    e.tile_n = static_cast<int>(g.positive_integer_or("tile_n", 128));
    e.source = g.string_or("source", "");
    g.finish();
    p.gemm[prec] = e;
  }
  gemm.finish();
  if (auto a = r.optional_object("attention")) {
    p.attention.forward = fraction(*a, "forward", 0.7);
    p.attention.backward = fraction(*a, "backward", 0.5);
    p.attention.source = a->string_or("source", "");
    a->finish();
  }
  if (auto m = r.optional_object("memory")) {
    p.memory.efficiency = fraction(*m, "efficiency", 0.8);
    p.memory.source = m->string_or("source", "");
    m->finish();
  }
  if (auto n = r.optional_object("network")) {
    p.network.scale_up = fraction(*n, "scale_up", 0.8);
    p.network.scale_out = fraction(*n, "scale_out", 0.95);
    p.network.source = n->string_or("source", "");
    n->finish();
  }
  p.launch_overhead_us = r.non_negative_number_or("launch_overhead_us", 0.0);
  if (const Json* fit = r.find("fit")) p.fit = *fit;
  r.finish();
  return p;
}

EfficiencyProfile load_efficiency_profile(const std::filesystem::path& file) {
  return parse_efficiency_profile(load_json_file(file), file.string());
}

Json efficiency_profile_to_json(const EfficiencyProfile& p) {
  Json j;
  j["schema"] = "clustercost.profile/1";
  j["name"] = p.name;
  j["gpu"] = p.gpu;
  j["source"] = p.source;
  Json g = Json::object();
  for (const auto& [prec, e] : p.gemm) {
    g[prec] = {{"efficiency", e.efficiency}, {"overhead_us", e.overhead_us},
               {"tile_m", e.tile_m}, {"tile_n", e.tile_n}, {"source", e.source}};
  }
  j["gemm"] = g;
  j["attention"] = {{"forward", p.attention.forward}, {"backward", p.attention.backward},
                    {"source", p.attention.source}};
  j["memory"] = {{"efficiency", p.memory.efficiency}, {"source", p.memory.source}};
  j["network"] = {{"scale_up", p.network.scale_up}, {"scale_out", p.network.scale_out},
                  {"source", p.network.source}};
  j["launch_overhead_us"] = p.launch_overhead_us;
  if (!p.fit.is_null()) j["fit"] = p.fit;
  return j;
}

EfficiencyProfile load_default_profile(const std::filesystem::path& profiles_dir,
                                       const GpuSpec& gpu) {
  auto file = profiles_dir / (gpu.name + ".json");
  if (!std::filesystem::exists(file))
    throw InputError(file.string(), "",
                     "no shipped efficiency profile for GPU \"" + gpu.name +
                         "\"; measure one with `clustercost probe` and `clustercost calibrate`, "
                         "then name it in cluster.profile");
  EfficiencyProfile p = load_efficiency_profile(file);
  if (p.gpu != gpu.name)
    throw InputError(file.string(), "gpu",
                     "profile is for \"" + p.gpu + "\", expected \"" + gpu.name + "\"");
  return p;
}

double wave_quantisation(double m, double n, int groups, int tile_m, int tile_n, int sms) {
  if (m <= 0 || n <= 0 || sms <= 0) return 1.0;
  double tiles = std::ceil(m / tile_m) * std::ceil(n / tile_n) * std::max(groups, 1);
  double waves = std::ceil(tiles / sms);
  return tiles / (waves * sms);
}

Seconds kernel_time(const GpuSpec& gpu, const EfficiencyProfile& profile, OpClass op_class,
                    const GemmShape& shape, FlopCount flops, Bytes bytes,
                    const std::string& precision, bool backward, double compute_fraction) {
  const double hbm_bps = gpu.hbm_tbps.get() * 1e12 * profile.memory.efficiency;
  const double mem_t = hbm_bps > 0 ? bytes.value / hbm_bps : 0.0;
  const double launch = profile.launch_overhead_us * 1e-6;
  const double bf16_peak = gpu.peak_tflops("bf16").value_or(1.0) * 1e12;
  compute_fraction = std::clamp(compute_fraction, 1e-3, 1.0);
  // A backward GEMM is two kernels (input grad and weight grad); attention backward one fused.
  const double kernels = backward && (op_class == OpClass::Gemm || op_class == OpClass::GroupedGemm)
                             ? 2.0 : 1.0;
  switch (op_class) {
    case OpClass::Gemm:
    case OpClass::GroupedGemm: {
      const auto& g = profile.gemm_for(precision);
      double peak = gpu.peak_tflops(precision).value_or(bf16_peak / 1e12) * 1e12;
      double q = wave_quantisation(shape.m, shape.n, shape.groups, g.tile_m, g.tile_n,
                                   static_cast<int>(gpu.sms.get()));
      double comp_t = flops.value / (peak * g.efficiency * q * compute_fraction);
      return Seconds(std::max(comp_t, mem_t) + kernels * (g.overhead_us * 1e-6 + launch));
    }
    case OpClass::Attention: {
      double e = backward ? profile.attention.backward : profile.attention.forward;
      double comp_t = flops.value / (bf16_peak * e * compute_fraction);
      return Seconds(std::max(comp_t, mem_t) + launch);
    }
    case OpClass::Memory:
      return Seconds(mem_t + launch);
  }
  return Seconds(0);
}

GemmFit fit_gemm_efficiency(const std::vector<GemmSample>& samples, double peak_tflops, int sms,
                            int tile_m, int tile_n) {
  GemmFit out;
  const int n = static_cast<int>(samples.size());
  if (n < 2 || peak_tflops <= 0) return out;
  // time_i = a · x_i + t0, x_i = W_i / (peak · q_i), a = 1/e. Rows are divided by time_i so the
  // fit minimises relative error (small and large GEMMs count alike).
  Eigen::MatrixXd A(n, 2);
  Eigen::VectorXd b(n);
  std::vector<double> x(n), t(n);
  for (int i = 0; i < n; ++i) {
    const auto& s = samples[i];
    double w = 2.0 * s.shape.m * s.shape.n * s.shape.k * std::max(s.shape.groups, 1);
    double q = wave_quantisation(s.shape.m, s.shape.n, s.shape.groups, tile_m, tile_n, sms);
    x[i] = w / (peak_tflops * 1e12 * q);
    t[i] = s.time.value;
    A(i, 0) = x[i] / t[i];
    A(i, 1) = 1.0 / t[i];
    b(i) = 1.0;
  }
  Eigen::Vector2d sol = A.colPivHouseholderQr().solve(b);
  double a = sol(0), t0 = sol(1);
  if (t0 < 0) {
    // A negative fixed time is unphysical: refit the efficiency alone with t0 = 0, minimising
    // Σ(a·x_i/t_i − 1)², so a = Σ(x_i/t_i) / Σ(x_i/t_i)².
    double num = 0, den = 0;
    for (int i = 0; i < n; ++i) {
      num += A(i, 0);
      den += A(i, 0) * A(i, 0);
    }
    a = num / den;
    t0 = 0;
  }
  out.params.efficiency = a > 0 ? std::min(1.0, 1.0 / a) : 1.0;
  out.params.overhead_us = t0 * 1e6;
  out.params.tile_m = tile_m;
  out.params.tile_n = tile_n;
  double ss = 0;
  for (int i = 0; i < n; ++i) {
    double pred = x[i] / out.params.efficiency + t0;
    double rel = (pred - t[i]) / t[i];
    ss += rel * rel;
  }
  out.rms_relative_error = std::sqrt(ss / n);
  out.samples = n;
  return out;
}

}  // namespace clustercost
