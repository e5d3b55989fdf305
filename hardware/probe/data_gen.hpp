#pragma once
/// Deterministic random inputs, the same function on the host and in CUDA kernels: element i of
/// a buffer is a pure function of (seed, i), so any thread can fill any part without shared
/// generator state. Values are non-zero (a zero input would let a kernel skip work or hide a
/// wrong index) and lie in ±[0.25, 1), exactly representable after rounding to bf16 or fp8 e4m3
/// without flushing to zero.

#include <cstdint>
#include <string_view>

#if defined(__CUDACC__)
#define CC_PROBE_HD __host__ __device__
#else
#define CC_PROBE_HD
#endif

namespace clustercost::probe {

/// The SplitMix64 finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): a bijective 64-bit mix with good avalanche.
CC_PROBE_HD inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/// Uniform 64-bit value for element `index` of the stream `seed`.
CC_PROBE_HD inline std::uint64_t random_bits(std::uint64_t seed, std::uint64_t index) {
  return mix64(mix64(seed) ^ index);
}

/// Random value in ±[0.25, 1) with a random sign.
CC_PROBE_HD inline float random_value(std::uint64_t seed, std::uint64_t index) {
  const std::uint64_t h = random_bits(seed, index);
  // 24 random bits give a uniform float in [0, 1) exactly.
  const float u = static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
  const float mag = 0.25f + 0.75f * u;
  return (h & 1u) ? -mag : mag;
}

/// Uniform integer in [0, n) (n > 0), for picking sample positions.
CC_PROBE_HD inline std::uint64_t random_below(std::uint64_t seed, std::uint64_t index,
                                              std::uint64_t n) {
  return random_bits(seed, index) % n;
}

/// Host only: a seed per (measurement name, buffer set, operand), so no two buffers share data.
/// FNV-1a over the name (Fowler–Noll–Vo), then mixed with the indices.
inline std::uint64_t seed_for(std::string_view name, int set, int operand) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return mix64(h ^ (static_cast<std::uint64_t>(set) << 32) ^ static_cast<std::uint64_t>(operand));
}

}  // namespace clustercost::probe
