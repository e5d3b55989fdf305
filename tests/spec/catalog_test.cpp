// The shipped catalogue: it loads, holds the accelerators and nodes the simulator needs, and its
// figures say what the reference (docs/reference/hardware.md) says.

#include <cmath>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "hardware/spec/catalog.hpp"
#include "spec_test_util.hpp"

using namespace clustercost;
using clustercost::test::catalog_dir;
using clustercost::test::ScratchCatalog;

namespace {

const Catalog& shipped() {
  static const Catalog c = Catalog::load(catalog_dir());
  return c;
}

const GpuSpec& gpu(const std::string& name) {
  const GpuSpec* g = shipped().find_gpu(name);
  if (!g) throw std::runtime_error("missing GPU " + name);
  return *g;
}

// Calls `f(path, figure_json)` for every figure object (one with a "flag") under `j`.
void for_each_figure(const Json& j, const std::string& path,
                     const std::function<void(const std::string&, const Json&)>& f) {
  if (j.is_object()) {
    if (j.contains("flag") && j.contains("source")) {
      f(path, j);
      return;
    }
    for (auto it = j.begin(); it != j.end(); ++it) for_each_figure(*it, path + "." + it.key(), f);
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) for_each_figure(j[i], index_path(path, i), f);
  }
}

const std::vector<std::string> kRequiredGpus = {
    "A100-40G-SXM", "A100-80G-SXM", "A800-80G-SXM", "H100-SXM",    "H800-SXM",   "H20",
    "H200-SXM",     "B200",         "Ascend-910B",  "Ascend-910C", "MI300X"};
const std::vector<std::string> kRequiredNodes = {
    "DGX-A100", "HGX-A800",      "HGX-H100",      "HGX-H800", "HGX-H20",
    "HGX-H200", "DGX-B200",      "Atlas-800T-A2", "Atlas-800T-A3", "MI300X-platform"};

}  // namespace

TEST(ShippedCatalog, LoadsSortedWithAFingerprint) {
  const Catalog& c = shipped();
  ASSERT_GE(c.gpus().size(), kRequiredGpus.size());
  ASSERT_GE(c.nodes().size(), kRequiredNodes.size());
  EXPECT_TRUE(std::is_sorted(c.gpus().begin(), c.gpus().end(),
                             [](const GpuSpec& a, const GpuSpec& b) { return a.name < b.name; }));
  EXPECT_TRUE(std::is_sorted(c.nodes().begin(), c.nodes().end(),
                             [](const NodeSpec& a, const NodeSpec& b) { return a.name < b.name; }));
  std::vector<std::string> names = c.gpu_names();
  ASSERT_EQ(names.size(), c.gpus().size());
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(names[i], c.gpus()[i].name);
  const std::string fp = c.fingerprint();
  ASSERT_EQ(fp.size(), 16u);
  EXPECT_TRUE(std::all_of(fp.begin(), fp.end(), [](unsigned char ch) { return std::isxdigit(ch); }));
}

TEST(ShippedCatalog, EveryRequiredGpuAndNodeIsPresent) {
  for (const auto& name : kRequiredGpus) {
    const GpuSpec* g = shipped().find_gpu(name);
    ASSERT_NE(g, nullptr) << name;
    EXPECT_EQ(g->name, name);
    EXPECT_EQ(std::filesystem::path(g->file).filename().string(), name + ".json");
  }
  for (const auto& name : kRequiredNodes) {
    const NodeSpec* n = shipped().find_node(name);
    ASSERT_NE(n, nullptr) << name;
    EXPECT_EQ(n->name, name);
  }
}

