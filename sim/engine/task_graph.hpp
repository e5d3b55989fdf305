#pragma once
/// Task graphs on GPU-like streams, executed on the Engine.
///
/// A TaskGraph holds tasks, each on one stream, and dependency edges between tasks. Streams
/// behave like CUDA streams: a stream runs its tasks one at a time in the order they were added
/// to the graph (program order), and a task starts when it is at the head of its stream, the
/// stream is free, and every task it depends on has completed. Compute/communication overlap
/// therefore comes from putting tasks on different streams, as on real GPUs.
///
/// A task either has a fixed duration (compute), or is *external*: it starts like any other,
/// the executor tells an ExternalTaskRunner (e.g. the code that launches a transfer's flows on
/// the flow model), and it ends when someone calls TaskExecutor::complete (the flow model does,
/// through the CompletionSink interface, token = task id).
///
/// Executing the same graph on an Engine in the same state gives the same start and end times.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sim/common/large_array.hpp"
#include "sim/common/units.hpp"
#include "sim/engine/engine.hpp"
#include "sim/engine/event.hpp"

namespace clustercost {

using TaskId = std::uint32_t;
using StreamId = std::uint32_t;
inline constexpr TaskId kNoTask = std::numeric_limits<TaskId>::max();

class TaskGraph {
 public:
  /// Adds a stream (an in-order queue: a GPU's compute stream, a communication channel...).
  StreamId add_stream(std::string name);
  /// Adds a task of fixed `duration` (>= 0) on `stream`, after `deps` (existing tasks).
  /// Throws std::invalid_argument for an unknown stream or task or a negative duration.
  TaskId add_task(StreamId stream, SimTime duration, std::span<const TaskId> deps = {});
  TaskId add_task(StreamId stream, SimTime duration, std::initializer_list<TaskId> deps) {
    return add_task(stream, duration, std::span<const TaskId>(deps.begin(), deps.size()));
  }
  /// Adds an external task: its duration is decided by whoever completes it; `tag` is passed to
  /// the ExternalTaskRunner (e.g. an index into the caller's table of transfers).
  TaskId add_external_task(StreamId stream, std::uint64_t tag,
                           std::span<const TaskId> deps = {});
  TaskId add_external_task(StreamId stream, std::uint64_t tag,
                           std::initializer_list<TaskId> deps) {
    return add_external_task(stream, tag, std::span<const TaskId>(deps.begin(), deps.size()));
  }
  /// `after` starts only once `before` has completed. Both must exist and differ.
  void add_dependency(TaskId before, TaskId after);

  /// Room for `tasks` tasks and `dependencies` dependencies, so that a large graph built in
  /// one go does not hold two copies of its arrays while they grow.
  void reserve(std::size_t tasks, std::size_t dependencies);
  std::size_t task_count() const { return tasks_.size(); }
  std::size_t stream_count() const { return stream_names_.size(); }
  StreamId stream(TaskId task) const { return tasks_.at(task).stream; }
  SimTime duration(TaskId task) const {
    const Task& t = tasks_.at(task);
    return t.external ? SimTime::zero() : SimTime{t.value};
  }
  bool is_external(TaskId task) const { return tasks_.at(task).external; }
  std::uint64_t tag(TaskId task) const {
    const Task& t = tasks_.at(task);
    return t.external ? static_cast<std::uint64_t>(t.value) : 0;
  }
  const std::string& stream_name(StreamId stream) const { return stream_names_.at(stream); }
  /// Every edge (before, after), in insertion order.
  const LargeVector<std::pair<TaskId, TaskId>>& dependencies() const { return edges_; }

  /// Throws std::invalid_argument, naming a task, when dependencies and stream order form a
  /// cycle, i.e. when execution would deadlock (a task waiting for one queued behind it).
  void validate() const;

