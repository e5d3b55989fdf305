#pragma once
/// Portable random numbers (MoE routing, Monte Carlo campaign): the same bits on every compiler
/// and standard library. std::*_distribution algorithms are implementation-defined, so every transform here
/// is written out: 53-bit uniforms, Lemire's bounded integers, the Marsaglia polar normal and the
/// Marsaglia–Tsang gamma. Only IEEE-exact operations and std::log/std::sqrt/std::pow are used.

#include <cmath>
#include <cstdint>

namespace clustercost::portable_random {

/// SplitMix64 finaliser (Steele, Lea, Flood 2014): a bijective 64-bit mixer, used to derive
/// independent stream seeds from (base seed, layer, micro-batch, stream).
constexpr std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) { return mix64(a ^ mix64(b)); }

/// xoshiro256** 1.0 (Blackman and Vigna 2018, https://prng.di.unimi.it/): fast, 256-bit state,
/// passes BigCrush; the state is filled from the seed with SplitMix64 as its authors recommend.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t z = seed;
    for (auto& w : s_) {
      w = mix64(z);
      z += 0x9E3779B97F4A7C15ull;
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in (0, 1]: safe under log.
  double uniform_pos() { return (static_cast<double>(next() >> 11) + 1.0) * 0x1.0p-53; }
  /// Exponential with the given mean, by inversion: −mean·ln(1 − U).
  double exponential(double mean) { return -mean * std::log1p(-uniform()); }

  /// Uniform integer in [0, n), 0 < n < 2^32, without bias (Lemire 2019, "Fast random integer
  /// generation in an interval", 32-bit variant).
  std::uint32_t below(std::uint32_t n) {
    std::uint64_t m = (next() >> 32) * n;
    auto low = static_cast<std::uint32_t>(m);
    if (low < n) {
      const std::uint32_t threshold = static_cast<std::uint32_t>(0u - n) % n;
      while (low < threshold) {
        m = (next() >> 32) * n;
        low = static_cast<std::uint32_t>(m);
      }
    }
    return static_cast<std::uint32_t>(m >> 32);
  }

  /// Standard normal, Marsaglia polar method (no trigonometry).
  double normal() {
    for (;;) {
      const double u = 2.0 * uniform() - 1.0, v = 2.0 * uniform() - 1.0;
      const double q = u * u + v * v;
      if (q > 0.0 && q < 1.0) return u * std::sqrt(-2.0 * std::log(q) / q);
    }
  }

  /// Gamma(shape, 1), Marsaglia and Tsang (2000) "A simple method for generating gamma
  /// variables"; shape < 1 uses their boost Gamma(shape + 1)·U^(1/shape).
  double gamma(double shape) {
    if (shape < 1.0) {
      const double g = gamma(shape + 1.0);
      return g * std::pow(uniform_pos(), 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = uniform_pos();
      if (u < 1.0 - 0.0331 * (x * x) * (x * x)) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

 private:
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace clustercost::portable_random
