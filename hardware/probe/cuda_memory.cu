// HBM bandwidth (STREAM copy and triad over float4, and cudaMemcpyAsync device-to-device),
// kernel launch overhead (empty kernel), and the peer copy between devices 0 and 1.
// Bytes are read + written per call (STREAM convention: copy 2·size, triad 3·size).

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "hardware/probe/checks.hpp"
#include "hardware/probe/cuda_common.cuh"
#include "hardware/probe/rotation.hpp"

namespace clustercost::probe::cuda {

namespace {

constexpr float kTriadScalar = 3.0f;  // STREAM's scalar

__global__ void copy_kernel(const float4* __restrict__ src, float4* __restrict__ dst,
                            std::int64_t n4) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n4;
       i += stride) {
    dst[i] = src[i];
  }
}

__global__ void triad_kernel(float4* __restrict__ a, const float4* __restrict__ b,
                             const float4* __restrict__ c, float s, std::int64_t n4) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n4;
       i += stride) {
    const float4 x = b[i], y = c[i];
    a[i] = make_float4(x.x + s * y.x, x.y + s * y.y, x.z + s * y.z, x.w + s * y.w);
  }
}

__global__ void empty_kernel() {}

float read_float(const float* base, std::int64_t i) {
  float v = 0.0f;
  CC_CHECK(cudaMemcpy(&v, base + i, sizeof v, cudaMemcpyDefault));  // any device (UVA)
  return v;
}

enum class MemOp { kCopy, kTriad, kMemcpy };

}  // namespace

void bench_memory(Env& env, const CudaPlan& plan, MeasurementDoc& doc) {
  const std::int64_t bytes = plan.memory_array_bytes / 16 * 16;  // whole float4s
  const std::int64_t n = bytes / 4, n4 = n / 4;
  // Grid-stride kernels with 8 blocks of 256 threads per SM: full occupancy on sm_80/sm_90.
  const int blocks = env.sms * 8;
  for (const MemOp op : {MemOp::kCopy, MemOp::kTriad, MemOp::kMemcpy}) {
    const int arrays = op == MemOp::kTriad ? 3 : 2;
    const std::string name = op == MemOp::kCopy    ? "copy"
                             : op == MemOp::kTriad ? "triad"
                                                   : "cudaMemcpy_d2d";
    const int sets = rotation_sets(bytes * arrays, env.l2_bytes, env.settings.quick);
    std::vector<DeviceBuffer> bufs;
    for (int s = 0; s < sets; ++s) {
      for (int a = 0; a < arrays; ++a) {
        bufs.emplace_back(static_cast<std::size_t>(bytes));
        fill_f32(env, bufs.back().as<float>(), n, seed_for(name, s, a));
      }
    }
    const auto buf = [&](int s, int a) {
      return bufs[static_cast<std::size_t>(s * arrays + a)].as<float>();
    };
    Measurement r;
    r.kind = "memory";
    r.name = name;
    r.dtype = "fp32";
    r.impl = op == MemOp::kMemcpy ? "cudaMemcpyAsync" : "grid-stride float4 (clustercost)";
    r.shape = BytesShape{bytes, 0};
    r.bytes = Bytes(static_cast<double>(bytes * arrays));
    r.samples = time_on_stream(env, [&](int i) {
      const int s = i % sets;
      if (op == MemOp::kCopy) {
        copy_kernel<<<blocks, 256, 0, env.stream.get()>>>(
            reinterpret_cast<const float4*>(buf(s, 0)), reinterpret_cast<float4*>(buf(s, 1)), n4);
        CC_CHECK_LAUNCH();
      } else if (op == MemOp::kTriad) {
        triad_kernel<<<blocks, 256, 0, env.stream.get()>>>(
            reinterpret_cast<float4*>(buf(s, 0)), reinterpret_cast<const float4*>(buf(s, 1)),
            reinterpret_cast<const float4*>(buf(s, 2)), kTriadScalar, n4);
        CC_CHECK_LAUNCH();
      } else {
        CC_CHECK(cudaMemcpyAsync(buf(s, 1), buf(s, 0), static_cast<std::size_t>(bytes),
                                 cudaMemcpyDeviceToDevice, env.stream.get()));
      }
    });
    ErrorAccumulator err;
    for (int s = 0; s < std::min(sets, env.calls()); ++s) {
      for (const std::int64_t i : sample_indices(n, 64, seed_for(name, s, 9))) {
        if (op == MemOp::kTriad) {
          const double want = static_cast<double>(read_float(buf(s, 1), i)) +
                              static_cast<double>(kTriadScalar) * read_float(buf(s, 2), i);
          err.add(read_float(buf(s, 0), i), want);
        } else {
          err.add(read_float(buf(s, 1), i), read_float(buf(s, 0), i));
        }
      }
    }
    finish_record(r, err.rel_error(), env.log);
    doc.records.push_back(std::move(r));
  }
}

