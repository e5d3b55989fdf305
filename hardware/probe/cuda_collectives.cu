// NCCL all-reduce and all-to-all across all visible GPUs of this process (ncclCommInitAll),
// compiled only when nccl.h and libnccl were found (CLUSTERCOST_PROBE_HAVE_NCCL). Sizes and bus
// bandwidth follow nccl-tests (doc/PERFORMANCE.md): `bytes` is the per-rank message, algbw =
// bytes / time, busbw = algbw · 2(n−1)/n for all-reduce and algbw · (n−1)/n for all-to-all.
// Data are small integers, so sums are exact and the check is exact.

#include <algorithm>
#include <chrono>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "hardware/probe/checks.hpp"
#include "hardware/probe/cuda_common.cuh"

#if defined(CLUSTERCOST_PROBE_HAVE_NCCL)
#include <nccl.h>
#endif

namespace clustercost::probe::cuda {

#if defined(CLUSTERCOST_PROBE_HAVE_NCCL)

namespace {

void check_nccl(ncclResult_t r, const char* expr, const char* file, int line) {
  if (r != ncclSuccess)
    throw_error(std::string("NCCL error: ") + ncclGetErrorString(r), expr, file, line);
}
#define CC_NCCL(expr) check_nccl((expr), #expr, __FILE__, __LINE__)

// Value of element i on rank r: an integer in [1, 13], exact in fp32 and in any sum of them.
__host__ __device__ inline float pattern(std::int64_t i, int rank) {
  return static_cast<float>(1 + (i * 7 + rank * 3) % 13);
}

__global__ void fill_pattern(float* p, std::int64_t n, int rank) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride) {
    p[i] = pattern(i, rank);
  }
}

class Comms {
 public:
  explicit Comms(int n) : comms_(static_cast<std::size_t>(n), nullptr) {
    std::vector<int> devs(static_cast<std::size_t>(n));
    std::iota(devs.begin(), devs.end(), 0);
    CC_NCCL(ncclCommInitAll(comms_.data(), n, devs.data()));
  }
  ~Comms() {
    for (ncclComm_t c : comms_) {
      if (c) ncclCommDestroy(c);
    }
  }
  Comms(const Comms&) = delete;
  Comms& operator=(const Comms&) = delete;
  ncclComm_t operator[](int i) const { return comms_[static_cast<std::size_t>(i)]; }

 private:
  std::vector<ncclComm_t> comms_;
};

float read_float(const float* base, std::int64_t i) {
  float v = 0.0f;
  CC_CHECK(cudaMemcpy(&v, base + i, sizeof v, cudaMemcpyDefault));
  return v;
}

}  // namespace

std::string nccl_description() {
  return "NCCL " + std::to_string(NCCL_MAJOR) + "." + std::to_string(NCCL_MINOR) + "." +
         std::to_string(NCCL_PATCH);
}

