#pragma once
/// Which memory-bound kernel runs for a memory op of `probe --scenario` (the op program's memory
/// class, refined by the op's name where a class holds several kernels, e.g. routing's permute,
/// unpermute, scores and top-k), and its name in records. Shared by the CPU twin
/// (cpu_probe.cpp) and the CUDA plugin (cuda_scenario_memory.cu), so both run the same kernel
/// for an op. Standard library only.

#include <string>

#include "hardware/probe/scenario_ops.hpp"

namespace clustercost::probe {

/// The memory-bound kernels `probe --scenario` runs.
enum class MemKernel {
  Norm, Rope, Swiglu, Dropout, Add, Softmax, Copy, CastTile, CastTensor, Permute, Unpermute,
  Score, Topk, Embed, LossForward, LossBackward, Adam
};

inline MemKernel mem_kernel_of(const ScenarioOp& op) {
  const std::string& c = op.info.memory_class;
  const auto has = [&](const char* s) { return op.name.find(s) != std::string::npos; };
  if (c == "norm") return MemKernel::Norm;
  if (c == "rope") return MemKernel::Rope;
  if (c == "activation") return MemKernel::Swiglu;
  if (c == "dropout") return MemKernel::Dropout;
  if (c == "softmax") return MemKernel::Softmax;
  if (c == "fp8_cast") return op.fp8_recipe == "tilewise" ? MemKernel::CastTile : MemKernel::CastTensor;
  if (c == "routing") {
    if (has("unpermute")) return MemKernel::Unpermute;
    if (has("score")) return MemKernel::Score;
    if (has("topk")) return MemKernel::Topk;
    return MemKernel::Permute;
  }
  if (c == "embedding") return MemKernel::Embed;
  if (c == "loss") return op.info.pass == "forward" ? MemKernel::LossForward : MemKernel::LossBackward;
  if (c == "optimizer") return MemKernel::Adam;
  if (c == "copy") return MemKernel::Copy;
  return MemKernel::Add;  // elementwise: residual and bias adds
}

/// Whether a memory op runs its backward kernel (RMSNorm dx, SwiGLU dg/du, RoPE by −angle):
/// every pass but the forward and its recompute.
inline bool mem_kernel_backward(const ScenarioOp& op) {
  return op.info.pass != "forward" && op.info.pass != "recompute";
}

inline const char* mem_kernel_name(MemKernel k) {
  switch (k) {
    case MemKernel::Norm: return "rmsnorm";
    case MemKernel::Rope: return "rope";
    case MemKernel::Swiglu: return "swiglu";
    case MemKernel::Dropout: return "dropout";
    case MemKernel::Add: return "add";
    case MemKernel::Softmax: return "softmax";
    case MemKernel::Copy: return "copy";
    case MemKernel::CastTile: return "fp8 quantise, 1x128 tile-wise scales";
    case MemKernel::CastTensor: return "fp8 cast-transpose, per-tensor scale";
    case MemKernel::Permute: return "permute (row gather)";
    case MemKernel::Unpermute: return "unpermute (weighted top-k combine)";
    case MemKernel::Score: return "router sigmoid scores";
    case MemKernel::Topk: return "router top-k";
    case MemKernel::Embed: return "embedding lookup (row gather)";
    case MemKernel::LossForward: return "cross-entropy forward";
    case MemKernel::LossBackward: return "cross-entropy gradient";
    case MemKernel::Adam: return "adam";
  }
  return "?";
}


}  // namespace clustercost::probe