void bench_launch(Env& env, const CudaPlan& plan, MeasurementDoc& doc) {
  const int calls = std::max(plan.launch_calls, 1);
  // (1) As the GPU sees it: events around `calls` back-to-back empty launches.
  {
    Measurement r;
    r.kind = "launch";
    r.name = "empty_kernel_back_to_back";
    r.dtype = "fp32";  // no data moves; the dtype enumeration has no "none"
    r.impl = "<<<1, 32>>> empty kernel, CUDA events";
    r.shape = LaunchShape{calls};
    for (const Seconds s : time_on_stream(env, [&](int) {
           for (int c = 0; c < calls; ++c) {
             empty_kernel<<<1, 32, 0, env.stream.get()>>>();
             CC_CHECK_LAUNCH();
           }
         })) {
      r.samples.push_back(s / calls);
    }
    finish_record(r, 0.0, env.log);  // nothing is computed, so nothing can be wrong
    doc.records.push_back(std::move(r));
  }
  // (2) As the host sees it: launch then synchronise, steady_clock round trip per call.
  {
    Measurement r;
    r.kind = "launch";
    r.name = "empty_kernel_launch_and_sync";
    r.dtype = "fp32";
    r.impl = "<<<1, 32>>> empty kernel + cudaStreamSynchronize, steady_clock";
    r.shape = LaunchShape{calls};
    const auto batch = [&] {
      for (int c = 0; c < calls; ++c) {
        empty_kernel<<<1, 32, 0, env.stream.get()>>>();
        CC_CHECK_LAUNCH();
        CC_CHECK(cudaStreamSynchronize(env.stream.get()));
      }
    };
    for (int i = 0; i < env.settings.warmup; ++i) batch();
    for (int i = 0; i < env.settings.repetitions; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      batch();
      const auto t1 = std::chrono::steady_clock::now();
      r.samples.push_back(Seconds(std::chrono::duration<double>(t1 - t0).count() / calls));
    }
    finish_record(r, 0.0, env.log);
    doc.records.push_back(std::move(r));
  }
}

void bench_peer_copy(Env& env, const CudaPlan& plan, MeasurementDoc& doc) {
  const std::int64_t bytes = plan.p2p_bytes / 4 * 4;
  const std::int64_t n = bytes / 4;
  int can01 = 0;
  CC_CHECK(cudaDeviceCanAccessPeer(&can01, 0, 1));
  if (can01) {
    CC_CHECK(cudaSetDevice(0));
    const cudaError_t e = cudaDeviceEnablePeerAccess(1, 0);
    if (e == cudaErrorPeerAccessAlreadyEnabled) {
      (void)cudaGetLastError();  // clear the sticky-free error this call reports
    } else {
      CC_CHECK(e);
    }
  }
  CC_CHECK(cudaSetDevice(1));
  DeviceBuffer dst(static_cast<std::size_t>(bytes));
  CC_CHECK(cudaSetDevice(0));
  DeviceBuffer src(static_cast<std::size_t>(bytes));
  fill_f32(env, src.as<float>(), n, seed_for("peer_copy", 0, 0));
  Measurement r;
  r.kind = "p2p";
  r.name = "peer_copy_0_to_1";
  r.dtype = "fp32";
  r.impl = std::string("cudaMemcpyPeerAsync, peer access ") + (can01 ? "on" : "off (staged)");
  r.shape = BytesShape{bytes, 2};
  r.bytes = Bytes(static_cast<double>(bytes));  // one direction
  r.samples = time_on_stream(env, [&](int) {
    CC_CHECK(cudaMemcpyPeerAsync(dst.as(), 1, src.as(), 0, static_cast<std::size_t>(bytes),
                                 env.stream.get()));
  });
  ErrorAccumulator err;
  for (const std::int64_t i : sample_indices(n, 64, seed_for("peer_copy", 0, 9))) {
    err.add(read_float(dst.as<float>(), i), read_float(src.as<float>(), i));
  }
  finish_record(r, err.rel_error(), env.log);
  doc.records.push_back(std::move(r));
}

}  // namespace clustercost::probe::cuda
