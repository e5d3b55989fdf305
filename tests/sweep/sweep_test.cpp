// Sweep library: plan expansion and ids, shards, results files (append, torn lines, merge),
// point evaluation, the threaded runner, and the batch CSV/HTML reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_set>

#include "sim/report/batch_report.hpp"
#include "sim/report/report.hpp"
#include "sim/sweep/sweep.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  auto p = fs::temp_directory_path() / ("clustercost-sweep-test-" + std::to_string(::getpid())) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> sorted_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::sort(lines.begin(), lines.end());
  return lines;
}

SweepPlan plan_of(const std::string& text, const fs::path& folder = fs::temp_directory_path()) {
  return SweepPlan::parse(Json::parse(text), "sweep.json", folder);
}

// A small analytical sweep over the shipped Llama 3 70B scenario.
std::string llama_sweep(const std::string& axes) {
  const auto base = (test::data_dirs().scenarios() / "llama3-70b-h100.json").string();
  return R"({"base": ")" + base + R"(", "set": {"simulation.fidelity": "analytical"}, )" + axes + "}";
}

std::string expect_input_error(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.json_path() + ": " + e.message();
  }
  ADD_FAILURE() << "no InputError";
  return "";
}

}  // namespace

TEST(SweepPlan, GridTimesZipThenPointsWithStableIds) {
  const SweepPlan plan = plan_of(R"({"base": {"name": "x"},
      "set": {"simulation.fidelity": "analytical"},
      "grid": {"cluster.gpus": [64, 128], "cluster.gpu": ["H100-SXM", "H20"]},
      "zip": {"economics.pue": [1.1, 1.2, 1.3], "economics.usd_per_kwh": [0.05, 0.08, 0.1]},
      "points": [{"cluster.gpus": 8}, {"simulation.fidelity": "des", "cluster.gpus": 16}]})");
  ASSERT_EQ(plan.size(), 2u * 2u * 3u + 2u);
  std::set<std::string> ids;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const SweepPoint p = plan.point(i);
    ids.insert(p.id);
    EXPECT_EQ(p.id.size(), 16u);
    EXPECT_EQ(p.id, plan.point(i).id) << "ids are deterministic";
    // Keys sorted: the canonical order.
    std::vector<std::string> keys;
    for (auto it = p.overrides.begin(); it != p.overrides.end(); ++it) keys.push_back(it.key());
    EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  }
  EXPECT_EQ(ids.size(), plan.size()) << "every what-if has its own id";
  // The first factor is the most significant; zipped paths move together.
  EXPECT_EQ(plan.point(0).overrides["cluster.gpus"], 64);
  EXPECT_EQ(plan.point(0).overrides["cluster.gpu"], "H100-SXM");
  EXPECT_EQ(plan.point(1).overrides["economics.pue"], 1.2);
  EXPECT_EQ(plan.point(1).overrides["economics.usd_per_kwh"], 0.08);
  EXPECT_EQ(plan.point(3).overrides["cluster.gpu"], "H20");
  EXPECT_EQ(plan.point(6).overrides["cluster.gpus"], 128);
  EXPECT_EQ(plan.point(11).overrides["simulation.fidelity"], "analytical");
  // Explicit points merge over `set`.
  EXPECT_EQ(plan.point(12).overrides["cluster.gpus"], 8);
  EXPECT_EQ(plan.point(13).overrides["simulation.fidelity"], "des");
  EXPECT_EQ(plan.point(13).overrides.size(), 2u);
}

TEST(SweepPlan, IdDependsOnTheOverridesOnlyNotTheirOrder) {
  const SweepPoint a = make_point(Json::parse(R"({"b": 1, "a": {"y": 2, "x": [1, "s"]}})"));
  const SweepPoint b = make_point(Json::parse(R"({"a": {"x": [1, "s"], "y": 2}, "b": 1})"));
  const SweepPoint c = make_point(Json::parse(R"({"a": {"x": [1, "s"], "y": 2}, "b": 2})"));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.overrides.dump(), b.overrides.dump());
  EXPECT_NE(a.id, c.id);
  // No axes and no points: the base itself, one point with no overrides.
  const SweepPlan single = plan_of(R"({"base": {"name": "x"}})");
  ASSERT_EQ(single.size(), 1u);
  EXPECT_TRUE(single.point(0).overrides.empty());
}

