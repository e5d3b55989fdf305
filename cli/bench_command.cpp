// clustercost bench [--format text|json]
//
// How fast the simulator itself is, on fixed cases, so regressions show up as numbers:
//  - one DES step of scenarios/deepseek-v3-h800.json and of Llama 3 405B on 16,384 H100 (the
//    Llama 3 paper's scale, arXiv:2407.21783 §3.3: TP8, PP16, 16K GPUs; built from
//    scenarios/llama3-70b-h100.json with overrides): events, events/s of the simulation, wall time
//    of the whole step call, peak RSS of the process so far (getrusage ru_maxrss);
//  - the engine alone: the hold model (Jones, CACM 29(4), 1986) with a trivial handler;
//  - analytical steps per second on the DeepSeek scenario, cold (every call builds the topology
//    and routes the sampled MoE layers anew, as a single `run` does) and warm (one StepCache
//    across calls, as a sweep, `plan` or the GUI's what-ifs hold: sim/step/step_cache.hpp);
//  - analytical sweep throughput, points per second per core (cli/sweep_command.cpp);
//  - the Monte Carlo campaign: 1,000 replicas of Llama 3 405B's 54 days on 16,384 H100
//    (48.6 days of failure-free work, Llama 3's ~90% effective training time, arXiv:2407.21783
//    §3.3.4, at the simulated step time; default failure rates, ~420 interruptions each);
//  - `probe --device cpu --quick` end to end (into a temporary file): its budget is 20 s on
//    2 cores. The budget lives here, not in a unit test, because a timed assertion fails on a
//    loaded machine or under a sanitizer without anything being wrong;
//  - start-up: this very binary started anew (fork, exec, then wait4 for the child's
//    ru_maxrss) for `--help` and for a small `run` (Mixtral-8x7B on 64 H20, analytical,
//    expected-value run): wall time and peak RSS, the median of 5 runs after one untimed run
//    (page cache). What every sweep process pays before it computes anything; the CUDA
//    libraries are not among it (the probe's CUDA part is a plugin loaded only for
//    `probe --device cuda`). Linux counts in a child's ru_maxrss the resident size of the memory
//    it had before exec: with vfork/posix_spawn that is the parent's peak, with fork the pages
//    the child copied from the parent. So these run first, by fork, while bench itself holds
//    only what any start of this binary holds, and each result is checked to exceed bench's
//    own resident anonymous memory at that point (else the bench fails rather than report it).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/cli_common.hpp"
#include "cli/sweep_commands.hpp"
#include "cli/trace_bench_commands.hpp"
#ifdef CLUSTERCOST_HAVE_PROBE
#include "hardware/probe/probe.hpp"
#endif
#include "hardware/spec/catalog.hpp"
#include "sim/campaign/campaign_bench.hpp"
#include "sim/common/json_reader.hpp"
#include "sim/engine/engine.hpp"
#include "sim/step/analytical_step.hpp"
#include "sim/workload/des_step.hpp"

namespace clustercost::cli {

namespace {

/// CPU seconds consumed by the calling thread.
double thread_cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct BenchOptions {
  std::string format = "text";
  bool all_ranks = false;
};

/// Peak resident set of this process so far, MiB (Linux reports ru_maxrss in KiB).
double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// Hold-model handler: each event schedules one more at a pseudo-random later time, so the
/// pending set stays the same size. SplitMix64 (Steele, Lea, Flood 2014) keeps the generator's
/// cost negligible next to the queue's.
class HoldHandler final : public EventHandler {
 public:
  EventKind kind = 0;
  void handle(const Event& e, Engine& engine) override {
    engine.schedule_in(SimTime{delay()}, kind, e.target + 1);
  }
  /// Uniform in [1, 2^20] ns: many distinct times, some ties.
  std::int64_t delay() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return static_cast<std::int64_t>((z ^ (z >> 31)) >> 44) + 1;
  }

