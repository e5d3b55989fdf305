// The CUDA part of the probe is a plugin opened with dlopen (hardware/probe/cuda_plugin.hpp):
//  - where it cannot be loaded (its CUDA libraries missing, not a shared library, no such file)
//    `--device cuda` answers "no CUDA device: ..." with exit code 2 and writes nothing; a plugin
//    from another build is refused with exit code 1. These run on every machine, with stand-in
//    plugins (fixtures/fake_cuda_plugin.cpp), through the real clustercost-probe binary.
//  - (label cuda-build, only when the CUDA part is built) the plugin holds machine code and PTX
//    for every configured architecture (default sm_80 and sm_90) in each of its fat binaries.

#include <elf.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "hardware/probe/cuda_plugin.hpp"

namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            ("cc_probe_plugin_" + std::string(info ? info->name() : "suite") + "_" +
             std::to_string(::getpid()));
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

struct CliResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// clustercost-probe --device cuda --quick, with CLUSTERCOST_PROBE_CUDA_PLUGIN = plugin.
CliResult run_cuda_probe_with_plugin(const std::string& plugin, const TempDir& dir) {
  const fs::path log = dir.path() / "log.txt";
  const std::string cmd = "CLUSTERCOST_PROBE_CUDA_PLUGIN='" + plugin + "' '" + CC_PROBE_CLI +
                          "' --device cuda --quick -o '" + (dir.path() / "m.json").string() +
                          "' >'" + log.string() + "' 2>&1";
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(log);
  r.output.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return r;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(ProbeCudaPlugin, MissingCudaLibrariesGiveNoCudaDeviceWithExitCodeTwo) {
  TempDir dir;
  const CliResult r = run_cuda_probe_with_plugin(CC_PROBE_TEST_PLUGIN_MISSING_DEPENDENCY, dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output.rfind("no CUDA device: cannot load the CUDA part of the probe", 0), 0u)
      << r.output;
  // The loader's own reason names the library that is missing.
  EXPECT_TRUE(contains(r.output, "libcc-probe-test-absent-dependency.so")) << r.output;
  EXPECT_TRUE(contains(r.output, "cuBLAS")) << r.output;  // what the real plugin needs
  EXPECT_FALSE(fs::exists(dir.path() / "m.json"));
}

TEST(ProbeCudaPlugin, AFileThatIsNotASharedLibraryGivesNoCudaDeviceWithExitCodeTwo) {
  TempDir dir;
  const fs::path fake = dir.path() / "libclustercost-probe-cuda.so";
  std::ofstream(fake) << "not an ELF file\n";
  const CliResult r = run_cuda_probe_with_plugin(fake.string(), dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output.rfind("no CUDA device: cannot load the CUDA part of the probe, " +
                               fake.string() + ": ",
                           0),
            0u)
      << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "m.json"));
}

TEST(ProbeCudaPlugin, AMissingFileGivesNoCudaDeviceWithExitCodeTwo) {
  TempDir dir;
  const std::string missing = (dir.path() / "absent.so").string();
  const CliResult r = run_cuda_probe_with_plugin(missing, dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "no CUDA device: CLUSTERCOST_PROBE_CUDA_PLUGIN names " + missing +
                                     ", which is not a file"))
      << r.output;
}

TEST(ProbeCudaPlugin, APluginFromAnotherBuildIsRefusedWithExitCodeOne) {
  TempDir dir;
  const CliResult r = run_cuda_probe_with_plugin(CC_PROBE_TEST_PLUGIN_OTHER_ABI, dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "was built from another version of the probe")) << r.output;
  // The fixture reports this build's ABI number + 1000 (fixtures/fake_cuda_plugin.cpp).
  EXPECT_TRUE(contains(r.output, "plugin ABI " +
                                     std::to_string(clustercost::probe::kCudaPluginAbi + 1000)))
      << r.output;
  EXPECT_FALSE(contains(r.output, "no CUDA device")) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "m.json"));
}

#if defined(CC_PROBE_CUDA_PLUGIN_FILE)

// What a fat binary entry holds: PTX (kind 1) or machine code, an ELF cubin (kind 2), for one
// SM number (80 = sm_80).
struct FatbinEntry {
  int kind = 0;
  int arch = 0;
  bool operator<(const FatbinEntry& o) const {
    return kind != o.kind ? kind < o.kind : arch < o.arch;
  }
  bool operator==(const FatbinEntry& o) const { return kind == o.kind && arch == o.arch; }
};

