// The op-level DES (sim/workload/op_sim.hpp): checks of issue 15.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sim/network/collective_runs.hpp"
#include "sim/program/op_program.hpp"
#include "sim/program/schedule.hpp"
#include "sim/scenario/scenario_topology.hpp"
#include "sim/step/analytical_step.hpp"
#include "sim/step/fabric_efficiency.hpp"
#include "sim/step/program_cost.hpp"
#include "sim/workload/des_step.hpp"
#include "sim/workload/trace.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;

namespace {

Scenario load(const std::string& name, std::vector<std::string> sets = {}) {
  return test::load_shipped(name, sets);
}

/// Llama 3 70B on 64 H100 (TP8, PP4, DP2), 1F1B: small enough to simulate every GPU.
std::vector<std::string> llama64(std::vector<std::string> sets = {}) {
  for (const char* s : {"cluster.gpus=64", "training.global_batch=32", "parallelism.schedule=1f1b",
                        "parallelism.vpp=1"})
    sets.insert(sets.begin(), s);
  return sets;
}

/// The communication kernels (collectives, PP sends) that run on each simulated GPU, by GPU
/// id: its own, and the PP transfers it receives.
std::map<int, std::vector<const TaskRecord*>> communication_kernels_by_gpu(const DesStep& d) {
  std::map<int, std::vector<const TaskRecord*>> held;
  for (const TaskRecord& r : d.run.task_records) {
    const bool comm = r.lane == StreamLane::Comm || r.lane == StreamLane::CommAsync ||
                      r.lane == StreamLane::DataParallel || r.lane == StreamLane::SendForward ||
                      r.lane == StreamLane::SendBackward;
    if (!comm || r.end <= r.start) continue;
    held[r.gpu].push_back(&r);
    if (r.peer_stage >= 0) held[d.stage_gpu[static_cast<std::size_t>(r.peer_stage)]].push_back(&r);
  }
  return held;
}

double path_total(const StepResult& r) {
  double t = 0;
  for (const auto& c : r.critical_path) t += c.time.value;
  return t;
}

}  // namespace

TEST(OpDes, ComputeOnlyStepIsCriticalComputePlusBubble) {
  // Near-infinite bandwidth: the step is the critical rank's compute, optimizer and bubble.
  const Scenario s = load("llama3-70b-h100.json",
                          test::compute_only({"parallelism.schedule=1f1b", "parallelism.vpp=1"}));
  const DesStep d = simulate_step_des_detailed(s);
  const StepResult& r = d.result;
  const double p = s.parallelism.pp, m = static_cast<double>(s.micro_batches());
  const double step = r.step_time.value;
  const double busy = (r.critical.compute + r.critical.optimizer).value;
  const double bubble = r.critical.bubble.value;
  std::printf("compute-only llama3-70b 1F1B: step %.4f s = compute+opt %.4f + bubble %.4f "
              "(exposed tp %.2e pp %.2e dp %.2e); bubble fraction %.5f, (p-1)/(m+p-1) %.5f\n",
              step, busy, bubble, r.critical.exposed_tp_comm.value,
              r.critical.exposed_pp_comm.value, r.critical.exposed_dp_comm.value, bubble / step,
              (p - 1) / (m + p - 1));
  // The topology keeps its link latencies (a few µs per collective round): the exposed
  // communication left is that latency, a small share of the step.
  const double exposed = (r.critical.exposed_tp_comm + r.critical.exposed_ep_comm +
                          r.critical.exposed_pp_comm + r.critical.exposed_dp_comm).value;
  EXPECT_NEAR(busy + bubble + exposed, step, 1e-6 * step);
  EXPECT_LT(exposed, 0.03 * step);
  // The 1F1B fill and drain of uniform stages; the stages here differ by the embedding and the
  // LM head, so the measured bubble of the busiest stage is compared with the formula over
  // the busiest stage's own per-micro-batch time: (p − 1)·(F + B) / step.
  const double per_mb = r.critical.compute.value / m;
  EXPECT_NEAR(bubble / step, (p - 1) * per_mb / step, 0.2 * (p - 1) * per_mb / step);
  EXPECT_NEAR(path_total(r), step, 1e-6 * step);
}

