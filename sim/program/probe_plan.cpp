#include "sim/program/probe_plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "sim/moe/routing.hpp"
#include "sim/scenario/scenario.hpp"

namespace clustercost {

namespace {

/// Budgets of the CPU twin: one timed call of a GEMM or an attention kernel stays near 10 ms
/// (quick) or 100 ms on one core (Eigen fp32 reaches some 20-60 GFLOP/s per AVX2/AVX-512 core,
/// the naive attention a few); a memory-bound op moves at most 8 MiB (quick) or 64 MiB, beyond
/// the last-level cache only in the full run.
struct Budget {
  double gemm_flops, attention_flops, memory_bytes;
  double weight_bytes;  ///< a GEMM's weight (fp32 on the CPU): beyond it, a column shard
};

Budget budget_of(const ProbePlanOptions& o) {
  if (o.device == "cuda") {
    // A GPU runs every op at its real size unless its operands would not fit: 8 GiB per op leaves
    // room for the rotated input sets on a 40 GB A100 (rotation.hpp caps the sets at 4 GiB).
    return {1e30, 1e30, 8.0 * (1ull << 30), 1e30};
  }
  if (o.quick) return {3e8, 2e7, 8.0 * (1 << 20), 8.0 * (1 << 20)};
  return {4e9, 3e8, 64.0 * (1 << 20), 64.0 * (1 << 20)};
}

std::string shape_key(const KernelDesc& k) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.0f|%.0f|%.0f|%d|%.0f|%.0f|%d|%d", k.shape.m, k.shape.n,
                k.shape.k, k.shape.groups, k.flops.value, k.bytes.value, k.kernels,
                k.backward ? 1 : 0);
  return buf;
}

std::int64_t round_pos(double v) { return std::max<std::int64_t>(1, std::llround(v)); }
/// A scaled token count: rounded down, so the scaled op stays within its budget (at least 1).
std::int64_t floor_pos(double v) { return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(v))); }

/// The busiest EP rank's per-expert token counts of one routing sample of MoE layer 0; empty
/// when the scenario has no expert parallelism to sample (every expert then gets the mean).
std::vector<double> sampled_expert_rows(const Scenario& s) {
  if (!s.model.is_moe() || s.parallelism.ep <= 1) return {};
  const RoutingModel routing = RoutingModel::from_scenario(s);
  const RoutingSample smp = routing.sample(0, 0);
  int busiest = 0;
  for (int r = 0; r < smp.ep; ++r)
    if (smp.rank_tokens[static_cast<std::size_t>(r)] > smp.rank_tokens[static_cast<std::size_t>(busiest)])
      busiest = r;
  std::vector<double> rows;
  for (std::size_t e = 0; e < smp.placement.replicas.size(); ++e) {
    const auto& reps = smp.placement.replicas[e];
    if (std::find(reps.begin(), reps.end(), busiest) == reps.end()) continue;
    rows.push_back(static_cast<double>(smp.expert_tokens[e]) / static_cast<double>(reps.size()));
  }
  return rows;
}

/// Per-group rows summing to `total` over `groups`, distributed like `sample` (uneven), else
/// evenly; at least one row per group so every expert's GEMM runs.
std::vector<std::int64_t> group_rows(double total, int groups, const std::vector<double>& sample) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(groups));
  double ssum = 0;
  const bool use = static_cast<int>(sample.size()) == groups;
  if (use)
    for (double v : sample) ssum += v;
  for (int g = 0; g < groups; ++g) {
    const double share = use && ssum > 0 ? sample[static_cast<std::size_t>(g)] / ssum : 1.0 / groups;
    out[static_cast<std::size_t>(g)] = round_pos(total * share);
  }
  return out;
}

/// Row width of a memory-bound class: what its kernel's rows span.
std::int64_t class_width(const Scenario& s, const Op& op) {
  const ModelSpec& m = s.model;
  const std::string& c = op.kernel.memory_class;
  const int tp = std::max(1, s.parallelism.tp);
  if (c == "loss") return std::max(1, m.vocab / tp);
  if (c == "routing" && (op.name.find("score") != std::string::npos ||
                         op.name.find("topk") != std::string::npos) && m.moe)
    return m.moe->routed_experts;
  if (c == "softmax") return s.training.seq_len;
  return m.hidden;
}

}  // namespace

