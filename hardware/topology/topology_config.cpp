#include "hardware/topology/topology_config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>

namespace clustercost {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool finite_positive(double x) { return std::isfinite(x) && x > 0.0; }
bool finite_non_negative(double x) { return std::isfinite(x) && x >= 0.0; }

int ceil_div(long long a, long long b) { return static_cast<int>((a + b - 1) / b); }

// Largest cluster we accept: ids stay far inside 32 bits and memory stays bounded
// (1M GPUs is several times the largest announced training cluster).
constexpr int kMaxGpus = 1 << 20;
constexpr int kMaxFullMeshDomain = 512;  // n(n−1) links per domain: keep it bounded
constexpr int kMaxRadix = 4096;

}  // namespace

bool is_scale_up(LinkKind kind) {
  switch (kind) {
    case LinkKind::NvLink:
    case LinkKind::Hccs:
    case LinkKind::InfinityFabric:
    case LinkKind::UnifiedBus:
    case LinkKind::PcieFabric:
    case LinkKind::OtherScaleUp: return true;
    default: return false;
  }
}

const char* to_string(LinkKind kind) {
  switch (kind) {
    case LinkKind::NvLink: return "nvlink";
    case LinkKind::Hccs: return "hccs";
    case LinkKind::InfinityFabric: return "infinity-fabric";
    case LinkKind::UnifiedBus: return "ub";
    case LinkKind::PcieFabric: return "pcie-fabric";
    case LinkKind::OtherScaleUp: return "scale-up";
    case LinkKind::Pcie: return "pcie";
    case LinkKind::NicLeaf: return "nic-leaf";
    case LinkKind::LeafSpine: return "leaf-spine";
    case LinkKind::SpineCore: return "spine-core";
  }
  return "unknown";
}

LinkKind scale_up_kind_from_name(const std::string& fabric_name) {
  const std::string n = lower(fabric_name);
  if (n.find("nvlink") != std::string::npos || n.find("nvswitch") != std::string::npos)
    return LinkKind::NvLink;
  if (n.find("hccs") != std::string::npos) return LinkKind::Hccs;
  if (n.find("infinity") != std::string::npos || n.find("xgmi") != std::string::npos)
    return LinkKind::InfinityFabric;
  if (n.find("unified bus") != std::string::npos || n == "ub" || n.rfind("ub ", 0) == 0)
    return LinkKind::UnifiedBus;
  if (n.find("pcie") != std::string::npos) return LinkKind::PcieFabric;
  return LinkKind::OtherScaleUp;
}

const char* to_string(ScaleOutKind kind) {
  switch (kind) {
    case ScaleOutKind::FatTree: return "fat-tree";
    case ScaleOutKind::RailOptimized: return "rail-optimized";
    case ScaleOutKind::MultiPlane: return "multi-plane";
  }
  return "unknown";
}

std::optional<ScaleOutKind> scale_out_kind_from_string(const std::string& name) {
  if (name == "fat-tree") return ScaleOutKind::FatTree;
  if (name == "rail-optimized") return ScaleOutKind::RailOptimized;
  if (name == "multi-plane") return ScaleOutKind::MultiPlane;
  return std::nullopt;
}

FabricShape fabric_shape(const TopologyConfig& c) {
  FabricShape s;
  const ScaleOutConfig& o = c.scale_out;
  const int radix = std::max(o.leaf_radix, 2);
  const double ratio = std::max(o.oversubscription, 1.0);
  // down/up ≈ ratio with down + up ≤ radix: 64 ports at 1:1 → 32/32, at 3:1 → 48/16.
  s.down = std::max(1, static_cast<int>(std::floor(radix * ratio / (1.0 + ratio) + 1e-9)));
  s.up = std::max(1, static_cast<int>(std::floor(s.down / ratio + 1e-9)));
  s.up = std::min(s.up, std::max(1, radix - s.down));

  const int gpn = std::max(c.gpus_per_node, 1);
  const int nodes = ceil_div(std::max(c.gpus, 1), gpn);
  const int nics = std::max(o.nics_per_node, 1);
  switch (o.kind) {
    case ScaleOutKind::FatTree:
      s.fabrics = 1;
      s.leaves = ceil_div(static_cast<long long>(nodes) * nics, s.down);
      break;
    case ScaleOutKind::RailOptimized:
      s.fabrics = 1;
      s.leaves = ceil_div(nodes, s.down) * nics;
      break;
    case ScaleOutKind::MultiPlane:
      s.fabrics = nics;
      s.leaves = ceil_div(nodes, s.down);
      break;
  }
  if (o.tiers >= 3) {
    // Folded Clos with pods: a spine has radix/2 ports down (one per leaf of its pod) and
    // radix/2 up (one per core of its group), so the spine layer is non-blocking and
    // oversubscription stays at the leaves.
    s.leaves_per_pod = radix / 2;
    s.pods = ceil_div(s.leaves, s.leaves_per_pod);
    s.spines = s.leaves > 1 ? s.pods * s.up : 0;
    s.cores_per_group = radix / 2;
    s.cores = s.pods > 1 ? s.up * s.cores_per_group : 0;
  } else {
    s.leaves_per_pod = s.leaves;
    s.pods = 1;
    s.spines = s.leaves > 1 ? s.up : 0;
  }
  return s;
}

