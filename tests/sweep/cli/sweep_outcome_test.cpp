// What a sweep tells its user, through the real binary: a failed point is an exit code and an
// `error:` line naming the sweep file, the point and the loader's message (issue 17, item 2); the
// results file does not depend on the thread count (item 3); the batch reports carry the sweep's
// name, the rental price and the memory breakdown (item 7).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/cli/cli_test_util.hpp"

using namespace cli_test;
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir(const std::string& name) {
  const auto d = temp_dir() / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

fs::path write_sweep(const fs::path& dir, const Json& sweep) {
  const auto p = dir / "sweep.json";
  std::ofstream(p) << sweep.dump(2);
  return p;
}

std::string base_scenario() { return (data_dir() / "scenarios" / "llama3-70b-h100.json").string(); }

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

}  // namespace

TEST(SweepOutcome, EveryPointFailingOnATypoExitsTwoAndNamesEachPoint) {
  const auto dir = fresh_dir("typo");
  const auto sweep = write_sweep(dir, {{"name", "typo"},
                                       {"base", base_scenario()},
                                       {"set", {{"simulation.fidelity", "analytical"}}},
                                       {"grid", {{"cluster.gpuz", {"H100-SXM", "H20"}}}}});
  const auto out = dir / "r.jsonl";
  const Result r = run("sweep " + sweep.string() + " -q -o " + out.string());
  EXPECT_EQ(r.code, 2) << r.err;
  // One line per point: the sweep file, the point's id and overrides, the loader's message with
  // its suggestion.
  EXPECT_EQ(count(r.err, "error: " + sweep.string() + ": point "), 2u) << r.err;
  EXPECT_NE(r.err.find("(cluster.gpuz=\"H100-SXM\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(cluster.gpuz=\"H20\""), std::string::npos) << r.err;
  EXPECT_EQ(count(r.err, "at cluster.gpuz: unknown key \"gpuz\" (did you mean \"gpu\"?)"), 2u) << r.err;
  EXPECT_NE(r.err.find("2 points failed"), std::string::npos) << r.err;
  // The ids printed are those of the error lines in the file.
  std::istringstream lines(slurp(out));
  std::size_t n = 0;
  for (std::string l; std::getline(lines, l); ++n) {
    const Json j = Json::parse(l);
    ASSERT_TRUE(j.contains("error")) << l;
    EXPECT_NE(r.err.find("point " + j["id"].get<std::string>() + " ("), std::string::npos) << r.err;
  }
  EXPECT_EQ(n, 2u);

  // Typo fixed, resumed: the new points run, the old failures (other ids) are dropped, exit 0.
  write_sweep(dir, {{"name", "typo"},
                    {"base", base_scenario()},
                    {"set", {{"simulation.fidelity", "analytical"}}},
                    {"grid", {{"cluster.gpu", {"H100-SXM", "H20"}}}}});
  const Result fixed = run("sweep " + sweep.string() + " --resume -o " + out.string());
  EXPECT_EQ(fixed.code, 0) << fixed.err;
  EXPECT_NE(fixed.err.find("dropped 2 error lines of points no longer in the sweep"), std::string::npos)
      << fixed.err;
  EXPECT_EQ(slurp(out).find("\"error\""), std::string::npos) << slurp(out);
  EXPECT_EQ(count(slurp(out), "\n"), 2u);
}

TEST(SweepOutcome, OneFailedPointAmongGoodOnesExitsTwoAndQuietStillPrintsIt) {
  const auto dir = fresh_dir("one-bad");
  const auto sweep = write_sweep(dir, {{"base", base_scenario()},
                                       {"set", {{"simulation.fidelity", "analytical"}}},
                                       {"points", Json::array({Json{{"cluster.gpus", 256}},
                                                               Json{{"parallelism.tp", 3}}})}});
  const Result r = run("sweep " + sweep.string() + " -q -o " + (dir / "r.jsonl").string());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count(r.err, "error: "), 2u) << r.err;  // the point, then the summary line
  EXPECT_NE(r.err.find(" (parallelism.tp=3 "), std::string::npos) << r.err;
  // All good: exit 0, nothing on stderr with -q.
  const auto good = write_sweep(dir, {{"base", base_scenario()},
                                      {"set", {{"simulation.fidelity", "analytical"}}},
                                      {"grid", {{"cluster.gpus", {256, 512}}}}});
  const Result ok = run("sweep " + good.string() + " -q -o " + (dir / "ok.jsonl").string());
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_TRUE(ok.err.empty()) << ok.err;
}

