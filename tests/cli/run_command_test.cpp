#include <gtest/gtest.h>

#include "cli_test_util.hpp"

using namespace cli_test;
using Json = nlohmann::ordered_json;

namespace {

std::string shipped_path(const std::string& name) {
  return (data_dir() / "scenarios" / name).string();
}

// Runs a modified copy of the DeepSeek-V3/H800 scenario and expects a bad-input exit.
Result run_modified(const std::string& label, const std::function<void(Json&)>& change,
                    const std::string& extra = "") {
  Json j = shipped("deepseek-v3-h800.json");
  change(j);
  auto p = write_scenario(label + ".json", j.dump(2));
  return run("run " + p.string() + " " + extra);
}

void expect_bad_input(const Result& r, const std::string& path_fragment,
                      const std::string& message_fragment) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(path_fragment), std::string::npos) << "stderr: " << r.err;
  EXPECT_NE(r.err.find(message_fragment), std::string::npos) << "stderr: " << r.err;
  EXPECT_TRUE(r.out.empty()) << "partial output on bad input: " << r.out;
}

}  // namespace

TEST(CliRun, DeepSeekV3OnH800PrintsEveryReportKey) {
  Result r = run("run " + shipped_path("deepseek-v3-h800.json") + " --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["schema"], "clustercost.report/1");
  for (const char* k : {"params_total", "params_active", "flops_per_token"})
    EXPECT_TRUE(j["model"].contains(k)) << k;
  for (const char* k : {"time_s", "tokens", "tokens_per_s_per_gpu", "mfu", "hfu", "breakdown_s"})
    EXPECT_TRUE(j["step"].contains(k)) << k;
  for (const char* k : {"compute", "exposed_tp_comm", "exposed_ep_comm", "exposed_pp_comm",
                        "exposed_dp_comm", "bubble", "optimizer"})
    EXPECT_TRUE(j["step"]["breakdown_s"].contains(k)) << k;
  for (const char* k : {"peak_gib_per_gpu", "capacity_gib", "fits", "breakdown_gib"})
    EXPECT_TRUE(j["memory"].contains(k)) << k;
  for (const char* k : {"steps", "wall_days", "gpu_hours", "interruptions", "goodput"})
    EXPECT_TRUE(j["run"].contains(k)) << k;
  for (const char* k : {"total_usd", "usd_per_million_tokens", "energy_mwh", "breakdown_usd"})
    EXPECT_TRUE(j["cost"].contains(k)) << k;
  for (const char* k : {"version", "catalog", "profile", "seed"})
    EXPECT_TRUE(j["provenance"].contains(k)) << k;
  // The resolved scenario has its defaults filled in.
  EXPECT_EQ(j["scenario"]["parallelism"]["dp"], 128);
  // Sanity, not calibration: a step takes seconds, MFU is a fraction, the run costs millions.
  double step = j["step"]["time_s"].get<double>();
  EXPECT_GT(step, 1.0);
  EXPECT_LT(step, 200.0);
  double mfu = j["step"]["mfu"].get<double>();
  EXPECT_GT(mfu, 0.05);
  EXPECT_LT(mfu, 1.0);
  double sum = 0;
  for (auto& [k, v] : j["step"]["breakdown_s"].items()) sum += v.get<double>();
  EXPECT_NEAR(sum, step, step * 1e-4);
  EXPECT_GT(j["cost"]["total_usd"].get<double>(), 1e6);
}

TEST(CliRun, EveryShippedScenarioRunsInEveryFormat) {
  for (const auto& e : std::filesystem::directory_iterator(data_dir() / "scenarios")) {
    if (e.path().extension() != ".json") continue;
    for (const char* fmt : {"text", "json", "csv", "html"}) {
      Result r = run("run " + e.path().string() + " --format " + fmt);
      EXPECT_EQ(r.code, 0) << e.path() << " " << fmt << ": " << r.err;
      EXPECT_FALSE(r.out.empty());
    }
  }
}

TEST(CliRun, SameScenarioAndSeedGiveByteIdenticalJson) {
  Result a = run("run " + shipped_path("deepseek-v3-h800.json") + " --format json");
  Result b = run("run " + shipped_path("deepseek-v3-h800.json") + " --format json");
  ASSERT_EQ(a.code, 0);
  EXPECT_EQ(a.out, b.out);
}

TEST(CliRun, EveryShippedScenarioIsDeterministicAtBothFidelities) {
  for (const auto& e : std::filesystem::directory_iterator(data_dir() / "scenarios")) {
    if (e.path().extension() != ".json") continue;
    for (const char* fidelity : {"des", "analytical"}) {
      const std::string cmd = "run " + e.path().string() + " --set simulation.fidelity=" +
                              fidelity + " --format json";
      Result a = run(cmd), b = run(cmd);
      ASSERT_EQ(a.code, 0) << e.path() << ": " << a.err;
      EXPECT_EQ(a.out, b.out) << e.path() << " at " << fidelity << " is not byte-identical";
      Json j = Json::parse(a.out);
      EXPECT_EQ(j["step"]["fidelity"], fidelity);
      if (std::string(fidelity) == "des") {
        EXPECT_GT(j["step"]["simulation"]["events"].get<double>(), 0) << e.path();
        EXPECT_EQ(j["step"]["simulation"]["fingerprint"].get<std::string>().size(), 16u);
      }
    }
  }
}

TEST(CliRun, SetOverridesAValue) {
  Result r = run("run " + shipped_path("deepseek-v3-h800.json") +
                 " --set parallelism.pp=8 --set cluster.gpu=H100-SXM --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["scenario"]["parallelism"]["pp"], 8);
  EXPECT_EQ(j["scenario"]["parallelism"]["dp"], 256);
  EXPECT_EQ(j["scenario"]["cluster"]["gpu"], "H100-SXM");
}

TEST(CliRun, WritesOutputFileOnlyOnSuccess) {
  auto out = temp_dir() / "report.json";
  std::filesystem::remove(out);
  Result bad = run("run " + shipped_path("deepseek-v3-h800.json") +
                   " --set parallelism.tp=3 --format json -o " + out.string());
  EXPECT_EQ(bad.code, 2);
  EXPECT_FALSE(std::filesystem::exists(out)) << "partial output file written on bad input";
  Result good = run("run " + shipped_path("deepseek-v3-h800.json") + " --format json -o " + out.string());
  ASSERT_EQ(good.code, 0) << good.err;
  EXPECT_TRUE(good.out.empty());
  EXPECT_EQ(Json::parse(slurp(out))["schema"], "clustercost.report/1");
}

TEST(CliBadInput, MalformedJson) {
  auto p = write_scenario("malformed.json", "{\n  \"model\": \"deepseek-v3\",\n  \"cluster\": {,\n}");
  Result r = run("run " + p.string());
  expect_bad_input(r, "malformed.json", "line 3");
}

TEST(CliBadInput, MissingFile) {
  Result r = run("run /nonexistent/scenario.json");
  expect_bad_input(r, "/nonexistent/scenario.json", "not found");
}

TEST(CliBadInput, UnknownKey) {
  expect_bad_input(run_modified("unknown-key", [](Json& j) { j["parallelism"]["tpp"] = 2; }),
                   "parallelism.tpp", "unknown key");
}

TEST(CliBadInput, WrongType) {
  expect_bad_input(run_modified("wrong-type", [](Json& j) { j["cluster"]["gpus"] = "many"; }),
                   "cluster.gpus", "expected an integer");
}

TEST(CliBadInput, NegativeOrZeroCounts) {
  expect_bad_input(run_modified("negative", [](Json& j) { j["cluster"]["gpus"] = -2048; }),
                   "cluster.gpus", "positive");
  expect_bad_input(run_modified("zero", [](Json& j) { j["parallelism"]["pp"] = 0; }),
                   "parallelism.pp", "positive");
}

TEST(CliBadInput, UnknownGpuAndModel) {
  expect_bad_input(run_modified("unknown-gpu", [](Json& j) { j["cluster"]["gpu"] = "H900"; }),
                   "cluster.gpu", "unknown GPU");
  expect_bad_input(run_modified("unknown-model", [](Json& j) { j["model"] = "deepseek-v9"; }),
                   "model", "deepseek-v9");
}

TEST(CliBadInput, ParallelProductMustMatchGpus) {
  expect_bad_input(run_modified("product", [](Json& j) { j["parallelism"]["pp"] = 24; }),
                   "parallelism.tp", "does not divide 2048");
  expect_bad_input(run_modified("dp", [](Json& j) { j["parallelism"]["dp"] = 64; }),
                   "parallelism.dp", "2048 / 16 = 128");
}

TEST(CliBadInput, TensorParallelMustDivideHeads) {
  // DeepSeek-V3 has 128 heads; 2048 GPUs / (16 pp) = 128, tp 3 does not divide it either way.
  expect_bad_input(run_modified("tp-heads", [](Json& j) {
                     j["cluster"]["gpus"] = 2016;
                     j["parallelism"]["tp"] = 6;
                     j["parallelism"]["pp"] = 16;
                     j["parallelism"]["ep"] = 1;
                   }),
                   "parallelism.tp", "128 attention heads");
}

TEST(CliBadInput, ExpertParallelMustDivideExperts) {
  expect_bad_input(run_modified("ep", [](Json& j) { j["parallelism"]["ep"] = 96; }),
                   "parallelism.ep", "256 routed experts");
}

TEST(CliBadInput, BatchMustSplitIntoMicroBatches) {
  expect_bad_input(run_modified("batch", [](Json& j) { j["training"]["global_batch"] = 15000; }),
                   "training.global_batch", "dp·micro_batch");
}

TEST(CliBadInput, Fp8OnAGpuWithoutFp8) {
  expect_bad_input(run_modified("fp8", [](Json& j) { j["cluster"]["gpu"] = "A100-80G-SXM"; }),
                   "training.precision", "no FP8");
}

TEST(CliBadInput, BadSetSyntax) {
  Result r = run("run " + shipped_path("deepseek-v3-h800.json") + " --set parallelism.pp");
  expect_bad_input(r, "--set", "PATH=VALUE");
}

TEST(CliBadInput, UnknownFormatIsUsageError) {
  Result r = run("run " + shipped_path("deepseek-v3-h800.json") + " --format xml");
  EXPECT_EQ(r.code, 2);
}

TEST(CliInfeasible, OutOfMemoryStillReportsWithWarning) {
  // DeepSeek-V3 without pipeline parallelism cannot fit 80 GB per GPU.
  Result r = run("run " + shipped_path("deepseek-v3-h800.json") +
                 " --set parallelism.pp=2 --set parallelism.schedule=1f1b --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_FALSE(j["memory"]["fits"].get<bool>());
  EXPECT_NE(r.err.find("does not fit"), std::string::npos) << r.err;
}

TEST(CliList, GpusTableAndJson) {
  Result t = run("list gpus");
  ASSERT_EQ(t.code, 0) << t.err;
  for (const char* g : {"A100-40G-SXM", "A100-80G-SXM", "A800-80G-SXM", "H100-SXM", "H800-SXM",
                        "H20", "H200-SXM", "B200", "Ascend-910B", "Ascend-910C", "MI300X"})
    EXPECT_NE(t.out.find(g), std::string::npos) << g;
  Result j = run("list gpus --format json");
  ASSERT_EQ(j.code, 0);
  EXPECT_NO_THROW({
    const Json gpus = Json::parse(j.out);
    EXPECT_FALSE(gpus.empty());
  });
  Result m = run("list models");
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_NE(m.out.find("deepseek-v3"), std::string::npos);
  Result s = run("list scenarios");
  ASSERT_EQ(s.code, 0);
  EXPECT_NE(s.out.find("deepseek-v3-h800.json"), std::string::npos);
}

TEST(CliValidate, PublishedTablePrintsEveryCase) {
  Result r = run("validate --published");
  ASSERT_EQ(r.code, 0) << r.err;
  std::printf("%s", r.out.c_str());
  for (const char* id : {"A2-step", "A2-mfu", "B1-1.7b", "B1-1t"})
    EXPECT_NE(r.out.find(id), std::string::npos) << id;
  EXPECT_NE(r.out.find("mean absolute percentage error"), std::string::npos);
  Result j = run("validate --published --format json");
  ASSERT_EQ(j.code, 0);
  Json rows = Json::parse(j.out);
  EXPECT_GE(rows.size(), 14u);
  for (const auto& row : rows) EXPECT_TRUE(row.contains("predicted")) << row.dump();
}
