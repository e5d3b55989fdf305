#include "sim/report/published_validation.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "hardware/spec/catalog.hpp"
#include "sim/network/all_to_all.hpp"
#include "sim/report/report.hpp"
#include "sim/program/op_program.hpp"
#include "sim/step/analytical_step.hpp"
#include "sim/step/fabric_efficiency.hpp"
#include "sim/workload/des_step.hpp"

namespace clustercost {

std::vector<std::string> published_metric_names() {
  return {"step_time_s",        "tokens_per_s_per_gpu",   "mfu",
          "gpu_hours",          "wall_days",              "megatron_tflops_per_gpu",
          "deepep_dispatch_gbs", "deepep_combine_gbs",    "memory_state_gib",
          "memory_activations_gib", "hw_tflops_per_gpu", "fa2_tflops_per_gpu",
          "profile_ms"};
}

std::vector<PublishedCase> load_published_cases(const std::filesystem::path& file) {
  Json j = load_json_file(file);
  ObjectReader r(j, file.string(), "");
  const Json& arr = r.array("cases");
  r.string_or("source", "");
  r.finish();
  std::vector<PublishedCase> out;
  const auto metrics = published_metric_names();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    ObjectReader c(arr[i], file.string(), index_path("cases", i));
    PublishedCase pc;
    pc.id = c.string("id");
    pc.description = c.string_or("description", "");
    pc.scenario = c.string("scenario");
    if (const Json* sets = c.find("set")) {
      if (!sets->is_array()) c.fail("set", "expected an array of \"PATH=VALUE\" strings");
      for (std::size_t k = 0; k < sets->size(); ++k)
        pc.overrides.push_back(json_string((*sets)[k], file.string(), index_path(c.path_of("set"), k)));
    }
    pc.metric = c.string("metric");
    if (std::find(metrics.begin(), metrics.end(), pc.metric) == metrics.end())
      c.fail("metric", "unknown metric \"" + pc.metric + "\"");
    pc.published = c.positive_number("published");
    pc.category = c.string_or("category", "");
    if (pc.metric == "profile_ms") {
      const auto cats = profile_categories();
      if (std::find(cats.begin(), cats.end(), pc.category) == cats.end())
        c.fail("category", "expected a DeepSeek profile category (see profile_categories()), got \"" +
                               pc.category + "\"");
    }
    pc.source = c.string("source");
    c.finish();
    out.push_back(pc);
  }
  return out;
}