void bench_collectives(Env& env, const CudaPlan& plan, MeasurementDoc& doc) {
  const int n = env.device_count;
  const std::int64_t count = plan.collective_bytes / 4 / n * n;  // floats per rank
  const std::int64_t per_peer = count / n;
  const Comms comms(n);
  std::vector<std::unique_ptr<Stream>> streams;
  std::vector<DeviceBuffer> send, recv;
  for (int d = 0; d < n; ++d) {
    CC_CHECK(cudaSetDevice(d));
    streams.push_back(std::make_unique<Stream>());
    send.emplace_back(static_cast<std::size_t>(count) * 4);
    recv.emplace_back(static_cast<std::size_t>(count) * 4);
    fill_pattern<<<env.fill_blocks(count), 256, 0, streams.back()->get()>>>(send.back().as<float>(),
                                                                            count, d);
    CC_CHECK_LAUNCH();
  }
  const auto sync_all = [&] {
    for (int d = 0; d < n; ++d) {
      CC_CHECK(cudaSetDevice(d));
      CC_CHECK(cudaStreamSynchronize(streams[static_cast<std::size_t>(d)]->get()));
    }
  };
  sync_all();
  const auto time_host = [&](const auto& run) {
    for (int i = 0; i < env.settings.warmup; ++i) {
      run();
      sync_all();
    }
    std::vector<Seconds> samples;
    for (int i = 0; i < env.settings.repetitions; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      run();
      sync_all();
      const auto t1 = std::chrono::steady_clock::now();
      samples.push_back(Seconds(std::chrono::duration<double>(t1 - t0).count()));
    }
    return samples;
  };
  const double ranks = n;

  {
    Measurement r;
    r.kind = "allreduce";
    r.name = "nccl_allreduce_sum";
    r.dtype = "fp32";
    r.impl = nccl_description() + ", ncclCommInitAll, one process";
    r.shape = BytesShape{count * 4, n};
    r.bytes = Bytes(static_cast<double>(count * 4));
    r.busbw_factor = 2.0 * (ranks - 1.0) / ranks;
    r.samples = time_host([&] {
      CC_NCCL(ncclGroupStart());
      for (int d = 0; d < n; ++d) {
        CC_NCCL(ncclAllReduce(send[static_cast<std::size_t>(d)].as(),
                              recv[static_cast<std::size_t>(d)].as(),
                              static_cast<std::size_t>(count), ncclFloat, ncclSum, comms[d],
                              streams[static_cast<std::size_t>(d)]->get()));
      }
      CC_NCCL(ncclGroupEnd());
    });
    ErrorAccumulator err;
    for (const int d : {0, n - 1}) {
      for (const std::int64_t i : sample_indices(count, 64, seed_for("allreduce", d, 9))) {
        double want = 0.0;
        for (int rk = 0; rk < n; ++rk) want += pattern(i, rk);
        err.add(read_float(recv[static_cast<std::size_t>(d)].as<float>(), i), want);
      }
    }
    finish_record(r, err.rel_error(), env.log);
    doc.records.push_back(std::move(r));
  }
  {
    Measurement r;
    r.kind = "alltoall";
    r.name = "nccl_alltoall";
    r.dtype = "fp32";
    r.impl = nccl_description() + ", grouped ncclSend/ncclRecv";
    r.shape = BytesShape{count * 4, n};
    r.bytes = Bytes(static_cast<double>(count * 4));
    r.busbw_factor = (ranks - 1.0) / ranks;
    r.samples = time_host([&] {
      CC_NCCL(ncclGroupStart());
      for (int d = 0; d < n; ++d) {
        const auto* s = send[static_cast<std::size_t>(d)].as<float>();
        auto* rv = recv[static_cast<std::size_t>(d)].as<float>();
        cudaStream_t st = streams[static_cast<std::size_t>(d)]->get();
        for (int p = 0; p < n; ++p) {
          CC_NCCL(ncclSend(s + p * per_peer, static_cast<std::size_t>(per_peer), ncclFloat, p,
                           comms[d], st));
          CC_NCCL(ncclRecv(rv + p * per_peer, static_cast<std::size_t>(per_peer), ncclFloat, p,
                           comms[d], st));
        }
      }
      CC_NCCL(ncclGroupEnd());
    });
    ErrorAccumulator err;
    for (const int d : {0, n - 1}) {
      for (const std::int64_t i : sample_indices(count, 64, seed_for("alltoall", d, 9))) {
        // Chunk p of rank d's receive buffer is chunk d of rank p's send buffer.
        const std::int64_t p = i / per_peer, e = i % per_peer;
        err.add(read_float(recv[static_cast<std::size_t>(d)].as<float>(), i),
                pattern(d * per_peer + e, static_cast<int>(p)));
      }
    }
    finish_record(r, err.rel_error(), env.log);
    doc.records.push_back(std::move(r));
  }
  CC_CHECK(cudaSetDevice(0));
}

#else

std::string nccl_description() { return "no NCCL"; }

void bench_collectives(Env&, const CudaPlan&, MeasurementDoc& doc) {
  doc.skipped.push_back("allreduce, alltoall: built without NCCL");
}

#endif

}  // namespace clustercost::probe::cuda
