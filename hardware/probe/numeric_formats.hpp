#pragma once
/// Host-side decoding of the GPU storage formats, so a reference check can read the exact
/// values a kernel consumed (bytes copied back from the device) without the CUDA headers.
///  - bfloat16: the top 16 bits of an IEEE-754 binary32.
///  - fp8 e4m3 ("E4M3FN" of Micikevicius et al., "FP8 Formats for Deep Learning",
///    arXiv:2209.05433, Table 1): 1 sign, 4 exponent bits (bias 7), 3 mantissa bits, no
///    infinities, S.1111.111 is NaN, largest finite 448, smallest subnormal 2^-9.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace clustercost::probe {

inline float bf16_bits_to_float(std::uint16_t b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

/// Round-to-nearest-even, as __float2bfloat16_rn does; NaN stays NaN.
inline std::uint16_t float_to_bf16_bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu) != 0) {
    return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // quiet NaN
  }
  const std::uint32_t rounding = 0x7FFFu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>((u + rounding) >> 16);
}

inline float e4m3_bits_to_float(std::uint8_t b) {
  const bool negative = (b & 0x80u) != 0;
  const int exponent = (b >> 3) & 0xF;
  const int mantissa = b & 0x7;
  float v;
  if (exponent == 0xF && mantissa == 0x7) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    v = std::ldexp(static_cast<float>(mantissa), -9);  // subnormal: m/8 · 2^(1-7)
  } else {
    v = std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, exponent - 7);
  }
  return negative ? -v : v;
}

}  // namespace clustercost::probe
