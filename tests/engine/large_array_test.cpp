// LargeVector: buffers of 4 MiB and more are mapped directly on (advised) huge pages; smaller
// ones use the standard allocator. Either way it must behave as a std::vector.
#include "sim/common/large_array.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>

using clustercost::LargeArrayAllocator;
using clustercost::LargeVector;

TEST(LargeVector, SmallAndLargeBuffersHoldTheirValuesThroughGrowth) {
  LargeVector<std::uint32_t> v;
  // From a few bytes past the 4 MiB threshold (grown by push_back: every reallocation copies
  // across the two allocation paths).
  const std::size_t n = 3 * LargeArrayAllocator<std::uint32_t>::kDirectBytes / sizeof(std::uint32_t);
  for (std::size_t i = 0; i < n; ++i) v.push_back(static_cast<std::uint32_t>(i * 7));
  ASSERT_EQ(v.size(), n);
  for (std::size_t i = 0; i < n; i += 4093) ASSERT_EQ(v[i], static_cast<std::uint32_t>(i * 7)) << i;
  EXPECT_EQ(v.back(), static_cast<std::uint32_t>((n - 1) * 7));
  // Copies and assignment keep the contents; shrinking back under the threshold frees the map.
  LargeVector<std::uint32_t> w = v;
  EXPECT_EQ(w, v);
  w.resize(10);
  w.shrink_to_fit();
  EXPECT_EQ(w.size(), 10u);
  EXPECT_EQ(w[9], 63u);
  LargeVector<std::uint64_t> filled(LargeArrayAllocator<std::uint64_t>::kDirectBytes, 5);
  EXPECT_EQ(std::accumulate(filled.begin(), filled.end(), std::uint64_t{0}),
            5 * LargeArrayAllocator<std::uint64_t>::kDirectBytes);
}
