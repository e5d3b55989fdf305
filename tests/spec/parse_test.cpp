// Strict parsing: bad catalogue entries are InputErrors naming the file and the JSON path, and
// cross-file mistakes are caught when the catalogue loads.

#include <gtest/gtest.h>

#include <functional>

#include "hardware/spec/catalog.hpp"
#include "spec_test_util.hpp"

using namespace clustercost;
using clustercost::test::catalog_dir;
using clustercost::test::read_json;
using clustercost::test::ScratchCatalog;

namespace {

Json h800_json() { return read_json(catalog_dir() / "H800-SXM.json"); }
Json mi300x_json() { return read_json(catalog_dir() / "MI300X.json"); }
Json node_json() { return read_json(catalog_dir() / "nodes" / "HGX-H800.json"); }

// Runs `f`, expecting an InputError at `path` whose message contains `needle`.
void expect_error(const std::function<void()>& f, const std::string& file, const std::string& path,
                  const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one at " << path;
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), file) << e.what();
    EXPECT_EQ(e.json_path(), path) << e.what();
    EXPECT_NE(e.message().find(needle), std::string::npos) << e.what();
  }
}

void expect_gpu_error(const Json& j, const std::string& path, const std::string& needle) {
  expect_error([&] { parse_gpu_spec(j, "bad.json"); }, "bad.json", path, needle);
}

void expect_node_error(const Json& j, const std::string& path, const std::string& needle) {
  expect_error([&] { parse_node_spec(j, "node.json"); }, "node.json", path, needle);
}

}  // namespace

TEST(Flags, ValidAndInvalid) {
  for (const char* ok : {"V", "P", "S", "E", "D", "U", "S/E", "P/S/U", "V/D"})
    EXPECT_TRUE(is_valid_flag(ok)) << ok;
  for (const char* bad : {"", "X", "s", "S/", "/S", "SE", "S/S", "S//E", "S E", "S/E/"})
    EXPECT_FALSE(is_valid_flag(bad)) << bad;
}

TEST(Names, NormalizedForLookup) {
  EXPECT_EQ(normalize_hardware_name("H800_SXM"), "h800-sxm");
  EXPECT_EQ(normalize_hardware_name("Ascend 910B"), "ascend-910b");
  EXPECT_EQ(normalize_hardware_name("MI300X"), "mi300x");
}

TEST(Fnv1a, KnownVectorsAndChaining) {
  // Published FNV-1a 64 test vectors (Fowler/Noll/Vo reference code).
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
  EXPECT_EQ(fnv1a64("bar", fnv1a64("foo")), fnv1a64("foobar"));
}

TEST(ParseGpu, ShippedFileParses) {
  GpuSpec g = parse_gpu_spec(h800_json(), "H800-SXM.json");
  EXPECT_EQ(g.name, "H800-SXM");
  EXPECT_EQ(g.vendor, "NVIDIA");
  EXPECT_EQ(g.scale_up.topology, "switch");
  EXPECT_EQ(g.default_node, "HGX-H800");
  EXPECT_FALSE(g.note.empty());
}

TEST(ParseGpu, UnknownKeysAreErrors) {
  Json j = h800_json();
  j["bf16_tflop"] = j["bf16_tflops"];
  expect_gpu_error(j, "bf16_tflop", "did you mean \"bf16_tflops\"");

  j = h800_json();
  j["bf16_tflops"]["vaule"] = 1;
  expect_gpu_error(j, "bf16_tflops.vaule", "unknown key");

  j = h800_json();
  j["scale_up"]["domain"] = 8;
  expect_gpu_error(j, "scale_up.domain", "unknown key");

  j = h800_json();
  j["price"]["currency"] = "USD";
  expect_gpu_error(j, "price.currency", "unknown key");
}

