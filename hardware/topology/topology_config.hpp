#pragma once
/// What a cluster network looks like, before it is built into a graph (topology.hpp).
///
/// A cluster is `gpus` GPUs numbered node-major (GPU g sits in node g / gpus_per_node, local
/// rank g % gpus_per_node), grouped into scale-up domains of `domain_size` consecutive GPUs
/// (a domain may span several nodes: GB200 NVL72, CloudMatrix384), and attached to a scale-out
/// network through NICs (one per GPU on today's training nodes). The scale-out network is one of
///  - "fat-tree": leaves hold consecutive NICs (a node's NICs share a leaf), 2 or 3 tiers;
///  - "rail-optimized": NIC r of every node goes to a rail-r leaf (NVIDIA SuperPOD "rails"; the
///    multi-rail fat-tree MRFT of DeepSeek, arXiv 2505.09343), leaves of all rails share spines;
///  - "multi-plane": rail p is plane p, its own fat-tree with no link to the other planes
///    (DeepSeek's multi-plane fat-tree MPFT, arXiv 2505.09343 §5).
/// Every switch port runs at the NIC line rate; oversubscription is applied at the leaf uplinks
/// (a leaf has `down` NIC ports and `up` spine ports with down/up ≈ oversubscription).

#include <optional>
#include <string>

#include "hardware/spec/gpu_spec.hpp"
#include "sim/common/json_reader.hpp"

