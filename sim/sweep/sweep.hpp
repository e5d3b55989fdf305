#pragma once
/// Sweeps: many what-ifs over one base scenario, run in parallel, resumable, shardable.
///
/// A sweep file (scenarios/sweeps/*.json) names a base scenario and `--set`-style overrides:
/// ```json
/// { "name": "gpu-count-vs-type",
///   "base": "../llama3-70b-h100.json",          // path (relative to this file) or inline object
///   "set":  { "simulation.fidelity": "analytical" },           // applied to every point
///   "grid": { "cluster.gpus": [256, 512], "cluster.gpu": ["H100-SXM", "H20"] },  // product
///   "zip":  { "economics.gpu_hour_usd": [2.0, 2.5], "economics.pue": [1.2, 1.3] }, // lockstep
///   "points": [ { "cluster.gpus": 1024, "parallelism.pp": 8 } ] }                  // explicit
/// ```
/// The points are the product of the grid axes and the zip groups (`zip` may also be a list of
/// such groups, each one factor of the product), followed by the explicit `points`; with none of
/// the three the sweep is the base itself. Each point's overrides are `set` merged with its own
/// values (an explicit point may override `set`), keys sorted. Its id is a hash of those
/// canonical overrides, so it is stable across runs, thread counts, shards and machines: two
/// declarations of the same what-if share an id and run once.
///
/// Results are JSON Lines, one point per line:
/// `{"id": "...", "sweep": NAME, "overrides": {...}, "report": {...report_to_json...}}` or
/// `{"id": "...", "sweep": NAME, "overrides": {...}, "error": {"message": "...", "file": "...",
/// "path": "..."}}` (with `"internal": true` in "error" for a failure inside the simulator).
/// While a sweep runs, each finished line is appended with one write(), and the file is
/// fdatasync'd at most once per second (and when the run ends), so a crash of the machine loses
/// at most the last second of points (a crash of the process loses only points in flight: the
/// written lines are in the page cache); a torn last line is cut off on resume. One sync per
/// line cost more than a closed-form point itself (bench: 307 against ~2,000+ points/s). When the run ends the file
/// is rewritten atomically in point order (order_results), so the file does not depend on the
/// thread count or on interruptions: `-j 1`, `-j 8` and a killed-and-resumed run write the same
/// bytes. A line's bytes depend only on the point and the sweep's name, so shards merged (sorted
/// by id) equal the unsharded run sorted by id. Error lines are evaluated again on resume.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "sim/common/json_reader.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/step/step_cache.hpp"

namespace clustercost {

class Catalog;

/// One point of a sweep.
struct SweepPoint {
  std::string id;        ///< 16 hex digits: FNV-1a 64 of the canonical overrides
  std::uint64_t hash = 0;
  Json overrides;        ///< object {"dotted.path": value}, keys sorted
};

/// The id of a set of overrides (keys and nested objects sorted before hashing).
SweepPoint make_point(const Json& overrides);

/// A parsed sweep file. Points are generated on demand from their index (a million-point grid
/// costs no memory until it runs).
class SweepPlan {
 public:
  /// Reads and checks a sweep file; a relative `base` is resolved against its folder.
  static SweepPlan load(const std::filesystem::path& file);
  /// `file` labels errors; `folder` resolves a relative `base`.
  static SweepPlan parse(const Json& j, const std::string& file,
                         const std::filesystem::path& folder);

  const std::string& name() const { return name_; }
  const std::string& file() const { return file_; }
  /// The base scenario document and the file it came from (the sweep file when inline): relative
  /// paths inside the scenario resolve against that file's folder.
  const Json& base() const { return base_; }
  const std::string& base_file() const { return base_file_; }

  /// Number of points (grid × zip product, then explicit points); duplicates included.
  std::size_t size() const { return product_ + explicit_.size(); }
  /// Point `index` < size().
  SweepPoint point(std::size_t index) const;
  /// The scenario document of a point: the base with its overrides applied (errors: InputError).
  Json scenario_document(const SweepPoint& p) const;

