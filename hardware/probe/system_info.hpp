#pragma once
/// What the host is: CPU model, cores, clock, memory, last-level cache, OS and toolchain.
/// Read from /proc and /sys on Linux; anything unknown is left empty (or nullopt) rather than
/// guessed.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace clustercost::probe {

struct CpuInfo {
  std::string model;  ///< /proc/cpuinfo "model name" (x86) or the best substitute
  int logical_cores = 0;
  std::optional<double> max_mhz;  ///< cpufreq cpuinfo_max_freq, else /proc/cpuinfo "cpu MHz"
  double memory_gib = 0.0;
  std::int64_t llc_bytes = 0;  ///< largest cache level of cpu0; 0 when unknown
  std::string kernel;          ///< "Linux 6.1.0-18-amd64"
  std::string runtime;         ///< "glibc 2.36, libstdc++ 20230528"
};

CpuInfo query_cpu_info();

/// Sizes as /sys/devices/system/cpu/cpu0/cache/index*/size writes them ("48K", "300M", "1G",
/// or plain bytes); 0 when unparsable.
std::int64_t parse_cache_size(std::string_view text);

/// gethostname(), or "unknown".
std::string host_name();

/// The C++ compiler that built this file, e.g. "GCC 12.2.0".
std::string compiler_description();

/// Vector instruction sets the CPU kernels were compiled for, e.g. "avx512f avx2 fma".
std::string compiled_simd();

}  // namespace clustercost::probe
