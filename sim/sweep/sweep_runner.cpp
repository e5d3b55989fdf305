// Running a sweep: point evaluation, selection (shard, resume, duplicates), the thread pool.
#include <chrono>
#include <exception>
#include <mutex>
#include <thread>

#include "sim/report/report.hpp"
#include "sim/sweep/sweep.hpp"

namespace clustercost {

namespace {

std::string error_line(const SweepPoint& point, const std::string& message, const std::string& file,
                       const std::string& path) {
  Json line;
  line["id"] = point.id;
  line["overrides"] = point.overrides;
  line["error"] = {{"message", message}, {"file", file}, {"path", path}};
  return line.dump();
}

}  // namespace

std::string evaluate_point(const SweepPlan& plan, const SweepPoint& point, const Catalog& catalog,
                           const DataDirs& dirs, bool* is_error) {
  if (is_error) *is_error = true;
  try {
    const Json doc = plan.scenario_document(point);
    const Scenario s = parse_scenario(doc, plan.base_file(), catalog, dirs);
    const Report r = run_scenario(s);
    Json line;
    line["id"] = point.id;
    line["overrides"] = point.overrides;
    line["report"] = report_to_json(r);
    if (is_error) *is_error = false;
    return line.dump();
  } catch (const InputError& e) {
    return error_line(point, e.message(), e.file(), e.json_path());
  } catch (const std::exception& e) {
    // Not bad input but a failure inside the simulator: still recorded, the sweep goes on.
    return error_line(point, std::string("internal error: ") + e.what(), "", "");
  }
}

std::vector<std::size_t> select_points(const SweepPlan& plan, const Shard& shard,
                                       const std::unordered_set<std::string>& done) {
  std::vector<std::size_t> out;
  std::unordered_set<std::uint64_t> seen;
  for (std::size_t i = 0; i < plan.size(); ++i) {
    const SweepPoint p = plan.point(i);
    if (!shard.contains(p) || done.count(p.id) || !seen.insert(p.hash).second) continue;
    out.push_back(i);
  }
  return out;
}

SweepSummary run_sweep(const SweepPlan& plan, const Catalog& catalog, const DataDirs& dirs,
                       const SweepOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  SweepSummary summary;
  std::unordered_set<std::string> done;
  std::error_code ec;
  const bool exists = std::filesystem::exists(options.output, ec);
  if (exists && !options.resume && std::filesystem::file_size(options.output, ec) > 0)
    throw InputError(options.output.string(), "",
                     "the results file exists: pass --resume to continue it, or remove it");
  if (exists && options.resume) {
    summary.repaired_bytes = repair_results(options.output);
    for (auto& line : scan_results(options.output, false).lines) done.insert(std::move(line.id));
  }
  const std::vector<std::size_t> todo = select_points(plan, options.shard, done);
  SweepProgress progress;
  progress.total = todo.size();
  progress.skipped = plan.size() - todo.size();

  ResultsAppender out(options.output);
  std::mutex progress_mutex;
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;  // a write failure stops every worker
  std::atomic<bool> stop{false};
  auto worker = [&]() {
    for (;;) {
      if (stop.load()) return;
      const std::size_t k = next.fetch_add(1);
      if (k >= todo.size()) return;
      const SweepPoint p = plan.point(todo[k]);
      bool is_error = false;
      const std::string line = evaluate_point(plan, p, catalog, dirs, &is_error);
      try {
        out.append(line);
      } catch (...) {
        std::lock_guard lock(progress_mutex);
        if (!failure) failure = std::current_exception();
        stop = true;
        return;
      }
      std::lock_guard lock(progress_mutex);
      ++progress.done;
      if (is_error) ++progress.errors;
      if (options.on_progress) options.on_progress(progress);
    }
  };
  const int threads = std::max(1, options.threads);
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (failure) std::rethrow_exception(failure);
  summary.progress = progress;
  summary.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace clustercost