TEST(ShippedCatalog, H800IsAnH100WithNvlinkAndFp64Cut) {
  const GpuSpec& h800 = gpu("H800-SXM");
  const GpuSpec& h100 = gpu("H100-SXM");
  EXPECT_DOUBLE_EQ(h800.bf16_tflops.get(), 989.0);
  EXPECT_DOUBLE_EQ(h800.bf16_tflops.get(), h100.bf16_tflops.get());
  EXPECT_DOUBLE_EQ(h800.fp8_tflops.get(), h100.fp8_tflops.get());
  EXPECT_DOUBLE_EQ(h800.hbm_gb.get(), h100.hbm_gb.get());
  EXPECT_DOUBLE_EQ(h800.hbm_tbps.get(), h100.hbm_tbps.get());
  EXPECT_DOUBLE_EQ(h800.scale_up.gbs_uni_per_gpu.get(), 200.0);
  EXPECT_DOUBLE_EQ(h100.scale_up.gbs_uni_per_gpu.get(), 450.0);
  EXPECT_DOUBLE_EQ(h800.fp64_tflops.get(), 1.0);
  EXPECT_DOUBLE_EQ(h100.fp64_tflops.get(), 67.0);
  EXPECT_EQ(h800.peak_tflops("bf16"), h100.peak_tflops("bf16"));
  // The NVLink figure is disputed (300 in early press): the flag must say so.
  EXPECT_TRUE(h800.scale_up.gbs_uni_per_gpu.estimated_or_disputed());
}

TEST(ShippedCatalog, Section9QuickReferenceValues) {
  struct Row {
    const char* gpu;
    double bf16, hbm_gb, hbm_tbps, scale_up, nic, tdp;
  };
  // hardware.md §9 (dense BF16, uni-directional scale-up).
  const Row rows[] = {{"A100-80G-SXM", 312, 80, 2.039, 300, 200, 400},
                      {"A800-80G-SXM", 312, 80, 2.039, 200, 200, 400},
                      {"H100-SXM", 989, 80, 3.35, 450, 400, 700},
                      {"H800-SXM", 989, 80, 3.35, 200, 400, 700},
                      {"H20", 148, 96, 4.0, 450, 400, 400},
                      {"H200-SXM", 989, 141, 4.8, 450, 400, 700},
                      {"B200", 2250, 180, 8.0, 900, 400, 1000},
                      {"MI300X", 1307.4, 192, 5.3, 448, 400, 750},
                      {"Ascend-910B", 354, 64, 1.6, 196, 200, 400},
                      {"Ascend-910C", 752, 128, 3.2, 392, 400, 800}};
  for (const auto& r : rows) {
    SCOPED_TRACE(r.gpu);
    const GpuSpec& g = gpu(r.gpu);
    EXPECT_DOUBLE_EQ(g.bf16_tflops.get(), r.bf16);
    EXPECT_DOUBLE_EQ(g.hbm_gb.get(), r.hbm_gb);
    EXPECT_DOUBLE_EQ(g.hbm_tbps.get(), r.hbm_tbps);
    EXPECT_DOUBLE_EQ(g.scale_up.gbs_uni_per_gpu.get(), r.scale_up);
    EXPECT_DOUBLE_EQ(g.nic_gbps.get(), r.nic);
    EXPECT_DOUBLE_EQ(g.tdp_w.get(), r.tdp);
  }
}

