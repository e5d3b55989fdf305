// The CUDA plan, and the loader of the CUDA part (cuda_plugin.hpp): libclustercost-probe-cuda.so
// is opened with dlopen the first time `--device cuda` needs it, never at start-up, so binaries
// that link cc_probe do not depend on any CUDA library.
//
// Where the plugin is looked for, first match wins:
//   1. $CLUSTERCOST_PROBE_CUDA_PLUGIN, when set (that file only);
//   2. next to the running executable (the standalone probe build, and installs that copy the
//      plugin beside the binaries);
//   3. where this build wrote it (CC_PROBE_CUDA_PLUGIN_BUILD_PATH, set only when the CUDA part
//      is built), so `build/cli/clustercost probe --device cuda` works from the build tree.
// Outcomes: no plugin, or one that cannot be loaded (its CUDA libraries are missing, it is not
// a shared library) is "no CUDA device: <why>" with exit code 2, the probe's answer for a
// machine on which CUDA cannot be used; a plugin from another build (wrong ABI) is exit code 1.

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "hardware/probe/cuda_plugin.hpp"
#include "hardware/probe/cuda_probe.hpp"
#include "hardware/probe/probe.hpp"

namespace clustercost {

namespace probe {

namespace {

namespace fs = std::filesystem;

struct LoadedPlugin {
  const CudaPluginApi* api = nullptr;
  int exit_code = 0;  ///< when api is null: kProbeUsage (cannot use CUDA) or kProbeCheckFailed
  std::string error;  ///< when api is null: why, without the "no CUDA device: " prefix
};

#if defined(CLUSTERCOST_PROBE_HAVE_CUDA)
constexpr const char* kPluginFileName = "libclustercost-probe-cuda.so";

std::vector<fs::path> plugin_candidates() {
  std::vector<fs::path> out;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back(exe.parent_path() / kPluginFileName);
  // CMake defines the build path whenever it defines CLUSTERCOST_PROBE_HAVE_CUDA.
  const fs::path built = fs::path(CC_PROBE_CUDA_PLUGIN_BUILD_PATH).lexically_normal();
  if (out.empty() || out.front().lexically_normal() != built) out.push_back(built);
  return out;
}
#endif

LoadedPlugin open_plugin(const fs::path& path) {
  LoadedPlugin r;
  dlerror();
  // RTLD_LOCAL: the CUDA libraries' symbols stay out of the global namespace. The handle is
  // never closed: CUDA libraries are not meant to be unloaded while a context may exist.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* err = dlerror();
    std::string why = err ? err : "unknown dlopen error";
    // glibc starts with the file's name when the file itself is at fault; it is said already.
    if (why.rfind(path.string() + ": ", 0) == 0) why.erase(0, path.string().size() + 2);
    r.exit_code = kProbeUsage;
    r.error = "cannot load the CUDA part of the probe, " + path.string() + ": " + why +
              " (the plugin needs the CUDA runtime, cuBLAS and cuBLASLt libraries of the toolkit "
              "it was built with: is CUDA installed, and on the loader's path?)";
    return r;
  }
  dlerror();
  void* sym = dlsym(handle, kCudaPluginEntry);
  const char* sym_error = dlerror();
  if (!sym || sym_error) {
    r.exit_code = kProbeCheckFailed;
    r.error = path.string() + " is not the CUDA part of this probe (no " + kCudaPluginEntry +
              ": " + (sym_error ? sym_error : "null symbol") + ")";
    return r;
  }
  // POSIX guarantees that a dlsym result converts to a function pointer.
  const auto entry = reinterpret_cast<CudaPluginEntryFn>(sym);
  const CudaPluginApi* api = entry();
  if (!api || api->abi != kCudaPluginAbi || api->plan_size != sizeof(CudaPlan) ||
      api->doc_size != sizeof(MeasurementDoc) || !api->build_description || !api->run_plan) {
    r.exit_code = kProbeCheckFailed;
    r.error = path.string() + " was built from another version of the probe (plugin ABI " +
              (api ? std::to_string(api->abi) : std::string("none")) + ", this build " +
              std::to_string(kCudaPluginAbi) + "); rebuild it with this tree";
    return r;
  }
  r.api = api;
  return r;
}

LoadedPlugin load_plugin() {
  if (const char* env = std::getenv(kCudaPluginEnv); env && *env) {
    std::error_code ec;
    if (!fs::is_regular_file(env, ec)) {
      LoadedPlugin r;
      r.exit_code = kProbeUsage;
      r.error = std::string(kCudaPluginEnv) + " names " + env + ", which is not a file";
      return r;
    }
    return open_plugin(env);
  }
#if !defined(CLUSTERCOST_PROBE_HAVE_CUDA)
  LoadedPlugin none;
  none.exit_code = kProbeUsage;
  none.error = "this probe was built without CUDA (nvcc not found, or CLUSTERCOST_PROBE_CUDA=OFF)";
  return none;
#else
  std::string looked;
  for (const fs::path& p : plugin_candidates()) {
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return open_plugin(p);
    looked += (looked.empty() ? "" : ", ") + p.string();
  }
  LoadedPlugin missing;
  missing.exit_code = kProbeUsage;
  missing.error = std::string("the CUDA part of the probe, ") + kPluginFileName +
                  ", was not found (looked for " + looked +
                  "); build the cc_probe_cuda target, or set " + kCudaPluginEnv;
  return missing;
#endif
}

/// Loaded once per process, on first use.
const LoadedPlugin& plugin() {
  static const LoadedPlugin loaded = load_plugin();
  return loaded;
}

}  // namespace

CudaPlan make_cuda_plan(const RunSettings& settings) {
  CudaPlan plan;
  plan.settings = settings;
  plan.gemms = gpu_gemm_shapes(settings.quick);
  plan.grouped = gpu_grouped_shapes(settings.quick);
  plan.attention = gpu_attention_shapes(settings.quick);
  // Arrays far larger than any GPU L2 (50 MiB on H100, 126 MiB on B200): every call streams
  // from HBM.
  plan.memory_array_bytes = settings.quick ? (256ll << 20) : (1ll << 30);
  plan.p2p_bytes = settings.quick ? (64ll << 20) : (1ll << 30);
  plan.collective_bytes = settings.quick ? (32ll << 20) : (256ll << 20);
  plan.launch_calls = 1000;
  return plan;
}

int run_cuda_probe(const RunSettings& settings, MeasurementDoc& doc, std::ostream& log) {
  const LoadedPlugin& p = plugin();
  if (!p.api) {
    if (p.exit_code == kProbeUsage) {
      log << "no CUDA device: " << p.error << '\n';
    } else {
      log << "probe: " << p.error << '\n';
    }
    return p.exit_code;
  }
  return p.api->run_plan(make_cuda_plan(settings), doc, log);
}

int run_cuda_scenario_probe(const RunSettings& settings, const ScenarioProbePlan& plan,
                            MeasurementDoc& doc, std::ostream& log) {
  const LoadedPlugin& p = plugin();
  if (!p.api) {
    if (p.exit_code == kProbeUsage) {
      log << "no CUDA device: " << p.error << '\n';
    } else {
      log << "probe: " << p.error << '\n';
    }
    return p.exit_code;
  }
  CudaPlan cp;
  cp.settings = settings;
  cp.launch_calls = 1000;
  cp.scenario_ops = plan.ops;
  const int rc = p.api->run_plan(cp, doc, log);
  for (const std::string& s : plan.skipped) doc.skipped.push_back(s);
  return rc;
}

}  // namespace probe

bool probe_cuda_compiled() {
#if defined(CLUSTERCOST_PROBE_HAVE_CUDA)
  return true;
#else
  return false;
#endif
}

std::string probe_cuda_build_info() {
  const probe::LoadedPlugin& p = probe::plugin();
  if (p.api) return p.api->build_description();
  return p.error;
}

}  // namespace clustercost