void validate(const TopologyConfig& c) {
  const std::string& f = c.source;
  auto fail = [&](const std::string& path, const std::string& msg) {
    throw InputError(f, path, msg);
  };
  if (c.gpus < 1 || c.gpus > kMaxGpus)
    fail("cluster.gpus",
         "expected 1 to " + std::to_string(kMaxGpus) + " GPUs, got " + std::to_string(c.gpus));
  if (c.gpus_per_node < 1 || c.gpus_per_node > 1024)
    fail("cluster.gpus_per_node", "expected 1 to 1024, got " + std::to_string(c.gpus_per_node));

  const ScaleUpConfig& u = c.scale_up;
  if (u.domain_size < 1 || u.domain_size % c.gpus_per_node != 0)
    fail("scale_up.domain_size", "the scale-up domain (" + std::to_string(u.domain_size) +
                                     " GPUs) must be a positive multiple of gpus_per_node (" +
                                     std::to_string(c.gpus_per_node) + ")");
  if (!finite_positive(u.gbs_uni_per_gpu))
    fail("scale_up.gbs_uni_per_gpu", "expected a positive scale-up bandwidth (GB/s per direction)");
  if (u.topology == ScaleUpTopology::FullMesh) {
    if (!finite_positive(u.per_pair_gbs_uni))
      fail("scale_up.per_pair_gbs_uni", "a full mesh needs a positive per-pair bandwidth");
    if (u.domain_size > kMaxFullMeshDomain)
      fail("scale_up.domain_size",
           "a full-mesh domain holds at most " + std::to_string(kMaxFullMeshDomain) + " GPUs");
  }
  if (!finite_non_negative(u.latency_us)) fail("scale_up.latency_us", "expected a latency ≥ 0");
  if (!is_scale_up(u.link_kind))
    fail("scale_up", "the scale-up link kind is not a scale-up fabric");

  const ScaleOutConfig& o = c.scale_out;
  if (o.tiers != 2 && o.tiers != 3)
    fail("cluster.network.tiers", "expected 2 or 3 tiers, got " + std::to_string(o.tiers));
  if (o.leaf_radix < 4 || o.leaf_radix > kMaxRadix || o.leaf_radix % 2 != 0)
    fail("cluster.network.leaf_radix", "expected an even switch radix from 4 to " +
                                           std::to_string(kMaxRadix) + ", got " +
                                           std::to_string(o.leaf_radix));
  if (!std::isfinite(o.oversubscription) || o.oversubscription < 1.0 ||
      o.oversubscription > o.leaf_radix - 1)
    fail("cluster.network.oversubscription",
         "expected a ratio ≥ 1 that leaves at least one uplink on a " +
             std::to_string(o.leaf_radix) + "-port leaf");
  if (o.nics_per_node < 1 || c.gpus_per_node % o.nics_per_node != 0)
    fail("nics_per_node", "NICs per node (" + std::to_string(o.nics_per_node) +
                              ") must divide gpus_per_node (" + std::to_string(c.gpus_per_node) +
                              ")");
  if (!finite_positive(o.nic_gbps))
    fail("cluster.network.scale_out_gbps_per_gpu", "expected a positive NIC rate (Gb/s)");
  if (!finite_positive(o.pcie_gbs_uni)) fail("pcie_gbs_uni", "expected a positive PCIe rate");
  if (!finite_non_negative(o.nic_latency_us)) fail("nic_latency_us", "expected a latency ≥ 0");
  if (!finite_non_negative(o.switch_hop_latency_ns))
    fail("switch_hop_latency_ns", "expected a latency ≥ 0");

  const FabricShape s = fabric_shape(c);
  const std::string fabric_word = o.kind == ScaleOutKind::MultiPlane ? "plane" : "fabric";
  if (o.tiers == 2 && s.leaves > o.leaf_radix) {
    fail("cluster.network.tiers",
         "a 2-tier " + std::string(to_string(o.kind)) + " of " + std::to_string(o.leaf_radix) +
             "-port switches holds at most " + std::to_string(o.leaf_radix) + " leaves per " +
             fabric_word + " and this cluster needs " + std::to_string(s.leaves) +
             "; use 3 tiers, a larger radix or fewer GPUs");
  }
  if (o.tiers == 3 && s.pods > o.leaf_radix) {
    fail("cluster.network.tiers", "a 3-tier fat-tree of " + std::to_string(o.leaf_radix) +
                                      "-port switches holds at most " +
                                      std::to_string(o.leaf_radix) + " pods per " + fabric_word +
                                      " and this cluster needs " + std::to_string(s.pods));
  }
}

