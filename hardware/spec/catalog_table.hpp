#pragma once
/// Listings of the catalogue for `clustercost list gpus` (and the GUI): an aligned text table
/// with the headline figures, and JSON with every figure, its source and its flag.
/// In the text tables a `*` follows any figure flagged E, D or U (estimated, disputed or
/// unverified) and "-" stands for unsupported or not published.

#include <optional>
#include <string>
#include <string_view>

#include "hardware/spec/catalog.hpp"

namespace clustercost {

/// Columns: name, vendor, BF16 and FP8 TFLOP/s (dense), HBM GB, HBM TB/s, scale-up GB/s
/// (per direction), NIC Gb/s, TDP W, rental $/GPU-h (with cents: "2.00*", never "2*"), purchase
/// $; then a legend, with the short aliases that stand for one of several parts (see
/// gpu_alias_note).
std::string gpu_table_text(const Catalog& catalog);
/// {"schema": "clustercost.gpu-list/1", "catalog": fingerprint, "gpus": [ each GPU in the
/// catalogue file format, plus "file" (its file name) ]}.
Json gpu_table_json(const Catalog& catalog);

/// When `given` finds a GPU through an alias that is also the start of another part's name
/// ("A100" finds A100-80G-SXM, and A100-40G-SXM is an A100 too), a sentence saying which part it
/// means and naming the others; nullopt for a full name, an unambiguous alias or an unknown name.
std::optional<std::string> gpu_alias_note(const Catalog& catalog, std::string_view given);

/// Columns: name, GPU, GPUs, NICs x Gb/s, topology, tiers, power kW, server share $/GPU.
std::string node_table_text(const Catalog& catalog);
/// {"schema": "clustercost.node-list/1", "catalog": fingerprint, "nodes": [...]}.
Json node_table_json(const Catalog& catalog);

}  // namespace clustercost
