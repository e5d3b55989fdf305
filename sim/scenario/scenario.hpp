#pragma once
/// A scenario: one training run to estimate (format: docs/design.md, "Scenario").
/// load_scenario() parses, fills the documented defaults, resolves the model preset, GPU and
/// node from the catalogue, and checks every divisibility rule, so that everything downstream
/// can trust it. Errors are InputError (file, JSON path, what was expected).

#include <array>
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
#include "sim/scenario/software.hpp"

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
  bool in_switch_reduction = false;      // NVLink SHARP (NCCL's NVLS); default: the GPU's fabric
};

struct GpuPool {
  std::string gpu;
  std::int64_t count = 0;
  std::optional<double> gpu_hour_usd;
  std::optional<double> purchase_usd;
  /// ISO date "YYYY-MM-DD" (or "YYYY-MM", the 1st): the campaign cannot start before it.
  std::string available_from;
  /// ISO date of an export-control event after which the pool cannot grow: the job's GPUs plus
  /// its spare nodes must then fit in `count` (an error otherwise, with the numbers).
  std::string frozen_after;
};

/// Days since 1970-01-01 of an ISO date "YYYY-MM-DD" (or "YYYY-MM": the 1st); nullopt when
/// malformed or before 1970.
std::optional<std::int64_t> iso_date_to_days(const std::string& text);
/// "YYYY-MM-DD" of a day count since 1970-01-01.
std::string days_to_iso_date(std::int64_t days);

/// `cluster.variation`: stragglers and run-to-run noise for the DES. Per-GPU compute speed
/// (relative to nominal) is a seeded normal draw 1 + compute_spread·N(0,1) per GPU, or the
/// given per-GPU factors; each simulated step multiplies it by 1 + step_jitter·N(0,1) drawn per
/// GPU and step; `slow_links` NIC↔leaf links (seeded choice) run at slow_link_factor of their
/// capacity. Speeds are clamped to ≥ 0.05. The DES then simulates every GPU and reports the
/// step time's P50/P90 over `replicas` seeded steps.
struct VariationConfig {
  double compute_spread = 0;
  std::vector<double> factors;  ///< one per GPU (inline `factors` or `factors_file`), or empty
  double step_jitter = 0;
  int slow_links = 0;
  double slow_link_factor = 0.5;
  int replicas = 8;
  bool enabled() const {
    return compute_spread > 0 || !factors.empty() || step_jitter > 0 || slow_links > 0;
  }
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
  VariationConfig variation;
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
  /// `training.batch_ramp`: the global batch grows linearly in tokens from `start_batch` to
  /// `global_batch` over the first `tokens` tokens, then stays (DeepSeek-V3: 3072 → 15360
  /// sequences over the first 469B tokens, arXiv 2412.19437 §4.2). Absent: no ramp.
  struct BatchRamp {
    std::int64_t start_batch = 0;  // sequences
    double tokens = 0;
  };
  std::optional<BatchRamp> batch_ramp;
};

/// How expert popularity is drawn per MoE layer and micro-batch (sim/moe/routing.hpp).
struct ImbalanceConfig {
  std::string kind = "uniform";    // "uniform", "zipf", "dirichlet", "histogram"
  double zipf_s = 0;               // key "s": popularity of the i-th hottest expert ∝ i^−s
  double dirichlet_alpha = 1;      // key "alpha": concentration (small α: skewed)
  std::string histogram_file;      // key "file", as written (CSV or JSON, sim/moe/histogram.hpp)
  std::filesystem::path histogram_path;  // resolved: relative to the scenario file's folder
  bool operator==(const ImbalanceConfig&) const = default;
};

struct MoeRoutingConfig {
  ImbalanceConfig imbalance;
  std::optional<int> node_limit;       // top-M nodes per token (DeepSeek-V3: 4)
  std::optional<int> device_limit;     // top-M devices per token (DeepSeek-V2: 3)
  std::optional<double> capacity_factor;
  std::string dispatch_dtype = "bf16"; // "fp8" in DeepSeek-V3
  std::string combine_dtype = "bf16";
  std::string placement_file;          // key "placement": JSON list expert → EP rank; "" = contiguous
  std::filesystem::path placement_path;  // resolved like histogram_path
  int redundant_experts = 0;           // EPLB replicas of hot experts (DeepSeek-V3 inference: 32)
  bool node_dedup = true;              // a token crosses to a remote node once (DeepEP)
  std::string all_to_all = "direct";   // "direct" or "hierarchical" (default for node_limit)
  /// MoE layers whose routing the step model samples (each sample routes a micro-batch of the
  /// whole EP group and runs its all-to-alls); the others reuse them in turn. 0: every layer.
  int layer_samples = 4;
  bool operator==(const MoeRoutingConfig&) const = default;
};

