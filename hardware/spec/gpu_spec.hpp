#pragma once
/// Accelerator and node descriptions from the catalogue (hardware/catalog/*.json and
/// hardware/catalog/nodes/*.json). Every figure keeps its source and its confidence flag, as
/// in docs/reference/hardware.md: V vendor, P paper, S secondary, E estimate,
/// D disputed, U unverified.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace clustercost {

/// One sourced figure. `value` is empty where the feature is unsupported (e.g. FP8 on A100).
struct Figure {
  std::optional<double> value;
  std::string source;
  std::string flag;  // one or more of V P S E D U, e.g. "S/E"
  std::string note;

  bool estimated_or_disputed() const;  // flag contains E, D or U
  double get() const { return value.value_or(0.0); }
};

/// A yes/no property of the hardware with its source, like a Figure.
struct Capability {
  bool value = false;
  std::string source;
  std::string flag;  // as Figure::flag
  std::string note;
};

/// Scale-up fabric (NVLink/NVSwitch, HCCS full mesh, UB, Infinity Fabric).
struct ScaleUpFabric {
  std::string name;           // "NVLink 4 / NVSwitch gen3"
  std::string topology;       // "switch" (any pair gets the full per-GPU rate) or "full-mesh"
  Figure gbs_uni_per_gpu;     // GB/s (1e9 B/s) per direction per GPU
  Figure per_pair_gbs_uni;    // full mesh only: the per-peer-link limit, GB/s per direction
  int domain_size = 8;        // GPUs in one scale-up domain
  Figure latency_us;          // small-message latency
  /// The switches reduce and multicast in the network (NVLink SHARP, "NVLS" in NCCL): NVSwitch
  /// gen3 and later with H100-class GPUs. Absent in the file: false.
  Capability in_switch_reduction;
  /// NCCL's channel counts inside one scale-up domain, from its init log line "N coll channels,
  /// ..., K p2p channels, J p2p channels per peer" on a node of these GPUs. NCCL runs one CTA per
  /// channel, so a kernel holds that many SMs (docs/reference/communication-sms.md §1, §2).
  /// `nccl_coll_channels`: ring/tree collectives (N); `nccl_p2p_channels`: send/recv between two
  /// GPUs of the domain (J, which equals K in every in-node log we have); `nccl_nvls_channels`:
  /// NVLS (NVLink SHARP) collectives, which NCCL runs on their own channels (the log's "M nvls
  /// channels"; NVLS_NCHANNELS_* in NCCL's src/transport/nvls.cc). Whole numbers; null for GPUs
  /// whose collectives are not NCCL's (Ascend HCCL, AMD RCCL: §4), and for the nvls count where
  /// NCCL runs no NVLS on the GPU. Absent: "not given".
  Figure nccl_coll_channels;
  Figure nccl_p2p_channels;
  Figure nccl_nvls_channels;
};

struct Price {
  Figure purchase_usd;             // per GPU
  Figure rental_usd_per_gpu_hour;
  std::string date;                // of the price quotes, "2026-01"
};

struct GpuSpec {
  std::string name;       // catalogue key, e.g. "H800-SXM"
  std::string vendor;     // "NVIDIA", "Huawei", "AMD"
  std::string full_name;  // "NVIDIA H800 SXM5 80GB"
  std::string launch;
  std::vector<std::string> aliases;  // e.g. "h800", "h800_sxm"

  // Dense peaks (no sparsity), TFLOP/s (TOPS for int8); value empty where unsupported.
  Figure fp64_tflops;
  Figure fp32_tflops;    // non-tensor FP32 (added; optional in catalogue files)
  Figure tf32_tflops;
  Figure bf16_tflops;
  Figure fp8_tflops;
  Figure int8_tops;

  Figure hbm_gb;         // marketed capacity, GB (1e9); usable capacity below
  Figure hbm_usable_gib; // what a framework can allocate, GiB
  Figure hbm_tbps;       // TB/s (1e12 B/s)
  Figure l2_mb;
  Figure sms;            // SMs / CUs / AI cores
  Figure tdp_w;

  ScaleUpFabric scale_up;
  Figure nic_gbps;       // scale-out NIC line rate per GPU, Gb/s (bits)
  Figure nic_latency_us;
  Figure pcie_gbs_uni;   // host link, GB/s per direction (added; optional in catalogue files)

  Price price;
  std::string export_control;
  std::string default_node;  // node type used when a scenario does not name one
  std::string note;          // free text (added; optional in catalogue files)
  std::string file;          // catalogue file it came from

  /// Dense peak TFLOP/s for a precision name ("bf16", "fp16", "fp8", "tf32", "fp32", "fp64",
  /// "int8" in TOPS);
  /// empty when the GPU has no such unit (e.g. fp8 on A100, on Ascend 910B).
  std::optional<double> peak_tflops(const std::string& precision) const;
};

/// A server/node type: how GPUs are packaged, its NICs and topology defaults.
struct NodeSpec {
  std::string name;           // "HGX-H800"
  std::string gpu;            // catalogue GPU it holds
  int gpus_per_node = 8;
  int nics_per_node = 8;
  Figure nic_gbps;            // per NIC
  std::string default_topology;   // "fat-tree", "rail-optimized", "multi-plane"
  int default_tiers = 2;
  Figure node_power_w;        // whole server at max
  Figure server_share_usd;    // server, chassis and network share per GPU (ownership costs)
  std::string source;
  std::string note;           // free text (added; optional in catalogue files)
  std::string file;

  /// Scale-out line rate per GPU, Gb/s: NICs × rate / GPUs (0 when unknown).
  double nic_gbps_per_gpu() const;
};

}  // namespace clustercost