TEST(SweepPlan, RelativeBaseIsResolvedAgainstTheSweepFolder) {
  const auto dir = temp_dir("relative");
  fs::create_directories(dir / "sweeps");
  std::ofstream(dir / "base.json") << R"({"name": "from-base", "cluster": {"gpus": 8}})";
  std::ofstream(dir / "sweeps" / "s.json") << R"({"base": "../base.json", "grid": {"cluster.gpus": [16, 32]}})";
  const SweepPlan plan = SweepPlan::load(dir / "sweeps" / "s.json");
  EXPECT_EQ(plan.base()["name"], "from-base");
  EXPECT_EQ(fs::path(plan.base_file()), (dir / "base.json").lexically_normal());
  EXPECT_EQ(plan.name(), "s");
  const Json doc = plan.scenario_document(plan.point(1));
  EXPECT_EQ(doc["cluster"]["gpus"], 32);
  EXPECT_EQ(doc["name"], "from-base");
}

TEST(SweepPlan, BadSweepFilesNameThePath) {
  EXPECT_NE(expect_input_error([] { plan_of(R"({"base": {}, "grd": {}})"); }).find("grd"), std::string::npos);
  EXPECT_NE(expect_input_error([] { plan_of(R"({"grid": {"a": [1]}})"); }).find("base"), std::string::npos);
  EXPECT_NE(expect_input_error([] { plan_of(R"({"base": {}, "grid": {"a": []}})"); }).find("non-empty"),
            std::string::npos);
  EXPECT_NE(expect_input_error([] {
              plan_of(R"({"base": {}, "zip": {"a": [1, 2], "b": [1]}})");
            }).find("same length"),
            std::string::npos);
  EXPECT_NE(expect_input_error([] {
              plan_of(R"({"base": {}, "grid": {"a": [1]}, "zip": {"a": [2]}})");
            }).find("already an axis"),
            std::string::npos);
  EXPECT_NE(expect_input_error([] {
              plan_of(R"({"base": {}, "set": {"a": 1}, "grid": {"a": [2]}})");
            }).find("also a sweep axis"),
            std::string::npos);
  EXPECT_NE(expect_input_error([] { plan_of(R"({"base": "no-such-file.json"})"); }).find("base"),
            std::string::npos);
  EXPECT_NE(expect_input_error([] { plan_of(R"({"base": {}, "points": [{"": 1}]})"); }).find("points[0]"),
            std::string::npos);
  EXPECT_NE(expect_input_error([] { plan_of(R"({"base": 3})"); }).find("base"), std::string::npos);
}

TEST(SweepShard, ShardsPartitionThePointsAndParse) {
  const SweepPlan plan = plan_of(R"({"base": {}, "grid": {"a": [1,2,3,4,5,6,7,8,9,10], "b": [1,2,3,4,5]}})");
  std::vector<int> owners(plan.size(), 0);
  std::vector<std::size_t> sizes(3, 0);
  for (std::size_t k = 1; k <= 3; ++k) {
    const auto sel = select_points(plan, Shard{k, 3}, {});
    sizes[k - 1] = sel.size();
    for (std::size_t i : sel) ++owners[i];
  }
  for (int o : owners) EXPECT_EQ(o, 1) << "every point in exactly one shard";
  for (std::size_t s : sizes) EXPECT_GT(s, 5u) << "hash sharding balances 50 points roughly";

  const Shard s = parse_shard("2/7");
  EXPECT_EQ(s.k, 2u);
  EXPECT_EQ(s.n, 7u);
  for (const char* bad : {"0/3", "4/3", "1/0", "1", "a/b", "1/3x", "/3"})
    EXPECT_THROW(parse_shard(bad), InputError) << bad;

  EXPECT_FALSE(shard_from_slurm(nullptr, nullptr, "3").has_value());
  auto one_based = shard_from_slurm("3", "1", "3");
  ASSERT_TRUE(one_based);
  EXPECT_EQ(one_based->k, 3u);
  auto zero_based = shard_from_slurm("0", nullptr, "4");
  ASSERT_TRUE(zero_based);
  EXPECT_EQ(zero_based->k, 1u);
  EXPECT_EQ(zero_based->n, 4u);
  EXPECT_THROW(shard_from_slurm("5", "1", "3"), InputError);
  EXPECT_THROW(shard_from_slurm("x", "1", "3"), InputError);
}

