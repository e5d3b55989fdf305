// End-to-end tests of the probe: the CPU quick probe writes a valid measurements document, bad
// usage is refused with exit code 2, cuda without a device answers "no CUDA device", and the
// CUDA part was compiled whenever nvcc exists (label cuda-build).

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "hardware/probe/probe.hpp"

namespace fs = std::filesystem;
using clustercost::ProbeOptions;
using clustercost::run_probe;

namespace {

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() / ("cc_probe_" + std::string(info ? info->name() : "suite") +
                                         "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

nlohmann::json read_json(const fs::path& p) {
  std::ifstream f(p);
  return nlohmann::json::parse(f);
}

bool positive_finite(const nlohmann::json& v) {
  return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() > 0.0;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : (v[h - 1] + v[h]) / 2.0;
}

// The CUDA libraries (and the probe's CUDA plugin) mapped into this process, from
// /proc/self/maps.
std::set<std::string> cuda_mappings() {
  std::set<std::string> out;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    for (const char* lib : {"libcudart", "libcublas", "libnccl", "libcuda.so",
                            "libclustercost-probe-cuda"})
      if (path.find(lib) != std::string::npos) out.insert(path);
  }
  return out;
}

bool cuda_mappings_readable() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  return static_cast<bool>(std::getline(maps, line));
}