TEST(SweepOutcome, OneAndTwoThreadsWriteByteIdenticalFilesInPointOrder) {
  const auto dir = fresh_dir("threads");
  const auto sweep = write_sweep(
      dir, {{"name", "threads"},
            {"base", base_scenario()},
            {"set", {{"simulation.fidelity", "analytical"}}},
            {"grid", {{"cluster.gpus", {256, 512, 1024}}, {"cluster.gpu", {"H100-SXM", "H20", "H200-SXM"}}}},
            {"points", Json::array({Json{{"cluster.gpus", 128}}})}});
  std::vector<std::string> files;
  for (const char* jobs : {"1", "2", "2", "3"}) {
    const auto out = dir / ("j" + std::to_string(files.size()) + ".jsonl");
    const Result r = run("sweep " + sweep.string() + " -q -j " + jobs + " -o " + out.string());
    ASSERT_EQ(r.code, 0) << r.err;
    files.push_back(slurp(out));
  }
  ASSERT_FALSE(files[0].empty());
  for (std::size_t i = 1; i < files.size(); ++i) EXPECT_EQ(files[i], files[0]) << "run " << i;
  // Point order: the grid in declaration order (first axis slowest), then the explicit point.
  std::istringstream in(files[0]);
  std::vector<std::pair<long, std::string>> seen;
  for (std::string l; std::getline(in, l);) {
    const Json j = Json::parse(l);
    EXPECT_EQ(j["sweep"], "threads");
    seen.emplace_back(j["report"]["scenario"]["cluster"]["gpus"].get<long>(),
                      j["report"]["scenario"]["cluster"]["gpu"].get<std::string>());
  }
  const std::vector<std::pair<long, std::string>> expected = {
      {256, "H100-SXM"},  {256, "H20"},  {256, "H200-SXM"},  {512, "H100-SXM"}, {512, "H20"},
      {512, "H200-SXM"},  {1024, "H100-SXM"}, {1024, "H20"}, {1024, "H200-SXM"}, {128, "H100-SXM"}};
  EXPECT_EQ(seen, expected);
}

TEST(SweepOutcome, ReportsCarryTheSweepNamePriceAndMemoryBreakdown) {
  const auto dir = fresh_dir("reports");
  const auto sweep = write_sweep(dir, {{"name", "gpu types at 512"},
                                       {"base", base_scenario()},
                                       {"set", {{"simulation.fidelity", "analytical"}}},
                                       {"zip", {{"cluster.gpu", {"H100-SXM", "H20"}},
                                                {"economics.gpu_hour_usd", {2.49, 1.74}}}}});
  const auto results = dir / "some-file-name.jsonl";
  ASSERT_EQ(run("sweep " + sweep.string() + " -q -o " + results.string()).code, 0);

  const auto html = dir / "r.html";
  Result r = run("report " + results.string() + " --format html -o " + html.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string page = slurp(html);
  EXPECT_NE(page.find("<title>clustercost: gpu types at 512</title>"), std::string::npos);
  EXPECT_NE(page.find("<h1>gpu types at 512</h1>"), std::string::npos);
  EXPECT_EQ(page.find("some-file-name"), std::string::npos) << "the file name is not the title";
  EXPECT_NE(page.find("<th>$/GPU-hour</th>"), std::string::npos);
  EXPECT_NE(page.find("<td>$2.49</td>"), std::string::npos);
  EXPECT_NE(page.find("<td>$1.74</td>"), std::string::npos);

  const auto csv = dir / "r.csv";
  r = run("report " + results.string() + " --format csv -o " + csv.string());
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream rows(slurp(csv));
  std::string header, first;
  std::getline(rows, header);
  std::getline(rows, first);
  std::vector<std::string> cols, vals;
  for (std::istringstream h(header); std::getline(h, header, ',');) cols.push_back(header);
  // The first row has no quoted field before the columns read here.
  for (std::istringstream v(first); std::getline(v, first, ',');) vals.push_back(first);
  auto value = [&](const std::string& name) {
    for (std::size_t i = 0; i < cols.size() && i < vals.size(); ++i)
      if (cols[i] == name) return vals[i];
    ADD_FAILURE() << "no column " << name << " in " << slurp(csv);
    return std::string();
  };
  EXPECT_EQ(value("gpu_hour_usd"), "2.49");
  double parts = 0;
  for (const char* c : {"memory_weights_gib", "memory_gradients_gib", "memory_optimizer_gib",
                        "memory_activations_gib"})
    parts += std::stod(value(c));
  EXPECT_NEAR(parts, std::stod(value("memory_gib_per_gpu")), 1e-3);
}
