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

double GemmEfficiency::efficiency_for(bool grouped, int role) const {
  // Grouped kernels have their own fprop figure; dgrad and wgrad figures apply to both kinds
  // (the profile's grouped dgrad runs in the same kernel as its fprop, DeepGEMM m_grouped).
  double base = grouped && grouped_efficiency > 0 ? grouped_efficiency : efficiency;
  if (role == 1 && dgrad_efficiency > 0) return grouped ? base * dgrad_efficiency / efficiency : dgrad_efficiency;
  if (role == 2 && wgrad_efficiency > 0) return wgrad_efficiency;
  return base;
}

AttentionEfficiency::Kernel AttentionEfficiency::for_kernel(const std::string& kernel) const {
  auto it = by_kernel.find(kernel);
  if (it != by_kernel.end()) return it->second;
  return Kernel{forward, backward, source};
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
    // Optional keys of the CPU (serial) form; profiles without them keep the roofline form.
    const std::string form = g.string_or("form", "roofline");
    if (form == "serial") {
      e.form = GemmForm::Serial;
    } else if (form != "roofline") {
      g.fail("form", "expected \"roofline\" or \"serial\", got \"" + form + "\"");
    }
    e.packing_gbps = g.non_negative_number_or("packing_gbps", 0.0);
    if (g.find("dgrad_efficiency")) e.dgrad_efficiency = fraction(g, "dgrad_efficiency", 0.8);
    if (g.find("wgrad_efficiency")) e.wgrad_efficiency = fraction(g, "wgrad_efficiency", 0.8);
    if (g.find("grouped_efficiency")) e.grouped_efficiency = fraction(g, "grouped_efficiency", 0.8);
    e.roles_source = g.string_or("roles_source", "");
    g.finish();
    p.gemm[prec] = e;
  }
  gemm.finish();
  if (auto a = r.optional_object("attention")) {
    p.attention.forward = fraction(*a, "forward", 0.7);
    p.attention.backward = fraction(*a, "backward", 0.5);
    p.attention.source = a->string_or("source", "");
    for (const char* kernel : {"flash1", "flash2", "flash3"}) {
      if (auto k = a->optional_object(kernel)) {
        AttentionEfficiency::Kernel e;
        e.forward = fraction(*k, "forward", 0.7);
        e.backward = fraction(*k, "backward", 0.5);
        e.source = k->string_or("source", "");
        k->finish();
        p.attention.by_kernel[kernel] = e;
      }
    }
    a->finish();
  }
  if (auto m = r.optional_object("memory")) {
    p.memory.efficiency = fraction(*m, "efficiency", 0.8);
    p.memory.source = m->string_or("source", "");
    if (auto bc = m->optional_object("by_class")) {
      const Json& raw = *m->find("by_class");
      for (auto it = raw.begin(); it != raw.end(); ++it)
        p.memory.by_class[it.key()] = fraction(*bc, it.key(), 0.8);
      bc->finish();
    }
    p.memory.by_class_source = m->string_or("by_class_source", "");
    m->finish();
  }
  if (auto n = r.optional_object("network")) {
    p.network.scale_up = fraction(*n, "scale_up", 0.8);
    p.network.scale_out = fraction(*n, "scale_out", 0.95);
    if (n->find("nvls")) p.network.nvls = fraction(*n, "nvls", 0.0);
    p.network.source = n->string_or("source", "");
    n->finish();
  }
  p.launch_overhead_us = r.non_negative_number_or("launch_overhead_us", 0.0);
  p.launch_source = r.string_or("launch_source", "");
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
    // Written only for the serial form, so roofline (GPU) profiles keep their v1 keys exactly.
    if (e.form == GemmForm::Serial) {
      g[prec]["form"] = "serial";
      g[prec]["packing_gbps"] = e.packing_gbps;
    }
    if (e.dgrad_efficiency > 0) g[prec]["dgrad_efficiency"] = e.dgrad_efficiency;
    if (e.wgrad_efficiency > 0) g[prec]["wgrad_efficiency"] = e.wgrad_efficiency;
    if (e.grouped_efficiency > 0) g[prec]["grouped_efficiency"] = e.grouped_efficiency;
    if (!e.roles_source.empty()) g[prec]["roles_source"] = e.roles_source;
  }
  j["gemm"] = g;
  j["attention"] = {{"forward", p.attention.forward}, {"backward", p.attention.backward},
                    {"source", p.attention.source}};
  for (const auto& [kernel, e] : p.attention.by_kernel)
    j["attention"][kernel] = {{"forward", e.forward}, {"backward", e.backward}, {"source", e.source}};
  j["memory"] = {{"efficiency", p.memory.efficiency}, {"source", p.memory.source}};
  if (!p.memory.by_class.empty()) {
    for (const auto& [cls, e] : p.memory.by_class) j["memory"]["by_class"][cls] = e;
    j["memory"]["by_class_source"] = p.memory.by_class_source;
  }
  j["network"] = {{"scale_up", p.network.scale_up}, {"scale_out", p.network.scale_out},
                  {"source", p.network.source}};
  if (p.network.nvls > 0) j["network"]["nvls"] = p.network.nvls;
  j["launch_overhead_us"] = p.launch_overhead_us;
  if (!p.launch_source.empty()) j["launch_source"] = p.launch_source;
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