TEST(ShippedCatalog, Fp8AbsentOnAmpereAndAscendPresentOnHopperAndLater) {
  for (const char* name : {"A100-40G-SXM", "A100-80G-SXM", "A800-80G-SXM", "Ascend-910B", "Ascend-910C"}) {
    SCOPED_TRACE(name);
    const GpuSpec& g = gpu(name);
    EXPECT_FALSE(g.fp8_tflops.value.has_value());
    EXPECT_FALSE(g.peak_tflops("fp8").has_value());
    EXPECT_FALSE(g.fp8_tflops.source.empty());  // the absence is sourced too
    ASSERT_TRUE(g.peak_tflops("bf16").has_value());
  }
  for (const char* name : {"H100-SXM", "H800-SXM", "H20", "H200-SXM", "B200", "MI300X"}) {
    SCOPED_TRACE(name);
    const GpuSpec& g = gpu(name);
    ASSERT_TRUE(g.peak_tflops("fp8").has_value());
    // Dense FP8 is twice dense BF16 on every one of these parts.
    EXPECT_NEAR(*g.peak_tflops("fp8") / *g.peak_tflops("bf16"), 2.0, 0.01);
  }
  EXPECT_FALSE(gpu("Ascend-910B").peak_tflops("fp64").has_value());
  EXPECT_DOUBLE_EQ(*gpu("H100-SXM").peak_tflops("fp16"), 989.0);
  EXPECT_DOUBLE_EQ(*gpu("H100-SXM").peak_tflops("fp32"), 67.0);
  EXPECT_DOUBLE_EQ(*gpu("A100-80G-SXM").peak_tflops("int8"), 624.0);
  EXPECT_FALSE(gpu("H100-SXM").peak_tflops("fp4").has_value());
}

TEST(ShippedCatalog, EveryFigureHasASourceAndAValidFlag) {
  std::size_t figures = 0;
  auto check = [&](const std::string& path, const Json& f) {
    ++figures;
    ASSERT_TRUE(f["source"].is_string()) << path;
    EXPECT_FALSE(f["source"].get<std::string>().empty()) << path;
    ASSERT_TRUE(f["flag"].is_string()) << path;
    EXPECT_TRUE(is_valid_flag(f["flag"].get<std::string>())) << path << ": " << f["flag"];
    ASSERT_TRUE(f.contains("value")) << path;
    // A capability (scale_up.in_switch_reduction) is a sourced yes/no, a figure a number.
    EXPECT_TRUE(f["value"].is_null() || f["value"].is_boolean() || f["value"].get<double>() > 0) << path;
  };
  for (const auto& g : shipped().gpus()) for_each_figure(gpu_spec_to_json(g), g.name, check);
  for (const auto& n : shipped().nodes()) for_each_figure(node_spec_to_json(n), n.name, check);
  // 19 figures per GPU and 3 per node: a traversal that found none would prove nothing.
  EXPECT_GE(figures, shipped().gpus().size() * 19 + shipped().nodes().size() * 3);

  // Estimated figures carry their arithmetic: every E-flagged price has a note.
  for (const auto& g : shipped().gpus()) {
    for (const Figure* f : {&g.price.purchase_usd, &g.price.rental_usd_per_gpu_hour}) {
      if (f->flag.find('E') != std::string::npos) {
        EXPECT_FALSE(f->note.empty()) << g.name;
      }
    }
  }
}

TEST(ShippedCatalog, NcclChannelCountsAreSourcedPerGpu) {
  // Every GPU states NCCL's in-node channel counts with a source (docs/reference/
  // communication-sms.md §2): a whole number for NVIDIA parts, null for parts whose collectives
  // are not NCCL's (§4). None may be the "not given" of a file that predates the field.
  for (const auto& g : shipped().gpus()) {
    SCOPED_TRACE(g.name);
    for (const Figure* f : {&g.scale_up.nccl_coll_channels, &g.scale_up.nccl_p2p_channels}) {
      EXPECT_EQ(f->source.find("not given"), std::string::npos) << f->source;
      EXPECT_FALSE(f->source.empty());
      EXPECT_TRUE(is_valid_flag(f->flag)) << f->flag;
      if (g.vendor == "NVIDIA") {
        ASSERT_TRUE(f->value.has_value());
        EXPECT_EQ(*f->value, std::floor(*f->value));
        EXPECT_GE(*f->value, 1.0);
        EXPECT_LE(*f->value, 64.0);
      } else {
        EXPECT_FALSE(f->value.has_value());
      }
    }
  }
  // The logged figures: 8 x H800 "16 coll channels, ..., 16 p2p channels per peer"
  // (NVIDIA/nccl#892); HGX A100 rings "Channel 23/24" (NVIDIA/nccl-tests#100) and
  // "32 p2p channels per peer"; 8 x H100 "24 coll channels, ..., 32 p2p channels per peer";
  // DGX B200 rings "Channel 04/32" (NVIDIA/nccl#1646).
  EXPECT_DOUBLE_EQ(gpu("H800-SXM").scale_up.nccl_coll_channels.get(), 16.0);
  EXPECT_DOUBLE_EQ(gpu("H800-SXM").scale_up.nccl_p2p_channels.get(), 16.0);
  EXPECT_DOUBLE_EQ(gpu("A100-80G-SXM").scale_up.nccl_coll_channels.get(), 24.0);
  EXPECT_DOUBLE_EQ(gpu("A100-80G-SXM").scale_up.nccl_p2p_channels.get(), 32.0);
  EXPECT_DOUBLE_EQ(gpu("H100-SXM").scale_up.nccl_coll_channels.get(), 24.0);
  EXPECT_DOUBLE_EQ(gpu("H100-SXM").scale_up.nccl_p2p_channels.get(), 32.0);
  EXPECT_DOUBLE_EQ(gpu("B200").scale_up.nccl_coll_channels.get(), 32.0);
}