 private:
  struct Factor {
    std::vector<std::string> paths;
    std::vector<std::vector<Json>> rows;  // rows[i][k] is the value of paths[k] in row i
  };
  std::string name_, file_, base_file_;
  Json base_;
  Json common_ = Json::object();
  std::vector<Factor> factors_;
  std::vector<Json> explicit_;
  std::size_t product_ = 0;
};

/// Shard K of N (1-based): a point belongs to shard (hash mod N) + 1, so duplicates of one point
/// always land in the same shard and the shards partition the sweep.
struct Shard {
  std::size_t k = 1, n = 1;
  bool contains(const SweepPoint& p) const { return p.hash % n == k - 1; }
};
/// Parses "K/N" with 1 ≤ K ≤ N (errors: InputError on "--shard").
Shard parse_shard(const std::string& text);
/// Slurm job arrays: K = SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN + 1 (MIN 0 when unset),
/// N = SLURM_ARRAY_TASK_COUNT. Arguments are the variables' values (nullptr when unset);
/// nullopt when ID or COUNT is unset; InputError when inconsistent.
std::optional<Shard> shard_from_slurm(const char* task_id, const char* task_min,
                                      const char* task_count);

// ---- Results files (JSON Lines) ------------------------------------------------------------

/// One line of a results file.
struct ResultLine {
  std::string id;
  std::string text;  ///< the line, without its newline
  Json doc;
};

/// What a scan of a results file found.
struct ResultsScan {
  std::vector<ResultLine> lines;  ///< complete lines, in file order
  std::uintmax_t valid_bytes = 0; ///< bytes up to the end of the last complete line
  std::uintmax_t torn_bytes = 0;  ///< bytes of a last line without its newline (a torn write)
};

/// Reads a results file. A last line without a newline is torn (counted, not returned); any
/// other line that is not a JSON object with a string "id" is an InputError naming the line.
/// `keep_docs` false leaves ResultLine::doc null (resume only needs the ids).
ResultsScan scan_results(const std::filesystem::path& file, bool keep_docs = true);
/// Cuts a torn last line off the file (ftruncate to valid_bytes); returns the bytes removed.
std::uintmax_t repair_results(const std::filesystem::path& file);

/// Appends whole lines to a results file: O_APPEND, one write() per line, so a line is either
/// entirely in the file or not at all (short writes are continued; a failure truncates the
/// partial line away); fdatasync when `sync_interval_s` has passed since the last one (0: after
/// every line), and in close(). Safe to call from several threads.
class ResultsAppender {
 public:
  explicit ResultsAppender(const std::filesystem::path& file, double sync_interval_s = 1.0);
  /// Syncs what was appended (errors ignored: call close() to see them).
  ~ResultsAppender();
  ResultsAppender(const ResultsAppender&) = delete;
  ResultsAppender& operator=(const ResultsAppender&) = delete;
  /// `line` must not contain a newline; one is added.
  void append(const std::string& line);
  /// fdatasync of everything appended so far; throws std::runtime_error naming the file.
  void sync();
  /// sync() and close the file; append() afterwards is an error.
  void close();