// Syncs are batched (one per interval, and at close) but every line is written whole at once:
// another reader sees it before any sync, and a closed appender refuses more.
TEST(SweepResults, LinesAreWrittenAtOnceAndSyncedInBatches) {
  const auto dir = temp_dir("batched");
  const auto a = dir / "a.jsonl";
  ResultsAppender out(a, 3600.0);
  out.append(R"({"id":"x"})");
  EXPECT_EQ(slurp(a), "{\"id\":\"x\"}\n");
  out.sync();
  out.append(R"({"id":"y"})");
  out.close();
  EXPECT_EQ(slurp(a), "{\"id\":\"x\"}\n{\"id\":\"y\"}\n");
  EXPECT_THROW(out.append(R"({"id":"z"})"), std::runtime_error);
  EXPECT_THROW(out.sync(), std::runtime_error);
  out.close();  // closing twice is harmless
}

TEST(SweepResults, AppendScanRepairAndMerge) {
  const auto dir = temp_dir("results");
  const auto a = dir / "a.jsonl";
  {
    ResultsAppender out(a);
    out.append(R"({"id":"b","v":1})");
    out.append(R"({"id":"a","v":2})");
  }
  EXPECT_EQ(slurp(a), "{\"id\":\"b\",\"v\":1}\n{\"id\":\"a\",\"v\":2}\n");
  // A torn write: part of a line without its newline.
  std::ofstream(a, std::ios::app) << R"({"id":"c","v)";
  ResultsScan scan = scan_results(a);
  ASSERT_EQ(scan.lines.size(), 2u);
  EXPECT_EQ(scan.lines[1].id, "a");
  EXPECT_EQ(scan.lines[1].doc["v"], 2);
  EXPECT_EQ(scan.torn_bytes, 12u);
  EXPECT_EQ(repair_results(a), 12u);
  EXPECT_EQ(slurp(a), "{\"id\":\"b\",\"v\":1}\n{\"id\":\"a\",\"v\":2}\n");
  EXPECT_EQ(repair_results(a), 0u);

  // Merge: one line per id, sorted by id; identical duplicates collapse.
  const auto b = dir / "b.jsonl";
  std::ofstream(b) << "{\"id\":\"c\",\"v\":3}\n{\"id\":\"a\",\"v\":2}\n";
  const auto merged = merge_results({a, b});
  EXPECT_EQ(results_text(merged), "{\"id\":\"a\",\"v\":2}\n{\"id\":\"b\",\"v\":1}\n{\"id\":\"c\",\"v\":3}\n");
  // The same id with other bytes is refused.
  const auto c = dir / "c.jsonl";
  std::ofstream(c) << "{\"id\":\"a\",\"v\":9}\n";
  EXPECT_NE(expect_input_error([&] { merge_results({a, c}); }).find("id a"), std::string::npos);
  // A damaged line in the middle is an error naming it, not silently dropped.
  const auto d = dir / "d.jsonl";
  std::ofstream(d) << "{\"id\":\"a\"}\nnot json\n{\"id\":\"b\"}\n";
  EXPECT_NE(expect_input_error([&] { scan_results(d); }).find("line 2"), std::string::npos);
  std::ofstream(d) << "{\"id\":\"a\"}\n[1]\n";
  EXPECT_NE(expect_input_error([&] { scan_results(d); }).find("line 2"), std::string::npos);
}

TEST(SweepRun, EvaluatesPointsAndRecordsBadOnesAsErrorLines) {
  const SweepPlan plan = plan_of(llama_sweep(R"("points": [{"cluster.gpus": 512}, {"parallelism.tp": 3}, {"cluster.gpu": "H999"}])"));
  const auto& cat = test::shipped_catalog();
  bool is_error = true;
  const Json ok = Json::parse(evaluate_point(plan, plan.point(0), cat, test::data_dirs(), &is_error));
  EXPECT_FALSE(is_error);
  EXPECT_EQ(ok["id"], plan.point(0).id);
  EXPECT_EQ(ok["overrides"]["cluster.gpus"], 512);
  EXPECT_EQ(ok["report"]["schema"], "clustercost.report/1");
  EXPECT_EQ(ok["report"]["scenario"]["cluster"]["gpus"], 512);
  EXPECT_EQ(ok["report"]["step"]["fidelity"], "analytical");
  // The report is exactly report_to_json of the same scenario.
  const Report direct = run_scenario(test::load_shipped(
      "llama3-70b-h100.json", {"cluster.gpus=512", "simulation.fidelity=\"analytical\""}));
  EXPECT_EQ(ok["report"].dump(), report_to_json(direct).dump());

  for (std::size_t i : {1u, 2u}) {
    const Json bad = Json::parse(evaluate_point(plan, plan.point(i), cat, test::data_dirs(), &is_error));
    EXPECT_TRUE(is_error);
    ASSERT_TRUE(bad.contains("error")) << bad.dump();
    EXPECT_FALSE(bad.contains("report"));
    EXPECT_FALSE(bad["error"]["message"].get<std::string>().empty());
    EXPECT_NE(bad["error"]["path"].get<std::string>().find(i == 1 ? "parallelism" : "cluster.gpu"),
              std::string::npos)
        << bad.dump();
  }
}

