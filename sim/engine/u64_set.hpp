#pragma once
/// Internal to sim/engine: a small open-addressing hash set of non-zero 64-bit keys (linear
/// probing, backward-shift deletion, so no tombstones accumulate). Used to track the pending
/// cancellable events by sequence number without a node allocation per event, as
/// std::unordered_set would need.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace clustercost::detail {

class U64Set {
 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  bool contains(std::uint64_t key) const {
    if (size_ == 0) return false;
    for (std::size_t i = slot_of(key);; i = (i + 1) & mask_) {
      if (slots_[i] == key) return true;
      if (slots_[i] == 0) return false;
    }
  }

  /// Returns false if `key` was already present. `key` must not be 0.
  bool insert(std::uint64_t key) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    std::size_t i = slot_of(key);
    for (; slots_[i] != 0; i = (i + 1) & mask_) {
      if (slots_[i] == key) return false;
    }
    slots_[i] = key;
    ++size_;
    return true;
  }

  /// Returns false if `key` was absent.
  bool erase(std::uint64_t key) {
    if (size_ == 0) return false;
    std::size_t i = slot_of(key);
    for (; slots_[i] != key; i = (i + 1) & mask_) {
      if (slots_[i] == 0) return false;
    }
    // Backward-shift deletion: pull later members of the probe run into the hole when their
    // home slot is not between the hole and their current slot (cyclically).
    std::size_t hole = i;
    for (std::size_t j = (hole + 1) & mask_; slots_[j] != 0; j = (j + 1) & mask_) {
      const std::size_t home = slot_of(slots_[j]);
      const bool stays = ((j - home) & mask_) < ((j - hole) & mask_);
      if (!stays) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole] = 0;
    --size_;
    return true;
  }

  void clear() {
    for (auto& s : slots_) s = 0;
    size_ = 0;
  }

 private:
  std::size_t slot_of(std::uint64_t key) const {
    // Fibonacci hashing: sequence numbers are consecutive, the multiply spreads them.
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_) & mask_;
  }

  void grow() {
    std::vector<std::uint64_t> old;
    old.swap(slots_);
    const std::size_t n = old.empty() ? 64 : old.size() * 2;
    slots_.assign(n, 0);
    mask_ = n - 1;
    shift_ = 64;
    for (std::size_t k = n; k > 1; k >>= 1) --shift_;
    size_ = 0;
    for (std::uint64_t key : old) {
      if (key != 0) insert(key);
    }
  }

  std::vector<std::uint64_t> slots_;
  std::size_t size_ = 0;
  std::size_t mask_ = 0;
  int shift_ = 64;
};

}  // namespace clustercost::detail