NetworkOverrides read_network_overrides(ObjectReader& r) {
  NetworkOverrides n;
  n.source = r.file();
  if (auto t = r.optional_string("topology")) {
    n.topology = scale_out_kind_from_string(*t);
    if (!n.topology)
      r.fail("topology",
             "expected \"fat-tree\", \"rail-optimized\" or \"multi-plane\", got \"" + *t + "\"");
  }
  if (r.has("tiers")) {
    const auto t = r.integer("tiers");
    if (t != 2 && t != 3) r.fail("tiers", "expected 2 or 3, got " + std::to_string(t));
    n.tiers = static_cast<int>(t);
  }
  if (r.has("oversubscription"))
    n.oversubscription = r.number_in_or("oversubscription", 1.0, 64.0, 1.0);
  if (r.has("scale_out_gbps_per_gpu"))
    n.scale_out_gbps_per_gpu = r.positive_number("scale_out_gbps_per_gpu");
  if (r.has("scale_up_gbs_uni")) n.scale_up_gbs_uni = r.positive_number("scale_up_gbs_uni");
  if (r.has("leaf_radix")) {
    const auto radix = r.positive_integer("leaf_radix");
    if (radix < 4 || radix > kMaxRadix || radix % 2 != 0)
      r.fail("leaf_radix", "expected an even radix from 4 to " + std::to_string(kMaxRadix));
    n.leaf_radix = static_cast<int>(radix);
  }
  if (r.has("cross_rail"))
    n.cross_rail_via_scale_up = r.one_of("cross_rail", {"scale-up", "spine"}) == "scale-up";
  if (r.has("in_switch_reduction")) n.in_switch_reduction = r.boolean("in_switch_reduction");
  r.finish();
  return n;
}

