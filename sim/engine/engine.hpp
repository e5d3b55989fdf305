#pragma once
/// The discrete-event core: an integer-nanosecond clock, a pending-event queue and dispatch by
/// event kind to registered handler objects.
///
/// Usage: a component (a task executor, the flow model...) implements EventHandler and registers
/// itself with `register_handler`, which returns the EventKind its events carry. It schedules
/// events as plain records {time, priority, kind, target, payload}; `run` pops them in
/// (time, priority, insertion sequence) order, which makes every run with the same inputs execute
/// the same events in the same order, and calls the handler of each event's kind. An event may be
/// cancelled through the handle returned by `schedule_cancellable_*`. `run` ends with a
/// StopReason: the queue drained, a time horizon, an event budget or a wall-clock budget was
/// reached, or a handler called `stop`. A 64-bit fingerprint of every executed event
/// (time, kind, target, payload) lets tests pin and compare behaviour, as OMNeT++ does.
///
/// Engine is single-threaded and holds no global state; run independent simulations on
/// independent Engines.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sim/common/units.hpp"
#include "sim/engine/event.hpp"
#include "sim/engine/event_queue.hpp"

namespace clustercost {

/// Why Engine::run returned.
enum class StopReason : std::uint8_t {
  /// No pending event is left (and no time horizon was given).
  kDrained,
  /// Every event up to RunLimits::until ran; the clock was advanced to `until`.
  kTimeLimit,
  /// RunLimits::max_events events were executed.
  kEventBudget,
  /// RunLimits::max_wall_seconds of real time elapsed (checked every 1024 events).
  kWallClockBudget,
  /// A handler called Engine::stop.
  kStopped,
};

/// "drained", "time limit", "event budget", "wall-clock budget", "stopped".
const char* to_string(StopReason reason);

struct RunLimits {
  /// Execute at most this many events in this call.
  std::uint64_t max_events = std::numeric_limits<std::uint64_t>::max();
  /// Return once this much real time has elapsed in this call.
  double max_wall_seconds = std::numeric_limits<double>::infinity();
  /// Execute only events with time <= until.
  SimTime until = SimTime::max();
};

struct EngineRunResult {
  StopReason reason = StopReason::kDrained;
  /// Events executed by this call.
  std::uint64_t events_executed = 0;
  /// The clock when the call returned.
  SimTime end_time;
  /// Real time the call took.
  double wall_seconds = 0.0;
};

struct EngineStats {
  std::uint64_t events_executed = 0;
  std::uint64_t events_scheduled = 0;
  std::uint64_t events_cancelled = 0;
  /// Largest number of live pending events seen.
  std::size_t peak_queue_size = 0;
  /// Live pending events now.
  std::size_t queue_size = 0;
};

class Engine {
 public:
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// The current simulated time: the time of the event being (or last) executed.
  SimTime now() const { return now_; }

  /// Registers `handler` (which must outlive its registration) and returns the kind its events
  /// carry. `name` is for diagnostics. Throws std::length_error past 65535 live registrations.
  EventKind register_handler(EventHandler& handler, std::string_view name);
  /// Removes a registration and every pending event of that kind; the kind may be handed out
  /// again. Unknown or already removed kinds are ignored.
  void unregister_handler(EventKind kind);
  /// The name given at registration ("" for a kind that is not registered).
  const std::string& kind_name(EventKind kind) const;

  /// Schedules an event at absolute time `time` (>= now()). Throws std::logic_error for a time
  /// in the past or a kind with no handler: those are programming errors of the caller.
  void schedule_at(SimTime time, EventKind kind, std::uint32_t target, std::uint64_t payload = 0,
                   Priority priority = Priority::kDefault) {
    push(time, kind, target, payload, priority, 0);
  }
  /// Schedules an event `delay` (>= 0) after now().
  void schedule_in(SimTime delay, EventKind kind, std::uint32_t target, std::uint64_t payload = 0,
                   Priority priority = Priority::kDefault) {
    push(after(delay), kind, target, payload, priority, 0);
  }
  /// As schedule_at, returning a handle for `cancel`. Slightly dearer (a hash-set entry).
  EventHandle schedule_cancellable_at(SimTime time, EventKind kind, std::uint32_t target,
                                      std::uint64_t payload = 0,
                                      Priority priority = Priority::kDefault) {
    return EventHandle{push(time, kind, target, payload, priority, EventQueue::kCancellable)};
  }
  EventHandle schedule_cancellable_in(SimTime delay, EventKind kind, std::uint32_t target,
                                      std::uint64_t payload = 0,
                                      Priority priority = Priority::kDefault) {
    return EventHandle{
        push(after(delay), kind, target, payload, priority, EventQueue::kCancellable)};
  }
  /// Cancels a pending event. Returns false (and does nothing) if the event already ran, was
  /// already cancelled, or the handle is invalid.
  bool cancel(EventHandle handle);

  /// Executes events until a limit is reached or none is left. Not re-entrant (a handler may
  /// not call run). Exceptions thrown by handlers propagate; the engine stays usable.
  EngineRunResult run(const RunLimits& limits = {});
  EngineRunResult run(std::uint64_t max_events, double max_wall_seconds) {
    RunLimits limits;
    limits.max_events = max_events;
    limits.max_wall_seconds = max_wall_seconds;
    return run(limits);
  }
  /// Executes every event with time <= `until`, then sets the clock to `until`.
  EngineRunResult run_until(SimTime until) {
    RunLimits limits;
    limits.until = until;
    return run(limits);
  }
  /// Before handling each event, let the handler of the next one prefetch what it will read
  /// (EventHandler::prefetch). Pays where handlers' state is far larger than the caches (the
  /// 10^8-task graphs of every-rank simulations: -25% user time on DeepSeek-V3 with every rank);
  /// costs a few per cent where it fits, so it is off by default and set by the component that
  /// owns the large state.
  void set_lookahead_prefetch(bool on) { lookahead_ = on; }
  bool lookahead_prefetch() const { return lookahead_; }
  /// Makes the current run() return after the event being executed (StopReason::kStopped).
  void stop() { stop_requested_ = true; }

  /// Order-sensitive 64-bit hash of (time, kind, target, payload) of every executed event.
  std::uint64_t fingerprint() const { return fingerprint_; }
  EngineStats stats() const;
  /// Live pending events.
  std::size_t pending() const { return queue_.size(); }

 private:
  struct Registration {
    EventHandler* handler = nullptr;
    std::string name;
  };

  SimTime after(SimTime delay) const {
    // Inline: it is on the path of every schedule_in (callgrind: 14 instructions as a call).
    if (delay.ns < 0) throw std::logic_error("Engine: negative delay");
    if (delay.ns > SimTime::max().ns - now_.ns) throw std::logic_error("Engine: time overflow");
    return now_ + delay;
  }
  std::uint64_t push(SimTime time, EventKind kind, std::uint32_t target, std::uint64_t payload,
                     Priority priority, std::uint16_t flags);

  SimTime now_;
  std::uint64_t next_sequence_ = 1;
  EventQueue queue_;
  std::vector<Registration> handlers_;
  std::vector<EventKind> free_kinds_;
  std::uint64_t fingerprint_ = 0x243F6A8885A308D3ull;  // pi's fraction: any non-zero start
  std::uint64_t executed_ = 0;
  std::uint64_t scheduled_ = 0;
  std::uint64_t cancelled_ = 0;
  std::size_t peak_queue_ = 0;
  bool running_ = false;
  bool lookahead_ = false;
  bool stop_requested_ = false;
};

}  // namespace clustercost
