#pragma once
/// The pending-event set of the Engine: a radix heap keyed on time with exact
/// (time, priority, sequence) order, a FIFO fast path for events that fire at the current
/// instant with the default priority, and lazy cancellation.
///
/// Why a radix heap (Ahuja, Mehlhorn, Orlin, Tarjan, "Faster algorithms for the shortest path
/// problem", JACM 37(2), 1990), with 6-bit digits: a discrete-event simulation is a *monotone*
/// priority queue (no event is ever scheduled before the last one popped), and for monotone
/// queues a radix heap replaces the comparisons of a heap's sift-down by bucket moves. The events
/// whose time first differs from `base_` (the time of the last advance) in 6-bit digit L sit in
/// level L, in the bucket of their value of that digit; bucket index = L * 64 + digit, so every
/// event of a bucket is earlier than every event of a higher bucket. The events at exactly
/// `base_` sit in `now_`, a small binary heap ordered by the (priority << 56 | sequence) word, so
/// ties keep the contract's order. A push is one xor, one bit-scan and one append. A pop takes
/// the front of `now_`; when `now_` is empty it "advances": `base_` becomes the earliest time of
/// the lowest non-empty bucket and that bucket's events move to `now_` or to strictly lower
/// buckets. Each event moves at most 11 times, in practice 2-3, and every move is a sequential
/// append (no pointer chasing). On the hold model (tests/bench/engine_bench.cpp; 10^4 pending)
/// the engine ran 2.4x as many events per CPU second as with the 4-ary heap it replaced, 4x at
/// 10^6 pending. The order of events is the same (keys are unique: the sequence number is), so
/// every fingerprint is too.
///
/// Cancellation: only events pushed as cancellable are tracked, by sequence number, in a set of
/// pending cancellable events; cancel() removes the number from the set and leaves the record in
/// place (lazy deletion). A popped record whose number is no longer in the set is dropped. When
/// dropped-to-be records outnumber the live ones the queue is rebuilt without them, so a model
/// that reschedules constantly (the flow model) does not grow the queue without bound.
///
/// Internal to sim/engine; users go through Engine.

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "sim/engine/event.hpp"
#include "sim/engine/u64_set.hpp"