TEST(OpDes, UniformPipelineBubbleMatchesTheFormula) {
  // Stages of equal cost (a middle stage of Llama: only transformer layers) give the textbook
  // 1F1B bubble (p−1)/(m+p−1) on every stage but the ends; the first stage (embedding) is
  // lighter, the last (LM head) heavier: the middle stages' bubble is the formula's.
  const Scenario s = load("llama3-70b-h100.json",
                          test::compute_only({"parallelism.schedule=1f1b", "parallelism.vpp=1",
                                              "training.global_batch=512"}));
  const DesStep d = simulate_step_des_detailed(s);
  const double p = s.parallelism.pp, m = static_cast<double>(s.micro_batches());
  const auto& mid = d.run.stage_breakdown[1];
  const double step = d.result.step_time.value;
  // The formula counts fill and drain in units of a middle stage's F+B.
  const double per_mb = mid.compute.value / m;
  const double expected = (m + p - 1) * per_mb + mid.optimizer.value;
  std::printf("uniform 1F1B (p %g, m %g): step %.5f s, (m+p-1)(F+B)+opt %.5f s (%+.3f%%)\n", p, m,
              step, expected, 100.0 * (step / expected - 1.0));
  // The last stage is heavier (LM head), so the step is longer than the middle stages' formula
  // by the head's extra work on the critical path: bounded by the heaviest stage's time.
  // Per-micro-batch time of the heaviest stage, its collectives' latencies included.
  const auto& last = d.run.stage_breakdown.back();
  const double upper =
      (m + p - 1) * ((last.compute + last.exposed_tp_comm).value / m) + last.optimizer.value;
  EXPECT_GE(step, expected * 0.99);
  EXPECT_LE(step, upper * 1.01);
}

