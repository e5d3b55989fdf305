#pragma once
/// Input rotation: a timed call must not find its inputs in a cache left warm by the previous
/// call (or by filling them), or it measures the cache instead of the memory system. The probe
/// therefore allocates several independent input sets and rotates through them, call i using set
/// i mod sets. Header-only: the CUDA part sizes its sets against the GPU's L2 the same way.

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace clustercost::probe {

/// Total bytes the rotated sets may occupy (beyond one set, which is always allowed).
inline constexpr std::int64_t kMaxRotationBytes = std::int64_t{4} << 30;

/// How many input sets to rotate through so that a call never finds its inputs in a cache of
/// `cache_bytes`: enough sets to exceed 1.25× the cache, at least 2 while one set is smaller
/// than twice the cache (a set larger than that evicts itself), capped at kMaxRotationBytes in
/// total. Quick mode uses 2 sets (1 for sets over half the cap): it checks paths, not caches.
inline int rotation_sets(std::int64_t set_bytes, std::int64_t cache_bytes, bool quick) {
  if (set_bytes <= 0) return 1;
  if (quick) return set_bytes > kMaxRotationBytes / 2 ? 1 : 2;
  const double target = 1.25 * static_cast<double>(std::max<std::int64_t>(cache_bytes, 0));
  auto sets = static_cast<std::int64_t>(std::ceil(target / static_cast<double>(set_bytes)));
  if (set_bytes < 2 * cache_bytes) sets = std::max<std::int64_t>(sets, 2);
  sets = std::max<std::int64_t>(sets, 1);
  sets = std::min<std::int64_t>(sets, std::max<std::int64_t>(1, kMaxRotationBytes / set_bytes));
  return static_cast<int>(sets);
}

}  // namespace clustercost::probe
