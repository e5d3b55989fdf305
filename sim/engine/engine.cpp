#include "sim/engine/engine.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace clustercost {

namespace {

/// One step of the fingerprint: xor the word in, then one multiply-xorshift round of SplitMix64's
/// finaliser (Steele, Lea, Flood, OOPSLA 2014), so input bits spread over the output and the
/// order of events matters.
constexpr std::uint64_t mix(std::uint64_t h, std::uint64_t word) {
  h ^= word;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 31;
  return h;
}

const std::string kNoName;

}  // namespace

const char* to_string(StopReason reason) {
  switch (reason) {
    case StopReason::kDrained: return "drained";
    case StopReason::kTimeLimit: return "time limit";
    case StopReason::kEventBudget: return "event budget";
    case StopReason::kWallClockBudget: return "wall-clock budget";
    case StopReason::kStopped: return "stopped";
  }
  return "unknown";
}

EventKind Engine::register_handler(EventHandler& handler, std::string_view name) {
  if (!free_kinds_.empty()) {
    const EventKind kind = free_kinds_.back();
    free_kinds_.pop_back();
    handlers_[kind] = Registration{&handler, std::string(name)};
    return kind;
  }
  if (handlers_.size() > std::numeric_limits<EventKind>::max()) {
    throw std::length_error("Engine: more than 65536 event handlers registered");
  }
  handlers_.push_back(Registration{&handler, std::string(name)});
  return static_cast<EventKind>(handlers_.size() - 1);
}

void Engine::unregister_handler(EventKind kind) {
  if (kind >= handlers_.size() || handlers_[kind].handler == nullptr) return;
  handlers_[kind] = Registration{};
  queue_.remove_if([kind](const Event& e) { return e.kind == kind; });
  free_kinds_.push_back(kind);
}

const std::string& Engine::kind_name(EventKind kind) const {
  if (kind >= handlers_.size()) return kNoName;
  return handlers_[kind].name;
}

std::uint64_t Engine::push(SimTime time, EventKind kind, std::uint32_t target,
                           std::uint64_t payload, Priority priority, std::uint16_t flags) {
  if (time < now_) throw std::logic_error("Engine: event scheduled in the past");
  if (kind >= handlers_.size() || handlers_[kind].handler == nullptr) {
    throw std::logic_error("Engine: event kind with no registered handler");
  }
  if (next_sequence_ > Event::kSequenceMask) throw std::length_error("Engine: sequence overflow");
  const std::uint64_t sequence = next_sequence_++;
  Event e;
  e.time = time;
  e.order = (static_cast<std::uint64_t>(priority) << Event::kPriorityShift) | sequence;
  e.payload = payload;
  e.target = target;
  e.kind = kind;
  e.flags = flags;
  // Zero-delay default-priority events take the FIFO: they are already in order.
  queue_.push(e, time == now_ && priority == Priority::kDefault);
  ++scheduled_;
  const std::size_t size = queue_.size();
  if (size > peak_queue_) peak_queue_ = size;
  return sequence;
}

bool Engine::cancel(EventHandle handle) {
  if (!handle.valid()) return false;
  if (!queue_.cancel(handle.sequence)) return false;
  ++cancelled_;
  return true;
}

EngineRunResult Engine::run(const RunLimits& limits) {
  if (running_) throw std::logic_error("Engine: run() called from a handler");
  using Clock = std::chrono::steady_clock;
  const auto wall_start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - wall_start).count(); };

  EngineRunResult result;
  running_ = true;
  stop_requested_ = false;
  struct Guard {
    bool& flag;
    ~Guard() { flag = false; }
  } guard{running_};

  const bool check_wall = limits.max_wall_seconds < std::numeric_limits<double>::infinity();
  for (;;) {
    if (result.events_executed >= limits.max_events) {
      result.reason = StopReason::kEventBudget;
      break;
    }
    if (check_wall && (result.events_executed & 1023) == 0 &&
        elapsed() >= limits.max_wall_seconds) {
      result.reason = StopReason::kWallClockBudget;
      break;
    }
    const Event* next = queue_.peek();
    if (next == nullptr) {
      if (limits.until == SimTime::max()) {
        result.reason = StopReason::kDrained;
      } else {
        now_ = std::max(now_, limits.until);
        result.reason = StopReason::kTimeLimit;
      }
      break;
    }
    if (next->time > limits.until) {
      now_ = std::max(now_, limits.until);  // a horizon in the past leaves the clock alone
      result.reason = StopReason::kTimeLimit;
      break;
    }
    const Event e = queue_.pop();
    now_ = e.time;
    ++executed_;
    ++result.events_executed;
    fingerprint_ = mix(mix(mix(fingerprint_, static_cast<std::uint64_t>(e.time.ns)),
                           (static_cast<std::uint64_t>(e.kind) << 32) | e.target),
                       e.payload);
    if (lookahead_) {
      if (const Event* after = queue_.peek()) handlers_[after->kind].handler->prefetch(*after);
    }
    handlers_[e.kind].handler->handle(e, *this);
    if (stop_requested_) {
      stop_requested_ = false;
      result.reason = StopReason::kStopped;
      break;
    }
  }
  result.end_time = now_;
  result.wall_seconds = elapsed();
  return result;
}

EngineStats Engine::stats() const {
  EngineStats s;
  s.events_executed = executed_;
  s.events_scheduled = scheduled_;
  s.events_cancelled = cancelled_;
  s.peak_queue_size = peak_queue_;
  s.queue_size = queue_.size();
  return s;
}

}  // namespace clustercost
