#pragma once
/// Whether a CUDA device runs the FP8 (e4m3) kernels of `probe --scenario`, and the line a
/// skipped op gets when it does not. FP8 tensor cores (cuBLASLt FP8 matmuls) and the hardware
/// conversion instructions (cvt.rn.satfinite.e4m3x2.f32, which __nv_cvt_float_to_fp8 lowers to)
/// arrived with compute capability 8.9 (Ada) and 9.0 (Hopper) (CUDA C++ Programming Guide,
/// "Compute Capabilities"; PTX ISA, cvt: "requires sm_89 or higher"). On older GPUs (A100,
/// sm_80) the op is not timed: an emulated cast would not be the kernel a trainer runs there
/// (none runs FP8 on an A100), and the record says so. Standard library only, so the decision is
/// unit-tested without a GPU (tests/probe).

#include <string>

namespace clustercost::probe {

struct Fp8Support {
  bool supported = false;
  std::string device;  ///< "sm_80"
  std::string reason;  ///< empty when supported
};

inline Fp8Support fp8_support(int cc_major, int cc_minor) {
  Fp8Support s;
  s.device = "sm_" + std::to_string(cc_major) + std::to_string(cc_minor);
  s.supported = cc_major * 10 + cc_minor >= 89;
  if (!s.supported) s.reason = "FP8 needs compute capability 8.9 or newer";
  return s;
}

/// The `skipped` line of an op that needs FP8 on a device without it, e.g.
/// "moe.experts.up_gate (forward, fprop): FP8 GEMM not supported on this device (sm_80: FP8
/// needs compute capability 8.9 or newer); not measured". `what` names the kernel ("FP8 GEMM",
/// "FP8 grouped GEMM", "FP8 cast"); `role` may be empty.
inline std::string fp8_skip_line(const std::string& op, const std::string& pass, const std::string& role,
                                 const std::string& what, const Fp8Support& s) {
  return op + " (" + pass + (role.empty() ? "" : ", " + role) + "): " + what +
         " not supported on this device (" + s.device + ": " + s.reason + "); not measured";
}

}  // namespace clustercost::probe
