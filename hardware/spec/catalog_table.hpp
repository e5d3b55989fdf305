#pragma once
/// Listings of the catalogue for `clustercost list gpus` (and the GUI): an aligned text table
/// with the headline figures, and JSON with every figure, its source and its flag.
/// In the text tables a `*` follows any figure flagged E, D or U (estimated, disputed or
/// unverified) and "-" stands for unsupported or not published.

#include <string>

#include "hardware/spec/catalog.hpp"

namespace clustercost {

/// Columns: name, vendor, BF16 and FP8 TFLOP/s (dense), HBM GB, HBM TB/s, scale-up GB/s
/// (per direction), NIC Gb/s, TDP W, rental $/GPU-h, purchase $; then a legend.
std::string gpu_table_text(const Catalog& catalog);
/// {"schema": "clustercost.gpu-list/1", "catalog": fingerprint, "gpus": [ each GPU in the
/// catalogue file format, plus "file" (its file name) ]}.
Json gpu_table_json(const Catalog& catalog);

/// Columns: name, GPU, GPUs, NICs x Gb/s, topology, tiers, power kW, server share $/GPU.
std::string node_table_text(const Catalog& catalog);
/// {"schema": "clustercost.node-list/1", "catalog": fingerprint, "nodes": [...]}.
Json node_table_json(const Catalog& catalog);

}  // namespace clustercost
