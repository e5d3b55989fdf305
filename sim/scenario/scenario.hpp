#pragma once
/// A scenario: one training run to estimate (format: ../shared/DESIGN.md, "Scenario").
/// load_scenario() parses, fills the documented defaults, resolves the model preset, GPU and
/// node from the catalogue, and checks every divisibility rule, so that everything downstream
/// can trust it. Errors are InputError (file, JSON path, what was expected).

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "hardware/efficiency/efficiency_profile.hpp"
#include "hardware/spec/gpu_spec.hpp"
#include "hardware/topology/topology_config.hpp"
#include "models/accounting.hpp"
#include "models/model_spec.hpp"
#include "sim/common/json_reader.hpp"

namespace clustercost {

class Catalog;

/// Where shipped data lives: catalogue, presets, profiles, scenarios.
struct DataDirs {
  std::filesystem::path root;
  std::filesystem::path catalog() const { return root / "hardware" / "catalog"; }
  std::filesystem::path profiles() const { return root / "hardware" / "profiles"; }
  std::filesystem::path presets() const { return root / "models" / "presets"; }
  std::filesystem::path scenarios() const { return root / "scenarios"; }
};

/// CLUSTERCOST_DATA_DIR when set, else `fallback` (each front end passes the source tree it was
/// built from).
DataDirs data_dirs_from_environment(const std::filesystem::path& fallback);

struct NetworkConfig {
  std::string topology = "fat-tree";     // "fat-tree", "rail-optimized", "multi-plane"
  int tiers = 2;
  double oversubscription = 1.0;         // leaf down:up bandwidth ratio (1 = non-blocking)
  double scale_out_gbps_per_gpu = 0;     // Gb/s per GPU; default: the GPU's NIC
  double scale_up_gbs_uni = 0;           // GB/s per GPU per direction; default: the GPU's fabric
};

struct GpuPool {
  std::string gpu;
  std::int64_t count = 0;
  std::optional<double> gpu_hour_usd;
  std::optional<double> purchase_usd;
  std::string available_from;   // ISO date
  std::string frozen_after;     // export-control event after which the pool cannot grow
};

struct ClusterConfig {
  std::string gpu;             // catalogue key (resolved from aliases)
  std::int64_t gpus = 0;
  int gpus_per_node = 8;
  std::string node;            // node type; default: the GPU's default node
  NetworkConfig network;               // resolved: overrides over node and GPU defaults
  NetworkOverrides network_overrides;  // `cluster.network` as written (the topology builds from it)
  std::string profile;         // efficiency profile file; empty = shipped default for the GPU
  std::vector<GpuPool> pools;  // mixed inventories; the run uses `gpu`/`gpus`
};

enum class Schedule { GPipe, OneFOneB, Interleaved, ZbH1, DualPipe };

struct ParallelismConfig {
  int tp = 1, cp = 1, pp = 1, ep = 1, vpp = 1;
  std::int64_t dp = 1;
  Schedule schedule = Schedule::OneFOneB;
  int micro_batch = 1;
  int zero = 1;
  bool sequence_parallel = false;
  Recompute recompute = Recompute::None;
  /// Cheap modules recomputed on top of `recompute` (Megatron-Core --recompute-modules names:
  /// "layernorm", "mla_up_proj", "moe_act", "mlp_act"); DeepSeek-V3 uses the first three.
  std::vector<std::string> recompute_modules;
  int comm_sms = 0;            // SMs reserved for communication kernels (DeepSeek-V3: 20 of 132)
  /// Layers per pipeline stage (Megatron-style: first and last stages lighter when uneven).
  std::vector<int> stage_layers;
};

struct TrainingConfig {
  int seq_len = 4096;
  std::int64_t global_batch = 0;   // sequences per step
  double tokens = 0;               // whole run
  std::string precision = "bf16";  // GEMM precision: "bf16" or "fp8"
  std::string optimizer_moments = "fp32";  // Adam moments: "fp32" or "bf16" (DeepSeek-V3)
  std::string grad_dtype = "fp32";         // gradient accumulation / reduction precision
};

struct ImbalanceConfig {
  std::string kind = "uniform";    // "uniform", "zipf", "dirichlet", "histogram"
  double zipf_s = 0;
  double dirichlet_alpha = 1;
  std::string histogram_file;
};

struct MoeRoutingConfig {
  ImbalanceConfig imbalance;
  std::optional<int> node_limit;       // top-M nodes per token (DeepSeek-V3: 4)
  std::optional<int> device_limit;     // top-M devices per token (DeepSeek-V2: 3)
  std::optional<double> capacity_factor;
  std::string dispatch_dtype = "bf16"; // "fp8" in DeepSeek-V3
  std::string combine_dtype = "bf16";
};

struct EconomicsConfig {
  double gpu_hour_usd = 0;    // default: the catalogue's rental price
  double usd_per_kwh = 0.08;  // US industrial average (hardware.md §6)
  double pue = 1.3;           // modern AI data centre (hardware.md §6)
};

struct ReliabilityConfig {
  double gpu_mtbf_hours = 50000;       // λ ≈ 1/50,000 GPU-h, all causes (hardware.md §7, Llama 3)
  double checkpoint_interval_min = 0;  // 0: Young/Daly optimum
  double checkpoint_write_min = 1.0;
  double restart_min = 20;             // hardware.md §7: 10–30 min
};

struct SimulationConfig {
  std::string fidelity = "des";  // "des" (discrete-event, the default) or "analytical"
  std::uint64_t seed = 1;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string file;            // where it was loaded from ("<inline>" otherwise)
  ModelSpec model;
  std::string model_ref;       // preset name, or "inline"
  GpuSpec gpu;
  std::optional<NodeSpec> node;
  EfficiencyProfile profile;
  ClusterConfig cluster;
  ParallelismConfig parallelism;
  TrainingConfig training;
  MoeRoutingConfig moe_routing;
  EconomicsConfig economics;
  ReliabilityConfig reliability;
  SimulationConfig simulation;
  std::vector<std::string> notes;   // informational: uneven split, defaults applied, ...
  std::string catalog_fingerprint;

  std::int64_t micro_batches() const;        // per data-parallel rank per step
  double tokens_per_step() const;
  std::int64_t steps() const;
  int nodes() const;
};

/// The activation savings a scenario implies: its recompute modules, and FP8 caching of linear
/// inputs when GEMMs run in FP8.
ActivationSavings activation_savings(const Scenario& s);

std::string schedule_name(Schedule s);
std::string recompute_name(Recompute r);

/// Applies one `--set PATH=VALUE` to a scenario document (VALUE parsed as JSON, else as a
/// string); intermediate objects are created. Errors name "--set" and the path.
void apply_override(Json& scenario, const std::string& assignment);

/// Parses and validates a scenario document.
Scenario parse_scenario(const Json& j, const std::string& file, const Catalog& catalog,
                        const DataDirs& dirs);
/// Loads a file, applies overrides in order, parses and validates.
Scenario load_scenario(const std::filesystem::path& file, const std::vector<std::string>& overrides,
                       const Catalog& catalog, const DataDirs& dirs);

/// The resolved scenario (defaults filled in) for the report.
Json scenario_to_json(const Scenario& s);

/// Megatron-style split of `layers` over `pp` stages: as even as possible, and when uneven the
/// first and last stages (which also hold the embedding and the LM head) get fewer layers.
std::vector<int> split_layers(int layers, int pp);

}  // namespace clustercost
