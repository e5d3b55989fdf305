// The real binaries end to end: a sweep killed with SIGKILL and resumed equals an uninterrupted
// run; a torn last line is repaired; shards 1/3..3/3 (and Slurm's variables) merged equal the
// unsharded run; so does the MPI mode on 2 ranks when built; reports from results files.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>

#include "tests/cli/cli_test_util.hpp"

extern char** environ;

using namespace cli_test;
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::vector<std::string> sorted_lines(const fs::path& p) {
  auto l = lines_of(slurp(p));
  std::sort(l.begin(), l.end());
  return l;
}

std::size_t count_newlines(const fs::path& p) {
  const std::string s = slurp(p);
  return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n'));
}

// 40 analytical points over Llama 3 70B (3 sizes × 4 GPU types × 3 PUEs, 4 explicit points, one
// of them invalid: TP 3 does not divide 64 heads).
class SweepCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = temp_dir() / "sweep";
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Json sweep = {
        {"base", (data_dir() / "scenarios" / "llama3-70b-h100.json").string()},
        {"set", {{"simulation.fidelity", "analytical"}}},
        {"grid", {{"cluster.gpus", {256, 512, 1024}}, {"economics.pue", {1.1, 1.2, 1.3}}}},
        {"zip", {{"cluster.gpu", {"H100-SXM", "H200-SXM", "H20", "A100-80G-SXM"}},
                 {"economics.gpu_hour_usd", {2.49, 2.94, 1.74, 1.99}}}},
        {"points", Json::array({Json{{"parallelism.tp", 3}},
                                Json{{"cluster.gpus", 2048}},
                                Json{{"parallelism.pp", 8}, {"parallelism.vpp", 1}, {"parallelism.schedule", "1f1b"}},
                                Json{{"training.global_batch", 1024}}})}};
    sweep_ = dir_ / "sweep.json";
    std::ofstream(sweep_) << sweep.dump(2);
    reference_ = dir_ / "reference.jsonl";
    const Result r = run("sweep " + sweep_.string() + " -j 2 -o " + reference_.string());
    // The TP 3 point fails on bad input: the sweep still writes every line, and exits 2.
    ASSERT_EQ(r.code, 2) << r.err;
    ASSERT_NE(r.err.find("error: " + sweep_.string() + ": point "), std::string::npos) << r.err;
    ASSERT_NE(r.err.find(" (parallelism.tp=3 "), std::string::npos) << r.err;
  }
  static fs::path dir_, sweep_, reference_;
};
fs::path SweepCli::dir_, SweepCli::sweep_, SweepCli::reference_;

TEST_F(SweepCli, UninterruptedRunHasOneLinePerPointAndAnErrorLine) {
  const auto lines = sorted_lines(reference_);
  ASSERT_EQ(lines.size(), 40u);
  std::size_t errors = 0;
  std::set<std::string> ids;
  for (const auto& l : lines) {
    const Json j = Json::parse(l);
    ids.insert(j["id"].get<std::string>());
    if (j.contains("error")) {
      ++errors;
      EXPECT_EQ(j["overrides"]["parallelism.tp"], 3);
      EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
    } else {
      EXPECT_EQ(j["report"]["schema"], "clustercost.report/1");
      EXPECT_EQ(j["report"]["scenario"]["cluster"]["gpus"],
                j["overrides"].value("cluster.gpus", Json(512)));
    }
  }
  EXPECT_EQ(errors, 1u);
  EXPECT_EQ(ids.size(), 40u);
}