namespace {

// Narayanan et al. 2021 (arXiv 2104.04473) eq. 3: FLOPs per iteration including the extra
// forward of full recomputation, F = 96·B·s·l·h²·(1 + s/(6h) + V/(16·l·h)). The TFLOP/s/GPU of
// their Table 1 are F / (iteration time × GPUs); we report ours in the same convention.
double megatron_eq3_flops(const Scenario& s) {
  const double B = static_cast<double>(s.training.global_batch), sl = s.training.seq_len;
  const double l = s.model.layers, h = s.model.hidden, V = s.model.vocab;
  return 96.0 * B * sl * l * h * h * (1.0 + sl / (6.0 * h) + V / (16.0 * l * h));
}

// Dao 2023 (arXiv 2307.08691) Table 1 convention: FLOPs per sequence 6·N·seq + 12·L·d·seq²
// (attention not halved for causality), N the parameter count.
double fa2_flops(const Scenario& s) {
  const double n = count_parameters(s.model).total, sl = s.training.seq_len;
  return static_cast<double>(s.training.global_batch) *
         (6.0 * n * sl + 12.0 * s.model.layers * s.model.hidden * sl * sl);
}

double step_metric(const Scenario& s, const StepResult& st, const std::string& metric) {
  const double gpus = static_cast<double>(s.cluster.gpus);
  if (metric == "step_time_s") return st.step_time.value;
  if (metric == "tokens_per_s_per_gpu") return st.tokens_per_s_per_gpu;
  if (metric == "mfu") return st.mfu;
  if (metric == "megatron_tflops_per_gpu")
    return megatron_eq3_flops(s) / st.step_time.value / gpus / 1e12;
  if (metric == "memory_state_gib")
    return to_gib(st.memory.weights + st.memory.gradients + st.memory.optimizer);
  if (metric == "memory_activations_gib") return to_gib(st.memory.activations);
  if (metric == "hw_tflops_per_gpu") return st.hfu * s.gpu.peak_tflops("bf16").value_or(0.0);
  if (metric == "fa2_tflops_per_gpu") return fa2_flops(s) / st.step_time.value / gpus / 1e12;
  return 0;
}

double metric_value(const Report& r, const std::string& metric) {
  if (metric == "step_time_s") return r.step.step_time.value;
  if (metric == "tokens_per_s_per_gpu") return r.step.tokens_per_s_per_gpu;
  if (metric == "mfu") return r.step.mfu;
  if (metric == "gpu_hours") return r.run.gpu_hours;
  if (metric == "wall_days") return r.run.wall_days;
  if (metric == "megatron_tflops_per_gpu")
    return megatron_eq3_flops(r.scenario) / r.step.step_time.value /
           static_cast<double>(r.scenario.cluster.gpus) / 1e12;
  return 0;
}

/// DeepEP's normal-kernel benchmark (docs/reference/published-runs.md C1) on the
/// scenario's cluster: EP = parallelism.ep ranks on GPUs 0..ep−1, seq_len × micro_batch tokens
/// per rank, the model's experts and top-k, node_limit (default 4) node groups, the scenario's
/// dispatch and combine dtypes; the bandwidth as DeepEP's tests print it (all_to_all.hpp).
double deepep_metric(const Scenario& s, const std::string& metric) {
  if (!s.model.moe) throw InputError(s.file, "model", "a DeepEP case needs an MoE model");
  const Topology topo = build_topology(s);
  std::vector<int> gpus(static_cast<std::size_t>(s.parallelism.ep));
  for (std::size_t i = 0; i < gpus.size(); ++i) gpus[i] = static_cast<int>(i);
  DeepEpBenchmark b;
  b.routing.tokens = s.training.seq_len * s.parallelism.micro_batch;
  b.routing.experts = s.model.moe->routed_experts;
  b.routing.top_k = s.model.moe->top_k;
  const int domains = std::max(1, s.parallelism.ep / s.cluster.gpus_per_node);
  b.routing.topk_groups = std::min(domains, s.moe_routing.node_limit.value_or(4));
  b.routing.seed = s.simulation.seed;
  b.hidden = s.model.hidden;
  b.dispatch_dtype = s.moe_routing.dispatch_dtype;
  b.combine_dtype = s.moe_routing.combine_dtype;
  const FabricEfficiency eff = fabric_efficiency(s);
  const DeepEpBandwidth bw = deepep_bandwidth(topo, gpus, b, eff);
  return metric == "deepep_dispatch_gbs" ? bw.dispatch_gbs : bw.combine_gbs;
}

}  // namespace

std::vector<std::string> profile_categories() {
  return {"grouped_gemm", "attention", "wgrad_gemm", "dense_gemm", "fp8_cast", "routing",
          "norm", "copy", "activation", "elementwise", "rope", "bf16_gemm", "total"};
}

std::string profile_category_of(const Op& op) {
  const bool gemm = op.kernel.op_class == OpClass::Gemm || op.kernel.op_class == OpClass::GroupedGemm;
  if (gemm && op.category != OpCategory::Attention) {
    if (op.kernel.precision != "fp8") return "bf16_gemm";
    if (op.kernel.role == GemmRole::Wgrad) return "wgrad_gemm";
    return op.kernel.op_class == OpClass::GroupedGemm ? "grouped_gemm" : "dense_gemm";
  }
  switch (op.category) {
    case OpCategory::Attention: return "attention";
    case OpCategory::Fp8Cast: return "fp8_cast";
    case OpCategory::Routing: return "routing";
    case OpCategory::Norm: return "norm";
    case OpCategory::Copy: return "copy";
    case OpCategory::Activation: return "activation";
    case OpCategory::Rope: return "rope";
    default: return "elementwise";
  }
}

