// Kill-mid-write test (issue 9). `clustercost trace` of the DeepSeek-V3 scenario writes a
// multi-megabyte Chrome trace with -o onto a file that already holds an old version; the process
// is killed with SIGKILL, either at a random time during the run or the moment its temporary file
// appears (that is, during the write itself). After every kill the target holds exactly the old
// bytes or exactly the complete new bytes, never a prefix.
//
// What happens to the temporary file: write_file_atomically (sim/common/atomic_file.hpp) writes a
// hidden sibling ".NAME.tmpXXXXXX" (mkstemp) and renames it over NAME. A SIGKILL between mkstemp
// and rename leaves that sibling behind (no process survives SIGKILL to remove it). It can never
// be mistaken for the output: its name is unique per write, starts with a dot, and later writes
// make their own; the test checks that a run after the kills completes and replaces the file
// with the full content regardless of the leftovers, and that nothing but such siblings is left.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sim/common/atomic_file.hpp"
#include "tests/cli/cli_test_util.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct Child {
  pid_t pid = -1;
};

// Starts `clustercost trace ... -o out` with stdout/stderr to /dev/null.
Child start_trace(const fs::path& out) {
  const std::string bin = cli_test::binary().string();
  const std::string scenario = (cli_test::data_dir() / "scenarios" / "deepseek-v3-h800.json").string();
  const std::string out_s = out.string();
  // Pipeline stage 0 only: a 5 MB trace is large enough for the write to be caught in the act
  // (the test polls for the temporary file every 50 us) and takes a sixth of the whole trace's
  // time (105 MB), which made this the slowest test of the suite (454 s under ASan).
  std::vector<std::string> args = {bin, "trace", scenario, "--stages", "0", "-o", out_s};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  Child c;
  const int rc = posix_spawn(&c.pid, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) c.pid = -1;
  return c;
}

int wait_for(const Child& c) {
  int status = 0;
  while (::waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::vector<fs::path> temp_siblings(const fs::path& out) {
  std::vector<fs::path> found;
  const std::string prefix = "." + out.filename().string() + ".tmp";
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    if (e.path().filename().string().rfind(prefix, 0) == 0) found.push_back(e.path());
  return found;
}

class AtomicWrite : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = cli_test::temp_dir() / "atomic";
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    out_ = dir_ / "trace.json";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_, out_;
};

TEST_F(AtomicWrite, SigkillLeavesTheOldOrTheCompleteNewFile) {
  // The complete new content, and how long a full run takes.
  const auto t0 = std::chrono::steady_clock::now();
  const Child full = start_trace(out_);
  ASSERT_GT(full.pid, 0);
  const int st = wait_for(full);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
  const double full_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string new_content = cli_test::slurp(out_);
  ASSERT_GT(new_content.size(), 1'000'000u) << "the trace should be large enough to take time";
  const std::string old_content = "{\"old\": \"a previous trace the kill must not damage\"}\n";

  std::mt19937 rng(12345);  // fixed seed: the same kill points every run
  std::uniform_real_distribution<double> when(0.0, 1.2);
  int killed_in_write = 0, killed = 0, completed = 0;
  for (int round = 0; round < 8; ++round) {
    clustercost::write_file_atomically(out_, old_content);
    const Child c = start_trace(out_);
    ASSERT_GT(c.pid, 0);
    const bool at_write = round % 2 == 0;
    if (at_write) {
      // Poll for the temporary file: it appears when the write begins.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(10 * full_s + 5);
      while (temp_siblings(out_).empty() && std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(c.pid, &status, WNOHANG) == c.pid) break;  // finished before we saw it
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    } else {
      std::this_thread::sleep_for(std::chrono::duration<double>(when(rng) * full_s));
    }
    ::kill(c.pid, SIGKILL);  // harmless if it already exited (it is a zombie until waited)
    const int status = wait_for(c);
    if (WIFSIGNALED(status)) {
      ++killed;
      if (at_write) ++killed_in_write;
    } else {
      ++completed;
    }
    const std::string now = cli_test::slurp(out_);
    EXPECT_TRUE(now == old_content || now == new_content)
        << "round " << round << ": the target holds " << now.size()
        << " bytes, neither the old (" << old_content.size() << ") nor the new ("
        << new_content.size() << ") content";
  }
  EXPECT_GT(killed, 0) << "no run was killed: the test did not test anything";
  RecordProperty("killed", killed);
  RecordProperty("killed_during_write", killed_in_write);
  RecordProperty("completed", completed);

  // Leftovers are only hidden, uniquely named siblings; a later run is not confused by them.
  for (const auto& e : fs::directory_iterator(dir_)) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "trace.json" || name.rfind(".trace.json.tmp", 0) == 0) << name;
  }
  EXPECT_LE(temp_siblings(out_).size(), static_cast<std::size_t>(killed));
  const Child after = start_trace(out_);
  const int st2 = wait_for(after);
  ASSERT_TRUE(WIFEXITED(st2) && WEXITSTATUS(st2) == 0);
  EXPECT_EQ(cli_test::slurp(out_), new_content);
}

TEST_F(AtomicWrite, AFailedWriteLeavesTheOldFileAndNoTemporary) {
  clustercost::write_file_atomically(out_, "old\n");
  // A directory where the file should be: the rename fails, the temporary is removed.
  const fs::path blocked = dir_ / "blocked";
  fs::create_directories(blocked / "child");
  EXPECT_THROW(clustercost::write_file_atomically(blocked, "new\n"), std::runtime_error);
  EXPECT_TRUE(temp_siblings(blocked).empty());
  // A missing folder: the error names the path.
  try {
    clustercost::write_file_atomically(dir_ / "no-such-dir" / "x.json", "new\n");
    FAIL() << "writing into a missing folder succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no-such-dir"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cli_test::slurp(out_), "old\n");
  clustercost::write_file_atomically(out_, "new\n");
  EXPECT_EQ(cli_test::slurp(out_), "new\n");
  EXPECT_TRUE(temp_siblings(out_).empty());
  EXPECT_EQ(fs::status(out_).permissions() & fs::perms::others_read, fs::perms::others_read);
}

}  // namespace