TEST(ParseGpu, NegativeOrZeroFiguresAreErrors) {
  Json j = h800_json();
  j["scale_up"]["gbs_uni_per_gpu"]["value"] = -200;
  expect_gpu_error(j, "scale_up.gbs_uni_per_gpu.value", "positive");

  j = h800_json();
  j["hbm_tbps"]["value"] = 0;
  expect_gpu_error(j, "hbm_tbps.value", "positive");

  j = h800_json();
  j["price"]["purchase_usd"]["value"] = -1;
  expect_gpu_error(j, "price.purchase_usd.value", "positive");

  j = h800_json();
  j["nic_gbps"]["value"] = "400";
  expect_gpu_error(j, "nic_gbps.value", "expected a number");
}

TEST(ParseGpu, RequiredFiguresCannotBeNull) {
  Json j = h800_json();
  j["bf16_tflops"]["value"] = nullptr;
  expect_gpu_error(j, "bf16_tflops.value", "required");
  // ...but unsupported ones can, with a source.
  j = h800_json();
  j["fp8_tflops"]["value"] = nullptr;
  EXPECT_FALSE(parse_gpu_spec(j, "ok.json").peak_tflops("fp8").has_value());
  // A figure must state its value explicitly, even when null.
  j = h800_json();
  j["fp8_tflops"].erase("value");
  expect_gpu_error(j, "fp8_tflops.value", "missing");
}

TEST(ParseGpu, BadFlagsAndMissingSourcesAreErrors) {
  for (const char* flag : {"X", "S/", "SE", "s"}) {
    Json j = h800_json();
    j["hbm_tbps"]["flag"] = flag;
    expect_gpu_error(j, "hbm_tbps.flag", "is not a flag");
  }
  Json j = h800_json();
  j["tdp_w"]["source"] = "  ";
  expect_gpu_error(j, "tdp_w.source", "where the figure comes from");

  j = h800_json();
  j["scale_up"]["latency_us"].erase("flag");
  expect_gpu_error(j, "scale_up.latency_us.flag", "missing");
}

TEST(ParseGpu, MissingOrBadNameIsAnError) {
  Json j = h800_json();
  j.erase("name");
  expect_gpu_error(j, "name", "missing");

  j = h800_json();
  j["name"] = "";
  expect_gpu_error(j, "name", "must not be empty");

  j = h800_json();
  j["name"] = "H800/SXM";
  expect_gpu_error(j, "name", "only letters");

  j = h800_json();
  j["aliases"][1] = 7;
  expect_gpu_error(j, "aliases[1]", "expected a string");

  j = h800_json();
  j["aliases"].push_back("H800");
  expect_gpu_error(j, "aliases[3]", "listed twice");
}

TEST(ParseGpu, NotAnObjectIsAnError) {
  expect_gpu_error(Json::array(), "", "expected an object");
  Json j = h800_json();
  j["scale_up"] = 200;
  expect_gpu_error(j, "scale_up", "expected an object");
}

TEST(ParseGpu, ScaleUpTopologyRules) {
  Json j = h800_json();
  j["scale_up"]["topology"] = "torus";
  expect_gpu_error(j, "scale_up.topology", "expected one of");

  // Per-pair limits belong to full meshes only.
  j = h800_json();
  j["scale_up"]["per_pair_gbs_uni"] = j["scale_up"]["gbs_uni_per_gpu"];
  expect_gpu_error(j, "scale_up.per_pair_gbs_uni", "full-mesh");

  j = mi300x_json();
  EXPECT_DOUBLE_EQ(parse_gpu_spec(j, "MI300X.json").scale_up.per_pair_gbs_uni.get(), 64.0);
  j["scale_up"].erase("per_pair_gbs_uni");
  expect_gpu_error(j, "scale_up.per_pair_gbs_uni", "missing");

  j = mi300x_json();
  j["scale_up"]["per_pair_gbs_uni"]["value"] = 500;
  expect_gpu_error(j, "scale_up.per_pair_gbs_uni.value", "exceeds gbs_uni_per_gpu");

  j = mi300x_json();
  j["scale_up"]["per_pair_gbs_uni"]["value"] = 30;  // 7 x 30 = 210 < 448
  expect_gpu_error(j, "scale_up.gbs_uni_per_gpu.value", "peer links");

  j = h800_json();
  j["scale_up"]["domain_size"] = 0;
  expect_gpu_error(j, "scale_up.domain_size", "positive");
}