double profile_category_ms(const Scenario& s, const std::string& category) {
  // DeepSeek's profile (docs/reference/deepseek-v3-train-profile.md): one forward chunk and one
  // backward chunk of 4 MoE layers each on one rank, balanced routing, DeepEP on comm_sms SMs;
  // every compute kernel of both compute streams. Ours: the program of one MoE layer (uniform
  // routing), all passes, × 4.
  const StepProgram prog = build_step_program(s);
  const double cf = program_compute_fraction(s);
  for (const LayerProgram& lp : prog.layers) {
    if (lp.kind != LayerKind::Moe) continue;
    double ms = 0;
    for (const Op& op : lp.ops) {
      if (op.is_collective()) continue;
      if (category != "total" && profile_category_of(op) != category) continue;
      ms += compute_op_time(s, op, cf).value * 1e3;
    }
    return 4.0 * ms;
  }
  throw InputError(s.file, "model", "the profile check needs an MoE layer");
}

std::vector<ValidationRow> validate_published(const std::vector<PublishedCase>& cases,
                                              const Catalog& catalog, const DataDirs& dirs) {
  std::vector<ValidationRow> rows;
  for (const auto& c : cases) {
    ValidationRow row;
    row.c = c;
    try {
      Scenario s = load_scenario(dirs.scenarios() / c.scenario, c.overrides, catalog, dirs);
      if (c.metric.rfind("deepep_", 0) == 0) {
        row.predicted = deepep_metric(s, c.metric);
      } else if (c.metric == "profile_ms") {
        row.predicted = profile_category_ms(s, c.category);
      } else if (c.metric != "gpu_hours" && c.metric != "wall_days") {
        // Step-level metrics need the step only (not the campaign's Monte Carlo).
        const StepResult st = simulate_step(s);
        row.predicted = step_metric(s, st, c.metric);
      } else {
        Report r = run_scenario(s);
        row.predicted = metric_value(r, c.metric);
      }
      row.error = (row.predicted - c.published) / c.published;
    } catch (const InputError& e) {
      row.failure = e.what();
    }
    rows.push_back(row);
  }
  return rows;
}

std::string validation_table_text(const std::vector<ValidationRow>& rows) {
  std::ostringstream os;
  char line[512];
  std::snprintf(line, sizeof line, "%-14s %-24s %14s %14s %9s  %s\n", "case", "metric",
                "published", "predicted", "error", "source");
  os << line;
  std::map<std::string, std::pair<double, int>> ape;
  for (const auto& r : rows) {
    if (!r.failure.empty()) {
      std::snprintf(line, sizeof line, "%-14s %-24s %14.4g %14s %9s  %s\n", r.c.id.c_str(),
                    r.c.metric.c_str(), r.c.published, "-", "-", r.failure.c_str());
    } else {
      std::snprintf(line, sizeof line, "%-14s %-24s %14.4g %14.4g %+8.1f%%  %s\n",
                    r.c.id.c_str(), r.c.metric.c_str(), r.c.published, r.predicted,
                    100.0 * r.error, r.c.source.c_str());
      auto& a = ape[r.c.metric];
      a.first += std::fabs(r.error);
      a.second += 1;
    }
    os << line;
  }
  os << "\nmean absolute percentage error by metric:\n";
  for (const auto& [metric, a] : ape) {
    std::snprintf(line, sizeof line, "  %-24s %6.1f%%  over %d case%s\n", metric.c_str(),
                  100.0 * a.first / a.second, a.second, a.second == 1 ? "" : "s");
    os << line;
  }
  return os.str();
}

Json validation_to_json(const std::vector<ValidationRow>& rows) {
  Json out = Json::array();
  for (const auto& r : rows) {
    Json j = {{"id", r.c.id}, {"metric", r.c.metric}, {"published", r.c.published},
              {"source", r.c.source}};
    if (r.failure.empty()) {
      j["predicted"] = r.predicted;
      j["error"] = r.error;
    } else {
      j["failure"] = r.failure;
    }
    out.push_back(j);
  }
  return out;
}

}  // namespace clustercost
