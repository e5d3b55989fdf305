#pragma once
/// Layout and capacity search (`clustercost plan`): which parallel layout (tp, cp, pp, ep, vpp,
/// schedule, micro-batch, ZeRO stage, recomputation) and how many GPUs of which type train a
/// scenario fastest or cheapest, and how few GPUs of each type finish within a deadline.
///
/// Every candidate is the base scenario document plus `--set`-style assignments, parsed by the
/// scenario loader, so each of its validity rules applies and each returned layout can be
/// reproduced with `clustercost run SCENARIO --set ...`. The search prunes in stages:
///  1. divisibility: the loader accepts the layout (cheap arithmetic pre-checks first);
///  2. memory: the analytical model's footprint fits the GPU. Per structure (tp, cp, pp, ep,
///     schedule, vpp, micro-batch) the most memory-saving setting (highest ZeRO stage, most
///     recomputation) is tried first; when even it does not fit, none of the structure's other
///     settings is evaluated (they hold at least as much), nor are larger micro-batches;
///  3. dominance: ZeRO and recomputation trade time for memory: a higher ZeRO stage (1 → 2 →
///     3) or more recomputation (none → selective → full) never makes a step faster (ZeRO-2
///     shards gradients over the same reduce-scatter; ZeRO-3 adds parameter gathers;
///     recomputation adds a forward pass) and never needs more memory (tests/plan checks both
///     in the model). So per recomputation level only the lowest fitting ZeRO stage is kept,
///     and only when lower than what a lighter level reached; ZeRO-0 (all-reduce, unsharded
///     optimizer: more memory than any sharded stage) is compared with ZeRO-0 only, and ZeRO-3
///     not across recomputation levels (recomputation can hide its per-micro-batch gathers);
///  4. analytical step time, expected-value run (estimate_run) and rental/ownership cost
///     (estimate_cost) rank the survivors by the objective;
///  5. the discrete-event step (`des`) confirms the top few, and the scenario's own layout;
///     where a confirmed layout falls below an unconfirmed one, that one is confirmed too, so
///     the first `confirm` rows shown carry des figures (or the DES's error).
/// Ranking: with a deadline, the layouts that finish within it come first, by the objective;
/// the others follow, fastest first (when none is in time the plan says so and the first rows
/// are the closest). Each layout is ranked by its confirmed figures when it has them, else by
/// its analytical ones, and says which: so no row is ranked above one that is better on the
/// figures shown (in particular, under the cost objective, above a cheaper one in time).
/// Results are deterministic: evaluation may use several threads, but results are merged in
/// enumeration order and sorted by a total order (objective, GPUs, layout key).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace clustercost {

class Catalog;

enum class PlanObjective { Time, Cost };

/// The values each parallelism axis may take. An empty list means "generated from the model
/// and the cluster" (see plan_default_axes); the base scenario's own values are always added to
/// generated lists so that its layout is among the candidates.
struct PlanAxes {
  std::vector<int> tp, cp, pp, ep, vpp, micro_batch, zero;
  std::vector<Recompute> recompute;
  std::vector<Schedule> schedule;
};

struct PlanOptions {
  PlanObjective objective = PlanObjective::Time;
  /// Catalogue names or aliases; empty: the types of `cluster.pools`, else the scenario's GPU.
  std::vector<std::string> gpu_types;
  /// Largest GPU count tried (per type; a pool also caps it); 0: the scenario's count.
  std::int64_t max_gpus = 0;
  /// GPU counts to try; empty: node multiples 2^k and 3·2^k nodes up to max_gpus, plus
  /// max_gpus and the scenario's own count.
  std::vector<std::int64_t> gpu_counts;
  /// "Fewest GPUs of each type that finish within D days" when set.
  std::optional<double> deadline_days;
  int top = 10;       ///< rows of the ranking
  int confirm = 5;    ///< first rows confirmed with the discrete-event step (0: none)
  int threads = 1;    ///< evaluation threads (results do not depend on it)
  PlanAxes axes;
  /// One line per stage and per searched group (GPU type × count); may be empty.
  std::function<void(const std::string&)> progress;
};

/// One layout: the GPU type and count and the resolved parallelism, with the `--set`
/// assignments that turn the base scenario into it.
struct PlanLayout {
  std::string gpu;
  std::int64_t gpus = 0;
  int gpus_per_node = 0;
  ParallelismConfig parallelism;
  std::vector<std::string> sets;
  /// "tp1 cp1 pp16 ep64 dp128 dualpipe mb1 zero1 none" (vpp and sp shown when they apply).
  std::string label() const;
  /// A total order key: GPU, count, then every axis.
  std::string key() const;
};

/// Step, run and cost figures of one layout at one fidelity.
struct PlanEstimate {
  std::string fidelity;  // "analytical" or "des"
  double step_time_s = 0;
  double mfu = 0;
  double wall_days = 0;
  double gpu_hours = 0;
  double total_usd = 0;
};