 private:
  std::uint64_t state_ = 1;
};

struct DesCase {
  std::string name;
  std::uint64_t events = 0;
  std::size_t tasks = 0;
  double loop_s = 0;       // the event loop alone (PipelineRun::loop_seconds)
  double sim_wall_s = 0;   // the simulation: task graph, event loop, results (PipelineRun::wall_seconds)
  double step_wall_s = 0;  // the whole call (DesStep::wall_seconds)
  double step_time_s = 0;  // simulated
  double peak_rss_mib = 0;
};

DesCase run_case(const std::string& name, const Scenario& s) {
  const DesStep d = simulate_step_des_detailed(s);
  DesCase c;
  c.name = name;
  c.events = d.run.events;
  c.tasks = d.run.tasks;
  c.loop_s = d.run.loop_seconds;
  c.sim_wall_s = d.run.wall_seconds;
  c.step_wall_s = d.wall_seconds;
  c.step_time_s = d.result.step_time.value;
  c.peak_rss_mib = peak_rss_mib();
  return c;
}

/// Wall seconds of `probe --device cpu --quick` into a temporary file, or a negative value
/// when this build has no probe. A failed probe is an error of the bench.
double bench_cpu_quick_probe() {
#ifdef CLUSTERCOST_HAVE_PROBE
  namespace fs = std::filesystem;
  const fs::path out = fs::temp_directory_path() /
                       ("clustercost-bench-probe-" + std::to_string(::getpid()) + ".json");
  ProbeOptions o;
  o.device = "cpu";
  o.quick = true;
  o.output_path = out.string();
  std::ostringstream log;
  const auto t0 = std::chrono::steady_clock::now();
  const int rc = run_probe(o, log);
  const double seconds = since(t0);
  std::error_code ec;
  fs::remove(out, ec);
  if (rc != 0) throw std::runtime_error("bench: probe --quick failed:\n" + log.str());
  return seconds;
#else
  return -1.0;
#endif
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2.0;
}

/// One command line of this binary, started as a new process each time.
struct StartupCase {
  std::string name;               ///< "--help", "run (small)"
  std::vector<std::string> args;  ///< after the program name
  int runs = 0;                   ///< timed runs (one untimed run precedes them)
  double wall_ms = 0;             ///< median wall time, spawn to exit
  double peak_rss_mib = 0;        ///< median peak RSS of the child (wait4 ru_maxrss)
};

/// Anonymous resident memory of this process, MiB (/proc/self/statm: resident − shared pages).
double resident_anonymous_mib() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) throw std::runtime_error("bench: cannot read /proc/self/statm");
  long size = 0, resident = 0, shared = 0;
  const int n = std::fscanf(f, "%ld %ld %ld", &size, &resident, &shared);
  std::fclose(f);
  if (n != 3) throw std::runtime_error("bench: unexpected /proc/self/statm");
  return static_cast<double>(resident - shared) * static_cast<double>(sysconf(_SC_PAGESIZE)) /
         (1024.0 * 1024.0);
}

/// Starts this binary with `args` (fork + exec, output to /dev/null) and waits for it; returns
/// the wall seconds and the child's peak RSS in MiB. A child that fails is an error of the bench.
std::pair<double, double> spawn_and_measure(const std::string& exe,
                                            const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(exe.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const double inherited_mib = resident_anonymous_mib();
  const auto t0 = std::chrono::steady_clock::now();
  // fork, not vfork/posix_spawn: see the header comment on ru_maxrss. The child calls only
  // async-signal-safe functions.
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("bench: fork failed: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    const int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  pid_t waited = 0;
  do {
    waited = wait4(pid, &status, 0, &ru);
  } while (waited < 0 && errno == EINTR);
  const double seconds = since(t0);
  if (waited != pid)
    throw std::runtime_error("bench: wait4 failed: " + std::string(std::strerror(errno)));
  std::string cmd = exe;
  for (const std::string& a : args) cmd += " " + a;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("bench: `" + cmd + "` did not exit with 0 (status " +
                             std::to_string(status) + ")");
  }
  const double peak_mib = static_cast<double>(ru.ru_maxrss) / 1024.0;
  if (peak_mib <= inherited_mib) {
    throw std::runtime_error("bench: the peak RSS of `" + cmd + "` (" + std::to_string(peak_mib) +
                             " MiB) does not exceed what it inherited from bench (" +
                             std::to_string(inherited_mib) + " MiB): not measurable here");
  }
  return {seconds, peak_mib};
}

StartupCase bench_startup(const std::string& name, std::vector<std::string> args, int runs) {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("bench: cannot find this executable (/proc/self/exe): " + ec.message());
  StartupCase c;
  c.name = name;
  c.args = std::move(args);
  c.runs = runs;
  spawn_and_measure(exe.string(), c.args);  // untimed: loads the binary into the page cache
  std::vector<double> wall, rss;
  for (int i = 0; i < runs; ++i) {
    const auto [seconds, mib] = spawn_and_measure(exe.string(), c.args);
    wall.push_back(seconds * 1e3);
    rss.push_back(mib);
  }
  c.wall_ms = median(wall);
  c.peak_rss_mib = median(rss);
  return c;
}

}  // namespace

