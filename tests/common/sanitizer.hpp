#pragma once
// Whether this test binary is built with AddressSanitizer (the `asan` preset; gcc defines
// __SANITIZE_ADDRESS__, clang answers __has_feature). Tests that measure real kernels use it to
// skip their accuracy bounds: instrumented loads and stores do not follow the roofline the
// bounds are about, while the code itself still runs under the sanitizer.

namespace clustercost::test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace clustercost::test