struct PlanCandidate {
  PlanLayout layout;
  PlanEstimate analytical;
  std::optional<PlanEstimate> des;  ///< when confirmed
  std::string des_error;            ///< why confirmation failed, when it did
  double peak_gib = 0;              ///< analytical memory footprint of the fullest GPU
  double capacity_gib = 0;
  /// The confirmed figures when there are, else the analytical ones.
  const PlanEstimate& best() const { return des ? *des : analytical; }
};

/// How many layouts each pruning stage saw.
struct PlanCounts {
  std::int64_t generated = 0;    ///< the product of the axes, per searched GPU type × count
  std::int64_t divisible = 0;    ///< accepted by the scenario loader
  std::int64_t memory_pruned = 0;///< not evaluated: a setting holding less memory did not fit
  std::int64_t dominated = 0;    ///< not evaluated: a faster setting of the structure fits
  std::int64_t evaluated = 0;    ///< analytical step runs
  std::int64_t fits = 0;         ///< evaluated and fitting in memory
  std::int64_t confirmed = 0;    ///< discrete-event step runs
  PlanCounts& operator+=(const PlanCounts& o);
};

/// Per GPU count of one type: the fastest and the cheapest fitting layout (analytical).
struct PlanCountSummary {
  std::int64_t gpus = 0;
  std::int64_t fitting = 0;
  std::optional<double> fastest_days;
  std::optional<double> cheapest_usd;
};

struct PlanDeadlineAnswer {
  double days = 0;
  /// The fewest GPUs whose fastest layouts finish within `days`, analytically and, when
  /// confirmation is on, in the discrete-event step too; empty when no searched count does.
  std::optional<std::int64_t> fewest_gpus;
  std::optional<PlanCandidate> layout;
  std::string reason;  ///< when there is no answer
};

struct PlanTypeResult {
  std::string gpu;
  double capacity_gib = 0;
  std::vector<std::string> notes;       ///< adaptations of the scenario to this type
  std::vector<PlanCountSummary> counts; ///< searched counts, ascending (analytical figures)
  PlanCounts stats;
  /// By the objective, within the deadline if one is set (the type's first row in the ranking
  /// order). Never more expensive than `cheapest`, never slower under the time objective.
  std::optional<PlanCandidate> best;
  std::optional<PlanCandidate> cheapest;   ///< by total cost (within the deadline if one is set)
  /// With a deadline that no layout of this type meets: the fastest layout.
  std::optional<PlanCandidate> closest;
  std::optional<PlanDeadlineAnswer> deadline;
  std::optional<double> smallest_footprint_gib;  ///< over every evaluated layout
  std::string reason;  ///< why nothing fits or divides, when so
};

struct PlanResult {
  std::string scenario;  ///< its name
  std::string file;
  PlanObjective objective = PlanObjective::Time;
  std::optional<double> deadline_days;
  PlanAxes axes;                        ///< as given (empty lists: generated)
  PlanCounts counts;
  std::optional<PlanCandidate> baseline;  ///< the scenario's own layout
  std::string baseline_note;              ///< e.g. why it is not a candidate
  /// Best first, in the ranking order (top of plan.hpp); the scenario's own layout is in
  /// `baseline`, and here only when it ranks among the first `top`.
  std::vector<PlanCandidate> ranked;
  /// With a deadline: how many fitting layouts finish within it by their analytical figures
  /// (0: none does, and the ranking starts with the closest).
  std::optional<std::int64_t> meeting_deadline;
  std::vector<PlanTypeResult> types;
  std::optional<PlanCandidate> cheapest;  ///< over all types (within the deadline if set)
  double wall_seconds = 0;
};

/// Searches layouts and GPU counts for the scenario document `doc` (already with any `--set`
/// applied; `file` names it in errors and resolves relative paths). Throws InputError when the
/// base scenario or the options are invalid, and InfeasibleError (with the reason, e.g. "no
/// layout fits in 79.6 GiB: smallest footprint 123 GiB") when no layout divides or fits.
PlanResult plan_layouts(const Json& doc, const std::string& file, const Catalog& catalog,
                        const DataDirs& dirs, const PlanOptions& options);

/// Whether a layout finishes within `deadline_days` by its best figures; nullopt without one.
std::optional<bool> meets_deadline(const PlanCandidate& c, std::optional<double> deadline_days);

/// The plan document, schema "clustercost.plan/1". With a deadline every layout in it carries
/// `meets_deadline` (null without one), and the document `deadline_met` (whether the first
/// ranked layout, hence any, meets it) and `meeting_deadline`.
Json plan_to_json(const PlanResult& r);
/// A readable summary: counts per stage, the ranking table, per-type answers.
std::string plan_to_text(const PlanResult& r);

std::string objective_name(PlanObjective o);
/// "time" or "cost"; InputError otherwise.
PlanObjective parse_objective(const std::string& text);
/// "gpipe", "1f1b", ... and "none", "selective", "full" (InputError naming `what` otherwise).
Schedule parse_schedule_name(const std::string& text, const std::string& what);
Recompute parse_recompute_name(const std::string& text, const std::string& what);

}  // namespace clustercost