const char* probe_layer_name(LayerKind k) {
  switch (k) {
    case LayerKind::Embedding: return "embedding";
    case LayerKind::Dense: return "dense";
    case LayerKind::Moe: return "moe";
    case LayerKind::Mtp: return "mtp";
    case LayerKind::LmHead: return "head";
  }
  return "?";
}

probe::ScenarioProbePlan scenario_probe_plan(const Scenario& s, const ProbePlanOptions& o) {
  const StepProgram program = build_step_program(s);
  const Budget budget = budget_of(o);
  const std::vector<double> expert_sample = sampled_expert_rows(s);
  probe::ScenarioProbePlan plan;
  plan.scenario.file = o.scenario_file;
  plan.scenario.name = s.name;
  plan.scenario.gpu = s.gpu.name;

  // One layer of each kind (the first), then stage 0's per-step ops (the optimizer).
  struct Source {
    std::string layer;
    const std::vector<Op>* ops;
  };
  std::vector<Source> sources;
  std::set<LayerKind> seen;
  for (const LayerProgram& lp : program.layers) {
    if (!seen.insert(lp.kind).second) continue;
    sources.push_back({probe_layer_name(lp.kind), &lp.ops});
    plan.scenario.layers.push_back(probe_layer_name(lp.kind));
  }
  if (!program.stages.empty()) {
    sources.push_back({"step", &program.stages.front().step_ops});
    plan.scenario.layers.push_back("step");
  }

  std::map<std::string, std::size_t> index;  // dedupe key → plan entry
  std::set<std::string> names;
  for (const Source& src : sources) {
    for (const Op& op : *src.ops) {
      if (op.is_collective()) continue;
      const KernelDesc& k = op.kernel;
      const std::string key = op.name + "|" + std::to_string(static_cast<int>(k.op_class)) + "|" +
                              k.precision + "|" + shape_key(k);
      if (auto it = index.find(key); it != index.end()) {
        ++plan.ops[it->second].info.occurrences;
        ++plan.ops[it->second].info.per_layer[src.layer];
        continue;
      }
      if (names.insert(op.name).second) plan.scenario.ops.push_back(op.name);
      probe::ScenarioOp p;
      p.name = op.name;
      probe::ScenarioOpInfo& info = p.info;
      info.layer = src.layer;
      info.per_layer[src.layer] = 1;
      info.pass = pass_name(op.pass);
      info.category = op_category_name(op.category);
      info.kernels = std::max(1, k.kernels);
      info.op_dtype = k.op_class == OpClass::Memory ? "bf16" : k.precision;
      double scale = 1.0;
      switch (k.op_class) {
        case OpClass::Gemm:
        case OpClass::GroupedGemm: {
          const bool grouped = k.op_class == OpClass::GroupedGemm;
          p.kind = grouped ? "grouped_gemm" : "gemm";
          info.role = gemm_role_name(k.role);
          // The token dimension: rows for fprop and dgrad, the reduction for wgrad.
          const bool wgrad = k.role == GemmRole::Wgrad;
          // First a column shard of the weight (what a wider TP group gives each rank) when the
          // weight alone is beyond the budget, then fewer tokens for the FLOPs.
          const int groups_n = std::max(1, k.shape.groups);
          const double wdim = wgrad ? k.shape.m : k.shape.k;  // the weight's other side
          const double weight_bytes = wdim * k.shape.n * groups_n * 4.0;
          const double col = std::min(1.0, budget.weight_bytes / std::max(weight_bytes, 1.0));
          const double n_cols = std::max(1.0, std::floor(k.shape.n * col));
          const double flops = 2.0 * k.shape.m * n_cols * k.shape.k * groups_n;
          const double tok_scale = std::min(1.0, budget.gemm_flops / std::max(flops, 1.0));
          scale = tok_scale * n_cols / k.shape.n;
          const double tok = (wgrad ? k.shape.k : k.shape.m) * tok_scale;
          if (grouped) {
            // Each group multiplies its rows by its own weight (wgrad: the rows are the
            // reduction; the probe runs the same product with the rows as m, same FLOPs and
            // operand sizes).
            const int groups = std::max(1, k.shape.groups);
            p.grouped.n = round_pos(n_cols);
            p.grouped.k = round_pos(wgrad ? k.shape.m : k.shape.k);
            const bool batched = op.category == OpCategory::Attention;  // unfused attention: even
            p.grouped.group_m = group_rows(tok * groups, groups,
                                           batched ? std::vector<double>() : expert_sample);
            if (!batched && !expert_sample.empty())
              info.note = "per-expert rows of the busiest EP rank of one routing sample";
            if (wgrad) info.note += std::string(info.note.empty() ? "" : "; ") +
                                    "wgrad run with the expert rows as m (same FLOPs and operands)";
          } else {
            p.gemm.m = wgrad ? round_pos(k.shape.m) : floor_pos(tok);
            p.gemm.n = round_pos(n_cols);
            p.gemm.k = wgrad ? floor_pos(tok) : round_pos(k.shape.k);
          }
          if (n_cols < k.shape.n)
            info.scaled = "columns " + std::to_string(round_pos(k.shape.n)) + " -> " +
                          std::to_string(round_pos(n_cols)) + " (a TP shard of the weight)";
          if (tok_scale < 1.0)
            info.scaled += std::string(info.scaled.empty() ? "" : ", ") +
                           (wgrad ? "tokens (the wgrad reduction)" : "tokens (rows)") + " x" +
                           std::to_string(tok_scale);
          break;
        }
        case OpClass::Attention: {
          p.kind = "attention";
          info.attention_kernel = k.attention_kernel;
          info.backward = k.backward;
          // kernel shape: {rows per CP rank, keys, qk head dim, micro_batch × local heads}.
          const std::int64_t batch = std::max(1, s.parallelism.micro_batch);
          std::int64_t heads = std::max<std::int64_t>(1, k.shape.groups / batch);
          std::int64_t seq = round_pos(k.shape.m);
          const std::int64_t d = round_pos(k.shape.k);
          const auto fl = [&](std::int64_t h, std::int64_t sq) {
            return 2.0 * batch * h * static_cast<double>(sq) * sq * d * (k.backward ? 2.5 : 1.0);
          };
          const double full = fl(heads, seq);
          const std::int64_t heads0 = heads, seq0 = seq;
          while (fl(heads, seq) > budget.attention_flops && heads > 1) heads = (heads + 1) / 2;
          while (fl(heads, seq) > budget.attention_flops && seq > 128) seq = std::max<std::int64_t>(128, seq / 2);
          if (o.device == "cuda") seq = std::max<std::int64_t>(64, (seq / 64) * 64);
          p.attention = probe::AttentionShape{seq, heads, d, batch, true};
          scale = fl(heads, seq) / full;
          if (heads != heads0 || seq != seq0)
            info.scaled = "local heads " + std::to_string(heads0) + " -> " + std::to_string(heads) +
                          ", seq " + std::to_string(seq0) + " -> " + std::to_string(seq);
          break;
        }
        case OpClass::Memory: {
          p.kind = "memory";
          info.memory_class = k.memory_class;
          p.width = class_width(s, op);
          p.fp8_recipe = s.software.fp8_recipe;
          p.top_k = s.model.moe ? s.model.moe->top_k : 1;
          const double bytes = k.bytes.value;
          scale = std::min(1.0, budget.memory_bytes / std::max(bytes, 1.0));
          p.bytes = round_pos(bytes * scale);
          if (scale < 1.0) info.scaled = "bytes (fewer tokens)";
          break;
        }
      }
      info.scale = scale;
      index[key] = plan.ops.size();
      plan.ops.push_back(std::move(p));
    }
  }
  return plan;
}

}  // namespace clustercost