TEST(ParseGpu, InSwitchReductionIsASourcedYesOrNo) {
  // H800 ships an explicit "no" (NCCL logs 0 NVLS channels); a "yes" parses; optional.
  Json j = h800_json();
  EXPECT_FALSE(parse_gpu_spec(j, "H800-SXM.json").scale_up.in_switch_reduction.value);
  EXPECT_FALSE(parse_gpu_spec(j, "H800-SXM.json").scale_up.in_switch_reduction.source.empty());
  j["scale_up"]["in_switch_reduction"]["value"] = true;
  EXPECT_TRUE(parse_gpu_spec(j, "H800-SXM.json").scale_up.in_switch_reduction.value);
  j["scale_up"].erase("in_switch_reduction");
  EXPECT_FALSE(parse_gpu_spec(j, "H800-SXM.json").scale_up.in_switch_reduction.value);

  j = h800_json();
  j["scale_up"]["in_switch_reduction"]["value"] = "yes";
  expect_gpu_error(j, "scale_up.in_switch_reduction.value", "");
  j = h800_json();
  j["scale_up"]["in_switch_reduction"]["source"] = " ";
  expect_gpu_error(j, "scale_up.in_switch_reduction.source", "where");
  j = h800_json();
  j["scale_up"]["in_switch_reduction"]["flag"] = "Q";
  expect_gpu_error(j, "scale_up.in_switch_reduction.flag", "not a flag");
  // A full mesh has no switch.
  j = mi300x_json();
  j["scale_up"]["in_switch_reduction"] = {{"value", true}, {"source", "test"}, {"flag", "E"}};
  expect_gpu_error(j, "scale_up.in_switch_reduction", "full mesh");
}

TEST(ParseGpu, NcclChannelCountsAreSourcedWholeNumbers) {
  // H800 ships its logged 16/16 (NVIDIA/nccl#892); a count is a whole number of CTAs up to
  // NCCL's MAXCHANNELS (64); null (not NCCL) parses; absent reads as "not given".
  Json j = h800_json();
  const GpuSpec g = parse_gpu_spec(j, "H800-SXM.json");
  EXPECT_DOUBLE_EQ(g.scale_up.nccl_coll_channels.get(), 16.0);
  EXPECT_DOUBLE_EQ(g.scale_up.nccl_p2p_channels.get(), 16.0);
  j["scale_up"]["nccl_coll_channels"]["value"] = nullptr;
  EXPECT_FALSE(parse_gpu_spec(j, "H800-SXM.json").scale_up.nccl_coll_channels.value.has_value());
  j["scale_up"].erase("nccl_coll_channels");
  const GpuSpec absent = parse_gpu_spec(j, "H800-SXM.json");
  EXPECT_FALSE(absent.scale_up.nccl_coll_channels.value.has_value());
  EXPECT_NE(absent.scale_up.nccl_coll_channels.source.find("not given"), std::string::npos);

  j = h800_json();
  j["scale_up"]["nccl_coll_channels"]["value"] = 16.5;
  expect_gpu_error(j, "scale_up.nccl_coll_channels.value", "whole number");
  j = h800_json();
  j["scale_up"]["nccl_p2p_channels"]["value"] = 128;
  expect_gpu_error(j, "scale_up.nccl_p2p_channels.value", "whole number");
  j = h800_json();
  j["scale_up"]["nccl_p2p_channels"]["value"] = 0;
  expect_gpu_error(j, "scale_up.nccl_p2p_channels.value", "positive");
  j = h800_json();
  j["scale_up"]["nccl_p2p_channels"]["source"] = "";
  expect_gpu_error(j, "scale_up.nccl_p2p_channels.source", "where");
}