TEST(SweepRun, ThreadCountDoesNotChangeTheLinesAndResumeSkipsDoneIds) {
  const SweepPlan plan = plan_of(llama_sweep(
      R"("grid": {"cluster.gpus": [256, 512]}, "zip": {"cluster.gpu": ["H100-SXM", "H20", "A100-80G-SXM"]}, "points": [{"parallelism.tp": 3}, {"cluster.gpus": 256, "cluster.gpu": "H20"}])"));
  ASSERT_EQ(plan.size(), 8u);
  const auto dir = temp_dir("threads");
  const auto& cat = test::shipped_catalog();
  SweepOptions one;
  one.output = dir / "one.jsonl";
  const SweepSummary s1 = run_sweep(plan, cat, test::data_dirs(), one);
  EXPECT_EQ(s1.progress.total, 7u) << "the duplicate of a grid point runs once";
  EXPECT_EQ(s1.progress.done, 7u);
  EXPECT_EQ(s1.progress.errors, 1u);
  EXPECT_EQ(s1.progress.skipped, 1u);

  SweepOptions three = one;
  three.output = dir / "three.jsonl";
  three.threads = 3;
  std::size_t calls = 0;
  three.on_progress = [&](const SweepProgress& p) {
    ++calls;
    EXPECT_LE(p.done, p.total);
  };
  const SweepSummary s3 = run_sweep(plan, cat, test::data_dirs(), three);
  EXPECT_EQ(calls, 7u);
  // Byte for byte, in point order: the file does not depend on the thread count.
  EXPECT_EQ(slurp(one.output), slurp(three.output));
  {
    std::vector<std::string> ids;
    std::istringstream in(slurp(one.output));
    for (std::string l; std::getline(in, l);) ids.push_back(Json::parse(l)["id"].get<std::string>());
    const std::vector<std::string> expected = {plan.point(0).id, plan.point(1).id, plan.point(2).id,
                                               plan.point(3).id, plan.point(4).id, plan.point(5).id,
                                               plan.point(6).id};
    EXPECT_EQ(ids, expected) << "lines follow the points (the duplicate point 7 runs once)";
  }
  // The failed point is reported in the summary with the loader's message.
  ASSERT_EQ(s1.failures.size(), 1u);
  ASSERT_EQ(s3.failures.size(), 1u);
  EXPECT_EQ(s1.failures[0].id, plan.point(6).id);
  EXPECT_EQ(s1.failures[0].overrides["parallelism.tp"], 3);
  EXPECT_FALSE(s1.failures[0].internal);
  const std::string described = describe_failure(s1.failures[0]);
  EXPECT_NE(described.find("point " + plan.point(6).id + " (parallelism.tp=3"), std::string::npos) << described;
  EXPECT_NE(described.find("llama3-70b-h100.json: at parallelism"), std::string::npos) << described;

  // An existing file needs --resume; resuming a complete file runs nothing.
  EXPECT_THROW(run_sweep(plan, cat, test::data_dirs(), three), InputError);
  three.resume = true;
  // Resuming a complete file runs only the failed point again (the base may have been fixed).
  const SweepSummary again = run_sweep(plan, cat, test::data_dirs(), three);
  EXPECT_EQ(again.progress.total, 1u);
  EXPECT_EQ(again.retried, 1u);
  EXPECT_EQ(again.failures.size(), 1u);
  EXPECT_EQ(slurp(one.output), slurp(three.output));

  // Resume after losing lines and tearing one, written in another order: the same bytes.
  auto lines = sorted_lines(slurp(one.output));
  std::vector<std::string> reports;
  for (const auto& l : lines)
    if (!Json::parse(l).contains("error")) reports.push_back(l);
  ASSERT_EQ(reports.size(), 6u);
  const auto partial = dir / "partial.jsonl";
  {
    std::ofstream out(partial, std::ios::binary);
    for (std::size_t i = 0; i + 3 < reports.size(); ++i) out << reports[i] << "\n";
    out << reports[reports.size() - 3].substr(0, 40);
  }
  SweepOptions resume = one;
  resume.output = partial;
  resume.resume = true;
  resume.threads = 2;
  const SweepSummary r = run_sweep(plan, cat, test::data_dirs(), resume);
  EXPECT_EQ(r.repaired_bytes, 40u);
  EXPECT_EQ(r.progress.total, 4u) << "three lost reports and the failed point";
  EXPECT_EQ(slurp(partial), slurp(one.output));

  // An error line followed by its rerun's report (a resume killed before the file was put in
  // order): the report wins, the point is done.
  const auto stale = dir / "stale.jsonl";
  {
    std::ofstream out(stale, std::ios::binary);
    for (const auto& l : lines) out << l << "\n";
    Json fixed = Json::parse(reports[0]);
    Json failed = fixed;
    failed.erase("report");
    failed["error"] = {{"message", "was broken"}, {"file", "x.json"}, {"path", "a"}};
    out << failed.dump() << "\n" << fixed.dump() << "\n";
  }
  const ResumeState st = prepare_results(stale, true);
  EXPECT_EQ(st.failed, std::unordered_set<std::string>{plan.point(6).id}) << "only the tp 3 point";
  EXPECT_EQ(st.done.size(), 6u);
  const OrderedResults ordered = order_results(plan, stale);
  EXPECT_EQ(ordered.lines, 7u);
  EXPECT_EQ(slurp(stale), slurp(one.output));

  // The error line of a point the sweep no longer has (a typo fixed since) is dropped, a report
  // line of a foreign id is kept, last.
  {
    std::ofstream out(stale, std::ios::app | std::ios::binary);
    out << R"({"id":"ffffffffffffffff","error":{"message":"old typo","file":"","path":""}})" << "\n";
    out << R"({"id":"0000000000000000","report":{}})" << "\n";
  }
  const OrderedResults again_ordered = order_results(plan, stale);
  EXPECT_EQ(again_ordered.dropped_stale_errors, 1u);
  EXPECT_EQ(again_ordered.failures.size(), 1u);
  EXPECT_EQ(slurp(stale), slurp(one.output) + R"({"id":"0000000000000000","report":{}})" + "\n");
}