// The checks of one CPU quick probe run (a few seconds, so it runs once; ctest runs each test
// in its own process).
void expect_device_block(const nlohmann::json& doc) {
  EXPECT_EQ(doc.at("schema"), "clustercost.measurements/1");
  const auto& d = doc.at("device");
  EXPECT_EQ(d.at("kind"), "cpu");
  for (const char* key : {"name", "driver", "runtime", "compiler", "gemm_backend", "host"}) {
    ASSERT_TRUE(d.at(key).is_string()) << key;
    EXPECT_FALSE(d.at(key).get<std::string>().empty()) << key;
  }
  EXPECT_GE(d.at("cores").get<int>(), 1);
  EXPECT_TRUE(d.at("clock_mhz").is_null() || positive_finite(d.at("clock_mhz")));
  EXPECT_TRUE(positive_finite(d.at("memory_gib")));
  EXPECT_TRUE(std::regex_match(d.at("date").get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << d.at("date");
  const std::string backend = d.at("gemm_backend");
  EXPECT_TRUE(backend.rfind("eigen", 0) == 0 || backend.rfind("blocked", 0) == 0) << backend;
}

void expect_record(const nlohmann::json& r, int reps) {
  SCOPED_TRACE(r.dump());
  const std::string kind = r.at("kind");
  const std::string dtype = r.at("dtype");
  EXPECT_TRUE(dtype == "fp32" || dtype == "fp64") << dtype;
  EXPECT_FALSE(r.at("name").get<std::string>().empty());

  ASSERT_TRUE(r.at("times_s").is_array());
  ASSERT_EQ(static_cast<int>(r.at("times_s").size()), reps);
  std::vector<double> times;
  for (const auto& t : r.at("times_s")) {
    ASSERT_TRUE(positive_finite(t));
    times.push_back(t);
  }
  ASSERT_TRUE(positive_finite(r.at("time_s")));
  EXPECT_DOUBLE_EQ(r.at("time_s").get<double>(), median_of(times));

  const double flops = r.at("flops"), bytes = r.at("bytes");
  const double t = r.at("time_s");
  if (kind == "launch") {
    EXPECT_EQ(flops, 0.0);
    EXPECT_EQ(bytes, 0.0);
  } else {
    EXPECT_GT(bytes, 0.0);
    EXPECT_TRUE(positive_finite(r.at("achieved_gbps")));
    EXPECT_NEAR(r.at("achieved_gbps").get<double>(), bytes / t / 1e9, 1e-9 * bytes / t);
  }
  if (kind == "gemm" || kind == "grouped_gemm" || kind == "attention") {
    EXPECT_GT(flops, 0.0);
    EXPECT_TRUE(positive_finite(r.at("achieved_tflops")));
    EXPECT_NEAR(r.at("achieved_tflops").get<double>(), flops / t / 1e12, 1e-9 * flops / t);
  }
  const auto& shape = r.at("shape");
  if (kind == "gemm") {
    const double m = shape.at("m"), n = shape.at("n"), k = shape.at("k");
    EXPECT_DOUBLE_EQ(flops, 2.0 * m * n * k);
  } else if (kind == "grouped_gemm") {
    std::int64_t sum = 0;
    for (const auto& g : shape.at("group_m")) sum += g.get<std::int64_t>();
    EXPECT_EQ(sum, shape.at("m").get<std::int64_t>());
    EXPECT_EQ(shape.at("groups").get<std::size_t>(), shape.at("group_m").size());
    const std::set<std::int64_t> distinct(shape.at("group_m").begin(), shape.at("group_m").end());
    EXPECT_GT(distinct.size(), 1u) << "expert loads should be uneven";
  } else if (kind == "attention") {
    EXPECT_TRUE(shape.at("causal").get<bool>());
    const double s = shape.at("seq"), h = shape.at("heads"), dd = shape.at("head_dim"),
                 b = shape.at("batch");
    EXPECT_DOUBLE_EQ(flops, 4.0 * s * s * dd * h * b / 2.0);
  } else if (kind == "memory") {
    EXPECT_GT(shape.at("bytes").get<double>(), 0.0);
  }
  const double err = r.at("check_rel_error");
  EXPECT_TRUE(std::isfinite(err));
  EXPECT_GE(err, 0.0);
  EXPECT_TRUE(r.at("ok").get<bool>());
}

// Its 20 s budget is measured by `clustercost bench` (probe_quick), not asserted here: a timed
// assertion fails under a sanitizer or on a loaded machine without anything being wrong.
TEST(CpuQuickProbe, WritesAValidCheckedMeasurementsDocumentAtomically) {
  TempDir dir;
  const fs::path out = dir.path() / "measurements.json";
  std::ofstream(out) << "stale";  // must be replaced
  ProbeOptions o;
  o.device = "cpu";
  o.quick = true;
  o.output_path = out.string();
  std::ostringstream log;
  const std::set<std::string> cuda_before = cuda_mappings();
  const int rc = run_probe(o, log);
  ASSERT_EQ(rc, 0) << log.str();
  EXPECT_NE(log.str().find("wrote"), std::string::npos) << log.str();

  // Atomic write: the temporary file was renamed over the stale one, nothing else is left.
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir.path())) names.push_back(e.path().filename());
  EXPECT_EQ(names, std::vector<std::string>{"measurements.json"});

  const auto doc = read_json(out);
  expect_device_block(doc);
  const int reps = doc.at("settings").at("repetitions");
  const auto& records = doc.at("records");
  ASSERT_FALSE(records.empty());
  std::set<std::string> kinds, gemm_dtypes;
  for (const auto& r : records) {
    expect_record(r, reps);
    kinds.insert(r.at("kind").get<std::string>());
    if (r.at("kind") == "gemm") gemm_dtypes.insert(r.at("dtype").get<std::string>());
  }
  EXPECT_EQ(kinds,
            (std::set<std::string>{"gemm", "grouped_gemm", "memory", "attention", "launch"}));
  EXPECT_EQ(gemm_dtypes, (std::set<std::string>{"fp32", "fp64"}));

  // The CPU probe ran in this process without loading any CUDA library: the CUDA part is a
  // plugin opened only for --device cuda (hardware/probe/cuda_plugin.hpp). (ctest runs each
  // test in its own process, so nothing is mapped before; in one process with the cuda-build
  // tests the plugin may be, and then the run must not have added anything.)
  EXPECT_EQ(cuda_mappings(), cuda_before);
  EXPECT_TRUE(cuda_mappings_readable());
}