 private:
  // The executor reads tasks by id on its hot path, without at()'s bounds check (its ids come
  // from the graph itself).
  friend class TaskExecutor;
  /// 16 bytes: a task is timed (duration) or external (tag), never both; graphs of 10^8 tasks
  /// are built for every-rank simulations.
  struct Task {
    std::int64_t value = 0;  ///< duration in ns, or the external task's tag (as its bits)
    StreamId stream = 0;
    bool external = false;
  };
  TaskId add(StreamId stream, SimTime duration, bool external, std::uint64_t tag,
             std::span<const TaskId> deps);
  /// Throws validate's error for `blocked`, the smallest id of a task that can never start.
  [[noreturn]] void throw_cycle(TaskId blocked) const;

  LargeVector<Task> tasks_;
  LargeVector<std::pair<TaskId, TaskId>> edges_;
  std::vector<std::string> stream_names_;
};

class TaskExecutor;

/// Starts external tasks; they must later be completed with TaskExecutor::complete.
class ExternalTaskRunner {
 public:
  virtual ~ExternalTaskRunner() = default;
  /// Called at engine.now() when external task `task` starts. May call executor.complete(task)
  /// right away (a zero-time task).
  virtual void start_external(TaskId task, std::uint64_t tag, TaskExecutor& executor,
                              Engine& engine) = 0;
};

enum class TaskState : std::uint8_t { kWaiting, kRunning, kDone };

/// Runs one TaskGraph on an Engine. The graph, engine and runner must outlive the executor.
/// Not copyable; registers itself as an event handler for its lifetime.
class TaskExecutor final : public EventHandler, public CompletionSink {
 public:
  /// Validates the graph (std::invalid_argument on a cycle). `runner` may be null if external
  /// tasks are completed by other means.
  TaskExecutor(Engine& engine, const TaskGraph& graph, ExternalTaskRunner* runner = nullptr);
  ~TaskExecutor() override;
  TaskExecutor(const TaskExecutor&) = delete;
  TaskExecutor& operator=(const TaskExecutor&) = delete;

  /// Starts execution at engine.now(): tasks with nothing before them start immediately. Call
  /// once, then run the engine.
  void start();
  /// Completes running external task `task` at engine.now(). Throws std::logic_error if `task`
  /// is not an external task that is running.
  void complete(TaskId task);

  /// Every task has completed.
  bool finished() const { return done_count_ == graph_.task_count(); }
  std::size_t completed_count() const { return done_count_; }
  TaskState state(TaskId task) const { return slot_.at(task).state(); }
  /// The stream of `task` (a valid id: not bounds-checked, as runners call it on the hot path
  /// for the task they were just given, whose record the executor has just touched).
  StreamId stream_of(TaskId task) const { return slot_[task].stream; }
  /// Start / end of a task (SimTime{-1} while it has not started / ended).
  SimTime start_time(TaskId task) const { return slot_.at(task).start; }
  SimTime end_time(TaskId task) const { return slot_.at(task).end; }
  /// Time from start() to the end of the last completed task.
  SimTime makespan() const;
  /// The chain of tasks that determined the makespan, first to last: from the task that ended
  /// last (among simultaneous ends, the last one processed), repeatedly the constraint that
  /// released it, i.e. whichever of its dependencies and its stream predecessor ended last (on
  /// a tie a dependency, the one with the smallest id). Its length equals makespan().
  std::vector<TaskId> critical_path() const;
  /// Sum of the durations of the completed tasks of `stream` (it runs one at a time).
  SimTime stream_busy_time(StreamId stream) const;

  void handle(const Event& event, Engine& engine) override;
  void prefetch(const Event& event) const override { prefetch_task(event.target); }
  /// Asks for the record of `task` (a valid id), e.g. before completing it.
  void prefetch_task(TaskId task) const { __builtin_prefetch(&slot_[task], 1); }
  /// CompletionSink: `token` is a TaskId.
  void on_complete(std::uint64_t token, Engine& engine) override;

 private:
  void try_start_head(StreamId stream);
  void start_task(TaskId task);
  void finish(TaskId task);
  void drain();