TEST(ShippedCatalog, NcclNvlsChannelsAreSourcedPerGpu) {
  // Every GPU states NCCL's nvls channel count with a source (docs/reference/
  // communication-sms.md §2): a whole number where NCCL runs NVLS, null where it runs none
  // (H800 "0 nvls channels", NVIDIA/nccl#892; A100 and A800, NVIDIA/nccl-tests#228) and where
  // the collectives are not NCCL's (§4). A GPU whose switches reduce has a figure.
  for (const auto& g : shipped().gpus()) {
    SCOPED_TRACE(g.name);
    const Figure& f = g.scale_up.nccl_nvls_channels;
    EXPECT_EQ(f.source.find("not given"), std::string::npos) << f.source;
    EXPECT_FALSE(f.source.empty());
    EXPECT_TRUE(is_valid_flag(f.flag)) << f.flag;
    if (f.value) {
      EXPECT_EQ(g.vendor, "NVIDIA");
      EXPECT_EQ(*f.value, std::floor(*f.value));
      EXPECT_GE(*f.value, 1.0);
      EXPECT_LE(*f.value, 64.0);
    }
    if (g.scale_up.in_switch_reduction.value) {
      EXPECT_TRUE(f.value.has_value()) << g.name << ": NVLS on, no nvls channel count";
    }
  }
  // NCCL's src/transport/nvls.cc: NVLS_NCHANNELS_SM90 16 (the p5.48xlarge log: "24 coll
  // channels, 16 nvls channels"), NVLS_NCHANNELS_SM100_NVL 24 inside one NVLink domain.
  EXPECT_DOUBLE_EQ(gpu("H100-SXM").scale_up.nccl_nvls_channels.get(), 16.0);
  EXPECT_DOUBLE_EQ(gpu("H200-SXM").scale_up.nccl_nvls_channels.get(), 16.0);
  EXPECT_DOUBLE_EQ(gpu("H20").scale_up.nccl_nvls_channels.get(), 16.0);
  EXPECT_DOUBLE_EQ(gpu("B200").scale_up.nccl_nvls_channels.get(), 24.0);
  for (const char* none : {"H800-SXM", "A100-40G-SXM", "A100-80G-SXM", "A800-80G-SXM"})
    EXPECT_FALSE(gpu(none).scale_up.nccl_nvls_channels.value.has_value()) << none;
}