TEST(BatchReport, CsvRowsEqualReportToCsvAndParseBack) {
  const Report a = run_scenario(test::load_shipped("llama3-70b-h100.json", {"simulation.fidelity=\"analytical\""}));
  const Report b = run_scenario(test::load_shipped("mixtral-8x7b-h20.json", {"simulation.fidelity=\"analytical\""}));
  std::vector<BatchEntry> entries(3);
  entries[0].id = "aaaa";
  entries[0].report = report_to_json(a);
  entries[0].overrides = Json::parse(R"({"cluster.gpus": 512, "x": "a,b"})");
  entries[1].id = "bbbb";
  entries[1].report = report_to_json(b);
  entries[2].id = "cccc";
  entries[2].error = {{"message", "tp 3 does not divide \"heads\""}, {"file", "f"}, {"path", "parallelism.tp"}};

  // Every report column has a JSON source.
  for (const auto& c : csv_columns()) EXPECT_NO_THROW(report_json_csv_value(entries[0].report, c)) << c;

  const std::string csv = batch_to_csv(entries);
  std::vector<std::string> lines;
  {
    std::istringstream in(csv);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), 4u);
  // Header and report rows: id, then exactly report_to_csv's columns and values.
  const std::string reference = report_to_csv({a, b});
  const auto ref_header = reference.substr(0, reference.find('\n'));
  std::string extra;
  for (const auto& c : batch_extra_columns()) extra += "," + c;
  EXPECT_EQ(lines[0], "id," + ref_header + extra + ",overrides,error");
  // Every extra column has a JSON source too.
  for (const auto& c : batch_extra_columns())
    EXPECT_FALSE(report_json_csv_value(entries[0].report, c).empty()) << c;
  std::istringstream ref(reference);
  std::string ref_line;
  std::getline(ref, ref_line);
  for (std::size_t i = 1; i <= 2; ++i) {
    std::getline(ref, ref_line);
    const std::string prefix = entries[i - 1].id + "," + ref_line + ",";
    EXPECT_EQ(lines[i].substr(0, prefix.size()), prefix);
  }

  // Parse back (RFC 4180 quoting) and compare with the JSON values.
  auto parse_row = [](const std::string& l) {
    std::vector<std::string> f(1);
    bool q = false;
    for (std::size_t i = 0; i < l.size(); ++i) {
      const char c = l[i];
      if (q) {
        if (c == '"' && i + 1 < l.size() && l[i + 1] == '"') f.back() += '"', ++i;
        else if (c == '"') q = false;
        else f.back() += c;
      } else if (c == '"') q = true;
      else if (c == ',') f.emplace_back();
      else f.back() += c;
    }
    return f;
  };
  const auto cols = parse_row(lines[0]);
  ASSERT_EQ(cols, batch_csv_columns());
  auto col = [&](const std::string& n) {
    return static_cast<std::size_t>(std::find(cols.begin(), cols.end(), n) - cols.begin());
  };
  for (std::size_t i = 1; i <= 2; ++i) {
    const auto row = parse_row(lines[i]);
    ASSERT_EQ(row.size(), cols.size());
    const Json& r = entries[i - 1].report;
    EXPECT_EQ(row[col("id")], entries[i - 1].id);
    EXPECT_EQ(row[col("gpu")], r["scenario"]["cluster"]["gpu"]);
    EXPECT_EQ(std::stoll(row[col("gpus")]), r["scenario"]["cluster"]["gpus"].get<long long>());
    EXPECT_EQ(std::stod(row[col("step_time_s")]), r["step"]["time_s"].get<double>());
    EXPECT_EQ(std::stod(row[col("mfu")]), r["step"]["mfu"].get<double>());
    EXPECT_EQ(std::stod(row[col("total_usd")]), r["cost"]["total_usd"].get<double>());
    EXPECT_EQ(std::stod(row[col("wall_days")]), r["run"]["wall_days"].get<double>());
    EXPECT_EQ(row[col("fits")], r["memory"]["fits"].get<bool>() ? "true" : "false");
    EXPECT_EQ(std::stod(row[col("gpu_hour_usd")]), r["cost"]["gpu_hour_usd"].get<double>());
    EXPECT_EQ(std::stod(row[col("memory_activations_gib")]),
              r["memory"]["breakdown_gib"]["activations"].get<double>());
    if (i == 1) {
      EXPECT_EQ(Json::parse(row[col("overrides")]), entries[0].overrides);
    }
  }
  const auto err = parse_row(lines[3]);
  EXPECT_EQ(err[col("id")], "cccc");
  EXPECT_EQ(err[col("error")], "tp 3 does not divide \"heads\"");
  EXPECT_EQ(err[col("step_time_s")], "");
}

