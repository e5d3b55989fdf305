#pragma once
/// The pending-event set of the Engine: a vector-backed 4-ary min-heap ordered by
/// (time, priority, sequence), a FIFO fast path for events that fire at the current instant
/// with the default priority, and lazy cancellation.
///
/// Why a 4-ary heap: its depth is half a binary heap's and the four children of a node sit in
/// two cache lines (events are 32 bytes), which is what dominates at 10^6 pending events.
/// Pop uses Floyd's bottom-up sift (move the hole to a leaf along the smaller children, then sift
/// the last element up from there): the element moved from the end usually belongs near the
/// bottom, so this saves one comparison per level.
///
/// Cancellation: only events pushed as cancellable are tracked, by sequence number, in a set of
/// pending cancellable events; cancel() removes the number from the set and leaves the record in
/// place (lazy deletion). A popped record whose number is no longer in the set is dropped. When
/// dropped-to-be records outnumber the live ones the heap is rebuilt without them, so a model
/// that reschedules constantly (the flow model) does not grow the heap without bound.
///
/// Internal to sim/engine; users go through Engine.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "sim/engine/event.hpp"
#include "sim/engine/u64_set.hpp"

namespace clustercost {

class EventQueue {
 public:
  static constexpr std::uint16_t kCancellable = 1;

  /// Live (not cancelled) pending events.
  std::size_t size() const { return heap_.size() + (fifo_.size() - fifo_head_) - stale_; }
  bool empty() const { return size() == 0; }
  /// Records stored, live or cancelled (what memory holds).
  std::size_t stored() const { return heap_.size() + (fifo_.size() - fifo_head_); }

  /// `fifo` may be true only when the event fires at the current instant with the default
  /// priority and its sequence is the largest so far: then FIFO order is (time, order) order.
  void push(const Event& e, bool fifo) {
    if ((e.flags & kCancellable) != 0) pending_cancellable_.insert(e.sequence());
    if (fifo) {
      fifo_.push_back(e);
      return;
    }
    heap_push(e);
  }

  /// Lazily cancels the pending cancellable event with this sequence number. Returns false if it
  /// is not pending (already executed or cancelled).
  bool cancel(std::uint64_t sequence) {
    if (!pending_cancellable_.erase(sequence)) return false;
    ++stale_;
    if (stale_ > 1024 && stale_ * 2 > stored()) purge();
    return true;
  }

  /// The earliest live event, or nullptr when there is none. Drops cancelled records on the way.
  const Event* peek() {
    for (;;) {
      const Event* top = raw_top();
      if (top == nullptr) return nullptr;
      if ((top->flags & kCancellable) == 0 || pending_cancellable_.contains(top->sequence())) {
        return top;
      }
      drop_top();
      --stale_;
    }
  }

  /// Removes and returns the event peek() returned. Precondition: peek() != nullptr just before.
  Event pop() {
    Event e;
    if (top_is_fifo()) {
      e = fifo_[fifo_head_];
      fifo_drop_front();
    } else {
      e = heap_.front();
      heap_pop();
    }
    if ((e.flags & kCancellable) != 0) pending_cancellable_.erase(e.sequence());
    return e;
  }

  /// Removes every pending event for which `drop(event)` is true (O(n)); returns how many.
  template <class Pred>
  std::size_t remove_if(Pred drop) {
    purge();
    std::size_t removed = 0;
    auto keep = [&](const Event& e) {
      if (!drop(e)) return true;
      if ((e.flags & kCancellable) != 0) pending_cancellable_.erase(e.sequence());
      ++removed;
      return false;
    };
    filter(keep);
    return removed;
  }

 private:
  static constexpr std::size_t kArity = 4;

  bool top_is_fifo() const {
    if (fifo_head_ == fifo_.size()) return false;
    return heap_.empty() || fifo_[fifo_head_] < heap_.front();
  }

  const Event* raw_top() const {
    if (top_is_fifo()) return &fifo_[fifo_head_];
    return heap_.empty() ? nullptr : &heap_.front();
  }

  void drop_top() {
    if (top_is_fifo()) {
      fifo_drop_front();
    } else {
      heap_pop();
    }
  }

  void fifo_drop_front() {
    ++fifo_head_;
    if (fifo_head_ == fifo_.size()) {
      // The FIFO empties before time advances (its events are all at the current instant).
      fifo_.clear();
      fifo_head_ = 0;
    } else if (fifo_head_ >= 4096 && fifo_head_ * 2 >= fifo_.size()) {
      // A long cascade of zero-delay events within one instant: reclaim the consumed front.
      fifo_.erase(fifo_.begin(), fifo_.begin() + static_cast<std::ptrdiff_t>(fifo_head_));
      fifo_head_ = 0;
    }
  }

  void heap_push(const Event& e) {
    std::size_t i = heap_.size();
    heap_.push_back(e);
    Event* h = heap_.data();
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!(e < h[parent])) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  void heap_pop() {
    const std::size_t n = heap_.size() - 1;  // size after the pop
    if (n == 0) {
      heap_.pop_back();
      return;
    }
    Event* h = heap_.data();
    const Event last = h[n];
    // Bottom-up: walk the hole down along the smallest child to a leaf...
    std::size_t hole = 0;
    for (;;) {
      const std::size_t first = hole * kArity + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = first + kArity < n ? first + kArity : n;
      for (std::size_t c = first + 1; c < end; ++c) best = h[c] < h[best] ? c : best;
      h[hole] = h[best];
      hole = best;
    }
    // ...then sift the former last element up from there.
    while (hole > 0) {
      const std::size_t parent = (hole - 1) / kArity;
      if (!(last < h[parent])) break;
      h[hole] = h[parent];
      hole = parent;
    }
    h[hole] = last;
    heap_.pop_back();
  }

  template <class Keep>
  void filter(Keep keep) {
    std::vector<Event> kept_fifo;
    for (std::size_t i = fifo_head_; i < fifo_.size(); ++i) {
      if (keep(fifo_[i])) kept_fifo.push_back(fifo_[i]);
    }
    fifo_.swap(kept_fifo);
    fifo_head_ = 0;
    std::size_t out = 0;
    for (std::size_t i = 0; i < heap_.size(); ++i) {
      if (keep(heap_[i])) heap_[out++] = heap_[i];
    }
    heap_.resize(out);
    // Floyd's heap construction, O(n).
    if (out > 1) {
      for (std::size_t i = (out - 2) / kArity + 1; i-- > 0;) sift_down(i);
    }
  }

  void sift_down(std::size_t i) {
    const std::size_t n = heap_.size();
    Event* h = heap_.data();
    const Event e = h[i];
    for (;;) {
      const std::size_t first = i * kArity + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = first + kArity < n ? first + kArity : n;
      for (std::size_t c = first + 1; c < end; ++c) {
        if (h[c] < h[best]) best = c;
      }
      if (!(h[best] < e)) break;
      h[i] = h[best];
      i = best;
    }
    h[i] = e;
  }

  /// Drops every cancelled record.
  void purge() {
    if (stale_ == 0) return;
    filter([this](const Event& e) {
      return (e.flags & kCancellable) == 0 || pending_cancellable_.contains(e.sequence());
    });
    stale_ = 0;
  }

  std::vector<Event> heap_;
  std::vector<Event> fifo_;
  std::size_t fifo_head_ = 0;
  detail::U64Set pending_cancellable_;
  /// Cancelled records still stored.
  std::size_t stale_ = 0;
};

}  // namespace clustercost