TEST(ShippedCatalog, EveryGpuHasPricesAndExportNotes) {
  for (const auto& g : shipped().gpus()) {
    SCOPED_TRACE(g.name);
    EXPECT_GT(g.price.purchase_usd.get(), 1000.0);
    EXPECT_GT(g.price.rental_usd_per_gpu_hour.get(), 0.5);
    EXPECT_LT(g.price.rental_usd_per_gpu_hour.get(), 10.0);
    EXPECT_FALSE(g.price.date.empty());
    EXPECT_FALSE(g.export_control.empty());
    EXPECT_FALSE(g.aliases.empty());
  }
  // The reference's quotes are kept as given.
  EXPECT_DOUBLE_EQ(gpu("H800-SXM").price.rental_usd_per_gpu_hour.get(), 2.0);
  EXPECT_DOUBLE_EQ(gpu("H100-SXM").price.rental_usd_per_gpu_hour.get(), 2.49);
  const double a100 = gpu("A100-80G-SXM").price.rental_usd_per_gpu_hour.get();
  EXPECT_GE(a100, 1.49);
  EXPECT_LE(a100, 2.49);
}

TEST(ShippedCatalog, NodesReferToCatalogGpusAndDefaultNodesHoldTheirGpu) {
  for (const auto& n : shipped().nodes()) {
    SCOPED_TRACE(n.name);
    const GpuSpec* g = shipped().find_gpu(n.gpu);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->name, n.gpu);  // stored by catalogue key
    EXPECT_GT(n.node_power_w.get(), n.gpus_per_node * g->tdp_w.get() * 0.8);
    EXPECT_GT(n.server_share_usd.get(), 0.0);
    EXPECT_FALSE(n.source.empty());
  }
  for (const auto& g : shipped().gpus()) {
    const NodeSpec* n = shipped().find_node(g.default_node);
    ASSERT_NE(n, nullptr) << g.name;
    EXPECT_EQ(n->gpu, g.name);
  }
  const NodeSpec* h800 = shipped().find_node("hgx-h800");
  ASSERT_NE(h800, nullptr);
  EXPECT_EQ(h800->default_topology, "multi-plane");
  EXPECT_DOUBLE_EQ(h800->nic_gbps_per_gpu(), 400.0);
  EXPECT_DOUBLE_EQ(shipped().find_node("DGX-A100")->nic_gbps_per_gpu(), 200.0);
}