TEST(BatchReport, ParsesOneReportOrJsonLinesAndWritesSelfContainedHtml) {
  const Report a = run_scenario(test::load_shipped("llama3-70b-h100.json", {"simulation.fidelity=\"analytical\""}));
  const Json ja = report_to_json(a);
  // A single pretty-printed report.
  const auto one = parse_batch(ja.dump(2), "r.json");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].report, ja);
  // JSON Lines, a torn last line skipped.
  Json l1 = {{"id", "01"}, {"overrides", {{"cluster.gpus", 512}}}, {"report", ja}};
  Json l2 = {{"id", "02"}, {"overrides", {{"parallelism.tp", 3}}},
             {"error", {{"message", "bad <tp>"}, {"file", "f"}, {"path", "parallelism.tp"}}}};
  const auto many = parse_batch(l1.dump() + "\n" + l2.dump() + "\n{\"id\":", "r.jsonl");
  ASSERT_EQ(many.size(), 2u);
  EXPECT_TRUE(many[1].report.is_null());
  EXPECT_EQ(many[1].error["path"], "parallelism.tp");
  EXPECT_THROW(parse_batch("{\"id\": 1}\n", "x"), InputError);
  EXPECT_THROW(parse_batch("", "x"), InputError);
  EXPECT_THROW(parse_batch("{\"schema\": \"other/1\"}", "x"), InputError);

  const std::string html = batch_to_html(many, "t<1>");
  for (const char* needle : {"id=\"chart-breakdown\"", "id=\"chart-cost\"", "id=\"chart-days\"",
                             "id=\"comparison\"", "id=\"errors\"", "id=\"provenance\"",
                             "<circle", "t&lt;1&gt;", "bad &lt;tp&gt;", "H100-SXM"})
    EXPECT_NE(html.find(needle), std::string::npos) << needle;
  // One point is drawn as a marker, never as a line of a series.
  EXPECT_EQ(html.find("<polyline"), std::string::npos);
  // Self-contained: no scripts, stylesheets or images fetched from anywhere.
  for (const char* forbidden : {"<script", "<link", "src=", "url(", "https://"})
    EXPECT_EQ(html.find(forbidden), std::string::npos) << forbidden;
}