  /// Size of a last-level cache of today's server CPUs (32 MiB: one EPYC CCD's L3, the
  /// machine these figures were measured on): beyond it the task records are a miss per event.
  static constexpr std::size_t kCacheBytes = std::size_t{32} << 20;
  Engine& engine_;
  bool lookahead_was_ = false;
  const TaskGraph& graph_;
  ExternalTaskRunner* runner_;
  EventKind kind_;
  SimTime origin_;
  bool started_ = false;

  // Successors in CSR form.
  LargeVector<std::uint32_t> succ_offset_;
  LargeVector<TaskId> succ_;
  // Tasks of each stream in program order, CSR form.
  LargeVector<std::uint32_t> stream_offset_;
  LargeVector<TaskId> stream_tasks_;
  /// Per stream, where its queue stands: its head task (kNoTask once it is done), the task
  /// that ended last on it, and whether a task of it runs. One small record per stream, read on
  /// every start and end; the ids are kept here (and each task's successor on its stream in its
  /// slot) because reading them from stream_tasks_ was a cache miss per start in perf on the
  /// every-rank DeepSeek-V3 case (85% of try_start_head).
  struct StreamCursor {
    TaskId head_task = kNoTask;
    TaskId prev_task = kNoTask;
    bool busy = false;
  };
  std::vector<StreamCursor> cursor_;
  /// Per task, one 32-byte record: the executor reads and writes these fields together, and
  /// with 10^8 tasks (every-rank simulations) an array per field cost a cache miss per field.
  /// The task's stream is copied here from the graph for the same reason; its state shares a
  /// word with the count of dependencies left (below 2^28, checked at construction), whether
  /// it is external (so that completing a task reads no graph record: another miss) and
  /// whether it has dependency successors (so that most ends read no successor offsets).
  struct Slot {
    SimTime start{-1};  ///< -1: not started
    SimTime end{-1};    ///< -1: not ended
    /// Until the task starts: the dependency that ended last (kNoTask if none yet). From its
    /// start: the constraint that released it, that dependency or its stream predecessor
    /// (kNoTask for tasks released by start()). One field, as the two are never needed at once.
    TaskId released_by = kNoTask;
    /// The next task of its stream (kNoTask for the last): read from this record, which a start
    /// touches anyway, rather than from stream_tasks_ (a cache miss per start in perf).
    TaskId next_on_stream = kNoTask;
    /// Dependencies left (low 28 bits), has successors beyond its stream (bit 28), external
    /// (bit 29), TaskState (top 2 bits).
    std::uint32_t deps_and_state = 0;
    StreamId stream = 0;

    static constexpr int kDepsBits = 28;
    static constexpr std::uint32_t kDepsMask = (std::uint32_t{1} << kDepsBits) - 1;
    static constexpr std::uint32_t kHasSuccessors = std::uint32_t{1} << 28;
    static constexpr std::uint32_t kExternal = std::uint32_t{1} << 29;
    std::uint32_t deps_left() const { return deps_and_state & kDepsMask; }
    bool external() const { return (deps_and_state & kExternal) != 0; }
    bool has_successors() const { return (deps_and_state & kHasSuccessors) != 0; }
    /// No dependency left and not started.
    bool ready() const { return (deps_and_state & ~(kExternal | kHasSuccessors)) == 0; }
    TaskState state() const { return static_cast<TaskState>(deps_and_state >> 30); }
    void set_state(TaskState s) {
      deps_and_state = (deps_and_state & ~(std::uint32_t{3} << 30)) |
                       (static_cast<std::uint32_t>(s) << 30);
    }
  };
  static_assert(sizeof(Slot) == 32);
  LargeVector<Slot> slot_;
  std::size_t done_count_ = 0;
  TaskId last_finished_ = kNoTask;

  // Completions waiting to be processed: completing a task may start others that complete at
  // once (zero duration, synchronous external runner); a worklist keeps the stack flat.
  std::vector<TaskId> pending_done_;
  bool draining_ = false;
};

}  // namespace clustercost