template <typename T>
T read_at(const std::vector<char>& bytes, std::size_t offset) {
  T v{};
  if (offset + sizeof(T) > bytes.size()) throw std::runtime_error("read past the end");
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

// The fat binaries of the .nv_fatbin section, one per .cu file, each as its set of entries.
// NVIDIA does not document the container; this reads the layout cuobjdump shows and that
// open-source readers of it use (e.g. ZLUDA): a 16-byte header (magic 0xBA55ED50, u16 version,
// u16 header size, u64 size of the entries), then entries of {u16 kind, u16 version, u32 header
// size, u64 payload size, ..., u32 SM number at byte 28}. Any inconsistency throws.
std::vector<std::set<FatbinEntry>> read_fatbins(const fs::path& so) {
  std::ifstream f(so, std::ios::binary);
  const std::vector<char> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto eh = read_at<Elf64_Ehdr>(b, 0);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
    throw std::runtime_error("not an ELF64 file");
  const auto shdr = [&](std::size_t i) {
    return read_at<Elf64_Shdr>(b, eh.e_shoff + i * eh.e_shentsize);
  };
  const Elf64_Shdr names = shdr(eh.e_shstrndx);
  std::vector<std::set<FatbinEntry>> out;
  for (std::size_t i = 0; i < eh.e_shnum; ++i) {
    const Elf64_Shdr s = shdr(i);
    if (names.sh_offset + s.sh_name >= b.size()) throw std::runtime_error("bad section name");
    if (std::strcmp(b.data() + names.sh_offset + s.sh_name, ".nv_fatbin") != 0) continue;
    std::size_t p = s.sh_offset;
    const std::size_t end = s.sh_offset + s.sh_size;
    while (p + 16 <= end) {
      if (read_at<std::uint32_t>(b, p) != 0xBA55ED50u) {
        p += 8;  // alignment padding between fat binaries
        continue;
      }
      const auto header_size = read_at<std::uint16_t>(b, p + 6);
      const auto size = read_at<std::uint64_t>(b, p + 8);
      std::size_t e = p + header_size;
      const std::size_t fat_end = e + size;
      if (fat_end > end) throw std::runtime_error("fat binary runs past its section");
      std::set<FatbinEntry> entries;
      while (e < fat_end) {
        FatbinEntry entry;
        entry.kind = read_at<std::uint16_t>(b, e);
        const auto entry_header = read_at<std::uint32_t>(b, e + 4);
        const auto payload = read_at<std::uint64_t>(b, e + 8);
        entry.arch = static_cast<int>(read_at<std::uint32_t>(b, e + 28));
        if (entry_header < 32 || e + entry_header + payload > fat_end)
          throw std::runtime_error("bad fat binary entry");
        entries.insert(entry);
        e += entry_header + payload;
      }
      out.push_back(entries);
      p = fat_end;
    }
  }
  return out;
}

// Labelled cuda-build (ctest probe_cuda_build): the CUDA sources compiled for sm_80 and sm_90
// (CLUSTERCOST_PROBE_CUDA_ARCHITECTURES), machine code and PTX, in every translation unit.
TEST(ProbeCudaBuild, PluginHoldsCodeAndPtxForEveryConfiguredArchitecture) {
  std::set<FatbinEntry> expected;
  std::stringstream list(CC_PROBE_CUDA_ARCHITECTURES);
  for (std::string a; std::getline(list, a, ',');) {
    const int sm = std::stoi(a);  // "80", "90-real", "90-virtual" (CMake's list, comma-separated)
    if (!contains(a, "-virtual")) expected.insert({2, sm});
    if (!contains(a, "-real")) expected.insert({1, sm});
  }
  ASSERT_FALSE(expected.empty()) << CC_PROBE_CUDA_ARCHITECTURES;
  const auto fatbins = read_fatbins(CC_PROBE_CUDA_PLUGIN_FILE);
  ASSERT_FALSE(fatbins.empty()) << "no .nv_fatbin in " << CC_PROBE_CUDA_PLUGIN_FILE;
  for (std::size_t i = 0; i < fatbins.size(); ++i) {
    const std::set<FatbinEntry>& got = fatbins[i];
    std::string shown;
    for (const FatbinEntry& e : got)
      shown += std::string(e.kind == 1 ? " ptx" : " sm") + "_" + std::to_string(e.arch);
    EXPECT_EQ(got, expected) << "fat binary " << i << " holds" << shown;
  }
}

#endif

}  // namespace
