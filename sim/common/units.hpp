#pragma once
/// Small named quantities used at module boundaries, so a byte count is never passed where a
/// FLOP count or a duration in seconds is expected. Rates stay plain doubles inside modules.
/// Simulated time is integer nanoseconds (SimTime); converting a duration in seconds to ticks
/// rounds up, in one place (SimTime::from_seconds), so no positive duration becomes zero.

#include <cmath>
#include <compare>
#include <cstdint>
#include <limits>

namespace clustercost {

template <class Tag>
struct Quantity {
  double value = 0.0;

  constexpr Quantity() = default;
  constexpr explicit Quantity(double v) : value(v) {}

  constexpr auto operator<=>(const Quantity&) const = default;
  constexpr Quantity operator+(Quantity o) const { return Quantity(value + o.value); }
  constexpr Quantity operator-(Quantity o) const { return Quantity(value - o.value); }
  constexpr Quantity& operator+=(Quantity o) { value += o.value; return *this; }
  constexpr Quantity& operator-=(Quantity o) { value -= o.value; return *this; }
  constexpr Quantity operator*(double k) const { return Quantity(value * k); }
  constexpr Quantity operator/(double k) const { return Quantity(value / k); }
  /// The ratio of two quantities of the same kind is a plain number.
  constexpr double operator/(Quantity o) const { return value / o.value; }
};

template <class Tag>
constexpr Quantity<Tag> operator*(double k, Quantity<Tag> q) { return q * k; }

struct SecondsTag {};
struct BytesTag {};
struct FlopTag {};

using Seconds = Quantity<SecondsTag>;
using Bytes = Quantity<BytesTag>;
using FlopCount = Quantity<FlopTag>;

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
inline constexpr double kGB = 1e9;

constexpr Bytes gib(double n) { return Bytes(n * kGiB); }
constexpr double to_gib(Bytes b) { return b.value / kGiB; }
constexpr Seconds hours(double h) { return Seconds(h * 3600.0); }
constexpr Seconds days(double d) { return Seconds(d * 86400.0); }

/// Simulated time: integer nanoseconds (292 years of range, so whole campaigns fit).
struct SimTime {
  std::int64_t ns = 0;

  constexpr auto operator<=>(const SimTime&) const = default;
  constexpr SimTime operator+(SimTime o) const { return SimTime{ns + o.ns}; }
  constexpr SimTime operator-(SimTime o) const { return SimTime{ns - o.ns}; }
  constexpr SimTime& operator+=(SimTime o) { ns += o.ns; return *this; }

  static constexpr SimTime zero() { return SimTime{0}; }
  static constexpr SimTime nanoseconds(std::int64_t n) { return SimTime{n}; }
  static constexpr SimTime microseconds(std::int64_t n) { return SimTime{n * 1000}; }
  static constexpr SimTime max() { return SimTime{std::numeric_limits<std::int64_t>::max()}; }
  /// The one rounding rule from seconds to ticks: up, so a positive duration is never zero.
  static SimTime from_seconds(Seconds s) {
    return SimTime{static_cast<std::int64_t>(std::ceil(s.value * 1e9 - 1e-6))};
  }
  constexpr Seconds seconds() const { return Seconds(static_cast<double>(ns) * 1e-9); }
};

}  // namespace clustercost