TEST_F(SweepCli, KilledWithSigkillAndResumedEqualsUninterrupted) {
  const auto out = dir_ / "killed.jsonl";
  fs::remove(out);
  std::string bin = binary().string(), a1 = "sweep", a2 = sweep_.string(), a3 = "-j", a4 = "2",
              a5 = "-q", a6 = "-o", a7 = out.string();
  char* argv[] = {bin.data(), a1.data(), a2.data(), a3.data(), a4.data(), a5.data(), a6.data(),
                  a7.data(), nullptr};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  // Kill it as soon as a few lines are there.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(out) && count_newlines(out) >= 3) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the sweep finished before it could be killed";
  const std::size_t before = count_newlines(out);
  EXPECT_GE(before, 3u);
  EXPECT_LT(before, 40u);

  const Result r = run("sweep " + sweep_.string() + " -j 2 --resume -o " + out.string());
  ASSERT_EQ(r.code, 2) << r.err;  // the TP 3 point, again
  EXPECT_EQ(slurp(out), slurp(reference_)) << "killed and resumed: the same bytes";
}

TEST_F(SweepCli, ResumeRepairsATruncatedLastLine) {
  const auto out = dir_ / "truncated.jsonl";
  const auto lines = lines_of(slurp(reference_));
  {
    std::ofstream o(out, std::ios::binary);
    for (std::size_t i = 0; i + 1 < lines.size(); ++i) o << lines[i] << "\n";
    o << lines.back().substr(0, lines.back().size() / 2);  // cut mid-line, no newline
  }
  // Merge refuses nothing but skips the torn line, with a warning.
  const Result m = run("merge " + out.string() + " -o " + (dir_ / "m.jsonl").string());
  ASSERT_EQ(m.code, 0) << m.err;
  EXPECT_NE(m.err.find("torn"), std::string::npos) << m.err;
  EXPECT_EQ(count_newlines(dir_ / "m.jsonl"), 39u);

  const Result r = run("sweep " + sweep_.string() + " --resume -o " + out.string());
  ASSERT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("repaired"), std::string::npos) << r.err;
  // The torn point and the failed one (failed points are evaluated again on resume).
  EXPECT_NE(r.err.find("2 points run (1 failed)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 failed before and evaluated again"), std::string::npos) << r.err;
  EXPECT_EQ(slurp(out), slurp(reference_));
}

TEST_F(SweepCli, ExistingOutputNeedsResumeAndBadSweepIsExit2) {
  Result r = run("sweep " + sweep_.string() + " -o " + reference_.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  const auto bad = dir_ / "bad.json";
  std::ofstream(bad) << R"({"base": {}, "grid": {"cluster.gpus": []}})";
  r = run("sweep " + bad.string() + " -o " + (dir_ / "bad.jsonl").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cluster.gpus"), std::string::npos) << r.err;
  r = run("sweep " + sweep_.string() + " --shard 4/3 -o " + (dir_ / "x.jsonl").string());
  EXPECT_EQ(r.code, 2);
}

TEST_F(SweepCli, ShardsMergedEqualTheUnshardedRun) {
  std::string files;
  std::size_t total = 0;
  int failed_shards = 0;
  for (int k = 1; k <= 3; ++k) {
    const auto f = dir_ / ("shard" + std::to_string(k) + ".jsonl");
    fs::remove(f);
    const Result r = run("sweep " + sweep_.string() + " --shard " + std::to_string(k) + "/3 -o " + f.string());
    // Exactly one shard holds the failing TP 3 point.
    ASSERT_TRUE(r.code == 0 || r.code == 2) << r.err;
    failed_shards += r.code == 2;
    total += count_newlines(f);
    EXPECT_GT(count_newlines(f), 0u);
    files += " " + f.string();
  }
  EXPECT_EQ(total, 40u) << "the shards partition the sweep";
  EXPECT_EQ(failed_shards, 1);
  const auto merged = dir_ / "merged.jsonl";
  const Result m = run("merge" + files + " -o " + merged.string());
  ASSERT_EQ(m.code, 0) << m.err;
  // Byte for byte: merge sorts by id, and ids sort the same as whole lines (they lead them).
  EXPECT_EQ(lines_of(slurp(merged)), sorted_lines(reference_));

  // Slurm job array variables choose the shard (here task 2 of an array 1-3).
  const auto slurm = dir_ / "slurm.jsonl";
  fs::remove(slurm);
  const std::string cmd = "env SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=3 " +
                          binary().string() + " sweep " + sweep_.string() + " -q -o " + slurm.string();
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 2));
  EXPECT_EQ(slurp(slurm), slurp(dir_ / "shard2.jsonl"));
}

