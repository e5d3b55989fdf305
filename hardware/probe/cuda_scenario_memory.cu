// `probe --scenario` on the GPU, memory-bound ops: picks the kernel of an op (mem_kernel.hpp, the
// same choice as the CPU twin), sizes its rows from the op's bytes (already scaled by the plan),
// times it (run_mem_case) and labels the record with the op. The kernels live in one file per
// family: cuda_norm_act_ops.cu (RMSNorm, RoPE, SwiGLU, add, dropout, copy, scores, softmax),
// cuda_fp8_cast_ops.cu, cuda_routing_ops.cu (permute, unpermute, top-k, embedding),
// cuda_loss_adam_ops.cu (cross-entropy, Adam).

#include <algorithm>
#include <string>

#include "hardware/probe/cuda_op_bench.cuh"
#include "hardware/probe/fp8_support.hpp"
#include "hardware/probe/rotation.hpp"

namespace clustercost::probe::cuda {

std::vector<double> host_bf16(const void* base, std::int64_t offset, std::int64_t count) {
  const auto raw = copy_to_host(base, offset, count, 2);
  std::vector<double> out(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = bf16_bits_to_float(static_cast<std::uint16_t>(raw[2 * i] | (raw[2 * i + 1] << 8)));
  return out;
}

std::vector<double> host_f32(const void* base, std::int64_t offset, std::int64_t count) {
  const auto raw = copy_to_host(base, offset, count, 4);
  std::vector<double> out(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < out.size(); ++i) {
    float f;
    std::memcpy(&f, &raw[4 * i], 4);
    out[i] = f;
  }
  return out;
}

std::vector<std::int32_t> host_i32(const void* base, std::int64_t offset, std::int64_t count) {
  const auto raw = copy_to_host(base, offset, count, 4);
  std::vector<std::int32_t> out(static_cast<std::size_t>(count));
  std::memcpy(out.data(), raw.data(), raw.size());
  return out;
}

void run_mem_case(Env& env, const std::string& name, MemCase& c, MeasurementDoc& doc) {
  CC_CHECK(cudaStreamSynchronize(env.stream.get()));  // fills done before the first call
  Measurement r;
  r.kind = "memory";
  r.name = name;
  r.dtype = c.dtype;
  r.impl = c.impl;
  r.shape = BytesShape{c.bytes, 0};
  r.bytes = Bytes(static_cast<double>(c.bytes));
  r.samples = time_on_stream(env, [&](int i) { c.launch(i % c.sets); });
  CC_CHECK(cudaStreamSynchronize(env.stream.get()));
  ErrorAccumulator err;
  for (int s = 0; s < std::min(c.sets, env.calls()); ++s) c.check(s, err);
  finish_record(r, err.rel_error(), env.log);
  doc.records.push_back(std::move(r));
}

std::int64_t cuda_row_bytes(MemKernel k, bool backward, std::int64_t w, int top_k) {
  switch (k) {
    case MemKernel::Norm: return backward ? 6 * w : 4 * w;  // bf16: x (+dy) in, y / dx out
    case MemKernel::Rope: case MemKernel::Softmax: case MemKernel::Copy: case MemKernel::Score:
      return 4 * w;
    case MemKernel::Swiglu: return backward ? 10 * w : 6 * w;  // g, u (+dy) in; y / dg, du out
    case MemKernel::Add: return 6 * w;
    case MemKernel::Dropout: return 5 * w;  // x in, y and the keep mask (1 byte) out
    case MemKernel::CastTile: return 3 * w + 4 * ((w + 127) / 128);  // bf16 in, e4m3 + scales out
    case MemKernel::CastTensor: return 4 * w;  // bf16 in, e4m3 and its transpose out
    case MemKernel::Permute: case MemKernel::Embed: return 4 * w + 4;
    case MemKernel::Unpermute: return top_k * (2 * w + 8) + 2 * w;
    case MemKernel::Topk: return 2 * w + 8 * top_k;
    case MemKernel::LossForward: return 2 * w + 8;
    case MemKernel::LossBackward: return 4 * w + 4;
    case MemKernel::Adam: return 28 * w;  // fp32 p, g, m, v in; p, m, v out
  }
  return 4 * w;
}

/// One memory-bound op of the plan on the GPU, or its skip line.
void bench_scenario_memory_op(Env& env, const ScenarioOp& op, const ScenarioOpInfo& info,
                              MeasurementDoc& doc) {
  const MemKernel k = mem_kernel_of(op);
  const bool backward = mem_kernel_backward(op);
  if (k == MemKernel::CastTile || k == MemKernel::CastTensor) {
    const Fp8Support f = fp8_support(env.cc_major, env.cc_minor);
    if (!f.supported) {
      doc.skipped.push_back(fp8_skip_line(op.name, op.info.pass, "", "FP8 cast", f));
      return;
    }
  }
  MemDims d;
  d.top_k = std::max(1, op.top_k);
  d.width = std::max<std::int64_t>(op.width, 1);
  if (k == MemKernel::Adam) d.width = 4096;  // a flat parameter array, in chunks
  if (k == MemKernel::Topk || k == MemKernel::Score) d.width = std::max<std::int64_t>(d.width, d.top_k);
  if (k == MemKernel::Rope && d.width % 2) ++d.width;
  const std::int64_t row_bytes = cuda_row_bytes(k, backward, d.width, d.top_k);
  d.rows = std::max<std::int64_t>(1, op.bytes / row_bytes);
  d.sets = rotation_sets(d.rows * row_bytes, env.l2_bytes, env.settings.quick);
  d.tag = op.name + "/" + op.info.pass + "/cuda";
  MemCase c;
  switch (k) {
    case MemKernel::Norm: c = make_rmsnorm(env, d, backward); break;
    case MemKernel::Rope: c = make_rope(env, d, backward); break;
    case MemKernel::Swiglu: c = make_swiglu(env, d, backward); break;
    case MemKernel::Softmax: c = make_softmax(env, d); break;
    case MemKernel::Add: case MemKernel::Dropout: case MemKernel::Copy: case MemKernel::Score:
      c = make_elementwise(env, d, k);
      break;
    case MemKernel::CastTile: case MemKernel::CastTensor:
      c = make_fp8_cast(env, d, k == MemKernel::CastTile);
      break;
    case MemKernel::Permute: case MemKernel::Embed: c = make_gather(env, d, k == MemKernel::Embed); break;
    case MemKernel::Unpermute: c = make_unpermute(env, d); break;
    case MemKernel::Topk: c = make_topk(env, d); break;
    case MemKernel::LossForward: case MemKernel::LossBackward:
      c = make_cross_entropy(env, d, k == MemKernel::LossBackward);
      break;
    case MemKernel::Adam: c = make_adam(env, d); break;
  }
  const std::size_t at = doc.records.size();
  run_mem_case(env, op.name, c, doc);
  Measurement& r = doc.records[at];
  r.op = info;
  r.op->kernels = c.kernels;
  const std::string note = "clustercost CUDA kernel: " + c.impl;
  r.op->note = r.op->note.empty() ? note : r.op->note + "; " + note;
}

}  // namespace clustercost::probe::cuda