Action add_bench_command(CLI::App& app) {
  auto opt = std::make_shared<BenchOptions>();
  auto* sub = app.add_subcommand("bench", "Measure the simulator's own speed on fixed cases");
  sub->add_option("--format", opt->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}));
  sub->add_flag("--all-ranks", opt->all_ranks,
                "Also simulate DeepSeek-V3 with every one of its 2,048 GPUs (simulation.ranks "
                "\"all\"): about a minute and several GiB, so not by default; run last, so its "
                "peak RSS is the process's");
  return [opt]() {
    DataDirs dirs = data_dirs();
    // Start-up first, while this process holds no more than a start does (see the top). A small
    // run: 64 GPUs, closed-form step, expected-value campaign, so start-up dominates.
    constexpr int kStartupRuns = 5;
    const std::vector<StartupCase> startup = {
        bench_startup("--help", {"--help"}, kStartupRuns),
        bench_startup("run (small)",
                      {"run", (dirs.scenarios() / "mixtral-8x7b-h20.json").string(), "--set",
                       "simulation.fidelity=analytical", "--replicas", "0"},
                      kStartupRuns)};

    Catalog catalog = Catalog::load(dirs.catalog());
    const Scenario deepseek =
        load_scenario(dirs.scenarios() / "deepseek-v3-h800.json", {}, catalog, dirs);
    // 126 layers over 16 stages is uneven (8 stages of 8, 8 of 7): Megatron's split, accepted.
    const Scenario llama = load_scenario(
        dirs.scenarios() / "llama3-70b-h100.json",
        {"model=llama3-405b", "cluster.gpus=16384", "parallelism.tp=8", "parallelism.pp=16",
         "parallelism.vpp=1", "parallelism.schedule=1f1b", "training.global_batch=2048"},
        catalog, dirs);

    // Every GPU simulated (simulation.ranks "all"): Llama 3 70B on 64 H100, TP8 PP4 DP2.
    const Scenario llama_all = load_scenario(
        dirs.scenarios() / "llama3-70b-h100.json",
        {"cluster.gpus=64", "training.global_batch=32", "parallelism.schedule=1f1b",
         "parallelism.vpp=1", "simulation.ranks=all"},
        catalog, dirs);

    std::vector<DesCase> cases;
    cases.push_back(run_case("deepseek-v3-h800 (2048 H800)", deepseek));
    cases.push_back(run_case("llama3-405b (16384 H100, TP8 PP16 1F1B)", llama));
    cases.push_back(run_case("llama3-70b (64 H100, ranks all)", llama_all));
    if (opt->all_ranks) {
      Scenario all = deepseek;
      all.simulation.ranks = "all";
      cases.push_back(run_case("deepseek-v3-h800 (2048 H800, ranks all)", all));
    }

    // Engine hold model: 10^4 pending events, 10^6 executed.
    constexpr std::uint64_t kHold = 10'000, kEvents = 1'000'000;
    Engine engine;
    HoldHandler hold;
    hold.kind = engine.register_handler(hold, "hold");
    for (std::uint64_t i = 0; i < kHold; ++i)
      engine.schedule_at(SimTime{hold.delay()}, hold.kind, 0);
    // CPU time of this thread as well as wall time: on a shared machine the wall clock counts
    // other processes' time slices; "one core" means the CPU time.
    const double cpu0 = thread_cpu_now();
    const EngineRunResult hr = engine.run(kEvents, 60.0);
    const double hold_cpu = thread_cpu_now() - cpu0;
    const double engine_eps =
        hr.wall_seconds > 0 ? static_cast<double>(hr.events_executed) / hr.wall_seconds : 0;
    const double engine_eps_cpu = hold_cpu > 0 ? static_cast<double>(hr.events_executed) / hold_cpu : 0;

    // Analytical steps/s: repeat for at least 0.3 s (and 3 calls) to average out timer noise;
    // cold, then warm (one cache; its first call, which fills it, is not timed).
    StepCache cache;
    const auto bench_steps = [&](bool warm, std::int64_t& steps, double& elapsed) {
      if (warm) (void)simulate_step_analytical(deepseek, cache);
      const auto a0 = std::chrono::steady_clock::now();
      steps = 0;
      elapsed = 0;
      while (steps < 3 || (elapsed < 0.3 && steps < 100000)) {
        const StepResult r =
            warm ? simulate_step_analytical(deepseek, cache) : simulate_step_analytical(deepseek);
        if (r.step_time.value <= 0) throw std::logic_error("bench: analytical step time is zero");
        ++steps;
        elapsed = since(a0);
      }
      return static_cast<double>(steps) / elapsed;
    };
    std::int64_t steps = 0, warm_steps = 0;
    double elapsed = 0, warm_elapsed = 0;
    const double steps_per_s = bench_steps(false, steps, elapsed);
    const double warm_steps_per_s = bench_steps(true, warm_steps, warm_elapsed);
    std::size_t sweep_points = 0;
    const double sweep_pps = bench_sweep_points_per_second(dirs, catalog, 0.3, &sweep_points);

    const CampaignBench campaign = bench_campaign(llama, Seconds(cases[1].step_time_s), 54.0 * 0.9, 1000);

    const double probe_s = bench_cpu_quick_probe();
    constexpr double kProbeBudgetS = 20.0;  // probe --quick on 2 cores (hardware/probe/probe.hpp)

    std::string out;
    if (opt->format == "json") {
      Json doc = Json::object();
      doc["schema"] = "clustercost.bench/1";
      doc["version"] = CLUSTERCOST_VERSION;
      Json arr = Json::array();
      for (const auto& c : cases)
        arr.push_back({{"name", c.name},
                       {"tasks", c.tasks},
                       {"events", c.events},
                       {"events_per_s", c.loop_s > 0 ? c.events / c.loop_s : 0.0},
                       {"loop_s", c.loop_s},
                       {"sim_wall_s", c.sim_wall_s},
                       {"step_wall_s", c.step_wall_s},
                       {"simulated_step_time_s", c.step_time_s},
                       {"peak_rss_mib", c.peak_rss_mib}});
      doc["des"] = std::move(arr);
      doc["engine_hold"] = {{"pending", kHold},
                            {"events", hr.events_executed},
                            {"wall_s", hr.wall_seconds},
                            {"events_per_s", engine_eps},
                            {"events_per_cpu_s", engine_eps_cpu}};
      doc["analytical"] = {{"scenario", "deepseek-v3-h800"},
                           {"steps", steps},
                           {"wall_s", elapsed},
                           {"steps_per_s", steps_per_s},
                           {"warm_steps", warm_steps},
                           {"warm_wall_s", warm_elapsed},
                           {"warm_steps_per_s", warm_steps_per_s}};
      doc["sweep"] = {{"sweep", "llama3-70b-gpu-type-vs-count"},
                      {"points", sweep_points},
                      {"points_per_s_per_core", sweep_pps}};
      doc["campaign"] = {{"scenario", "llama3-405b 16384 H100"},
                         {"replicas", campaign.replicas},
                         {"gpus", campaign.gpus},
                         {"compute_days", campaign.compute_days},
                         {"wall_s", campaign.wall_seconds},
                         {"mean_wall_days", campaign.mean_wall_days},
                         {"mean_interruptions", campaign.mean_interruptions}};
      Json starts = Json::array();
      for (const StartupCase& c : startup) {
        Json args = Json::array();
        for (const std::string& a : c.args) args.push_back(a);
        starts.push_back({{"name", c.name},
                          {"args", args},
                          {"runs", c.runs},
                          {"wall_ms_median", c.wall_ms},
                          {"peak_rss_mib_median", c.peak_rss_mib}});
      }
      doc["startup"] = std::move(starts);
      doc["probe_quick"] = probe_s < 0 ? Json(nullptr)
                                       : Json{{"wall_s", probe_s},
                                              {"budget_s", kProbeBudgetS},
                                              {"within_budget", probe_s <= kProbeBudgetS}};
      doc["peak_rss_mib"] = peak_rss_mib();
      out = doc.dump(2) + "\n";
    } else {
      std::ostringstream o;
      char line[256];
      o << "DES step, one each (events/s over the event loop alone; simulation = task graph, "
           "event loop and results; whole call = costs, topology, link shares and the "
           "simulation; peak RSS of the process so far)\n";
      std::snprintf(line, sizeof line, "  %-42s %8s %9s %10s %10s %11s %11s %11s %12s\n", "case",
                    "tasks", "events", "events/s", "step (sim)", "event loop", "simulation",
                    "whole call", "peak RSS");
      o << line;
      for (const auto& c : cases) {
        std::snprintf(line, sizeof line,
                      "  %-42s %8zu %9llu %10.3g %9.3fs %8.2f ms %8.2f ms %8.2f ms %8.1f MiB\n",
                      c.name.c_str(), c.tasks, static_cast<unsigned long long>(c.events),
                      c.loop_s > 0 ? static_cast<double>(c.events) / c.loop_s : 0.0,
                      c.step_time_s, c.loop_s * 1e3, c.sim_wall_s * 1e3, c.step_wall_s * 1e3,
                      c.peak_rss_mib);
        o << line;
      }
      std::snprintf(line, sizeof line,
                    "engine hold model: %llu events, %llu pending, %.3f s: %.3g events/s wall, "
                    "%.3g events per CPU-second\n",
                    static_cast<unsigned long long>(hr.events_executed),
                    static_cast<unsigned long long>(kHold), hr.wall_seconds, engine_eps,
                    engine_eps_cpu);
      o << line;
      std::snprintf(line, sizeof line,
                    "analytical step (deepseek-v3-h800): cold %lld steps in %.3f s: %.3g steps/s; "
                    "warm (step cache) %lld steps in %.3f s: %.3g steps/s\n",
                    static_cast<long long>(steps), elapsed, steps_per_s,
                    static_cast<long long>(warm_steps), warm_elapsed, warm_steps_per_s);
      o << line;
      std::snprintf(line, sizeof line,
                    "analytical sweep (llama3-70b-gpu-type-vs-count, 1 thread, synced results file): "
                    "%zu points: %.3g points/s per core\n",
                    sweep_points, sweep_pps);
      o << line;
      std::snprintf(line, sizeof line,
                    "campaign Monte Carlo (llama3-405b, %lld GPUs, %.1f compute days): %d "
                    "replicas in %.3f s (mean %.1f days, %.0f interruptions)\n",
                    static_cast<long long>(campaign.gpus), campaign.compute_days, campaign.replicas,
                    campaign.wall_seconds, campaign.mean_wall_days, campaign.mean_interruptions);
      o << line;
      for (const StartupCase& c : startup) {
        std::snprintf(line, sizeof line,
                      "start-up, clustercost %s (new process, median of %d): %.1f ms, peak RSS "
                      "%.1f MiB\n",
                      c.name.c_str(), c.runs, c.wall_ms, c.peak_rss_mib);
        o << line;
      }
      if (probe_s < 0) {
        o << "probe --device cpu --quick: not in this build\n";
      } else {
        std::snprintf(line, sizeof line, "probe --device cpu --quick: %.2f s (budget %.0f s: %s)\n",
                      probe_s, kProbeBudgetS, probe_s <= kProbeBudgetS ? "within" : "OVER");
        o << line;
      }
      out = o.str();
    }
    emit("", out);
    return 0;
  };
}

}  // namespace clustercost::cli
