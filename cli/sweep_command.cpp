// clustercost sweep SWEEP.json [-j N] [-o results.jsonl] [--resume] [--shard K/N] [-q]
//
// Runs every point of a sweep file on N threads, appending one JSON line per finished point,
// synced once a second (sim/sweep/sweep.hpp). Shards: --shard K/N, else SLURM_ARRAY_TASK_ID/_MIN/_COUNT when
// set (one Slurm array task per shard; `clustercost merge` joins the files). Progress goes to
// stderr: a bar with rate and ETA on a terminal, a plain line every 10 s otherwise.
// The results file ends in point order whatever -j (sim/sweep/sweep.hpp). A failed point is an
// error line in the file and an `error:` line on stderr naming the sweep file, the point and the
// loader's message. Exit codes: 0 when every point produced a report; 2 a bad sweep file, bad
// usage or a point that failed on bad input; 1 anything else (a failure inside the simulator,
// a write failure).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "cli/cli_common.hpp"
#include "cli/sweep_commands.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/sweep/sweep.hpp"

namespace clustercost::cli {

namespace {

struct SweepCliOptions {
  std::string sweep;
  int threads = 1;
  std::string output;
  bool resume = false;
  std::string shard;
  bool quiet = false;
};

std::string clock_text(double seconds) {
  if (!(seconds >= 0) || seconds > 1e8) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

/// Draws progress on stderr: a redrawn bar on a terminal, periodic plain lines otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool tty) : tty_(tty), t0_(std::chrono::steady_clock::now()) {}

  void update(const SweepProgress& p, bool final = false) {
    const auto now = std::chrono::steady_clock::now();
    const double since_print = std::chrono::duration<double>(now - last_).count();
    if (!final && since_print < (tty_ ? 0.1 : 10.0)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - t0_).count();
    const double rate = elapsed > 0 ? static_cast<double>(p.done) / elapsed : 0;
    const double eta = rate > 0 ? static_cast<double>(p.total - p.done) / rate : -1;
    char tail[160];
    std::snprintf(tail, sizeof tail, " %zu/%zu  %.1f points/s  ETA %s%s", p.done, p.total, rate,
                  clock_text(eta).c_str(),
                  p.errors ? (", " + std::to_string(p.errors) + " failed").c_str() : "");
    if (tty_) {
      constexpr int kWidth = 30;
      const int filled = p.total ? static_cast<int>(kWidth * p.done / p.total) : kWidth;
      std::string bar = "\r[" + std::string(static_cast<std::size_t>(filled), '#') +
                        std::string(static_cast<std::size_t>(kWidth - filled), ' ') + "]" + tail +
                        "\x1b[K";
      std::cerr << bar << (final ? "\n" : "") << std::flush;
    } else {
      std::cerr << "sweep:" << tail << "\n" << std::flush;
    }
  }

 private:
  bool tty_;
  std::chrono::steady_clock::time_point t0_, last_{};
};

}  // namespace

double bench_sweep_points_per_second(const DataDirs& dirs, const Catalog& catalog,
                                     double min_seconds, std::size_t* points) {
  const SweepPlan plan = SweepPlan::load(dirs.scenarios() / "sweeps" / "llama3-70b-gpu-type-vs-count.json");
  const auto file = std::filesystem::temp_directory_path() /
                    ("clustercost-bench-sweep-" + std::to_string(::getpid()) + ".jsonl");
  std::size_t n = 0;
  double elapsed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (n == 0 || elapsed < min_seconds) {
    std::filesystem::remove(file);
    SweepOptions so;
    so.output = file;
    n += run_sweep(plan, catalog, dirs, so).progress.done;
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  std::filesystem::remove(file);
  if (points) *points = n;
  return static_cast<double>(n) / elapsed;
}

Action add_sweep_command(CLI::App& app) {
  auto opt = std::make_shared<SweepCliOptions>();
  auto* sub = app.add_subcommand("sweep", "Run every point of a sweep file (grid, zip, points)");
  sub->add_option("sweep", opt->sweep, "Sweep JSON file")->required();
  sub->add_option("-j,--jobs", opt->threads, "Worker threads")->check(CLI::Range(1, 4096));
  sub->add_option("-o,--output", opt->output,
                  "Results file (JSON Lines); default results.jsonl, or "
                  "results.shard-K-of-N.jsonl for a shard");
  sub->add_flag("--resume", opt->resume,
                "Continue an interrupted sweep: keep the lines present, skip their ids");
  sub->add_option("--shard", opt->shard,
                  "Run shard K of N (default from SLURM_ARRAY_TASK_ID/_MIN/_COUNT when set)");
  sub->add_flag("-q,--quiet", opt->quiet, "No progress on stderr");
  return [opt]() {
    std::optional<Shard> shard;
    if (!opt->shard.empty()) shard = parse_shard(opt->shard);
    else shard = shard_from_slurm(std::getenv("SLURM_ARRAY_TASK_ID"),
                                  std::getenv("SLURM_ARRAY_TASK_MIN"),
                                  std::getenv("SLURM_ARRAY_TASK_COUNT"));
    std::string output = opt->output;
    if (output.empty())
      output = shard && shard->n > 1 ? "results.shard-" + std::to_string(shard->k) + "-of-" +
                                           std::to_string(shard->n) + ".jsonl"
                                     : "results.jsonl";

    const SweepPlan plan = SweepPlan::load(opt->sweep);
    const DataDirs dirs = data_dirs();
    const Catalog catalog = Catalog::load(dirs.catalog());

    SweepOptions so;
    so.output = output;
    so.threads = opt->threads;
    if (shard) so.shard = *shard;
    so.resume = opt->resume;
    auto printer = std::make_shared<ProgressPrinter>(::isatty(STDERR_FILENO) == 1);
    if (!opt->quiet) so.on_progress = [printer](const SweepProgress& p) { printer->update(p); };
    if (!opt->quiet) {
      std::cerr << "sweep " << plan.name() << ": " << plan.size() << " points";
      if (so.shard.n > 1) std::cerr << ", shard " << so.shard.k << "/" << so.shard.n;
      std::cerr << ", " << so.threads << " thread" << (so.threads == 1 ? "" : "s") << " → "
                << output << "\n";
    }
    const SweepSummary s = run_sweep(plan, catalog, dirs, so);
    if (!opt->quiet) {
      if (s.progress.total > 0) printer->update(s.progress, true);
      std::ostringstream msg;
      msg << "sweep: " << s.progress.done << " points run";
      if (s.progress.errors) msg << " (" << s.progress.errors << " failed)";
      msg << ", " << s.progress.skipped << " skipped (done already, other shards or duplicates)";
      if (s.retried) msg << "; " << s.retried << " failed before and evaluated again";
      if (s.dropped_stale_errors)
        msg << "; dropped " << s.dropped_stale_errors << " error line"
            << (s.dropped_stale_errors == 1 ? "" : "s") << " of points no longer in the sweep";
      if (s.repaired_bytes) msg << "; repaired a torn last line (" << s.repaired_bytes << " bytes cut)";
      char rate[64];
      std::snprintf(rate, sizeof rate, "; %.2f s", s.wall_seconds);
      std::cerr << msg.str() << rate << "\n";
    }
    return report_sweep_failures(opt->sweep, output, s.failures);
  };
}

}  // namespace clustercost::cli