namespace clustercost {

/// Kinds of directed links. The scale-up kinds name the fabric so efficiency profiles and reports
/// can tell NVLink from HCCS; `Pcie` is the GPU↔NIC hop; the last three are scale-out cables.
enum class LinkKind : unsigned char {
  NvLink,          ///< NVLink through NVSwitch (or NVLink 5 switch trays)
  Hccs,            ///< Huawei HCCS full mesh (Atlas 800T A2)
  InfinityFabric,  ///< AMD Infinity Fabric full mesh (MI300X)
  UnifiedBus,      ///< Huawei UB (CloudMatrix384)
  PcieFabric,      ///< GPUs talking over PCIe switches only (L40S-class servers)
  OtherScaleUp,    ///< any other vendor link (MLU-Link, MTLink, ...)
  Pcie,            ///< GPU ↔ its NIC
  NicLeaf,         ///< NIC ↔ leaf switch cable
  LeafSpine,       ///< leaf ↔ spine (aggregation)
  SpineCore,       ///< spine ↔ core (3-tier only)
};

/// True for the scale-up kinds (NvLink … OtherScaleUp).
bool is_scale_up(LinkKind kind);
/// "nvlink", "hccs", "infinity-fabric", "ub", "pcie-fabric", "scale-up", "pcie", "nic-leaf",
/// "leaf-spine", "spine-core".
const char* to_string(LinkKind kind);
/// Scale-up link kind from a catalogue fabric name ("NVLink 4 / NVSwitch gen3" → NvLink).
LinkKind scale_up_kind_from_name(const std::string& fabric_name);

enum class ScaleUpTopology : unsigned char {
  Switch,    ///< every GPU has one link of its full per-GPU rate to a domain switch
  FullMesh,  ///< a direct link per GPU pair at the per-pair rate
};

enum class ScaleOutKind : unsigned char { FatTree, RailOptimized, MultiPlane };

/// "fat-tree", "rail-optimized", "multi-plane" (the scenario's `cluster.network.topology`).
const char* to_string(ScaleOutKind kind);
/// Inverse of to_string; nullopt for an unknown name.
std::optional<ScaleOutKind> scale_out_kind_from_string(const std::string& name);

struct ScaleUpConfig {
  ScaleUpTopology topology = ScaleUpTopology::Switch;
  LinkKind link_kind = LinkKind::NvLink;
  /// Per-GPU rate per direction, GB/s (1e9 B/s); H100 NVLink 4: 450 (hardware.md §2).
  double gbs_uni_per_gpu = 450.0;
  /// Full mesh only: one pair link per direction, GB/s; 910B HCCS: 56 (hardware.md §2, E).
  double per_pair_gbs_uni = 0.0;
  /// GPUs in one scale-up domain; a multiple of gpus_per_node.
  int domain_size = 8;
  /// Small-message latency across the fabric; NVLink 64 B: 3.33 µs (arXiv 2505.09343 Table 5).
  double latency_us = 3.33;
  /// The domain's switches reduce and multicast (NVLink SHARP): NCCL's NVLS algorithm is
  /// available to collectives inside one domain (sim/network/collective_runs.hpp).
  bool in_switch_reduction = false;
  /// NCCL's channels (= SMs its kernel holds, one CTA each) for a collective, and for a
  /// send/recv between two GPUs, inside one domain: the catalogue's scale_up.nccl_coll_channels
  /// and nccl_p2p_channels (docs/reference/communication-sms.md §2). 0 where the catalogue has
  /// no figure (GPUs whose collectives are not NCCL's): their kernels then hold no SMs. The
  /// defaults are the 8 x H800 log's "16 coll channels, 0 nvls channels, ..., 16 p2p channels
  /// per peer" (NVIDIA/nccl#892), for configurations built without a catalogue entry.
  int nccl_coll_channels = 16;
  int nccl_p2p_channels = 16;
  /// NCCL's channels for an NVLS collective inside the domain (catalogue
  /// scale_up.nccl_nvls_channels: 16 on H100, NVLS_NCHANNELS_SM90 in NCCL's
  /// src/transport/nvls.cc). 0 where the catalogue has no figure: an NVLS kernel then holds the
  /// coll channels (nccl_collective_sms). The default is the H800 log's "0 nvls channels".
  int nccl_nvls_channels = 0;
  bool operator==(const ScaleUpConfig&) const = default;
};

struct ScaleOutConfig {
  ScaleOutKind kind = ScaleOutKind::FatTree;
  /// 2 (leaf-spine) or 3 (leaf-spine-core, pods of leaf_radix/2 leaves).
  int tiers = 2;
  /// Ports per switch; 64 × 400G as in NVIDIA QM9700 and DeepSeek's MPFT (arXiv 2505.09343 §5).
  int leaf_radix = 64;
  /// Leaf downlinks : uplinks, ≥ 1 (1 = non-blocking).
  double oversubscription = 1.0;
  /// NICs per node; gpus_per_node must be a multiple (GPUs share NICs evenly).
  int nics_per_node = 8;
  /// NIC line rate in Gb/s (bits); CX-7 NDR: 400 (hardware.md §2 "Scale-out NICs").
  double nic_gbps = 400.0;
  /// GPU ↔ NIC per direction, GB/s: PCIe Gen5 x16 ≈ 64 (hardware.md §2).
  double pcie_gbs_uni = 64.0;
  /// End-to-end small-message latency between two NICs on the same leaf; IB 64 B: 2.8 µs
  /// (arXiv 2505.09343 Table 5). It is split over the two NIC↔leaf hops.
  double nic_latency_us = 2.8;
  /// Latency added by each leaf↔spine or spine↔core hop: (3.7 − 2.8) / 2 µs = 450 ns from the
  /// same-leaf vs cross-leaf IB figures of arXiv 2505.09343 Table 5.
  double switch_hop_latency_ns = 450.0;
  /// Rail-optimized only: cross-rail traffic first hops over the scale-up fabric to the GPU of
  /// the destination's rail in the source node, then stays on that rail (NCCL PXN). When false
  /// it leaves through its own NIC and crosses the spine. Multi-plane always uses the scale-up
  /// hop: planes are not connected.
  bool cross_rail_via_scale_up = true;
  bool operator==(const ScaleOutConfig&) const = default;
};

struct TopologyConfig {
  int gpus = 8;
  int gpus_per_node = 8;
  ScaleUpConfig scale_up;
  ScaleOutConfig scale_out;
  /// Where this configuration came from (a scenario file), named in validation errors.
  std::string source;
  /// The same network (everything but `source`).
  bool same_network(const TopologyConfig& o) const {
    return gpus == o.gpus && gpus_per_node == o.gpus_per_node && scale_up == o.scale_up &&
           scale_out == o.scale_out;
  }
};

/// The switch counts a configuration implies, per fabric (a fabric is one connected scale-out
/// network: the whole network, or one plane of a multi-plane network).
struct FabricShape {
  int fabrics = 1;         ///< 1, or nics_per_node planes for multi-plane
  int down = 0;            ///< leaf ports towards NICs
  int up = 0;              ///< leaf ports towards spines (one per spine of its pod)
  int leaves = 0;          ///< leaves per fabric
  int leaves_per_pod = 0;  ///< 3-tier: leaf_radix / 2; 2-tier: all leaves
  int pods = 1;            ///< 3-tier pods; 1 for 2-tier
  int spines = 0;          ///< per fabric (`up` per pod; 0 when the fabric has a single leaf)
  int cores_per_group =
      0;          ///< 3-tier: each pod's spine j links to the leaf_radix/2 cores of group j
  int cores = 0;  ///< per fabric (0 unless 3-tier with more than one pod)
  /// The realised down/up ratio of the leaves (the configured ratio after rounding to ports).
  double oversubscription() const { return up > 0 ? static_cast<double>(down) / up : 1.0; }
};

/// Sizes of the scale-out fabrics (no validation of capacity; validate() does that).
FabricShape fabric_shape(const TopologyConfig& config);

/// Throws InputError (file = config.source, path under "cluster" / "cluster.network") when the
/// configuration cannot be built: non-positive sizes, a domain that is not a multiple of the
/// node, a 2-tier fat-tree too large for the switch radix, and so on.
void validate(const TopologyConfig& config);

/// Optional scenario settings that override the catalogue defaults (`cluster.network`).
struct NetworkOverrides {
  std::optional<ScaleOutKind> topology;
  std::optional<int> tiers;
  std::optional<double> oversubscription;
  std::optional<double> scale_out_gbps_per_gpu;
  std::optional<int> leaf_radix;
  std::optional<bool> cross_rail_via_scale_up;
  /// Scale-up GB/s per GPU per direction (what-if "halve NVLink"); a full mesh scales its
  /// per-pair links in proportion.
  std::optional<double> scale_up_gbs_uni;
  /// In-switch reduction (NVLink SHARP) on or off (what-if "no NVLS"); default: the catalogue's.
  std::optional<bool> in_switch_reduction;
  /// The file the overrides came from (the scenario), named in validation errors.
  std::string source;
};

/// Reads `cluster.network`: keys "topology" ("fat-tree" | "rail-optimized" | "multi-plane"),
/// "tiers" (2 | 3), "oversubscription" (≥ 1), "scale_out_gbps_per_gpu" (> 0), "scale_up_gbs_uni"
/// (> 0), "leaf_radix" (even, ≥ 4), "cross_rail" ("scale-up" | "spine"), "in_switch_reduction" (bool). Calls r.finish():
/// unknown keys are errors. The scenario loader reads `cluster.network` with it.
NetworkOverrides read_network_overrides(ObjectReader& r);

/// Defaults for a cluster of `gpus` GPUs of type `gpu`, in nodes of type `node` (may be null:
/// then one NIC per GPU and `gpus_per_node` or 8 GPUs per node). `gpus_per_node` = 0 takes the
/// node's. Catalogue figures missing or non-positive (scale-up rate, NIC rate) are InputErrors
/// naming the GPU's catalogue file; validation errors name `net.source`. When the network does not
/// fix `tiers`, a 2-tier fabric that the radix cannot hold becomes 3-tier. The result is validated.
TopologyConfig topology_config_from(const GpuSpec& gpu, const NodeSpec* node, int gpus,
                                    int gpus_per_node = 0, const NetworkOverrides& net = {});

}  // namespace clustercost