TEST(ParseGpu, NcclNvlsChannelsAreSourcedWholeNumbersOrNull) {
  // H800 ships null (its log reads "0 nvls channels", NVIDIA/nccl#892) with a source; a figure
  // parses as the other channel counts do: a whole number from 1 to 64, null, or absent ("not
  // given"), and it is written back.
  Json j = h800_json();
  const GpuSpec g = parse_gpu_spec(j, "H800-SXM.json");
  EXPECT_FALSE(g.scale_up.nccl_nvls_channels.value.has_value());
  EXPECT_NE(g.scale_up.nccl_nvls_channels.source.find("0 nvls channels"), std::string::npos);
  j["scale_up"]["nccl_nvls_channels"]["value"] = 16;
  const GpuSpec sixteen = parse_gpu_spec(j, "H800-SXM.json");
  EXPECT_DOUBLE_EQ(sixteen.scale_up.nccl_nvls_channels.get(), 16.0);
  EXPECT_EQ(gpu_spec_to_json(sixteen)["scale_up"]["nccl_nvls_channels"]["value"], 16);
  j["scale_up"].erase("nccl_nvls_channels");
  const GpuSpec absent = parse_gpu_spec(j, "H800-SXM.json");
  EXPECT_FALSE(absent.scale_up.nccl_nvls_channels.value.has_value());
  EXPECT_NE(absent.scale_up.nccl_nvls_channels.source.find("not given"), std::string::npos);

  j = h800_json();
  j["scale_up"]["nccl_nvls_channels"]["value"] = 16.5;
  expect_gpu_error(j, "scale_up.nccl_nvls_channels.value", "whole number");
  j = h800_json();
  j["scale_up"]["nccl_nvls_channels"]["value"] = 65;
  expect_gpu_error(j, "scale_up.nccl_nvls_channels.value", "whole number");
  j = h800_json();
  j["scale_up"]["nccl_nvls_channels"]["value"] = 0;
  expect_gpu_error(j, "scale_up.nccl_nvls_channels.value", "positive");
  j = h800_json();
  j["scale_up"]["nccl_nvls_channels"]["source"] = "";
  expect_gpu_error(j, "scale_up.nccl_nvls_channels.source", "where");
}

TEST(ParseGpu, UsableMemoryCannotExceedMarketed) {
  Json j = h800_json();
  j["hbm_usable_gib"]["value"] = 81;
  expect_gpu_error(j, "hbm_usable_gib.value", "exceeds hbm_gb");
}

TEST(ParseGpu, OptionalAdditionsMayBeAbsent) {
  Json j = h800_json();
  j.erase("fp32_tflops");
  j.erase("pcie_gbs_uni");
  j.erase("note");
  GpuSpec g = parse_gpu_spec(j, "old-format.json");
  EXPECT_FALSE(g.fp32_tflops.value.has_value());
  EXPECT_TRUE(is_valid_flag(g.fp32_tflops.flag));
  EXPECT_FALSE(g.fp32_tflops.source.empty());
  EXPECT_TRUE(g.note.empty());
}

TEST(ParseNode, ShippedFileParsesAndBadValuesAreErrors) {
  NodeSpec n = parse_node_spec(node_json(), "node.json");
  EXPECT_EQ(n.gpu, "H800-SXM");
  EXPECT_EQ(n.gpus_per_node, 8);

  Json j = node_json();
  j["default_topology"] = "dragonfly";
  expect_node_error(j, "default_topology", "expected one of");

  j = node_json();
  j["default_tiers"] = 0;
  expect_node_error(j, "default_tiers", "switch tiers");

  j = node_json();
  j["gpus_per_node"] = -8;
  expect_node_error(j, "gpus_per_node", "positive");

  j = node_json();
  j["node_power_w"]["value"] = -10200;
  expect_node_error(j, "node_power_w.value", "positive");

  j = node_json();
  j["server_share_usd"]["flag"] = "Q";
  expect_node_error(j, "server_share_usd.flag", "is not a flag");

  j = node_json();
  j["gpu_count"] = 8;
  expect_node_error(j, "gpu_count", "unknown key");

  j = node_json();
  j.erase("name");
  expect_node_error(j, "name", "missing");
}