namespace clustercost {

namespace detail {

/// A growable array of events whose append is a compare, a store and an increment, all inline
/// (std::vector::push_back was not inlined on the hot path and cost ~28 instructions a call,
/// measured with callgrind); growth, the rare case, is out of line. Storage is raw memory:
/// Event is an implicit-lifetime aggregate, so copying into it creates the events, and a new
/// buffer is not first filled with default events (a make_unique_for_overwrite<Event[]> did
/// that, and it was 8% of the DES event loop in perf on DeepSeek-V3).
class EventBuffer {
 public:
  EventBuffer() = default;
  EventBuffer(const EventBuffer&) = delete;
  EventBuffer& operator=(const EventBuffer&) = delete;

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == capacity_; }
  const Event& operator[](std::size_t i) const { return data_.get()[i]; }
  const Event* begin() const { return data_.get(); }
  const Event* end() const { return data_.get() + size_; }
  void clear() { size_ = 0; }
  void push_back(const Event& e) {
    if (size_ == capacity_) grow();
    data_.get()[size_++] = e;
  }
  /// Precondition: !full().
  void push_unchecked(const Event& e) { data_.get()[size_++] = e; }
  /// Exchanges storage and contents.
  void swap(EventBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }
  /// Copies this buffer's events into `into` (empty, with room for them), then swaps the two:
  /// this buffer continues in the larger storage.
  void move_into_larger(EventBuffer& into) {
    std::copy(begin(), end(), into.data_.get());
    into.size_ = size_;
    size_ = 0;
    swap(into);
  }
  [[gnu::noinline]] void grow() {
    const std::size_t capacity = capacity_ == 0 ? 16 : capacity_ * 2;
    Storage bigger(static_cast<Event*>(::operator new(capacity * sizeof(Event))));
    std::copy(begin(), end(), bigger.get());
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

 private:
  struct Free {
    void operator()(Event* p) const { ::operator delete(p); }
  };
  using Storage = std::unique_ptr<Event, Free>;
  Storage data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace detail

class EventQueue {
 public:
  static constexpr std::uint16_t kCancellable = 1;

  /// Live (not cancelled) pending events.
  std::size_t size() const { return stored() - stale_; }
  bool empty() const { return size() == 0; }
  /// Records stored, live or cancelled (what memory holds).
  std::size_t stored() const { return radix_size_ + (fifo_.size() - fifo_head_); }

  /// `fifo` may be true only when the event fires at the current instant with the default
  /// priority and its sequence is the largest so far: then FIFO order is (time, order) order.
  /// Events must not be pushed earlier than the last popped one (the Engine guarantees it; an
  /// earlier push is still handled correctly, at O(n) cost).
  void push(const Event& e, bool fifo) {
    if ((e.flags & kCancellable) != 0) pending_cancellable_.insert(e.sequence());
    if (fifo) {
      fifo_.push_back(e);
      return;
    }
    radix_push(e);
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
      e = radix_pop();
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
  /// Bits per digit of the radix: level L (0..kLevels-1) holds the events whose time first
  /// differs from base_ in digit L, in one bucket per value of that digit (11 levels x 64
  /// buckets). Wider digits mean fewer moves per event and more buckets. Measured on the hold
  /// model with 10^4 pending events (instructions per event, callgrind): 1 bit 1081, 3 bits 860,
  /// 4 bits 786, 6 bits 709, 8 bits 663; 6 and 8 bits ran equally fast, 6 keeps 704 buckets.
  static constexpr unsigned kDigitBits = 6;
  static constexpr unsigned kRadix = 1u << kDigitBits;
  static constexpr unsigned kLevels = (64 + kDigitBits - 1) / kDigitBits;
  static constexpr unsigned kBuckets = kLevels * kRadix;
  static constexpr unsigned kWords = (kBuckets + 63) / 64;
  /// min_bucket_ value meaning "no bucket" while an advance tracks the new minimum.
  static constexpr unsigned kNoBucket = kBuckets;

  bool top_is_fifo() {
    if (fifo_head_ == fifo_.size()) return false;
    const Event* r = radix_top();
    return r == nullptr || fifo_[fifo_head_] < *r;
  }

  const Event* raw_top() {
    if (top_is_fifo()) return &fifo_[fifo_head_];
    return radix_top();
  }

  void drop_top() {
    if (top_is_fifo()) {
      fifo_drop_front();
    } else {
      radix_pop();
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

  // ---- radix heap -------------------------------------------------------------------------

  /// `now_` is a min-heap on `order` (all its events share one time); std heaps are max-heaps.
  static bool later_order(const Event& a, const Event& b) { return a.order > b.order; }

  /// The earliest event of the radix part, or nullptr.
  const Event* radix_top() {
    if (!now_.empty()) return &now_.front();
    if (radix_size_ == 0) return nullptr;
    if (!min_valid_) find_min();
    return &buckets_[min_bucket_][min_index_];
  }

  Event radix_pop() {
    if (now_.empty()) {
      if (!min_valid_) find_min();
      detail::EventBuffer& v = buckets_[min_bucket_];
      if (v.size() == 1) {
        // The earliest event is alone in its bucket (the usual case once buckets are narrow):
        // take it without the detour through now_.
        const Event e = v[0];
        base_ = e.time.ns;
        v.clear();
        occupied_[min_bucket_ / 64] &= ~(std::uint64_t{1} << (min_bucket_ % 64));
        min_valid_ = false;
        --radix_size_;
        return e;
      }
      advance();
    }
    const Event e = now_.front();
    std::pop_heap(now_.begin(), now_.end(), later_order);
    now_.pop_back();
    --radix_size_;
    return e;
  }

  void radix_push(const Event& e) {
    if (e.time.ns < base_) rebase(e.time.ns);
    ++radix_size_;
    place(e);
  }

  /// Files `e` (time >= base_) into `now_` or its bucket, keeping the minimum of the lowest
  /// bucket (min_bucket_, min_index_) current when it is known.
  [[gnu::always_inline]] void place(const Event& e) {
    const std::uint64_t diff =
        static_cast<std::uint64_t>(e.time.ns) ^ static_cast<std::uint64_t>(base_);
    if (diff == 0) {
      now_push(e);
      return;
    }
    // Digits are those of the order-preserving unsigned image of the time (sign bit flipped),
    // so negative times sort below positive ones; the flip cancels out of `diff`.
    const auto level = static_cast<unsigned>(std::bit_width(diff) - 1) / kDigitBits;
    const std::uint64_t image = static_cast<std::uint64_t>(e.time.ns) ^ (std::uint64_t{1} << 63);
    const auto digit = static_cast<unsigned>((image >> (level * kDigitBits)) & (kRadix - 1));
    const unsigned b = level * kRadix + digit;
    detail::EventBuffer& v = buckets_[b];
    if (min_valid_ && b <= min_bucket_) {
      if (b < min_bucket_) {
        min_bucket_ = b;  // bucket b was empty (min_bucket_ was the lowest): e is its minimum
        min_index_ = v.size();
      } else if (e < v[min_index_]) {
        min_index_ = v.size();
      }
    }
    if (v.full()) grow_bucket(v);
    v.push_unchecked(e);
    occupied_[b / 64] |= std::uint64_t{1} << (b % 64);
    if (b / 64 < low_word_) low_word_ = b / 64;
  }

  /// Buckets fill and empty in turn as time advances (each level's digit sweeps its 64
  /// buckets): a bucket that outgrows its storage takes the spare one, the largest storage an
  /// emptied bucket gave back, before allocating. Without it every bucket kept the largest
  /// storage it ever needed and the queue touched fresh memory all run long.
  [[gnu::noinline]] void grow_bucket(detail::EventBuffer& v) {
    if (spare_.capacity() > v.size()) {
      v.move_into_larger(spare_);
    } else {
      v.grow();
    }
  }
  [[gnu::noinline]] void now_push(const Event& e) {
    now_.push_back(e);
    std::push_heap(now_.begin(), now_.end(), later_order);
  }

  /// Scans the lowest non-empty bucket for its earliest event.
  void find_min() {
    while (occupied_[low_word_] == 0) ++low_word_;
    min_bucket_ = low_word_ * 64 + static_cast<unsigned>(std::countr_zero(occupied_[low_word_]));
    const detail::EventBuffer& v = buckets_[min_bucket_];
    std::size_t best = 0;
    for (std::size_t i = 1; i < v.size(); ++i) best = v[i] < v[best] ? i : best;
    min_index_ = best;
    min_valid_ = true;
  }

  /// Precondition: now_ is empty and some bucket is not. Moves base_ to the earliest time and
  /// redistributes the lowest bucket below it; the events at that time land in now_.
  void advance() {
    if (!min_valid_) find_min();
    const unsigned src_bucket = min_bucket_;
    detail::EventBuffer& src = buckets_[src_bucket];
    base_ = src[min_index_].time.ns;
    occupied_[src_bucket / 64] &= ~(std::uint64_t{1} << (src_bucket % 64));
    // Every bucket below src_bucket is empty, so the events placed now are the only candidates
    // for the new lowest bucket: track its minimum while placing (saves a later scan).
    min_valid_ = true;
    min_bucket_ = kNoBucket;
    for (const Event& e : src) place(e);  // lands in now_ or in buckets below src_bucket
    src.clear();
    if (src.capacity() > spare_.capacity()) src.swap(spare_);  // spare_ is always empty
    if (min_bucket_ == kNoBucket) min_valid_ = false;  // the lowest bucket is above: scan later
  }

  /// Moves every radix event into `out` (unordered) and empties the radix part.
  void drain_radix(std::vector<Event>& out) {
    out.insert(out.end(), now_.begin(), now_.end());
    now_.clear();
    for (detail::EventBuffer& v : buckets_) {
      out.insert(out.end(), v.begin(), v.end());
      v.clear();
    }
    occupied_.fill(0);
    low_word_ = 0;
    min_valid_ = false;
    radix_size_ = 0;
  }

  /// Re-files every radix event relative to a new base `time` (<= all of them). Only reached
  /// when an event is pushed before the last popped one, which the Engine never does.
  void rebase(std::int64_t time) {
    std::vector<Event> all;
    drain_radix(all);
    base_ = time;
    radix_size_ = all.size();
    for (const Event& e : all) place(e);
  }

  template <class Keep>
  void filter(Keep keep) {
    std::vector<Event> kept_fifo;
    for (std::size_t i = fifo_head_; i < fifo_.size(); ++i) {
      if (keep(fifo_[i])) kept_fifo.push_back(fifo_[i]);
    }
    fifo_.swap(kept_fifo);
    fifo_head_ = 0;
    std::vector<Event> all;
    all.reserve(radix_size_);
    drain_radix(all);
    for (const Event& e : all) {
      if (!keep(e)) continue;
      ++radix_size_;
      place(e);
    }
  }

  /// Drops every cancelled record.
  void purge() {
    if (stale_ == 0) return;
    filter([this](const Event& e) {
      return (e.flags & kCancellable) == 0 || pending_cancellable_.contains(e.sequence());
    });
    stale_ = 0;
  }

  /// Events at exactly base_, a min-heap on `order`.
  std::vector<Event> now_;
  /// buckets_[b]: events whose time first differs from base_ at bit b (unordered).
  std::array<detail::EventBuffer, kBuckets> buckets_;
  /// Empty storage given back by an emptied bucket, for the next bucket that outgrows its own.
  detail::EventBuffer spare_;
  /// Bit b set iff buckets_[b] is not empty; bucket order is time order.
  std::array<std::uint64_t, kWords> occupied_{};
  /// No bucket below word low_word_ of occupied_ is occupied.
  unsigned low_word_ = 0;
  /// Time of the last advance (<= every stored radix event, <= the Engine's clock).
  std::int64_t base_ = 0;
  /// Events in now_ and buckets_.
  std::size_t radix_size_ = 0;
  /// When min_valid_: buckets_[min_bucket_] is the lowest non-empty bucket and its earliest
  /// event is at min_index_.
  bool min_valid_ = false;
  unsigned min_bucket_ = 0;
  std::size_t min_index_ = 0;

  std::vector<Event> fifo_;
  std::size_t fifo_head_ = 0;
  detail::U64Set pending_cancellable_;
  /// Cancelled records still stored.
  std::size_t stale_ = 0;
};

}  // namespace clustercost