TEST(OpDes, ReducedAndFullSimulationGiveTheSameStep) {
  const Scenario reduced = load("llama3-70b-h100.json", llama64());
  const Scenario full = load("llama3-70b-h100.json", llama64({"simulation.ranks=all"}));
  const DesStep a = simulate_step_des_detailed(reduced), b = simulate_step_des_detailed(full);
  std::printf("llama3-70b on 64 GPUs: reduced (%lld GPUs) %.6f s, %llu events; all (%lld GPUs) "
              "%.6f s, %llu events\n",
              static_cast<long long>(a.result.simulated_gpus), a.result.step_time.value,
              static_cast<unsigned long long>(a.run.events),
              static_cast<long long>(b.result.simulated_gpus), b.result.step_time.value,
              static_cast<unsigned long long>(b.run.events));
  EXPECT_EQ(a.result.simulated_gpus, 4);
  EXPECT_EQ(b.result.simulated_gpus, 64);
  EXPECT_NEAR(a.result.step_time.value, b.result.step_time.value, 1e-6 * b.result.step_time.value);
  bool said = false;
  for (const auto& w : a.result.warnings) said |= w.find("simulated 4 GPUs") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST(OpDes, ResultsCarryCriticalPathLinksAndMemory) {
  const DesStep d = simulate_step_des_detailed(load("llama3-70b-h100.json"));
  const StepResult& r = d.result;
  EXPECT_NEAR(path_total(r), r.step_time.value, 1e-6 * r.step_time.value);
  std::map<std::string, double> path;
  for (const auto& c : r.critical_path) path[c.category] = c.time.value;
  EXPECT_GT(path["gemm"], 0.0);
  EXPECT_GT(path["attention"], 0.0);
  EXPECT_GT(path["memory-bound"], 0.0);
  ASSERT_FALSE(r.link_use.empty());
  for (std::size_t k = 1; k < r.link_use.size(); ++k)
    EXPECT_GE(r.link_use[k - 1].bytes.value, r.link_use[k].bytes.value);
  for (const auto& l : r.link_use) {
    EXPECT_FALSE(l.name.empty());
    EXPECT_LE(l.peak_utilisation, 1.0 + 1e-9);
    EXPECT_LE(l.mean_utilisation, l.peak_utilisation + 1e-9);
  }
  ASSERT_EQ(r.gpu_memory.size(), 4u);
  // 1F1B-like schedules keep the most micro-batches in flight on the first stage.
  EXPECT_GT(r.gpu_memory[0].activations.value, r.gpu_memory[3].activations.value);
  EXPECT_GE(r.memory.activations.value * 1.5, r.gpu_memory[0].activations.value);
}

TEST(OpDes, OversubscribedSpineSlowsTheDes) {
  auto run = [](double oversub) {
    const Scenario s = load("llama3-70b-h100.json",
                            {"cluster.network.topology=fat-tree",
                             "cluster.network.oversubscription=" + std::to_string(oversub),
                             "cluster.network.scale_out_gbps_per_gpu=50"});
    return std::make_pair(simulate_step_analytical(s).step_time.value,
                          simulate_step_des(s).step_time.value);
  };
  const auto [a1, d1] = run(1.0);
  const auto [a8, d8] = run(8.0);
  std::printf("fat-tree 1:1 → 8:1: analytical %.4f → %.4f s (%+.2f%%), des %.4f → %.4f s (%+.2f%%)\n",
              a1, a8, 100 * (a8 / a1 - 1), d1, d8, 100 * (d8 / d1 - 1));
  EXPECT_GT(d8, d1);
}

TEST(OpDes, OneSlowGpuSlowsASynchronousJob) {
  // 64 GPUs as 8 data-parallel replicas of TP8 (no pipeline), synchronised by their gradient
  // reduction: one GPU 20% slower (speed 1/1.2) makes its TP group, its replica and through the
  // DP collectives every replica ~20% slower.
  const std::vector<std::string> dp8 = {"parallelism.pp=1", "training.global_batch=64"};
  const Scenario base = load("llama3-70b-h100.json", llama64(test::compute_only(dp8)));
  std::string factors = "[";
  for (int g = 0; g < 64; ++g) factors += std::string(g ? "," : "") + (g == 9 ? "0.8333333333" : "1");
  factors += "]";
  const Scenario slow = load("llama3-70b-h100.json",
                             llama64(test::compute_only({"parallelism.pp=1",
                                                         "training.global_batch=64",
                                                         "cluster.variation.factors=" + factors,
                                                         "cluster.variation.replicas=1"})));
  const double t0 = simulate_step_des(base).step_time.value;
  const StepResult r = simulate_step_des(slow);
  std::printf("one GPU of 64 at 1/1.2 speed: step %.4f → %.4f s (%+.2f%%)\n", t0,
              r.step_time.value, 100 * (r.step_time.value / t0 - 1));
  EXPECT_NEAR(r.step_time.value / t0, 1.2, 0.03);
}

TEST(OpDes, StragglersCostMoreAsTheClusterGrows) {
  // The same per-replica work on 2 and 8 data-parallel replicas, per-GPU speed spread 5%: the
  // step waits for the slowest GPU, and the slowest of more draws is slower.
  auto slowdown = [](int gpus) {
    const std::vector<std::string> sets = test::compute_only(
        {"cluster.gpus=" + std::to_string(gpus), "training.global_batch=" + std::to_string(gpus / 2),
         "parallelism.schedule=1f1b", "parallelism.vpp=1"});
    std::vector<std::string> var = sets;
    var.push_back("cluster.variation.compute_spread=0.05");
    var.push_back("cluster.variation.replicas=1");
    const double t0 = simulate_step_des(load("llama3-70b-h100.json", sets)).step_time.value;
    const double t1 = simulate_step_des(load("llama3-70b-h100.json", var)).step_time.value;
    return t1 / t0 - 1.0;
  };
  const double small = slowdown(64), large = slowdown(256);
  std::printf("5%% speed spread: 64 GPUs %+.2f%%, 256 GPUs %+.2f%%\n", 100 * small, 100 * large);
  EXPECT_GT(large, small);
}

TEST(OpDes, VariationReportsPercentilesAndIsDeterministic) {
  const Scenario s = load("llama3-70b-h100.json",
                          llama64({"cluster.variation.compute_spread=0.03",
                                   "cluster.variation.step_jitter=0.02",
                                   "cluster.variation.replicas=5", "simulation.seed=7"}));
  const StepResult a = simulate_step_des(s), b = simulate_step_des(s);
  ASSERT_EQ(a.variation_step_times.size(), 5u);
  EXPECT_EQ(a.variation_step_times, b.variation_step_times);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_LE(a.step_time_p50.value, a.step_time_p90.value);
  EXPECT_EQ(a.simulated_gpus, 64);
}

TEST(OpDes, SixtyFourGpuTraceHasEveryGpuAndFlowEvents) {
  const Scenario s = load("llama3-70b-h100.json", llama64({"simulation.ranks=all"}));
  DesOptions o;
  o.record_tasks = true;
  const DesStep d = simulate_step_des_detailed(s, o);
  const nlohmann::json doc = nlohmann::json::parse(build_chrome_trace(d).dump());
  std::set<int> processes, with_slices;
  std::size_t flows_s = 0, flows_f = 0;
  std::set<std::string> names;
  for (const auto& e : doc.at("traceEvents")) {
    // Trace Event Format: every event has ph, pid; X has name, ts, dur ≥ 0, tid.
    const std::string ph = e.at("ph");
    if (ph == "M" && e.at("name") == "process_name") processes.insert(e.at("pid").get<int>());
    if (ph == "X") {
      EXPECT_GE(e.at("dur").get<double>(), 0.0);
      EXPECT_TRUE(e.contains("ts") && e.contains("tid") && e.contains("name"));
      with_slices.insert(e.at("pid").get<int>());
      names.insert(e.at("name").get<std::string>());
    }
    flows_s += ph == "s";
    flows_f += ph == "f";
  }
  EXPECT_EQ(processes.size(), 64u);
  EXPECT_EQ(with_slices.size(), 64u);
  EXPECT_GT(flows_s, 0u);
  EXPECT_EQ(flows_s, flows_f);
  EXPECT_TRUE(names.count("optimizer.adam"));
  bool op_named = false;
  for (const auto& n : names) op_named |= n.rfind("attn.", 0) == 0 || n.find(".qkv") != std::string::npos;
  EXPECT_TRUE(op_named);
  // --ranks: keep two GPUs.
  TraceOptions two;
  two.ranks = {0, 9};
  const nlohmann::json sub = nlohmann::json::parse(build_chrome_trace(d, two).dump());
  std::set<int> pids;
  for (const auto& e : sub.at("traceEvents")) pids.insert(e.at("pid").get<int>());
  EXPECT_EQ(pids, (std::set<int>{0, 9}));
}

TEST(OpDes, MtNlgPerGpuThroughputFallsWithGpuCount) {
  // MT-NLG 530B at a fixed global batch (published E3: 126 / 121 / 113 TFLOP/s per GPU at
  // 2,240 / 2,800 / 3,360 GPUs): more data-parallel replicas, fewer micro-batches each, a
  // larger pipeline bubble share and larger DP groups.
  std::vector<double> tflops;
  for (int gpus : {2240, 2800, 3360}) {
    const Scenario s = load("published/mtnlg-e3.json", {"cluster.gpus=" + std::to_string(gpus)});
    const StepResult r = simulate_step_des(s);
    const double peak = s.gpu.peak_tflops("bf16").value_or(0);
    tflops.push_back(r.hfu * peak);
    std::printf("MT-NLG on %d A100: %.1f TFLOP/s per GPU (hfu %.3f), step %.2f s, bubble %.2f s\n",
                gpus, r.hfu * peak, r.hfu, r.step_time.value, r.critical.bubble.value);
  }
  // Ours: the bubble share grows with fewer micro-batches per replica; over the whole range
  // per-GPU throughput falls.
  EXPECT_GT(tflops[0], tflops[2]);
}

namespace {

/// One DualPipe chunk pair (a forward and a backward run overlapped) of GPU `gpu`: the span of
/// its compute and EP tasks and the busy time of its compute stream.
struct ChunkPair {
  double wall_ms = 0, compute_ms = 0, ep_ms = 0;
  int compute_tasks = 0, ep_tasks = 0;
};

ChunkPair chunk_pair(const DesStep& d, int rank, int pair_index) {
  const auto& run = d.run;
  const int p = static_cast<int>(d.stage_gpu.size());
  const int gpu = d.stage_gpu[static_cast<std::size_t>(rank)];
  std::int64_t m = 0;
  for (const auto& r : run.task_records) m = std::max<std::int64_t>(m, r.micro_batch + 1);
  const std::vector<PipelinePass> order = pipeline_order(PipelineOrder::DualPipe, rank, p, m);
  int seen = 0;
  std::size_t k = order.size();
  for (std::size_t i = 0; i + 1 < order.size(); ++i)
    if (order[i].paired && seen++ == pair_index) k = i;
  EXPECT_LT(k, order.size());
  const PipelinePass& f = order[k];
  const PipelinePass& b = order[k + 1];
  EXPECT_EQ(f.kind, PassKind::Forward);
  EXPECT_EQ(b.kind, PassKind::Backward);
  ChunkPair out;
  // Compute tasks: the forward pass's forward kernels and the backward pass's backward ones
  // (the same micro-batch and chunk also run the other pass, far away in time).
  double t0 = 1e300, t1 = -1e300;
  auto ms = [](SimTime t) { return t.seconds().value * 1e3; };
  for (const TaskRecord& r : run.task_records) {
    if (r.gpu != gpu || r.name < 0) continue;
    if (r.lane != StreamLane::Compute && r.lane != StreamLane::WgradCompute) continue;
    const bool in_f = r.micro_batch == f.micro_batch && r.chunk == f.chunk &&
                      r.kind == TaskKind::Forward;
    const bool in_b = r.micro_batch == b.micro_batch && r.chunk == b.chunk &&
                      r.kind != TaskKind::Forward;
    if (!in_f && !in_b) continue;
    t0 = std::min(t0, ms(r.start));
    t1 = std::max(t1, ms(r.end));
    out.compute_ms += ms(r.end) - ms(r.start);
    ++out.compute_tasks;
  }
  // EP dispatch and combine of the two passes: those issued while the pair computes.
  const double c1 = t1;
  for (const TaskRecord& r : run.task_records) {
    if (r.gpu != gpu || r.kind != TaskKind::EpComm) continue;
    const bool in_f = r.micro_batch == f.micro_batch && r.chunk == f.chunk;
    const bool in_b = r.micro_batch == b.micro_batch && r.chunk == b.chunk;
    if ((!in_f && !in_b) || ms(r.start) < t0 || ms(r.start) > c1) continue;
    t1 = std::max(t1, ms(r.end));
    out.ep_ms += ms(r.end) - ms(r.start);
    ++out.ep_tasks;
  }
  out.wall_ms = t1 - t0;
  return out;
}

}  // namespace

TEST(OpDes, DeepSeekChunkPairOverlapsComputeAndCommunication) {
  // DeepSeek's profile (docs/reference/deepseek-v3-train-profile.md): one DualPipe chunk pair of
  // 4 MoE layers forward + 4 backward on one rank spans 129.0 ms; its main compute stream is
  // busy 118.19 ms, the second (weight-gradient) stream 11.35 ms (5.26 of them under stream 7),
  // and stream 27 runs 1.08 ms of FP8 casts beside DeepEP: 130.6 ms of compute kernels in all.
  // Our op program runs every compute kernel on one compute stream, so its busy time compares
  // with those 130.6 ms, and the pair's span with the 129.0 ms.
  const Scenario s = load("deepseek-v3-h800.json");
  DesOptions o;
  o.record_tasks = true;
  const DesStep d = simulate_step_des_detailed(s, o);
  // Pipeline rank 7 holds model stages 7 and 8 (4 MoE layers each); a steady-state pair: the
  // middle one of its paired passes.
  const int rank = 7;
  const ChunkPair cp = chunk_pair(d, rank, 20);
  const double exposed = cp.wall_ms - cp.compute_ms;
  std::printf("DeepSeek-V3 chunk pair (rank %d): wall %.2f ms (profile 129.0: %+.1f%%); compute "
              "stream busy %.2f ms (profile's compute kernels 130.6: %+.1f%%); exposed %.2f ms, "
              "%.1f%% of busy (profile 129.0 - 124.3 of the compute streams' union = 4.7 ms, "
              "3.8%%); EP all-to-alls %.2f ms (profile's DeepEP stream 114.52 ms); %d compute "
              "and %d EP tasks\n",
              rank, cp.wall_ms, 100 * (cp.wall_ms / 129.0 - 1), cp.compute_ms,
              100 * (cp.compute_ms / 130.6 - 1), exposed, 100 * exposed / cp.compute_ms, cp.ep_ms,
              cp.compute_tasks, cp.ep_tasks);
  // 4 MoE layers each way: every layer's dispatch and combine, forward and backward.
  EXPECT_EQ(cp.ep_tasks, 16);
  // The overlap is not perfect: the pair's first and last segments have nothing to hide under.
  EXPECT_GT(cp.wall_ms, cp.compute_ms);
  // Compute: every kernel's time is priced per category from this profile (published-runs.md
  // E8, in sample: -0.4% in total), and DeepEP's SMs are reserved here, so only the pipeline
  // transfers' NCCL kernels (2 SMs beside compute) can add to it: within 3%.
  EXPECT_NEAR(cp.compute_ms / 130.6, 1.0, 0.03);
  // Span: ours serialises the 5.26 ms of weight-gradient GEMMs DeepSeek runs under stream 7 and
  // the 1.08 ms of casts on its communication stream (6.3 ms, 4.9% of 129.0), and its
  // all-to-alls come from the flow model rather than DeepEP's kernels, so what stays exposed
  // differs: within 10% of 129.0, and the all-to-alls mostly hidden (exposed under 10% of the
  // compute; emitting the paired passes without taking turns left 26% exposed).
  EXPECT_NEAR(cp.wall_ms / 129.0, 1.0, 0.10);
  EXPECT_LT(exposed, 0.10 * cp.compute_ms);
  EXPECT_GT(cp.wall_ms, cp.compute_ms);
}

TEST(OpDes, NcclKernelsSlowTheComputeTheyOverlap) {
  // Llama 3 70B on 64 H100 (TP8 with sequence parallelism, PP4, DP2; no SMs reserved). While an
  // NCCL kernel runs it holds one SM per channel (collective_runs.hpp): backward's SP re-gather,
  // an all-gather over the node's 8 GPUs beside the layer's input-gradient GEMMs, holds the
  // H100's in-node collective channels (catalogue scale_up.nccl_coll_channels: 24, from the
  // 8 x H100 log "24 coll channels"; it was a fixed 16, the H800's, before the catalogue had
  // the figure); a gradient-bucket reduce-scatter over the 2 data-parallel GPUs
  // (one per node, one NIC ring) holds kNcclChannelsPerNic = 2. A GEMM entirely under one of
  // them runs on the SMs left: kernel_cost at (132 - k) / 132. The same GEMM with no NCCL kernel
  // beside it takes kernel_cost at all SMs.
  const Scenario s = load("llama3-70b-h100.json", llama64({"software.overlap.tp_comm=true"}));
  DesOptions o;
  o.record_tasks = true;
  const DesStep d = simulate_step_des_detailed(s, o);
  const auto& recs = d.run.task_records;
  const StepProgram prog = build_step_program(s);
  auto op_named = [&](const std::string& n) -> const Op* {
    for (const auto& lp : prog.layers)
      for (const Op& op : lp.ops)
        if (op.name == n) return &op;
    return nullptr;
  };
  const double sms = s.gpu.sms.get();
  const int coll_channels = static_cast<int>(s.gpu.scale_up.nccl_coll_channels.get());
  ASSERT_EQ(coll_channels, 24) << "catalogue: NCCL logs 24 coll channels on 8 x H100";
  // The kernels holding SMs on each GPU: its own collectives and PP sends, and the PP transfers
  // it receives.
  auto held = communication_kernels_by_gpu(d);
  int alone = 0, partly = 0;
  std::map<int, int> under;         // SMs held -> GEMMs checked
  std::map<int, double> slowdown;   // SMs held -> time / time alone of the first
  for (const TaskRecord& r : recs) {
    if (r.name < 0 || (r.lane != StreamLane::Compute && r.lane != StreamLane::WgradCompute)) continue;
    const std::string& name = d.run.names[static_cast<std::size_t>(r.name)];
    if (name.find("dgrad") == std::string::npos) continue;
    int overlapping = 0;
    const TaskRecord* with = nullptr;
    for (const TaskRecord* c : held[r.gpu]) {
      if (c->end <= r.start || c->start >= r.end) continue;
      ++overlapping;
      with = c;
    }
    const Op* op = op_named(name);
    ASSERT_NE(op, nullptr) << name;
    const double t = (r.end - r.start).seconds().value;
    const double t_alone = SimTime::from_seconds(compute_op_time(s, *op, 1.0)).seconds().value;
    if (overlapping == 0) {
      EXPECT_NEAR(t, t_alone, 2e-9) << name;
      ++alone;
      continue;
    }
    // One kernel beside the GEMM, there when it starts: the GEMM runs at the slower rate while
    // the kernel runs, at full rate after it (processor sharing).
    if (overlapping != 1 || with->start > r.start) continue;
    const int k = with->lane == StreamLane::CommAsync      ? coll_channels
                  : with->lane == StreamLane::DataParallel ? kNcclChannelsPerNic
                                                           : kNcclNetChannelsPerPeer;
    const double t_slow = SimTime::from_seconds(compute_op_time(s, *op, (sms - k) / sms)).seconds().value;
    double expected = t_slow;
    if (with->end < r.end) {
      const double shared = (with->end - r.start).seconds().value;
      expected = shared + (1.0 - shared / t_slow) * t_alone;
    }
    EXPECT_NEAR(t, expected, 3e-9) << name << " beside a kernel of " << k << " SMs";
    if (with->end >= r.end && under[k]++ == 0) slowdown[k] = t / t_alone;
    partly += with->end < r.end;
  }
  for (const auto& [k, n] : under)
    std::printf("dgrad GEMMs under one NCCL kernel of %2d SMs (of %.0f): %4d, the first %.4f x its "
                "time alone (SM share %.4f)\n", k, sms, n, slowdown[k], sms / (sms - k));
  std::printf("dgrad GEMMs with no NCCL kernel beside them: %d, at their time alone; %d beside "
              "one for part of their time\n", alone, partly);
  EXPECT_GT(partly, 0);
  EXPECT_GT(under[kNcclChannelsPerNic], 0);
  EXPECT_GT(alone, 0);
  // A GEMM bound by its math slows by the share of SMs taken (less its fixed launch overhead).
  for (const auto& [k, f] : slowdown) {
    const double share = sms / (sms - k);
    EXPECT_GT(f, 1.0 + 0.8 * (share - 1.0)) << k;
    EXPECT_LE(f, share + 1e-9) << k;
  }
}

TEST(OpDes, NvlsAllReducesHoldTheNvlsChannelsBesideCompute) {
  // Llama 3 70B on 64 H100 without sequence parallelism, TP communication overlapped: the TP8
  // all-reduces run as NVLS inside the node (collective_runs.hpp), and an NVLS kernel holds
  // NCCL's nvls channels (catalogue scale_up.nccl_nvls_channels: 16, NVLS_NCHANNELS_SM90 in
  // NCCL's src/transport/nvls.cc and the p5.48xlarge log's "16 nvls channels"), not the 24 coll
  // channels of a ring. A compute op beside one of them runs at (132 - 16) / 132 while it lasts.
  const Scenario s = load("llama3-70b-h100.json", llama64({"parallelism.sequence_parallel=false",
                                                            "software.overlap.tp_comm=true"}));
  const int nvls_channels = static_cast<int>(s.gpu.scale_up.nccl_nvls_channels.get());
  const int coll_channels = static_cast<int>(s.gpu.scale_up.nccl_coll_channels.get());
  ASSERT_EQ(nvls_channels, 16);
  ASSERT_EQ(coll_channels, 24);
  DesOptions o;
  o.record_tasks = true;
  const DesStep d = simulate_step_des_detailed(s, o);
  const StepProgram prog = build_step_program(s);
  std::map<std::string, const Op*> ops;
  std::set<std::string> tp_all_reduce;
  for (const auto& lp : prog.layers)
    for (const Op& op : lp.ops) {
      ops.emplace(op.name, &op);
      if (op.collective == OpCollective::AllReduce && op.group == ParallelGroup::Tp)
        tp_all_reduce.insert(op.name);
    }
  ASSERT_FALSE(tp_all_reduce.empty());
  const auto& recs = d.run.task_records;
  auto name_of = [&](const TaskRecord& r) -> const std::string& {
    return d.run.names[static_cast<std::size_t>(r.name)];
  };
  auto held = communication_kernels_by_gpu(d);  // the NCCL kernels on each GPU
  const double sms = s.gpu.sms.get();
  int under = 0;
  for (const TaskRecord& r : recs) {
    if (r.name < 0 || (r.lane != StreamLane::Compute && r.lane != StreamLane::WgradCompute)) continue;
    if (r.end <= r.start) continue;
    const TaskRecord* with = nullptr;
    int overlapping = 0;
    for (const TaskRecord* c : held[r.gpu]) {
      if (c->end <= r.start || c->start >= r.end) continue;
      ++overlapping;
      with = c;
    }
    // Only ops beside one kernel, a TP all-reduce there when they start.
    if (overlapping != 1 || with->name < 0 || !tp_all_reduce.count(name_of(*with))) continue;
    if (with->start > r.start) continue;
    const auto op = ops.find(name_of(r));
    ASSERT_NE(op, ops.end()) << name_of(r);
    const double t = (r.end - r.start).seconds().value;
    const double t_alone = SimTime::from_seconds(compute_op_time(s, *op->second, 1.0)).seconds().value;
    // At the slower rate while the kernel runs, at full rate after it (processor sharing).
    auto expected_beside = [&](int k) {
      const double t_slow =
          SimTime::from_seconds(compute_op_time(s, *op->second, (sms - k) / sms)).seconds().value;
      if (with->end >= r.end) return t_slow;
      const double shared = (with->end - r.start).seconds().value;
      return shared + (1.0 - shared / t_slow) * t_alone;
    };
    const double t_nvls = expected_beside(nvls_channels), t_ring = expected_beside(coll_channels);
    EXPECT_NEAR(t, t_nvls, 3e-9) << name_of(r) << " beside " << name_of(*with);
    // Memory-bound ops keep their rate whatever the SMs: only the others tell 16 from 24.
    if (t_ring - t_nvls > 1e-8) ++under;
  }
  std::printf("compute-bound ops beside one NVLS all-reduce kernel (%d SMs of %.0f): %d\n",
              nvls_channels, sms, under);
  EXPECT_GT(under, 0);
}

TEST(OpDes, NvlsCarriesTensorParallelAllReducesOnH100) {
  // Llama 3 70B on 64 H100 without sequence parallelism: every layer all-reduces its TP8
  // outputs inside the node. H100's NVSwitch reduces in the switch (catalogue), so NCCL's NVLS
  // is chosen (collective_runs.hpp); the what-if `cluster.network.in_switch_reduction=false`
  // puts them back on the ring. Both fidelities see the same gain, and the DES runs each
  // all-reduce in exactly its α-β NVLS time (nothing else on those links).
  const auto sets = [](bool nvls) {
    return llama64({"parallelism.sequence_parallel=false",
                    std::string("cluster.network.in_switch_reduction=") + (nvls ? "true" : "false")});
  };
  const Scenario on = load("llama3-70b-h100.json", sets(true));
  const Scenario off = load("llama3-70b-h100.json", sets(false));
  ASSERT_TRUE(on.cluster.network.in_switch_reduction);
  ASSERT_FALSE(off.cluster.network.in_switch_reduction);
  const double a_on = simulate_step_analytical(on).step_time.value;
  const double a_off = simulate_step_analytical(off).step_time.value;
  DesOptions o;
  o.record_tasks = true;
  const DesStep d_on = simulate_step_des_detailed(on, o);
  const double des_on = d_on.result.step_time.value;
  const double des_off = simulate_step_des(off).step_time.value;
  std::printf("Llama 70B / 64 H100, TP8 all-reduces: analytical %.3f s (ring %.3f), DES %.3f s (ring %.3f)\n",
              a_on, a_off, des_on, des_off);
  EXPECT_LT(a_on, a_off);
  EXPECT_LT(des_on, des_off);
  EXPECT_NEAR(des_on / a_on, des_off / a_off, 0.01) << "both fidelities price NVLS alike";
  // The layer-output all-reduce in the DES: its time from the last member's arrival is the NVLS
  // α-β time; members arriving earlier wait, so no record is shorter.
  const StepProgram prog = build_step_program(on);
  const Op* ar = nullptr;
  for (const auto& lp : prog.layers)
    for (const Op& op : lp.ops)
      if (!ar && op.collective == OpCollective::AllReduce && op.group == ParallelGroup::Tp) ar = &op;
  ASSERT_NE(ar, nullptr);
  const Topology topo = build_topology(on);
  std::vector<int> tp;
  for (int g = 0; g < on.parallelism.tp; ++g) tp.push_back(g);
  const AlgorithmChoice c = nccl_algorithm(topo, CollectiveKind::AllReduce, tp, ar->comm_bytes,
                                           fabric_efficiency(on));
  ASSERT_EQ(c.algorithm, CollectiveAlgorithm::Nvls);
  double shortest = 1e9;
  int seen = 0;
  for (const TaskRecord& r : d_on.run.task_records) {
    if (r.name < 0 || d_on.run.names[static_cast<std::size_t>(r.name)] != ar->name) continue;
    ++seen;
    shortest = std::min(shortest, (r.end - r.start).seconds().value);
  }
  ASSERT_GT(seen, 0) << ar->name;
  EXPECT_NEAR(shortest, c.cost.time.value, 2e-9) << ar->name;
}
