// Running a sweep: point evaluation, selection (shard, resume, duplicates), the thread pool.
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "sim/report/report.hpp"
#include "sim/sweep/sweep.hpp"

namespace clustercost {

namespace {

Json line_head(const SweepPlan& plan, const SweepPoint& point) {
  Json line;
  line["id"] = point.id;
  line["sweep"] = plan.name();
  line["overrides"] = point.overrides;
  return line;
}

std::string error_line(const SweepPlan& plan, const SweepPoint& point, const std::string& message,
                       const std::string& file, const std::string& path, bool internal) {
  Json line = line_head(plan, point);
  line["error"] = {{"message", message}, {"file", file}, {"path", path}};
  if (internal) line["error"]["internal"] = true;
  return line.dump();
}

std::string string_at(const Json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

}  // namespace

std::optional<SweepFailure> failure_of(const Json& line) {
  if (!line.is_object() || !line.contains("error")) return std::nullopt;
  SweepFailure f;
  f.id = string_at(line, "id");
  if (line.contains("overrides") && line["overrides"].is_object()) f.overrides = line["overrides"];
  const Json& e = line["error"];
  if (e.is_object()) {
    f.message = string_at(e, "message");
    f.file = string_at(e, "file");
    f.path = string_at(e, "path");
    f.internal = e.contains("internal") && e["internal"].is_boolean() && e["internal"].get<bool>();
  } else {
    f.message = e.dump();
  }
  return f;
}

std::string describe_failure(const SweepFailure& f) {
  std::string what;
  for (auto it = f.overrides.begin(); it != f.overrides.end(); ++it)
    what += (what.empty() ? "" : " ") + it.key() + "=" + it.value().dump();
  std::string s = "point " + f.id + (what.empty() ? "" : " (" + what + ")") + ": ";
  if (!f.file.empty()) s += f.file + ": ";
  if (!f.path.empty()) s += "at " + f.path + ": ";
  return s + f.message;
}

std::string evaluate_point(const SweepPlan& plan, const SweepPoint& point, const Catalog& catalog,
                           const DataDirs& dirs, bool* is_error, StepCache* cache) {
  if (is_error) *is_error = true;
  try {
    const Json doc = plan.scenario_document(point);
    const Scenario s = parse_scenario(doc, plan.base_file(), catalog, dirs);
    const Report r = run_scenario(s, cache);
    Json line = line_head(plan, point);
    line["report"] = report_to_json(r);
    if (is_error) *is_error = false;
    return line.dump();
  } catch (const InputError& e) {
    return error_line(plan, point, e.message(), e.file(), e.json_path(), false);
  } catch (const std::exception& e) {
    // Not bad input but a failure inside the simulator: still recorded, the sweep goes on.
    return error_line(plan, point, std::string("internal error: ") + e.what(), "", "", true);
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
  const ResumeState state = prepare_results(options.output, options.resume);
  summary.repaired_bytes = state.repaired_bytes;
  const std::vector<std::size_t> todo = select_points(plan, options.shard, state.done);
  if (!state.failed.empty())
    for (std::size_t i : todo) summary.retried += state.failed.count(plan.point(i).id);
  SweepProgress progress;
  progress.total = todo.size();
  progress.skipped = plan.size() - todo.size();

  // The appender is closed before order_results replaces the file.
  auto out = std::make_unique<ResultsAppender>(options.output);
  std::mutex progress_mutex;
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;  // a write failure stops every worker
  std::atomic<bool> stop{false};
  auto worker = [&]() {
    StepCache cache;  // per thread: the points of a sweep share networks and routing setups
    for (;;) {
      if (stop.load()) return;
      const std::size_t k = next.fetch_add(1);
      if (k >= todo.size()) return;
      const SweepPoint p = plan.point(todo[k]);
      bool is_error = false;
      const std::string line = evaluate_point(plan, p, catalog, dirs, &is_error, &cache);
      try {
        out->append(line);
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
  if (!failure) {
    try {
      out->close();  // the last lines' sync; a failure here is the run's failure
    } catch (...) {
      failure = std::current_exception();
    }
  }
  out.reset();
  if (failure) std::rethrow_exception(failure);
  OrderedResults ordered = order_results(plan, options.output);
  summary.failures = std::move(ordered.failures);
  summary.dropped_stale_errors = ordered.dropped_stale_errors;
  summary.progress = progress;
  summary.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return summary;
}

}  // namespace clustercost