/// `economics`: how the run is paid for. Rental bills GPU-hours (energy is priced into the rate
/// and reported for information); ownership amortises the hardware over its lifetime and pays
/// the energy. Either way GPUs idle in restarts and waits still cost. Defaults resolved at load.
struct EconomicsConfig {
  std::string model = "rental";  // "rental" or "ownership"
  double gpu_hour_usd = 0;    // default: the catalogue's rental price
  double usd_per_kwh = 0.08;  // US industrial average (hardware.md §6)
  double pue = 1.3;           // modern AI data centre (hardware.md §6)
  double purchase_usd = 0;        // per GPU; default: the catalogue's (hardware.md §5)
  /// Server, chassis and network per GPU; default: the node catalogue's server_share_usd
  /// (host + network share, an estimate flagged E there).
  double server_share_usd = 0;
  double network_share_usd = 0;   // extra network per GPU (default 0: in the node's share)
  double lifetime_years = 4;      // amortisation; ESTIMATE (E): 4-6 years is usual, short end
  /// GPU-server draw when idle (restarts, waits, pipeline bubbles) as a fraction of its full
  /// draw; ESTIMATE (E), no sourced figure in hardware.md.
  double idle_power_fraction = 0.25;
  std::optional<double> co2_kg_per_kwh;  // grid carbon intensity; absent: no CO2 reported
};

/// Failure classes of the campaign (Llama 3 405B's 419 unexpected interruptions, hardware.md §7,
/// grouped): the unit each rate counts per, and what a failure does.
enum class FailureClass { Gpu, Hbm, Nic, Switch, Host, Software };
inline constexpr int kFailureClassCount = 6;
/// JSON names, in FailureClass order: "gpu", "hbm", "nic", "switch", "host", "software".
const char* failure_class_name(FailureClass c);
/// Units the class's rate counts per: "gpu", "nic" (one scale-out NIC per GPU) or "node".
const char* failure_class_unit(FailureClass c);
/// Hardware classes swap the node for a spare (and send it to repair); switch/cable and software
/// failures only restart the job (the fabric routes around a dead link meanwhile).
bool failure_class_needs_spare(FailureClass c);
/// Share of all unexpected interruptions (Llama 3: faulty GPU + SRAM + system processor + SDC +
/// thermal 196, HBM3 72, NIC 7, switch/cable 35, host maintenance + SSD + PSU + chassis + IO
/// board + CPU + DRAM 46, software bug + NCCL watchdog + dependency 63; of 419).
double failure_class_share(FailureClass c);

struct ReliabilityConfig {
  double gpu_mtbf_hours = 50000;       // λ ≈ 1/50,000 GPU-h, all causes (hardware.md §7, Llama 3)
  /// Per-unit hourly rate of each class, resolved: `reliability.failure_rates_per_hour.{gpu,hbm,
  /// nic,switch,host,software}` when given, else share × (GPUs / units) / gpu_mtbf_hours, so that
  /// the defaults sum to GPUs / gpu_mtbf_hours for the job.
  std::array<double, kFailureClassCount> failure_rates_per_hour{};
  double checkpoint_interval_min = 0;  // 0: Young/Daly optimum (infinite when nothing fails)
  /// Resolved: given, or checkpoint size / storage bandwidth.
  double checkpoint_write_min = 1.0;
  double checkpoint_gb = 0;            // weights + master weights + Adam moments, all parameters
  /// Aggregate checkpoint write bandwidth, GB/s; default 0.122 GB/s per GPU: Llama 3's Tectonic
  /// sustains 2 TB/s for 16,384 GPUs (arXiv 2407.21783 §3.3.1; ESTIMATE when scaled).
  double storage_gbs = 0;
  double restart_min = 20;             // hardware.md §7: 10–30 min
  /// Spare nodes that replace failed ones; default: waits rare, m + 3√m for m nodes in repair on
  /// average (hardware failure rate × repair_hours), at least 1% of the nodes, ESTIMATE (E);
  /// with a pool, no more than the pool holds beyond the job.
  std::int64_t spare_nodes = 0;
  double repair_hours = 48;            // node back in the spare pool; ESTIMATE (E): 1–3 days
  /// Monte Carlo replicas of the campaign (`clustercost run --replicas N`); 0: expected-value
  /// model only.
  int replicas = 200;
};

struct SimulationConfig {
  std::string fidelity = "des";  // "des" (discrete-event, the default) or "analytical"
  std::uint64_t seed = 1;
  /// DES: "auto" simulates one GPU per pipeline stage where the others are provably identical
  /// (uniform routing, no variation) and every GPU otherwise; "all" always simulates every GPU.
  std::string ranks = "auto";
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
  SoftwareConfig software;
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