TEST(ShippedCatalog, AliasesResolveCaseInsensitively) {
  const struct {
    const char* query;
    const char* key;
  } cases[] = {{"h800", "H800-SXM"},        {"H800_SXM", "H800-SXM"},   {"h800-sxm5", "H800-SXM"},
               {"h800_sxm", "H800-SXM"},    {"a100", "A100-80G-SXM"},   {"a100_sxm_80g", "A100-80G-SXM"},
               {"A800", "A800-80G-SXM"},    {"h100_sxm", "H100-SXM"},   {"b200_hgx", "B200"},
               {"mi300x", "MI300X"},        {"ascend_910b", "Ascend-910B"}, {"910C", "Ascend-910C"},
               {"h200", "H200-SXM"},        {"H20", "H20"}};
  for (const auto& c : cases) {
    const GpuSpec* g = shipped().find_gpu(c.query);
    ASSERT_NE(g, nullptr) << c.query;
    EXPECT_EQ(g->name, c.key) << c.query;
  }
  EXPECT_EQ(shipped().find_gpu("h80"), nullptr);
  EXPECT_EQ(shipped().find_gpu(""), nullptr);
  const std::string msg = shipped().unknown_gpu_message("h80");
  EXPECT_NE(msg.find("did you mean \"H800-SXM\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("Ascend-910B"), std::string::npos) << msg;  // lists the known keys
  EXPECT_EQ(shipped().find_node("no-such-node"), nullptr);
}

TEST(ShippedCatalog, ScaleUpFabricsMatchTheReference) {
  const GpuSpec& b = gpu("Ascend-910B");
  EXPECT_EQ(b.scale_up.topology, "full-mesh");
  EXPECT_DOUBLE_EQ(b.scale_up.per_pair_gbs_uni.get(), 56.0);
  EXPECT_EQ(b.scale_up.domain_size, 8);
  const GpuSpec& mi = gpu("MI300X");
  EXPECT_EQ(mi.scale_up.topology, "full-mesh");
  EXPECT_DOUBLE_EQ(mi.scale_up.per_pair_gbs_uni.get() * (mi.scale_up.domain_size - 1),
                   mi.scale_up.gbs_uni_per_gpu.get());
  const GpuSpec& c = gpu("Ascend-910C");
  EXPECT_EQ(c.scale_up.topology, "switch");
  EXPECT_EQ(c.scale_up.domain_size, 384);
  EXPECT_FALSE(c.scale_up.per_pair_gbs_uni.value.has_value());
  for (const auto& g : shipped().gpus()) {
    SCOPED_TRACE(g.name);
    EXPECT_GT(g.scale_up.latency_us.get(), 0.0);
    EXPECT_GT(g.nic_latency_us.get(), 0.0);
    // Scale-up is faster than one GPU's share of scale-out on every part (bytes vs bits).
    EXPECT_GT(g.scale_up.gbs_uni_per_gpu.get(), g.nic_gbps.get() / 8);
  }
}

TEST(ShippedCatalog, UsableMemoryIsBelowMarketedAndPlausible) {
  for (const auto& g : shipped().gpus()) {
    SCOPED_TRACE(g.name);
    EXPECT_LE(g.hbm_usable_gib.get(), g.hbm_gb.get());
    EXPECT_GT(g.hbm_usable_gib.get(), 0.9 * g.hbm_gb.get());
  }
  EXPECT_NEAR(gpu("H100-SXM").hbm_usable_gib.get(), 79.3, 0.4);
  EXPECT_NEAR(gpu("H200-SXM").hbm_usable_gib.get(), 139.8, 0.5);
}

TEST(ShippedCatalog, FingerprintIsStableAndTracksContent) {
  const std::string fp = shipped().fingerprint();
  EXPECT_EQ(Catalog::load(catalog_dir()).fingerprint(), fp);
  ScratchCatalog scratch;
  EXPECT_EQ(Catalog::load(scratch.dir()).fingerprint(), fp);  // independent of where it lives
  Json h20 = scratch.gpu("H20");
  h20["note"] = h20["note"].get<std::string>() + " (edited)";
  scratch.put_gpu("H20", h20);
  const std::string edited = Catalog::load(scratch.dir()).fingerprint();
  EXPECT_NE(edited, fp);
  EXPECT_EQ(Catalog::load(scratch.dir()).fingerprint(), edited);
}

TEST(ShippedCatalog, FromSpecsRoundTripsTheShippedCatalog) {
  const Catalog& c = shipped();
  for (const auto& g : c.gpus()) {
    Json j = gpu_spec_to_json(g);
    EXPECT_EQ(gpu_spec_to_json(parse_gpu_spec(j, g.file)).dump(), j.dump()) << g.name;
  }
  for (const auto& n : c.nodes()) {
    Json j = node_spec_to_json(n);
    EXPECT_EQ(node_spec_to_json(parse_node_spec(j, n.file)).dump(), j.dump()) << n.name;
  }
  Catalog copy = Catalog::from_specs(c.gpus(), c.nodes());
  EXPECT_EQ(copy.gpu_names(), c.gpu_names());
  ASSERT_NE(copy.find_gpu("h800"), nullptr);
  EXPECT_EQ(Catalog::from_specs(c.gpus(), c.nodes()).fingerprint(), copy.fingerprint());

  std::vector<GpuSpec> gpus = c.gpus();
  for (auto& g : gpus)
    if (g.name == "H800-SXM") g.scale_up.gbs_uni_per_gpu.value = 150.0;  // the early press figure
  Catalog changed = Catalog::from_specs(gpus, c.nodes());
  EXPECT_NE(changed.fingerprint(), copy.fingerprint());
  EXPECT_DOUBLE_EQ(changed.find_gpu("H800-SXM")->scale_up.gbs_uni_per_gpu.get(), 150.0);
}
