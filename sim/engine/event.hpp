#pragma once
/// The event record of the discrete-event core and the interface of the objects that handle it.
///
/// An Event is a 32-byte trivially-copyable record: when it fires (integer-nanosecond SimTime),
/// its order among events of the same instant (priority class, then insertion sequence, as in
/// ns-3's EventKey {ts, uid} and OMNeT++'s insertion counter), what it means (`kind`, a number the
/// Engine hands out per registered handler) and what it is about (`target`, `payload`: indices
/// into the handler's own pools). Nothing is allocated per event and no std::function is stored.

#include <cstdint>
#include <type_traits>

#include "sim/common/units.hpp"

namespace clustercost {

class Engine;

/// Identifies the handler an event is dispatched to; handed out by Engine::register_handler.
using EventKind = std::uint16_t;

/// Order of events that fire at the same instant, lower first (gem5-style named priorities).
/// Any value 0..255 may be used; the names are the conventional classes.
enum class Priority : std::uint8_t {
  kFirst = 0,
  kEarly = 64,
  /// Ordinary events (completions of operations).
  kDefault = 128,
  /// Work that should see every ordinary event of the instant first, e.g. the flow model's
  /// rate recomputation, so that simultaneous flow starts and ends cost one recomputation.
  kLate = 192,
  kLast = 255,
};

struct Event {
  /// When the event fires.
  SimTime time;
  /// (priority << 56) | insertion sequence: one integer so ties compare in one instruction.
  std::uint64_t order = 0;
  /// Handler-defined value (an index into a pool, a generation, two packed uint32s...).
  std::uint64_t payload = 0;
  /// Handler-defined object index (a flow, a task, a GPU...).
  std::uint32_t target = 0;
  EventKind kind = 0;
  /// Internal bookkeeping of the queue (cancellable or not).
  std::uint16_t flags = 0;

  static constexpr int kPriorityShift = 56;
  static constexpr std::uint64_t kSequenceMask = (std::uint64_t{1} << kPriorityShift) - 1;

  Priority priority() const { return static_cast<Priority>(order >> kPriorityShift); }
  /// Insertion sequence number, unique per Engine (starts at 1).
  std::uint64_t sequence() const { return order & kSequenceMask; }

  /// Strict (time, priority, sequence) order: never by address, never by container iteration.
  /// Bitwise operators rather than || and &&, so the heap's child selection compiles to
  /// conditional moves instead of unpredictable branches.
  friend bool operator<(const Event& a, const Event& b) {
    return (a.time.ns < b.time.ns) | ((a.time.ns == b.time.ns) & (a.order < b.order));
  }
};

static_assert(std::is_trivially_copyable_v<Event>, "events are copied around the heap by value");
static_assert(sizeof(Event) == 32, "keep events at half a cache line");

/// Names a cancellable event (Engine::schedule_cancellable_*). A default handle names nothing.
struct EventHandle {
  std::uint64_t sequence = 0;
  bool valid() const { return sequence != 0; }
  friend bool operator==(EventHandle, EventHandle) = default;
};

/// An object that reacts to the events of one or more kinds registered for it.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  /// Called when `event` fires; `engine.now()` equals `event.time`. May schedule and cancel
  /// events. An exception propagates out of Engine::run (the event counts as executed).
  virtual void handle(const Event& event, Engine& engine) = 0;
  /// `event` is the next to fire (unless the one being handled schedules an earlier one): ask
  /// for the memory its handling will read, so that the load overlaps the handling of the
  /// event before it. A hint only; must not change any state. With 10^8-task graphs nearly
  /// every event's record is a cache miss.
  virtual void prefetch(const Event& /*event*/) const {}
};

/// Something that waits for the completion of work that another component carries out, e.g. a
/// task executor waiting for the flows of a transfer task. `token` is the waiter's own label.
class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void on_complete(std::uint64_t token, Engine& engine) = 0;
};

}  // namespace clustercost
