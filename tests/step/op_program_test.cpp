// The op program (sim/program/op_program.hpp): FLOPs and bytes by hand, the model-FLOP sum,
// Korthikanti's activation formula, the DeepSeek-V3 layout's memory, and the agreement of the
// two fidelities when nothing contends.
#include <gtest/gtest.h>

#include <algorithm>

#include <cstdio>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "sim/common/input_error.hpp"
#include "sim/program/op_program.hpp"
#include "sim/step/analytical_step.hpp"
#include "sim/workload/des_step.hpp"
#include "tests/common/shipped_data.hpp"

namespace clustercost {
namespace {

using test::compute_only;
using test::load_shipped;

const Op* find_op(const LayerProgram& lp, const std::string& name, Pass pass = Pass::Forward) {
  for (const Op& op : lp.ops)
    if (op.name == name && op.pass == pass) return &op;
  return nullptr;
}

const LayerProgram& first_block(const StepProgram& p, LayerKind kind) {
  for (const LayerProgram& lp : p.layers)
    if (lp.kind == kind) return lp;
  throw std::runtime_error("no such layer");
}

double fprop_gemm_flops(const LayerProgram& lp) {
  double f = 0;
  for (const Op& op : lp.ops)
    if (op.pass == Pass::Forward && op.category != OpCategory::Attention &&
        (op.kernel.op_class == OpClass::Gemm || op.kernel.op_class == OpClass::GroupedGemm))
      f += op.kernel.flops.value;
  return f;
}

TEST(OpProgram, LlamaLayerOpsMatchHandComputedFlopsAndBytes) {
  // Llama 3 70B on one GPU's shard: tp 8 (8 of 64 heads, 1 of 8 K/V heads), sequence 8192.
  const Scenario s = load_shipped("llama3-70b-h100.json");
  ASSERT_EQ(s.parallelism.tp, 8);
  const StepProgram p = build_step_program(s);
  const LayerProgram& l = first_block(p, LayerKind::Dense);
  const double T = static_cast<double>(s.parallelism.micro_batch) * s.training.seq_len;
  const Op* qkv = find_op(l, "attn.qkv");
  ASSERT_NE(qkv, nullptr);
  const double n = (64.0 / 8 + 2.0 * 8 / 8) * 128;  // q heads + k + v per rank × head_dim
  EXPECT_DOUBLE_EQ(qkv->kernel.flops.value, 2.0 * T * n * 8192);
  EXPECT_DOUBLE_EQ(qkv->kernel.bytes.value, 8192 * n * 2.0 + T * 8192 * 2.0 + T * n * 2.0);
  EXPECT_EQ(qkv->kernel.role, GemmRole::Fprop);
  // Its weight gradient: dW[h × n] = Xᵀ·dY, same FLOPs, on the compute stream.
  const Op* wg = find_op(l, "attn.qkv.wgrad", Pass::WeightGrad);
  ASSERT_NE(wg, nullptr);
  EXPECT_EQ(wg->kernel.role, GemmRole::Wgrad);
  EXPECT_DOUBLE_EQ(wg->kernel.flops.value, qkv->kernel.flops.value);
  EXPECT_DOUBLE_EQ(wg->kernel.shape.m, 8192);
  EXPECT_DOUBLE_EQ(wg->kernel.shape.k, T);
  // FlashAttention: causal, T·heads·2·(d+d)·seq/2 forward; backward 2.5 × that.
  const Op* core = find_op(l, "attn.core");
  ASSERT_NE(core, nullptr);
  EXPECT_DOUBLE_EQ(core->kernel.flops.value, T * 8 * 2.0 * 256 * 0.5 * s.training.seq_len);
  const Op* core_bwd = find_op(l, "attn.core.bwd", Pass::InputGrad);
  ASSERT_NE(core_bwd, nullptr);
  EXPECT_DOUBLE_EQ(core_bwd->kernel.flops.value, 2.5 * core->kernel.flops.value);
  // RMSNorm: reads and writes its rows × h BF16 (+ its weight), one kernel; with sequence
  // parallelism each rank normalises T/tp rows.
  const bool sp = s.parallelism.sequence_parallel;
  const double rows = sp ? T / 8 : T;
  const Op* norm = find_op(l, "attn.norm");
  ASSERT_NE(norm, nullptr);
  EXPECT_DOUBLE_EQ(norm->kernel.bytes.value, 2.0 * rows * 8192 * 2.0 + 8192 * 2.0);
  // Megatron's TP collective after the row-parallel output projection (all-reduce, or
  // reduce-scatter with SP), T × h BF16.
  const Op* ar = find_op(l, sp ? "attn.tp_out.rs" : "attn.tp_out.ar");
  ASSERT_NE(ar, nullptr);
  EXPECT_EQ(ar->group, ParallelGroup::Tp);
  EXPECT_DOUBLE_EQ(ar->comm_bytes.value, T * 8192 * 2.0);
}

TEST(OpProgram, DeepSeekMoeLayerOpsMatchHandComputedFlopsAndBytes) {
  const Scenario s = load_shipped("deepseek-v3-h800.json");
  const StepProgram p = build_step_program(s);
  const LayerProgram& l = first_block(p, LayerKind::Moe);
  const double T = 4096;
  // Router in BF16 (DeepSeek-V3 §3.3.1), experts in FP8.
  const Op* router = find_op(l, "moe.router");
  ASSERT_NE(router, nullptr);
  EXPECT_EQ(router->kernel.precision, "bf16");
  EXPECT_DOUBLE_EQ(router->kernel.flops.value, 2.0 * T * 256 * 7168);
  const Op* up = find_op(l, "moe.experts.up_gate");
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(up->kernel.precision, "fp8");
  EXPECT_EQ(up->kernel.shape.groups, 4);  // 256 experts over EP 64
  EXPECT_DOUBLE_EQ(up->kernel.flops.value, 2.0 * T * 8 * 4096 * 7168);  // 8 copies per token
  // Dispatch in FP8 (+ scales), combine in BF16, token copies × hidden.
  const Op* dispatch = find_op(l, "moe.dispatch");
  const Op* combine = find_op(l, "moe.combine");
  ASSERT_NE(dispatch, nullptr);
  ASSERT_NE(combine, nullptr);
  EXPECT_DOUBLE_EQ(dispatch->comm_bytes.value, T * 8 * 7168 * (1.0 + 4.0 / 128));
  EXPECT_DOUBLE_EQ(combine->comm_bytes.value, T * 8 * 7168 * 2.0);
  // The backward of each all-to-all is the other's shape.
  const Op* dispatch_bwd = find_op(l, "moe.dispatch.bwd", Pass::InputGrad);
  ASSERT_NE(dispatch_bwd, nullptr);
  EXPECT_EQ(dispatch_bwd->collective, OpCollective::AllToAllCombine);
  // Tile-wise FP8: quantisation kernels in forward and in both backward passes.
  int casts[4] = {0, 0, 0, 0};
  for (const Op& op : l.ops)
    if (op.category == OpCategory::Fp8Cast) ++casts[static_cast<int>(op.pass)];
  EXPECT_GT(casts[static_cast<int>(Pass::Forward)], 0);
  EXPECT_GT(casts[static_cast<int>(Pass::InputGrad)], 0);
  EXPECT_GT(casts[static_cast<int>(Pass::WeightGrad)], 0);
  // DeepSeek's recompute list re-runs norms, MLA up-projections and SwiGLU before backward.
  EXPECT_NE(find_op(l, "attn.q_up", Pass::Recompute), nullptr);
  EXPECT_NE(find_op(l, "moe.experts.act", Pass::Recompute), nullptr);
  EXPECT_NE(find_op(l, "attn.norm", Pass::Recompute), nullptr);
  EXPECT_EQ(find_op(l, "attn.out", Pass::Recompute), nullptr);
  // Weight gradients on the second compute stream (software preset deepseek-v3).
  const Op* wg = find_op(l, "attn.out.wgrad", Pass::WeightGrad);
  ASSERT_NE(wg, nullptr);
  EXPECT_EQ(wg->stream, Stream::WgradCompute);
}

/// Forward GEMM and attention FLOPs of one rank's program, MTP excluded (outside the model
/// FLOPs, accounting.hpp).
std::pair<double, double> model_flops_fwd(const StepProgram& p) {
  double gemm = 0, attn = 0;
  for (const LayerProgram& lp : p.layers) {
    if (lp.kind == LayerKind::Mtp) continue;
    gemm += fprop_gemm_flops(lp);
    for (const Op& op : lp.ops)
      if (op.pass == Pass::Forward && op.kernel.op_class == OpClass::Attention)
        attn += op.kernel.flops.value;
  }
  return {gemm, attn};
}

TEST(OpProgram, ForwardGemmFlopsEqualTheModelAccounting) {
  for (const std::string& name : {std::string("llama3-70b-h100.json"), std::string("deepseek-v3-h800.json")}) {
    const Scenario s = load_shipped(name, {"parallelism.tp=1", "parallelism.pp=1", "parallelism.ep=1",
                                           "parallelism.schedule=1f1b", "parallelism.vpp=1",
                                           "cluster.gpus=1024"});
    const StepProgram p = build_step_program(s);
    const double T = static_cast<double>(s.parallelism.micro_batch) * s.training.seq_len;
    const auto [gemm, attn] = model_flops_fwd(p);
    const FlopsPerToken f = flops_per_token_breakdown(s.model, s.training.seq_len);
    EXPECT_NEAR(gemm / T, f.gemm_fwd.value, 1e-9 * f.gemm_fwd.value) << name;
    EXPECT_NEAR(attn / T, f.attention_fwd.value, 1e-9 * f.attention_fwd.value) << name;
  }
}

// Summed over the ranks of one TP×CP×EP block (each EP rank a distinct data shard, as in
// Megatron and DeepSeek-V3), the GEMM and attention FLOPs of the program are the model's: TP
// splits every GEMM of a GQA/MHA model, CP splits the causal attention evenly, EP gives each rank
// its uniform share of routed copies. (MLA's down-projections run on every TP rank, so MLA
// models are summed at tp 1.)
TEST(OpProgram, FlopsSummedOverRanksAreTheModelsFlops) {
  struct Case {
    const char* scenario;
    int tp, cp, ep, mb;
    bool sp;
  };
  for (const Case k : {Case{"llama3-70b-h100.json", 8, 2, 1, 1, true},
                       Case{"llama3-70b-h100.json", 4, 1, 1, 2, false},
                       Case{"mixtral-8x7b-h20.json", 2, 1, 4, 1, true},
                       Case{"deepseek-v3-h800.json", 1, 2, 8, 1, false}}) {
    const int gpus = k.tp * k.cp * k.ep;
    const Scenario s = load_shipped(
        k.scenario,
        {"parallelism.tp=" + std::to_string(k.tp), "parallelism.cp=" + std::to_string(k.cp),
         "parallelism.ep=" + std::to_string(k.ep), "parallelism.pp=1", "parallelism.vpp=1",
         "parallelism.schedule=1f1b", "parallelism.micro_batch=" + std::to_string(k.mb),
         std::string("parallelism.sequence_parallel=") + (k.sp ? "true" : "false"),
         "cluster.gpus=" + std::to_string(gpus), "training.global_batch=" + std::to_string(64 * k.mb)});
    const StepProgram p = build_step_program(s);
    const auto [gemm, attn] = model_flops_fwd(p);
    const double ranks = gpus;
    const double tokens = static_cast<double>(k.ep) * k.mb * s.training.seq_len;
    const FlopsPerToken f = flops_per_token_breakdown(s.model, s.training.seq_len);
    EXPECT_NEAR(gemm * ranks / tokens / f.gemm_fwd.value, 1.0, 1e-9) << k.scenario << " tp " << k.tp;
    EXPECT_NEAR(attn * ranks / tokens / f.attention_fwd.value, 1.0, 1e-9)
        << k.scenario << " cp " << k.cp;
  }
}

// MoE activations follow the routed copies a rank's experts process (the busiest rank keeps the
// most), linearly; full recompute keeps only the layer input.
TEST(OpProgram, MoeActivationsFollowTheRoutedCopies) {
  const Scenario s = load_shipped("deepseek-v3-h800.json");
  const double uniform = static_cast<double>(s.parallelism.micro_batch) * s.training.seq_len /
                         s.parallelism.tp * s.model.moe->top_k;
  auto saved = [&](const Scenario& sc, double copies) {
    RoutedLoad load;
    load.busiest_rank_copies = {copies};
    return first_block(build_step_program(sc, load), LayerKind::Moe).saved.value;
  };
  const double one = saved(s, uniform), two = saved(s, 2 * uniform), three = saved(s, 3 * uniform);
  EXPECT_GT(two, one);
  EXPECT_NEAR(three - two, two - one, 1e-9 * three);
  const Scenario full = load_shipped("deepseek-v3-h800.json", {"parallelism.recompute=full",
                                                               "parallelism.recompute_modules=[]"});
  const double T = static_cast<double>(full.parallelism.micro_batch) * full.training.seq_len;
  EXPECT_DOUBLE_EQ(saved(full, uniform), 2.0 * T * full.model.hidden);
  EXPECT_DOUBLE_EQ(saved(full, 3 * uniform), 2.0 * T * full.model.hidden);
}

// ZeRO-3: every layer gathers its weights before its forward and its backward and
// reduce-scatters its gradients, per micro-batch, over its data-parallel group; nothing is
// gathered or reduced once per step; the sharded weights shrink the memory.
TEST(OpProgram, ZeroThreeGathersEveryLayerPerMicroBatch) {
  const std::vector<std::string> base = {"parallelism.pp=1", "parallelism.vpp=1",
                                         "parallelism.schedule=1f1b", "cluster.gpus=64"};
  auto with_zero = [&](int z) {
    auto sets = base;
    sets.push_back("parallelism.zero=" + std::to_string(z));
    return load_shipped("llama3-70b-h100.json", sets);
  };
  const Scenario z3 = with_zero(3), z1 = with_zero(1);
  const StepProgram p = build_step_program(z3);
  const LayerProgram& l = first_block(p, LayerKind::Dense);
  const Op* fwd = find_op(l, "zero3.dense.param_gather");
  const Op* bwd = find_op(l, "zero3.dense.param_gather_bwd", Pass::InputGrad);
  const Op* rs = find_op(l, "zero3.dense.grad_reduce_scatter", Pass::WeightGrad);
  ASSERT_TRUE(fwd && bwd && rs);
  EXPECT_EQ(fwd->group, ParallelGroup::Dp);
  EXPECT_DOUBLE_EQ(fwd->comm_bytes.value, 2.0 * l.params);
  EXPECT_EQ(&l.ops.front(), fwd);  // opens the forward
  EXPECT_EQ(&l.ops.back(), rs);    // closes the layer
  for (const Op& op : p.stages.front().step_ops) EXPECT_FALSE(op.is_collective()) << op.name;
  const StepResult r3 = simulate_step_analytical(z3), r1 = simulate_step_analytical(z1);
  EXPECT_LT(r3.memory.weights.value, r1.memory.weights.value);
  EXPECT_GE(r3.step_time.value, r1.step_time.value * 0.99);
}

/// Bytes Korthikanti et al. 2022 (arXiv 2205.05198 §4) give per layer for a GPT layer.
double korthikanti(double s, double b, double h, double a, double t, bool sp, bool selective) {
  const double attn = selective ? 0.0 : 5.0 * a * s / (h * t);
  return sp ? s * b * h * (34.0 / t + attn) : s * b * h * (10.0 + 24.0 / t + attn);
}

TEST(OpProgram, GptLayerActivationsFollowKorthikanti) {
  // The 22B model of the paper (48 layers, h 6144, 64 heads), sequence 2048, micro-batch 4.
  const double s = 2048, b = 4, h = 6144, a = 64;
  struct Case {
    int tp;
    bool sp;
    const char* recompute;
  };
  for (const Case c : {Case{1, false, "none"}, Case{8, false, "none"}, Case{8, true, "none"},
                       Case{8, false, "selective"}, Case{8, true, "selective"},
                       Case{8, false, "full"}, Case{8, true, "full"}}) {
    const Scenario sc = load_shipped(
        "published/korthikanti-e1.json",
        {"parallelism.tp=" + std::to_string(c.tp), "cluster.gpus=" + std::to_string(c.tp), std::string("parallelism.sequence_parallel=") + (c.sp ? "true" : "false"),
         std::string("parallelism.recompute=") + c.recompute});
    const StepProgram p = build_step_program(sc);
    const LayerProgram& l = first_block(p, LayerKind::Dense);
    const std::string rc = c.recompute;
    const double expected = rc == "full" ? 2.0 * s * b * h / (c.sp ? c.tp : 1)
                                         : korthikanti(s, b, h, a, c.tp, c.sp, rc == "selective");
    EXPECT_NEAR(l.saved.value, expected, 1e-9 * expected)
        << "tp " << c.tp << " sp " << c.sp << " " << c.recompute;
  }
}

TEST(OpProgram, DeepSeekPublishedLayoutFitsOnlyWithItsRecomputeList) {
  const StepResult with = simulate_step_analytical(load_shipped("deepseek-v3-h800.json"));
  EXPECT_TRUE(with.memory.fits()) << to_gib(with.memory.total()) << " GiB";
  const StepResult without = simulate_step_analytical(
      load_shipped("deepseek-v3-h800.json", {"parallelism.recompute_modules=[]"}));
  EXPECT_FALSE(without.memory.fits()) << to_gib(without.memory.total()) << " GiB";
}

TEST(OpProgram, AnalyticalAndContentionFreeDesAgreeOnEveryShippedScenario) {
  for (const char* name : {"deepseek-v3-h800.json", "deepseek-v3-a100.json", "deepseek-v3-ascend910b.json",
                           "llama3-70b-h100.json", "mixtral-8x7b-h20.json"}) {
    const Scenario s = load_shipped(name, compute_only({}));
    const StepResult ar = simulate_step_analytical(s);
    const StepResult dr = simulate_step_des(s);
    const double a = ar.step_time.value;
    double d = dr.step_time.value;
    // EP all-to-alls do not get faster with link bandwidth (DeepEP's per-token costs): under
    // DualPipe the analytical model takes them all hidden, the op-level DES overlaps each with
    // the paired chunk's compute and exposes the rest (all of it in unpaired warm-up and
    // cool-down passes) and the bubble that adds. Apart from that measured exposure, the two
    // agree within 3%.
    if (s.parallelism.schedule == Schedule::DualPipe)
      d -= dr.critical.exposed_ep_comm.value +
           std::max(0.0, (dr.critical.bubble - ar.critical.bubble).value);
    std::printf("%-28s analytical %.3f s, des %.3f s (exposed ep %.3f s)\n", name, a,
                dr.step_time.value, dr.critical.exposed_ep_comm.value);
    EXPECT_NEAR(d, a, 0.03 * a) << name;
  }
}

TEST(OpProgram, UnknownSoftwareValuesNameTheirJsonPath) {
  try {
    load_shipped("llama3-70b-h100.json", {"software.attention=flash9"});
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "software.attention");
  }
  try {
    load_shipped("llama3-70b-h100.json", {"software.fusions.nrom=true"});
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("nrom"), std::string::npos);
  }
  try {
    load_shipped("llama3-70b-h100.json", {"software.preset=megatron-1999"});
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "software.preset");
  }
}

TEST(OpProgram, UnfusedAttentionCostsMoreThanFlashAndSavesTheScores) {
  const Scenario flash = load_shipped("published/flashattention-e2.json", {"training.seq_len=8192",
                                      "parallelism.micro_batch=2", "training.global_batch=64"});
  const Scenario unfused = load_shipped("published/flashattention-e2.json", {"training.seq_len=8192",
                                        "parallelism.micro_batch=2", "training.global_batch=64",
                                        "software.attention=unfused"});
  const StepResult f = simulate_step_analytical(flash), u = simulate_step_analytical(unfused);
  EXPECT_GT(u.step_time.value, 1.2 * f.step_time.value);
  EXPECT_GT(u.memory.activations.value, 2.0 * f.memory.activations.value);
}

}  // namespace
}  // namespace clustercost