TEST(ProbeUsage, BadOptionsAreRefusedWithExitCodeTwoAndNoFile) {
  TempDir dir;
  const auto out = (dir.path() / "m.json").string();
  const auto run = [](ProbeOptions o) {
    std::ostringstream log;
    const int code = run_probe(o, log);
    return std::make_pair(code, log.str());
  };
  ProbeOptions o;
  o.output_path = out;
  o.device = "tpu";
  auto [rc, log] = run(o);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(log.find("cpu or cuda"), std::string::npos) << log;

  o = ProbeOptions{};
  o.output_path = out;
  o.threads = 0;
  EXPECT_EQ(run(o).first, 2);
  o.threads = 1;
  o.repetitions = -1;
  EXPECT_EQ(run(o).first, 2);

  o = ProbeOptions{};  // no output path
  EXPECT_EQ(run(o).first, 2);

  o.output_path = (dir.path() / "missing" / "m.json").string();
  std::tie(rc, log) = run(o);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(log.find("does not exist"), std::string::npos) << log;

  o.output_path = dir.path().string();  // a directory
  EXPECT_EQ(run(o).first, 2);

  EXPECT_FALSE(fs::exists(out));
}

TEST(ProbeUsage, CudaWithoutADeviceSaysSoWithExitCodeTwo) {
  TempDir dir;
  ProbeOptions o;
  o.device = "cuda";
  o.quick = true;
  o.repetitions = 2;
  o.output_path = (dir.path() / "cuda.json").string();
  std::ostringstream log;
  const int rc = run_probe(o, log);
  if (rc == 2) {
    EXPECT_NE(log.str().find("no CUDA device: "), std::string::npos) << log.str();
    EXPECT_FALSE(fs::exists(o.output_path));
  } else {
    // A machine with a GPU runs the quick CUDA probe instead: it must then pass and write.
    EXPECT_EQ(rc, 0) << log.str();
    EXPECT_EQ(read_json(o.output_path).at("device").at("kind"), "cuda");
  }
}

int run_cli(const std::string& args) {
  const std::string cmd = std::string("\"") + CC_PROBE_CLI + "\" " + args + " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ProbeCli, ParsesArgumentsByHand) {
  ASSERT_TRUE(fs::exists(CC_PROBE_CLI)) << CC_PROBE_CLI;
  EXPECT_EQ(run_cli("--help"), 0);
  EXPECT_EQ(run_cli("--bogus -o x.json"), 2);
  EXPECT_EQ(run_cli("--threads two -o x.json"), 2);
  EXPECT_EQ(run_cli("--threads=0 -o x.json"), 2);
  EXPECT_EQ(run_cli("--quick=yes -o x.json"), 2);
  EXPECT_EQ(run_cli("--device"), 2);  // missing value
  EXPECT_EQ(run_cli("--quick"), 2);   // missing -o
  EXPECT_EQ(run_cli("--device tpu -o x.json"), 2);
  EXPECT_FALSE(fs::exists("x.json"));
}

// Labelled cuda-build in ctest: when CMake saw nvcc, the CUDA objects must be in the binary.
// The build description comes from the plugin itself, so this also loads it (with its CUDA
// libraries, which a machine with nvcc has even without a GPU).
TEST(ProbeCudaBuild, CudaPartIsCompiledWhenNvccExists) {
  const bool expected = CC_PROBE_EXPECT_CUDA;
  EXPECT_EQ(clustercost::probe_cuda_compiled(), expected);
  const std::string info = clustercost::probe_cuda_build_info();
  if (expected) {
    EXPECT_NE(info.find("nvcc"), std::string::npos) << info;
    EXPECT_NE(info.find("cuBLAS"), std::string::npos) << info;
    // The default architectures (sm_80, sm_90) are compiled in.
    EXPECT_NE(info.find("800"), std::string::npos) << info;
    EXPECT_NE(info.find("900"), std::string::npos) << info;
    // Loaded on demand: the plugin and cudart are mapped now (what CpuQuickProbe checks the
    // CPU probe does not do).
    const std::set<std::string> mapped = cuda_mappings();
    std::string all;
    for (const std::string& m : mapped) all += m + "\n";
    EXPECT_NE(all.find("libclustercost-probe-cuda.so"), std::string::npos) << all;
    EXPECT_NE(all.find("libcudart"), std::string::npos) << all;
  } else {
    EXPECT_NE(info.find("without CUDA"), std::string::npos) << info;
  }
}

}  // namespace
