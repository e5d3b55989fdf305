#include "hardware/probe/system_info.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

namespace clustercost::probe {

namespace {

std::string read_first_line(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::string line;
  if (f) std::getline(f, line);
  return line;
}

std::string trim(std::string s) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

// The value of the first "key : value" line of /proc/cpuinfo whose key is `key`.
std::string cpuinfo_field(const std::string& text, std::string_view key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (trim(line.substr(0, colon)) == key) return trim(line.substr(colon + 1));
  }
  return {};
}

std::optional<double> to_double(const std::string& s) {
  double v = 0.0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  if (res.ec != std::errc() || !(v > 0.0)) return std::nullopt;
  return v;
}

}  // namespace

std::int64_t parse_cache_size(std::string_view text) {
  std::string s = trim(std::string(text));
  if (s.empty()) return 0;
  std::int64_t mult = 1;
  const char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(s.back())));
  if (unit == 'K' || unit == 'M' || unit == 'G') {
    mult = unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : std::int64_t{1024} * 1024 * 1024;
    s.pop_back();
  }
  std::int64_t v = 0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  if (res.ec != std::errc() || res.ptr != s.data() + s.size() || v <= 0) return 0;
  return v * mult;
}

CpuInfo query_cpu_info() {
  namespace fs = std::filesystem;
  CpuInfo info;
  std::string cpuinfo;
  {
    std::ifstream f("/proc/cpuinfo");
    std::ostringstream ss;
    ss << f.rdbuf();
    cpuinfo = ss.str();
  }
  info.model = cpuinfo_field(cpuinfo, "model name");
  if (info.model.empty()) info.model = cpuinfo_field(cpuinfo, "Model");  // some ARM boards
  if (info.model.empty()) {
    const std::string part = cpuinfo_field(cpuinfo, "CPU part");
    info.model = part.empty() ? "unknown CPU" : "CPU part " + part;
  }
  info.logical_cores = static_cast<int>(std::thread::hardware_concurrency());

  if (auto khz =
          to_double(read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"))) {
    info.max_mhz = *khz / 1000.0;
  } else {
    info.max_mhz = to_double(cpuinfo_field(cpuinfo, "cpu MHz"));
  }

  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page_size > 0) {
    info.memory_gib =
        static_cast<double>(pages) * static_cast<double>(page_size) / (1024.0 * 1024.0 * 1024.0);
  }

  // The highest cache level listed for cpu0 is the last-level cache.
  int best_level = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/sys/devices/system/cpu/cpu0/cache", ec)) {
    if (entry.path().filename().string().rfind("index", 0) != 0) continue;
    const std::string type = read_first_line(entry.path() / "type");
    if (type == "Instruction") continue;
    int level = 0;
    const std::string level_text = read_first_line(entry.path() / "level");
    std::from_chars(level_text.data(), level_text.data() + level_text.size(), level);
    const std::int64_t size = parse_cache_size(read_first_line(entry.path() / "size"));
    if (level > best_level && size > 0) {
      best_level = level;
      info.llc_bytes = size;
    }
  }
#if defined(_SC_LEVEL3_CACHE_SIZE)
  if (info.llc_bytes == 0) {
    const long l3 = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l3 > 0) info.llc_bytes = l3;
  }
#endif

  struct utsname u {};
  if (::uname(&u) == 0) info.kernel = std::string(u.sysname) + " " + u.release;

  std::string runtime;
#if defined(__GLIBC__)
  runtime = std::string("glibc ") + gnu_get_libc_version();
#endif
#if defined(__GLIBCXX__)
  runtime +=
      (runtime.empty() ? "" : ", ") + std::string("libstdc++ ") + std::to_string(__GLIBCXX__);
#elif defined(_LIBCPP_VERSION)
  runtime +=
      (runtime.empty() ? "" : ", ") + std::string("libc++ ") + std::to_string(_LIBCPP_VERSION);
#endif
  info.runtime = runtime;
  return info;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == '\0') return "unknown";
  return buf;
}

std::string compiler_description() {
#if defined(__clang__)
  return std::string("Clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("GCC ") + __VERSION__;
#else
  return "unknown C++ compiler";
#endif
}

std::string compiled_simd() {
  std::string s;
  const auto add = [&s](const char* name) {
    if (!s.empty()) s += ' ';
    s += name;
  };
#if defined(__AVX512F__)
  add("avx512f");
#endif
#if defined(__AVX2__)
  add("avx2");
#endif
#if defined(__FMA__)
  add("fma");
#endif
#if defined(__AVX__) && !defined(__AVX2__)
  add("avx");
#endif
#if defined(__SSE2__) && !defined(__AVX__)
  add("sse2");
#endif
#if defined(__ARM_NEON)
  add("neon");
#endif
#if defined(__ARM_FEATURE_SVE)
  add("sve");
#endif
  if (s.empty()) add("scalar");
  return s;
}

}  // namespace clustercost::probe