TopologyConfig topology_config_from(const GpuSpec& gpu, const NodeSpec* node, int gpus,
                                    int gpus_per_node, const NetworkOverrides& net) {
  const std::string& file = gpu.file.empty() ? gpu.name : gpu.file;
  TopologyConfig c;
  c.gpus = gpus;
  c.source = net.source;
  c.gpus_per_node = gpus_per_node > 0 ? gpus_per_node : node ? node->gpus_per_node : 8;

  ScaleUpConfig& u = c.scale_up;
  const std::string topo = lower(gpu.scale_up.topology);
  if (topo.empty() || topo == "switch") {
    u.topology = ScaleUpTopology::Switch;
  } else if (topo == "full-mesh") {
    u.topology = ScaleUpTopology::FullMesh;
  } else {
    throw InputError(file, "scale_up.topology",
                     "expected \"switch\" or \"full-mesh\", got \"" + gpu.scale_up.topology + "\"");
  }
  u.link_kind = scale_up_kind_from_name(gpu.scale_up.name);
  if (!gpu.scale_up.gbs_uni_per_gpu.value || !finite_positive(*gpu.scale_up.gbs_uni_per_gpu.value))
    throw InputError(file, "scale_up.gbs_uni_per_gpu",
                     "the GPU has no positive scale-up bandwidth to build a topology with");
  u.gbs_uni_per_gpu = *gpu.scale_up.gbs_uni_per_gpu.value;
  u.domain_size = gpu.scale_up.domain_size;
  if (u.topology == ScaleUpTopology::FullMesh) {
    // Without a per-pair figure, a full mesh splits the per-GPU rate evenly over its peers.
    u.per_pair_gbs_uni = gpu.scale_up.per_pair_gbs_uni.value.value_or(0.0);
    if (u.per_pair_gbs_uni <= 0.0 && u.domain_size > 1)
      u.per_pair_gbs_uni = u.gbs_uni_per_gpu / (u.domain_size - 1);
  }
  if (net.scale_up_gbs_uni) {
    if (u.topology == ScaleUpTopology::FullMesh && u.gbs_uni_per_gpu > 0)
      u.per_pair_gbs_uni *= *net.scale_up_gbs_uni / u.gbs_uni_per_gpu;
    u.gbs_uni_per_gpu = *net.scale_up_gbs_uni;
  }
  // NVLink 64 B latency 3.33 µs (arXiv 2505.09343 Table 5) when the catalogue has none.
  u.latency_us = gpu.scale_up.latency_us.value.value_or(3.33);
  u.in_switch_reduction = net.in_switch_reduction.value_or(gpu.scale_up.in_switch_reduction.value);
  // NCCL's channel counts come from the catalogue alone (one owner); a GPU without a figure
  // (null: not NCCL; absent: not given) gets 0, and its kernels hold no SMs.
  u.nccl_coll_channels = static_cast<int>(gpu.scale_up.nccl_coll_channels.value.value_or(0.0));
  u.nccl_p2p_channels = static_cast<int>(gpu.scale_up.nccl_p2p_channels.value.value_or(0.0));
  u.nccl_nvls_channels = static_cast<int>(gpu.scale_up.nccl_nvls_channels.value.value_or(0.0));
  if (u.in_switch_reduction && u.topology != ScaleUpTopology::Switch)
    throw InputError(net.source, "cluster.network.in_switch_reduction",
                     "the " + gpu.name + "'s scale-up fabric is a full mesh: there is no switch to reduce in");

  ScaleOutConfig& o = c.scale_out;
  o.nics_per_node = node ? node->nics_per_node : c.gpus_per_node;
  if (net.scale_out_gbps_per_gpu) {
    o.nic_gbps = *net.scale_out_gbps_per_gpu * c.gpus_per_node / std::max(o.nics_per_node, 1);
  } else if (node && node->nic_gbps.value && *node->nic_gbps.value > 0) {
    o.nic_gbps = *node->nic_gbps.value;
  } else if (gpu.nic_gbps.value && *gpu.nic_gbps.value > 0) {
    o.nic_gbps = *gpu.nic_gbps.value * c.gpus_per_node / std::max(o.nics_per_node, 1);
  } else {
    throw InputError(
        file, "nic_gbps",
        "the GPU has no scale-out NIC rate; set cluster.network.scale_out_gbps_per_gpu");
  }
  // The GPU's host link when the catalogue has it; otherwise NDR-class NICs (≥ 400 Gb/s) are
  // taken to sit on PCIe Gen5 x16 (64 GB/s per direction) and HDR/200GE ones on Gen4 x16
  // (32 GB/s): hardware.md §2 (PCIe rows, "Scale-out NICs").
  if (gpu.pcie_gbs_uni.value && finite_positive(*gpu.pcie_gbs_uni.value))
    o.pcie_gbs_uni = *gpu.pcie_gbs_uni.value;
  else
    o.pcie_gbs_uni = o.nic_gbps >= 400.0 ? 64.0 : 32.0;
  // IB 64 B same-leaf latency 2.8 µs (arXiv 2505.09343 Table 5) when the catalogue has none.
  o.nic_latency_us = gpu.nic_latency_us.value.value_or(2.8);

  o.kind = ScaleOutKind::FatTree;
  if (net.topology) {
    o.kind = *net.topology;
  } else if (node && !node->default_topology.empty()) {
    auto k = scale_out_kind_from_string(node->default_topology);
    if (!k)
      throw InputError(node->file.empty() ? node->name : node->file, "default_topology",
                       "expected \"fat-tree\", \"rail-optimized\" or \"multi-plane\", got \"" +
                           node->default_topology + "\"");
    o.kind = *k;
  }
  if (net.oversubscription) o.oversubscription = *net.oversubscription;
  if (net.leaf_radix) o.leaf_radix = *net.leaf_radix;
  if (net.cross_rail_via_scale_up) o.cross_rail_via_scale_up = *net.cross_rail_via_scale_up;
  if (net.tiers) {
    o.tiers = *net.tiers;
  } else {
    o.tiers = node ? std::clamp(node->default_tiers, 2, 3) : 2;
    // A default that the radix cannot hold grows a tier (the user did not ask for 2 tiers).
    if (o.tiers == 2 && c.gpus_per_node > 0 && c.gpus > 0 && o.leaf_radix >= 4 &&
        o.nics_per_node > 0 && fabric_shape(c).leaves > o.leaf_radix)
      o.tiers = 3;
  }
  validate(c);
  return c;
}

}  // namespace clustercost