TEST(LoadCatalog, MissingDirectoryIsAnInputError) {
  EXPECT_THROW(Catalog::load(catalog_dir() / "no-such-dir"), InputError);
}

TEST(LoadCatalog, FileNameMustMatchTheKey) {
  ScratchCatalog s;
  Json j = s.gpu("H20");
  j["name"] = "H20-96G";
  s.put_gpu("H20", j);
  expect_error([&] { Catalog::load(s.dir()); }, s.gpu_file("H20").string(), "name",
               "does not match the file name");
}

TEST(LoadCatalog, DuplicateAliasesAcrossFilesAreErrors) {
  ScratchCatalog s;
  Json j = s.gpu("H100-SXM");
  j["aliases"].push_back("h800");
  s.put_gpu("H100-SXM", j);
  try {
    Catalog::load(s.dir());
    FAIL() << "duplicate alias accepted";
  } catch (const InputError& e) {
    EXPECT_NE(e.json_path().find("aliases["), std::string::npos) << e.what();
    EXPECT_NE(e.message().find("already"), std::string::npos) << e.what();
  }
}

TEST(LoadCatalog, NodeWithUnknownGpuIsAnError) {
  ScratchCatalog s;
  Json j = s.node("HGX-H800");
  j["gpu"] = "H801";
  s.put_node("HGX-H800", j);
  expect_error([&] { Catalog::load(s.dir()); }, s.node_file("HGX-H800").string(), "gpu",
               "did you mean \"H800-SXM\"");
}

TEST(LoadCatalog, NodeGpuMayBeAnAliasAndIsStoredAsTheKey) {
  ScratchCatalog s;
  Json j = s.node("HGX-H800");
  j["gpu"] = "h800";
  s.put_node("HGX-H800", j);
  Catalog c = Catalog::load(s.dir());
  EXPECT_EQ(c.find_node("HGX-H800")->gpu, "H800-SXM");
}

TEST(LoadCatalog, DefaultNodeMustExistAndHoldTheGpu) {
  ScratchCatalog s;
  Json j = s.gpu("H20");
  j["default_node"] = "HGX-H21";
  s.put_gpu("H20", j);
  expect_error([&] { Catalog::load(s.dir()); }, s.gpu_file("H20").string(), "default_node",
               "unknown node type");

  j["default_node"] = "HGX-H800";
  s.put_gpu("H20", j);
  expect_error([&] { Catalog::load(s.dir()); }, s.gpu_file("H20").string(), "default_node",
               "holds H800-SXM");
}

TEST(LoadCatalog, NodeSizeMustDivideTheScaleUpDomain) {
  ScratchCatalog s;
  Json j = s.node("HGX-H800");
  j["gpus_per_node"] = 6;
  s.put_node("HGX-H800", j);
  expect_error([&] { Catalog::load(s.dir()); }, s.node_file("HGX-H800").string(), "gpus_per_node",
               "do not divide");
}

TEST(LoadCatalog, MalformedJsonNamesTheFile) {
  ScratchCatalog s;
  clustercost::test::write_text(s.gpu_file("B200"), "{\"name\": \"B200\",");
  expect_error([&] { Catalog::load(s.dir()); }, s.gpu_file("B200").string(), "", "malformed JSON");
}

TEST(LoadCatalog, NonJsonFilesAreIgnored) {
  ScratchCatalog s;
  clustercost::test::write_text(s.dir() / "README.md", "notes");
  EXPECT_EQ(Catalog::load(s.dir()).gpus().size(), Catalog::load(catalog_dir()).gpus().size());
}

TEST(FromSpecs, ValidatesLikeFiles) {
  Catalog c = Catalog::load(catalog_dir());
  std::vector<GpuSpec> gpus = c.gpus();
  gpus[0].bf16_tflops.flag = "maybe";
  EXPECT_THROW(Catalog::from_specs(gpus, c.nodes()), InputError);
  gpus = c.gpus();
  EXPECT_THROW(Catalog::from_specs(gpus, {}), InputError);  // default nodes missing
  EXPECT_THROW(Catalog::from_specs({}, {}), InputError);
}