TEST_F(SweepCli, MpiRunOnTwoRanksEqualsTheUnshardedRun) {
#ifndef CLUSTERCOST_HAVE_MPI
  GTEST_SKIP() << "clustercost-mpi was not built (MPI not found at configure time)";
#else
  const auto out = dir_ / "mpi.jsonl";
  fs::remove(out);
  const auto mpi = binary().parent_path() / "clustercost-mpi";
  const std::string cmd = "mpirun --allow-run-as-root --oversubscribe -np 2 " + mpi.string() + " " +
                          sweep_.string() + " -q -o " + out.string() + " > " +
                          (dir_ / "mpi.log").string() + " 2>&1";
  int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << slurp(dir_ / "mpi.log");
  EXPECT_NE(slurp(dir_ / "mpi.log").find(" (parallelism.tp=3 "), std::string::npos);
  EXPECT_EQ(slurp(out), slurp(reference_)) << "MPI and threads write the same bytes";
  // Resume under MPI: a torn line is cut and only the missing points run.
  auto lines = lines_of(slurp(out));
  {
    std::ofstream o(out, std::ios::binary);
    for (std::size_t i = 0; i + 5 < lines.size(); ++i) o << lines[i] << "\n";
    o << "{\"id\":";
  }
  const std::string resume = "mpirun --allow-run-as-root --oversubscribe -np 2 " + mpi.string() +
                             " " + sweep_.string() + " --resume -q -o " + out.string() + " > " +
                             (dir_ / "mpi.log").string() + " 2>&1";
  status = std::system(resume.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << slurp(dir_ / "mpi.log");
  EXPECT_EQ(slurp(out), slurp(reference_));
#endif
}

TEST_F(SweepCli, ReportsFromResults) {
  const auto csv = dir_ / "r.csv", html = dir_ / "r.html";
  Result r = run("report " + reference_.string() + " --format csv -o " + csv.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = lines_of(slurp(csv));
  ASSERT_EQ(rows.size(), 41u);
  EXPECT_EQ(rows[0].rfind("id,name,model,gpu,gpus,", 0), 0u) << rows[0];
  r = run("report " + reference_.string() + " --format html -o " + html.string());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string page = slurp(html);
  EXPECT_NE(page.find("id=\"chart-cost\""), std::string::npos);
  EXPECT_NE(page.find("A100-80G-SXM"), std::string::npos);
  // A single report from `run --format json` works too.
  const auto one = dir_ / "one.json";
  r = run("run " + (data_dir() / "scenarios" / "llama3-70b-h100.json").string() +
          " --set simulation.fidelity=analytical --format json -o " + one.string());
  ASSERT_EQ(r.code, 0) << r.err;
  r = run("report " + one.string() + " --format csv -o " + csv.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines_of(slurp(csv)).size(), 2u);
  // Bad input: exit 2, no output.
  const auto junk = dir_ / "junk.jsonl";
  std::ofstream(junk) << "{\"id\": \"a\"}\n";
  fs::remove(dir_ / "junk.html");
  r = run("report " + junk.string() + " --format html -o " + (dir_ / "junk.html").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(fs::exists(dir_ / "junk.html"));
  // PDF: through the GUI when it was built next to the CLI, else a clear exit 2.
  const auto pdf = dir_ / "r.pdf";
  r = run("report " + reference_.string() + " --format pdf -o " + pdf.string());
  const bool have_gui = fs::exists(binary().parent_path().parent_path() / "gui" / "clustercost-gui");
  if (have_gui) {
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(slurp(pdf).substr(0, 5), "%PDF-");
  } else {
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("PDF needs the GUI build (Qt 6): clustercost-gui not found"), std::string::npos);
  }
}

}  // namespace
