// MoE routing and embedding kernels, bf16 storage: permute (each token copy gathers its source
// row by index: tokens sorted by expert), embedding lookup (rows of a table by token id),
// unpermute (a token's top-k expert outputs, weighted by the router's gates, summed), and the
// router's top-k over a row of expert scores (one warp per token; ties to the lower index, as
// torch.topk's order on equal values is unspecified we only rely on the values).
// Checks: sampled rows against host gathers and sums from the stored inputs and indices; top-k
// against a host sort of the stored scores (values in order, and each index pointing at its value).

#include <algorithm>
#include <cmath>
#include <numeric>

#include "hardware/probe/cuda_op_bench.cuh"

namespace clustercost::probe::cuda {

namespace {

// One block per output row; 16-byte copies when the row is a whole number of them.
__global__ void gather_rows(const bf16* __restrict__ x, const std::int32_t* __restrict__ idx,
                            bf16* __restrict__ y, std::int64_t w) {
  const std::int64_t r = blockIdx.x, src = idx[r];
  if (w % 8 == 0) {
    const auto* s4 = reinterpret_cast<const uint4*>(x + src * w);
    auto* d4 = reinterpret_cast<uint4*>(y + r * w);
    for (std::int64_t i = threadIdx.x; i < w / 8; i += blockDim.x) d4[i] = s4[i];
  } else {
    for (std::int64_t i = threadIdx.x; i < w; i += blockDim.x) y[r * w + i] = x[src * w + i];
  }
}

__global__ void unpermute_rows(const bf16* __restrict__ x, const std::int32_t* __restrict__ idx,
                               const float* __restrict__ gate, bf16* __restrict__ y, std::int64_t w, int k) {
  const std::int64_t r = blockIdx.x;
  for (std::int64_t i = threadIdx.x; i < w; i += blockDim.x) {
    float s = 0;
    for (int j = 0; j < k; ++j) s += gate[r * k + j] * ld(x, static_cast<std::int64_t>(idx[r * k + j]) * w + i);
    st(y, r * w + i, s);
  }
}

// One warp per row: the row in shared memory, k rounds of a warp arg-max, the winner masked.
__global__ void topk_rows(const bf16* __restrict__ x, std::int32_t* __restrict__ idx,
                          float* __restrict__ val, std::int64_t w, int k) {
  extern __shared__ float row[];
  const std::int64_t r = blockIdx.x;
  const int lane = threadIdx.x;
  for (std::int64_t i = lane; i < w; i += 32) row[i] = ld(x, r * w + i);
  __syncwarp();
  for (int j = 0; j < k; ++j) {
    float best = -INFINITY;
    int bi = 0x7fffffff;
    for (std::int64_t i = lane; i < w; i += 32)
      if (row[i] > best) {
        best = row[i];
        bi = static_cast<int>(i);
      }
    for (int o = 16; o > 0; o /= 2) {
      const float ob = __shfl_xor_sync(0xffffffffu, best, o);
      const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (ob > best || (ob == best && oi < bi)) {
        best = ob;
        bi = oi;
      }
    }
    if (lane == 0) {
      idx[r * k + j] = bi;
      val[r * k + j] = best;
      row[bi] = -INFINITY;
    }
    __syncwarp();
  }
}

void upload_indices(Env& env, std::vector<DeviceBuffer>& set, std::int64_t n, std::uint64_t seed,
                    std::uint64_t range) {
  std::vector<std::int32_t> h(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    h[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(random_below(seed, static_cast<std::uint64_t>(i), range));
  set.emplace_back(h.size() * 4);
  CC_CHECK(cudaMemcpyAsync(set.back().as(), h.data(), h.size() * 4, cudaMemcpyHostToDevice, env.stream.get()));
  CC_CHECK(cudaStreamSynchronize(env.stream.get()));  // h is pageable and local
}

unsigned block_threads(std::int64_t w) { return w / 8 >= 256 ? 256 : 128; }

}  // namespace

MemCase make_gather(Env& env, const MemDims& d, bool embedding) {
  const std::int64_t n = d.rows * d.width;
  auto b = make_sets(d.sets);
  for (int s = 0; s < d.sets; ++s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    add_bf16(env, set, n, seed_for(d.tag, s, 0));  // source rows (tokens, or the table shard)
    add_bf16(env, set, n, seed_for(d.tag, s, 1));  // gathered rows
    upload_indices(env, set, d.rows, seed_for(d.tag, s, 22), static_cast<std::uint64_t>(d.rows));
  }
  MemCase c;
  c.impl = embedding ? "embedding lookup (row gather by token id)" : "permute (row gather by index)";
  c.bytes = cuda_row_bytes(MemKernel::Permute, false, d.width, 1) * d.rows;
  c.sets = d.sets;
  c.launch = [b, d, &env](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    gather_rows<<<static_cast<unsigned>(d.rows), block_threads(d.width), 0, env.stream.get()>>>(
        set[0].as<bf16>(), set[2].as<std::int32_t>(), set[1].as<bf16>(), d.width);
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      const std::int64_t src = random_below(seed_for(d.tag, s, 22), static_cast<std::uint64_t>(r), static_cast<std::uint64_t>(d.rows));
      const auto want = host_bf16(set[0].as(), src * d.width, d.width), got = host_bf16(set[1].as(), r * d.width, d.width);
      for (std::size_t i = 0; i < want.size(); ++i) err.add(got[i], want[i]);
    }
  };
  return c;
}

MemCase make_unpermute(Env& env, const MemDims& d) {
  const std::int64_t copies = d.rows * d.top_k;
  auto b = make_sets(d.sets);
  for (int s = 0; s < d.sets; ++s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    add_bf16(env, set, copies * d.width, seed_for(d.tag, s, 0));  // expert outputs, by copy
    add_bf16(env, set, d.rows * d.width, seed_for(d.tag, s, 1));  // combined tokens
    add_f32(env, set, copies, seed_for(d.tag, s, 23));            // gates
    upload_indices(env, set, copies, seed_for(d.tag, s, 22), static_cast<std::uint64_t>(copies));
  }
  MemCase c;
  c.impl = "unpermute (gate-weighted sum of a token's top-k copies)";
  c.bytes = cuda_row_bytes(MemKernel::Unpermute, false, d.width, d.top_k) * d.rows;
  c.sets = d.sets;
  c.launch = [b, d, &env](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    unpermute_rows<<<static_cast<unsigned>(d.rows), 256, 0, env.stream.get()>>>(
        set[0].as<bf16>(), set[3].as<std::int32_t>(), set[2].as<float>(), set[1].as<bf16>(), d.width, d.top_k);
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      const auto idx = host_i32(set[3].as(), r * d.top_k, d.top_k);
      const auto gate = host_f32(set[2].as(), r * d.top_k, d.top_k);
      std::vector<double> want(static_cast<std::size_t>(d.width), 0.0);
      for (int j = 0; j < d.top_k; ++j) {
        const auto src = host_bf16(set[0].as(), static_cast<std::int64_t>(idx[static_cast<std::size_t>(j)]) * d.width, d.width);
        for (std::size_t i = 0; i < want.size(); ++i) want[i] += gate[static_cast<std::size_t>(j)] * src[i];
      }
      const auto got = host_bf16(set[1].as(), r * d.width, d.width);
      for (std::size_t i = 0; i < want.size(); ++i) err.add(got[i], want[i]);
    }
  };
  return c;
}

MemCase make_topk(Env& env, const MemDims& d) {
  if (d.width * static_cast<std::int64_t>(sizeof(float)) > 48 * 1024)
    throw std::runtime_error("top-k over " + std::to_string(d.width) + " experts exceeds the kernel's shared-memory row");
  auto b = make_sets(d.sets);
  for (int s = 0; s < d.sets; ++s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    add_bf16(env, set, d.rows * d.width, seed_for(d.tag, s, 0));  // scores
    add_bytes(env, set, d.rows * d.top_k * 4);                    // indices
    add_f32(env, set, d.rows * d.top_k, seed_for(d.tag, s, 1));   // values
  }
  MemCase c;
  c.impl = "router top-k, warp per token";
  c.bytes = cuda_row_bytes(MemKernel::Topk, false, d.width, d.top_k) * d.rows;
  c.sets = d.sets;
  c.launch = [b, d, &env](int s) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    topk_rows<<<static_cast<unsigned>(d.rows), 32, static_cast<std::size_t>(d.width) * sizeof(float), env.stream.get()>>>(
        set[0].as<bf16>(), set[1].as<std::int32_t>(), set[2].as<float>(), d.width, d.top_k);
    CC_CHECK_LAUNCH();
  };
  c.check = [b, d](int s, ErrorAccumulator& err) {
    auto& set = (*b)[static_cast<std::size_t>(s)];
    for (const std::int64_t r : check_rows(d, s)) {
      auto x = host_bf16(set[0].as(), r * d.width, d.width);
      const auto idx = host_i32(set[1].as(), r * d.top_k, d.top_k);
      const auto val = host_f32(set[2].as(), r * d.top_k, d.top_k);
      std::vector<double> sorted = x;
      std::sort(sorted.begin(), sorted.end(), std::greater<>());
      std::vector<bool> used(x.size(), false);
      for (int j = 0; j < d.top_k; ++j) {
        const auto u = static_cast<std::size_t>(j);
        err.add(val[u], sorted[u]);
        const std::int32_t i = idx[u];
        const bool valid = i >= 0 && i < d.width && !used[static_cast<std::size_t>(i)];
        if (!valid || x[static_cast<std::size_t>(i)] != val[u]) err.add(INFINITY, 0.0);
        if (valid) used[static_cast<std::size_t>(i)] = true;
      }
    }
  };
  return c;
}

}  // namespace clustercost::probe::cuda