 private:
  struct Impl;
  Impl* impl_;
};

/// Joins results files: lines sorted by id, one per id. The same id with different bytes in two
/// files is an InputError (the runs disagree: different versions or data). Torn last lines are
/// skipped and counted in `torn_lines`.
std::vector<ResultLine> merge_results(const std::vector<std::filesystem::path>& files,
                                      std::size_t* torn_lines = nullptr);
/// The text of a results file holding `lines` (each followed by a newline).
std::string results_text(const std::vector<ResultLine>& lines);

// ---- Running ---------------------------------------------------------------------------------

/// Runs one point: base + overrides → parse_scenario → run_scenario → report_to_json. Returns
/// its results line (no newline); bad input becomes an error line, never an exception.
/// `is_error`, when given, tells which of the two it was.
/// `cache` (optional, one per thread) keeps topologies and routing samples across points.
std::string evaluate_point(const SweepPlan& plan, const SweepPoint& point, const Catalog& catalog,
                           const DataDirs& dirs, bool* is_error = nullptr,
                           StepCache* cache = nullptr);

/// A point that failed, as its error line records it.
struct SweepFailure {
  std::string id;
  Json overrides = Json::object();
  std::string message;
  std::string file;  ///< the file the loader blamed (the base scenario, a preset...); may be empty
  std::string path;  ///< the JSON path inside it; may be empty
  bool internal = false;  ///< a failure inside the simulator rather than bad input
};
/// The failure a results line records; nullopt for a report line.
std::optional<SweepFailure> failure_of(const Json& line);
/// One line for people: `point ID (path=value ...): FILE: at PATH: MESSAGE`, the loader's
/// message (with its "did you mean") kept whole.
std::string describe_failure(const SweepFailure& f);

/// What a results file holds before a run: the ids to skip and what resuming repaired.
struct ResumeState {
  std::unordered_set<std::string> done;  ///< ids with a report line (error lines run again)
  std::uintmax_t repaired_bytes = 0;     ///< a torn last line cut off
  /// Ids with an error line and no report: run again when they are still points of the sweep.
  std::unordered_set<std::string> failed;
};
/// Checks `file` before a run: without `resume` an existing non-empty file is an InputError
/// (nothing is overwritten); with it a torn last line is cut and the ids already reported are
/// returned. Shared by `clustercost sweep` and clustercost-mpi.
ResumeState prepare_results(const std::filesystem::path& file, bool resume);

/// What a results file holds after a run.
struct OrderedResults {
  std::size_t lines = 0;
  std::vector<SweepFailure> failures;  ///< in point order
  std::size_t dropped_stale_errors = 0;  ///< error lines of points no longer in the sweep
};
/// Rewrites `file` atomically with its lines in point order (the index of each id's first
/// occurrence in `plan`; reports of ids that are not points of `plan` last, by id), keeping the
/// last line of an id that appears twice (an error line followed by the report of its rerun)
/// and dropping error lines of ids that are not points of `plan` (a fixed sweep's old
/// failures). Returns the failures the file records.
OrderedResults order_results(const SweepPlan& plan, const std::filesystem::path& file);

/// The indices to run: in `shard`, not in `done`, first occurrence of each id.
std::vector<std::size_t> select_points(const SweepPlan& plan, const Shard& shard,
                                       const std::unordered_set<std::string>& done);

struct SweepProgress {
  std::size_t total = 0;    ///< points this run will evaluate
  std::size_t done = 0;     ///< of those, finished (written)
  std::size_t errors = 0;   ///< of those, error lines
  std::size_t skipped = 0;  ///< already in the file (resume) or outside the shard
};

struct SweepOptions {
  std::filesystem::path output;
  int threads = 1;
  Shard shard;
  /// Keep the lines already in `output` (repairing a torn last line) and skip their ids.
  /// Without it an existing non-empty `output` is an InputError.
  bool resume = false;
  /// Called after each written line (from worker threads, serialised).
  std::function<void(const SweepProgress&)> on_progress;
};

struct SweepSummary {
  SweepProgress progress;
  std::uintmax_t repaired_bytes = 0;  ///< torn bytes cut off on resume
  std::size_t retried = 0;            ///< error lines of an earlier run evaluated again
  std::size_t dropped_stale_errors = 0;  ///< error lines of points no longer in the sweep
  /// Every failed point the finished file records (this run's and kept ones), in point order.
  std::vector<SweepFailure> failures;
  double wall_seconds = 0;
};

/// Runs a sweep on `threads` worker threads (each takes the next index from an atomic counter;
/// the library holds no global state, so points run concurrently), then puts the file in point
/// order (order_results).
SweepSummary run_sweep(const SweepPlan& plan, const Catalog& catalog, const DataDirs& dirs,
                       const SweepOptions& options);

}  // namespace clustercost