// The HTML reports (one report's page, and `clustercost report`'s page for a report JSON) carry
// what only the DES gives: the critical path by op category, the links hottest first and each
// simulated GPU's peak memory, read from the report JSON.
TEST(ReportHtml, DesResultsHaveTheCriticalPathHottestLinkAndGpuPeaks) {
  const Report r = run_scenario(test::load_shipped("llama3-70b-h100.json", {"reliability.replicas=0"}));
  ASSERT_EQ(r.step.fidelity, "des");
  ASSERT_FALSE(r.step.critical_path.empty());
  ASSERT_FALSE(r.step.link_use.empty());
  ASSERT_FALSE(r.step.gpu_memory.empty());
  const Json j = report_to_json(r);
  // The hottest link as the report JSON gives it (its figures rounded to 6 digits, so links
  // whose exact figures differ in the last bits tie there and go by name).
  const Json& links = j["step"]["simulation"]["links"];
  ASSERT_EQ(links.size(), r.step.link_use.size());
  const auto key = [](const Json& l) {
    return std::make_tuple(-l["peak_utilisation"].get<double>(), -l["mean_utilisation"].get<double>(),
                           -l["gb"].get<double>(), l["link"].get<std::string>());
  };
  const std::string hottest =
      (*std::min_element(links.begin(), links.end(),
                         [&](const Json& a, const Json& b) { return key(a) < key(b); }))["link"];
  const std::string page = report_to_html(r);
  const std::string batch = batch_to_html(parse_batch(j.dump(), "r.json"), "r");
  for (const std::string* html : {&page, &batch}) {
    for (const auto& c : r.step.critical_path)
      EXPECT_NE(html->find("<td class=\"l\">" + html_escape(c.category) + "</td>"), std::string::npos)
          << c.category;
    EXPECT_NE(html->find("The hottest is <b>" + html_escape(hottest) + "</b>"), std::string::npos);
    // Row 1 of the link table is the hottest link.
    EXPECT_NE(html->find("<tr><td>1</td><td class=\"l\">" + html_escape(hottest) + "</td>"),
              std::string::npos);
    // Every simulated GPU's peak (Llama 3 70B simulates one GPU per stage, under 32).
    ASSERT_LE(r.step.gpu_memory.size(), kReportGpus);
    const std::string mem = html->substr(html->find("class=\"des-gpu-memory\""));
    std::size_t rows = 0;
    for (std::size_t at = mem.find("<tr><td>"); at != std::string::npos && at < mem.find("</table>");
         at = mem.find("<tr><td>", at + 1))
      ++rows;
    EXPECT_EQ(rows, r.step.gpu_memory.size());
  }
  // More links than kReportLinks: the hottest kReportLinks, and how many more the JSON has.
  if (r.step.link_use.size() > kReportLinks) {
    const std::string more = std::to_string(r.step.link_use.size() - kReportLinks) +
                             " more are in the report JSON";
    EXPECT_NE(page.find(more), std::string::npos);
    EXPECT_EQ(page.find("<tr><td>" + std::to_string(kReportLinks + 1) + "</td>"), std::string::npos);
  }
  // An analytical report has no DES section.
  const Report a = run_scenario(test::load_shipped(
      "llama3-70b-h100.json", {"reliability.replicas=0", "simulation.fidelity=analytical"}));
  EXPECT_TRUE(des_results_html(report_to_json(a)).empty());
  EXPECT_EQ(report_to_html(a).find("Critical path by op category"), std::string::npos);
}
