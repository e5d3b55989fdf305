#pragma once
/// Bytes one stored or communicated value takes in a training precision: the one owner of this
/// figure (the op program's tensors, DeepEP tokens, routing traffic, FP8 activation caching).
///  - "fp8": one E4M3 byte plus one FP32 scale per 128 values (DeepSeek-V3 §3.3 tiles and
///    DeepEP's per_token_cast_to_fp8; Transformer Engine's per-tensor scale is smaller still,
///    the same within 3%);
///  - "bf16", "fp16": 2; "fp32": 4.
/// Any other name is a programming error (std::invalid_argument): every caller passes a
/// precision the scenario loader validated.

#include <stdexcept>
#include <string>
#include <string_view>

namespace clustercost {

inline double bytes_per_value(std::string_view dtype) {
  if (dtype == "fp8") return 1.0 + 4.0 / 128.0;
  if (dtype == "bf16" || dtype == "fp16") return 2.0;
  if (dtype == "fp32") return 4.0;
  throw std::invalid_argument("bytes_per_value: unknown precision \"" + std::string(dtype) + "\"");
}

}  // namespace clustercost