namespace {

/// Non-negative least squares min ‖A·c − b‖², c ≥ 0, for a few columns: the optimum is the
/// unconstrained least-squares solution on some subset of the columns (its support) that comes
/// out non-negative, so every subset is solved (Eigen, column-pivoting QR) and the best feasible
/// one kept. Exact, and cheap for the three columns used here (8 subsets).
Eigen::VectorXd nnls_small(const Eigen::MatrixXd& A, const Eigen::VectorXd& b) {
  const int cols = static_cast<int>(A.cols());
  Eigen::VectorXd best = Eigen::VectorXd::Zero(cols);
  double best_ss = b.squaredNorm();  // the empty support
  for (unsigned mask = 1; mask < (1u << cols); ++mask) {
    std::vector<int> idx;
    for (int c = 0; c < cols; ++c)
      if (mask & (1u << c)) idx.push_back(c);
    Eigen::MatrixXd sub(A.rows(), static_cast<Eigen::Index>(idx.size()));
    for (std::size_t j = 0; j < idx.size(); ++j)
      sub.col(static_cast<Eigen::Index>(j)) = A.col(idx[j]);
    const Eigen::VectorXd x = sub.colPivHouseholderQr().solve(b);
    if (!x.allFinite() || (x.array() < 0).any()) continue;
    const double ss = (sub * x - b).squaredNorm();
    if (ss < best_ss) {
      best_ss = ss;
      best.setZero();
      for (std::size_t j = 0; j < idx.size(); ++j) best(idx[j]) = x(static_cast<Eigen::Index>(j));
    }
  }
  return best;
}

}  // namespace

double operand_element_bytes(const std::string& precision) {
  if (precision == "fp64") return 8;
  if (precision == "fp32" || precision == "tf32") return 4;
  if (precision == "fp8") return 1;
  return 2;
}

double packed_operand_bytes(const GemmShape& shape, const std::string& precision) {
  return shape.n * shape.k * std::max(shape.groups, 1) * operand_element_bytes(precision);
}

GemmFit fit_gemm_serial(const std::vector<GemmSample>& samples, double peak_tflops, int sms,
                        int tile_m, int tile_n) {
  GemmFit out;
  const int n = static_cast<int>(samples.size());
  if (n < 1 || peak_tflops <= 0) return out;
  // time_i = a·x_i + p·y_i + t0 with x_i = W_i/(peak·q_i) (seconds at peak), y_i = B bytes in GB,
  // a = 1/e ≥ 1, p = 1/packing_gbps ≥ 0, t0 ≥ 0. With a = 1 + a', every unknown is ≥ 0:
  // (t_i − x_i) = a'·x_i + p·y_i + t0. Rows are divided by t_i (relative residuals).
  Eigen::MatrixXd A(n, 3);
  Eigen::VectorXd b(n);
  std::vector<double> x(n), y(n), t(n);
  for (int i = 0; i < n; ++i) {
    const auto& s = samples[i];
    const double w = 2.0 * s.shape.m * s.shape.n * s.shape.k * std::max(s.shape.groups, 1);
    const double q = wave_quantisation(s.shape.m, s.shape.n, s.shape.groups, tile_m, tile_n, sms);
    x[i] = w / (peak_tflops * 1e12 * q);
    y[i] = packed_operand_bytes(s.shape, s.precision) / 1e9;
    t[i] = s.time.value;
    if (!(t[i] > 0)) return out;
    A(i, 0) = x[i] / t[i];
    A(i, 1) = y[i] / t[i];
    A(i, 2) = 1.0 / t[i];
    b(i) = (t[i] - x[i]) / t[i];
  }
  const Eigen::VectorXd c = nnls_small(A, b);
  const double a = 1.0 + c(0), p = c(1), t0 = c(2);
  out.params.form = GemmForm::Serial;
  out.params.efficiency = 1.0 / a;
  out.params.packing_gbps = p > 0 ? 1.0 / p : 0.0;
  out.params.overhead_us = t0 * 1e6;
  out.params.tile_m = tile_m;
  out.params.tile_n = tile_n;
  double ss = 0;
  for (int i = 0; i < n; ++i) {
    const double rel = (a * x[i] + p * y[i] + t0 - t[i]) / t[i];
    ss += rel * rel;
  }
  out.rms_relative_error = std::sqrt(ss / n);
  out.samples = n;
  return out;
}

}  // namespace clustercost
