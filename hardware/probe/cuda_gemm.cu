// Dense GEMM (bf16; fp8 e4m3 on sm_89+) through cuBLASLt, and grouped GEMM for MoE experts
// (bf16) both through cublasGemmGroupedBatchedEx (cuBLAS >= 12.5) and as a loop of cuBLASLt
// GEMMs, which is what frameworks without a grouped kernel do.
//
// Layout, as a linear layer computes it: tokens X (m×k, row-major), weights W (n×k, row-major,
// the nn.Linear layout), output Y = X·Wᵀ (m×n, row-major, bf16). In cuBLAS's column-major terms
// that is D(n×m) = op(A)·op(B) with A = W seen as k×n (op T), B = X seen as k×m (op N): the "TN"
// form, which is also the one cuBLASLt requires for FP8 (cuBLASLt documentation, cublasLtMatmul
// FP8 requirements).
//
// Checks: for each input set used, 8 sampled rows of X × 8 sampled rows of W are copied back
// and the 64 outputs recomputed in long double from the exact stored inputs (bf16/e4m3 decoded
// on the host), checks.hpp.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "hardware/probe/checks.hpp"
#include "hardware/probe/cuda_common.cuh"
#include "hardware/probe/numeric_formats.hpp"
#include "hardware/probe/rotation.hpp"

namespace clustercost::probe::cuda {

namespace {

enum class InType { kBf16, kFp8 };

std::size_t elem_bytes(InType t) { return t == InType::kBf16 ? 2 : 1; }
const char* dtype_name(InType t) { return t == InType::kBf16 ? "bf16" : "fp8"; }
cudaDataType_t cuda_type(InType t) { return t == InType::kBf16 ? CUDA_R_16BF : CUDA_R_8F_E4M3; }

double decode(InType t, const unsigned char* p) {
  if (t == InType::kFp8) return e4m3_bits_to_float(p[0]);
  const auto bits = static_cast<std::uint16_t>(p[0] | (p[1] << 8));  // little-endian host
  return bf16_bits_to_float(bits);
}

/// One cuBLASLt matmul configuration Y(m×n) = X(m×k)·W(n×k)ᵀ and the algorithm the heuristic
/// chose for it.
class LtGemm {
 public:
  LtGemm(cublasLtHandle_t lt, InType in, std::int64_t m, std::int64_t n, std::int64_t k,
         std::size_t workspace_bytes) {
    CC_CHECK(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    CC_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CC_CHECK(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    const auto u = [](std::int64_t x) { return static_cast<std::uint64_t>(x); };
    CC_CHECK(cublasLtMatrixLayoutCreate(&a_, cuda_type(in), u(k), u(n), k));
    CC_CHECK(cublasLtMatrixLayoutCreate(&b_, cuda_type(in), u(k), u(m), k));
    CC_CHECK(cublasLtMatrixLayoutCreate(&c_, CUDA_R_16BF, u(n), u(m), n));
    CC_CHECK(cublasLtMatmulPreferenceCreate(&pref_));
    const std::uint64_t ws = workspace_bytes;
    CC_CHECK(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                  &ws, sizeof ws));
    int returned = 0;
    // NOT_SUPPORTED means "no algorithm for this problem": reported as a skip, not an error.
    const cublasStatus_t st =
        cublasLtMatmulAlgoGetHeuristic(lt, desc_, a_, b_, c_, c_, pref_, 1, &heuristic_, &returned);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED) {
      returned = 0;
    } else {
      CC_CHECK(st);
    }
    found_ = returned > 0 && heuristic_.state == CUBLAS_STATUS_SUCCESS;
  }
  ~LtGemm() {
    if (pref_) cublasLtMatmulPreferenceDestroy(pref_);
    if (c_) cublasLtMatrixLayoutDestroy(c_);
    if (b_) cublasLtMatrixLayoutDestroy(b_);
    if (a_) cublasLtMatrixLayoutDestroy(a_);
    if (desc_) cublasLtMatmulDescDestroy(desc_);
  }
  LtGemm(const LtGemm&) = delete;
  LtGemm& operator=(const LtGemm&) = delete;

  bool found() const { return found_; }

  void run(Env& env, const void* w, const void* x, void* y) const {
    const float alpha = 1.0f, beta = 0.0f;
    CC_CHECK(cublasLtMatmul(env.lt.get(), desc_, &alpha, w, a_, x, b_, &beta, y, c_, y, c_,
                            &heuristic_.algo, env.workspace.as(), env.workspace.bytes(),
                            env.stream.get()));
  }

 private:
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, c_ = nullptr;
  cublasLtMatmulPreference_t pref_ = nullptr;
  cublasLtMatmulHeuristicResult_t heuristic_{};
  bool found_ = false;
};

void fill_input(Env& env, InType t, void* p, std::int64_t n, std::uint64_t seed) {
  if (t == InType::kBf16) {
    fill_bf16(env, static_cast<__nv_bfloat16*>(p), n, seed);
  } else {
    fill_e4m3(env, static_cast<__nv_fp8_storage_t*>(p), n, seed);
  }
}

/// Sampled check of Y = X·Wᵀ (row-major, as above) from device buffers.
ErrorAccumulator check_gemm(InType t, const void* x, const void* w, const void* y, std::int64_t m,
                            std::int64_t n, std::int64_t k, int rows, int cols,
                            std::uint64_t seed) {
  ErrorAccumulator acc;
  const std::size_t eb = elem_bytes(t);
  const auto is = sample_indices(m, rows, seed);
  const auto js = sample_indices(n, cols, seed ^ 0x5bd1e995u);
  std::vector<std::vector<double>> wrows;
  for (const std::int64_t j : js) {
    const auto raw = copy_to_host(w, j * k, k, eb);
    std::vector<double> r(static_cast<std::size_t>(k));
    for (std::int64_t kk = 0; kk < k; ++kk) {
      r[static_cast<std::size_t>(kk)] = decode(t, &raw[static_cast<std::size_t>(kk) * eb]);
    }
    wrows.push_back(std::move(r));
  }
  for (const std::int64_t i : is) {
    const auto xraw = copy_to_host(x, i * k, k, eb);
    const auto yraw = copy_to_host(y, i * n, n, 2);
    for (std::size_t jj = 0; jj < js.size(); ++jj) {
      long double ref = 0.0L;
      for (std::int64_t kk = 0; kk < k; ++kk) {
        ref += static_cast<long double>(decode(t, &xraw[static_cast<std::size_t>(kk) * eb])) *
               static_cast<long double>(wrows[jj][static_cast<std::size_t>(kk)]);
      }
      const double got = decode(InType::kBf16, &yraw[static_cast<std::size_t>(js[jj]) * 2]);
      acc.add(got, static_cast<double>(ref));
    }
  }
  return acc;
}

void bench_one_gemm(Env& env, const NamedGemm& g, InType t, MeasurementDoc& doc) {
  const std::int64_t m = g.shape.m, n = g.shape.n, k = g.shape.k;
  const std::string tag = g.name + "/" + dtype_name(t);
  LtGemm gemm(env.lt.get(), t, m, n, k, env.workspace.bytes());
  if (!gemm.found()) {
    const std::string why = std::string("gemm ") + dtype_name(t) + " " + g.name +
                            ": cuBLASLt has no algorithm for this shape";
    env.log << "skip: " << why << '\n';
    doc.skipped.push_back(why);
    return;
  }
  const std::size_t eb = elem_bytes(t);
  const std::int64_t set_bytes = static_cast<std::int64_t>((m * k + n * k) * eb) + m * n * 2;
  const int sets = rotation_sets(set_bytes, env.l2_bytes, env.settings.quick);
  std::vector<DeviceBuffer> xs, ws, ys;
  for (int s = 0; s < sets; ++s) {
    xs.emplace_back(static_cast<std::size_t>(m * k) * eb);
    ws.emplace_back(static_cast<std::size_t>(n * k) * eb);
    ys.emplace_back(static_cast<std::size_t>(m * n) * 2);
    fill_input(env, t, xs.back().as(), m * k, seed_for(tag, s, 0));
    fill_input(env, t, ws.back().as(), n * k, seed_for(tag, s, 1));
    // Random outputs: an entry the GEMM fails to write keeps a random value the check sees.
    fill_bf16(env, ys.back().as<__nv_bfloat16>(), m * n, seed_for(tag, s, 2));
  }
  Measurement r;
  r.kind = "gemm";
  r.name = g.name;
  r.dtype = dtype_name(t);
  r.impl = "cublasLt";
  r.shape = g.shape;
  r.flops = FlopCount(gemm_flops(g.shape));
  r.bytes = Bytes(static_cast<double>(set_bytes));
  r.samples = time_on_stream(env, [&](int i) {
    const int s = i % sets;
    gemm.run(env, ws[s].as(), xs[s].as(), ys[s].as());
  });
  ErrorAccumulator err;
  for (int s = 0; s < std::min(sets, env.calls()); ++s) {
    err.merge(
        check_gemm(t, xs[s].as(), ws[s].as(), ys[s].as(), m, n, k, 8, 8, seed_for(tag, s, 9)));
  }
  finish_record(r, err.rel_error(), env.log);
  doc.records.push_back(std::move(r));
}

}  // namespace

void bench_gemm_shape(Env& env, const NamedGemm& g, bool fp8, MeasurementDoc& doc) {
  bench_one_gemm(env, g, fp8 ? InType::kFp8 : InType::kBf16, doc);
}

void bench_gemm(Env& env, const CudaPlan& plan, MeasurementDoc& doc) {
  // FP8 tensor cores arrived with Ada (sm_89) and Hopper (sm_90).
  const bool fp8 = env.cc_major * 10 + env.cc_minor >= 89;
  if (!fp8) doc.skipped.push_back("gemm fp8: needs compute capability 8.9 or newer");
  for (const NamedGemm& g : plan.gemms) {
    bench_one_gemm(env, g, InType::kBf16, doc);
    if (fp8) bench_one_gemm(env, g, InType::kFp8, doc);
  }
}

void bench_grouped_gemm(Env& env, const CudaPlan& plan, MeasurementDoc& doc) {
  for (const NamedGrouped& g : plan.grouped) {
    const GroupedGemmShape& sh = g.shape;
    const std::int64_t total_m = sh.total_m(), n = sh.n, k = sh.k;
    const int groups = static_cast<int>(sh.group_m.size());
    const std::string tag = g.name + "/bf16";
    // Tokens sorted by expert (contiguous rows of X and Y), one n×k weight per expert.
    const std::int64_t set_bytes = (total_m * k + groups * n * k + total_m * n) * 2;
    const int sets = rotation_sets(set_bytes, env.l2_bytes, env.settings.quick);
    std::vector<DeviceBuffer> xs, ws, ys;
    for (int s = 0; s < sets; ++s) {
      xs.emplace_back(static_cast<std::size_t>(total_m * k) * 2);
      ws.emplace_back(static_cast<std::size_t>(groups * n * k) * 2);
      ys.emplace_back(static_cast<std::size_t>(total_m * n) * 2);
      fill_bf16(env, xs.back().as<__nv_bfloat16>(), total_m * k, seed_for(tag, s, 0));
      fill_bf16(env, ws.back().as<__nv_bfloat16>(), groups * n * k, seed_for(tag, s, 1));
      fill_bf16(env, ys.back().as<__nv_bfloat16>(), total_m * n, seed_for(tag, s, 2));
    }
    std::vector<std::int64_t> row0(static_cast<std::size_t>(groups), 0);
    for (int e = 1; e < groups; ++e) {
      row0[static_cast<std::size_t>(e)] =
          row0[static_cast<std::size_t>(e - 1)] + sh.group_m[static_cast<std::size_t>(e - 1)];
    }
    const auto x_of = [&](int s, int e) {
      return xs[s].as<__nv_bfloat16>() + row0[static_cast<std::size_t>(e)] * k;
    };
    const auto w_of = [&](int s, int e) {
      return ws[s].as<__nv_bfloat16>() + std::int64_t{e} * n * k;
    };
    const auto y_of = [&](int s, int e) {
      return ys[s].as<__nv_bfloat16>() + row0[static_cast<std::size_t>(e)] * n;
    };
    const auto check_all = [&]() {
      ErrorAccumulator err;
      for (int s = 0; s < std::min(sets, env.calls()); ++s) {
        for (int e = 0; e < groups; ++e) {
          err.merge(check_gemm(InType::kBf16, x_of(s, e), w_of(s, e), y_of(s, e),
                               sh.group_m[static_cast<std::size_t>(e)], n, k, 3, 3,
                               seed_for(tag, s, 10 + e)));
        }
      }
      return err.rel_error();
    };
    const auto make_record = [&](const std::string& impl) {
      Measurement r;
      r.kind = "grouped_gemm";
      r.name = g.name;
      r.dtype = "bf16";
      r.impl = impl;
      r.shape = sh;
      r.flops = FlopCount(grouped_gemm_flops(sh));
      r.bytes = Bytes(static_cast<double>(set_bytes));
      return r;
    };

    // (1) A loop of cuBLASLt GEMMs, one per expert, on one stream.
    {
      std::vector<std::unique_ptr<LtGemm>> per_expert;
      bool all_found = true;
      for (int e = 0; e < groups; ++e) {
        per_expert.push_back(std::make_unique<LtGemm>(env.lt.get(), InType::kBf16,
                                                      sh.group_m[static_cast<std::size_t>(e)], n, k,
                                                      env.workspace.bytes()));
        all_found = all_found && per_expert.back()->found();
      }
      if (all_found) {
        Measurement r = make_record("loop of cublasLt GEMMs");
        r.samples = time_on_stream(env, [&](int i) {
          const int s = i % sets;
          for (int e = 0; e < groups; ++e) {
            per_expert[static_cast<std::size_t>(e)]->run(env, w_of(s, e), x_of(s, e), y_of(s, e));
          }
        });
        finish_record(r, check_all(), env.log);
        doc.records.push_back(std::move(r));
      } else {
        doc.skipped.push_back("grouped_gemm " + g.name + " loop: cuBLASLt has no algorithm");
      }
    }

#if CUBLAS_VERSION >= 120500
    // (2) cublasGemmGroupedBatchedEx: one call, one group per expert (group_size 1). Dimensions
    // and scalars are host arrays; the matrix pointer arrays live in device memory.
    {
      for (int s = 0; s < sets; ++s) {  // fresh outputs, so stale results of (1) cannot pass
        fill_bf16(env, ys[s].as<__nv_bfloat16>(), total_m * n, seed_for(tag, s, 3));
      }
      const auto gsz = static_cast<std::size_t>(groups);
      std::vector<cublasOperation_t> ta(gsz, CUBLAS_OP_T), tb(gsz, CUBLAS_OP_N);
      std::vector<int> mm(gsz, static_cast<int>(n)), nn(gsz), kk(gsz, static_cast<int>(k));
      std::vector<int> lda(gsz, static_cast<int>(k)), ldb(gsz, static_cast<int>(k)),
          ldc(gsz, static_cast<int>(n)), group_size(gsz, 1);
      std::vector<float> alpha(gsz, 1.0f), beta(gsz, 0.0f);
      for (std::size_t e = 0; e < gsz; ++e) nn[e] = static_cast<int>(sh.group_m[e]);
      std::vector<DeviceBuffer> ptr_arrays;  // per set: [A ptrs | B ptrs | C ptrs]
      for (int s = 0; s < sets; ++s) {
        std::vector<void*> host(3 * gsz);
        for (int e = 0; e < groups; ++e) {
          host[static_cast<std::size_t>(e)] = w_of(s, e);
          host[gsz + static_cast<std::size_t>(e)] = x_of(s, e);
          host[2 * gsz + static_cast<std::size_t>(e)] = y_of(s, e);
        }
        ptr_arrays.emplace_back(host.size() * sizeof(void*));
        // On the probe's (non-blocking) stream, and waited for: a plain cudaMemcpy from pageable
        // memory may return before its DMA lands and does not order with that stream.
        CC_CHECK(cudaMemcpyAsync(ptr_arrays.back().as(), host.data(), host.size() * sizeof(void*),
                                 cudaMemcpyHostToDevice, env.stream.get()));
        CC_CHECK(cudaStreamSynchronize(env.stream.get()));
      }
      CC_CHECK(cublasSetPointerMode(env.blas.get(), CUBLAS_POINTER_MODE_HOST));
      Measurement r = make_record("cublasGemmGroupedBatchedEx");
      r.samples = time_on_stream(env, [&](int i) {
        void** p = ptr_arrays[static_cast<std::size_t>(i % sets)].as<void*>();
        CC_CHECK(cublasGemmGroupedBatchedEx(
            env.blas.get(), ta.data(), tb.data(), mm.data(), nn.data(), kk.data(), alpha.data(),
            static_cast<const void* const*>(p), CUDA_R_16BF, lda.data(),
            static_cast<const void* const*>(p + gsz), CUDA_R_16BF, ldb.data(), beta.data(),
            p + 2 * gsz, CUDA_R_16BF, ldc.data(), groups, group_size.data(), CUBLAS_COMPUTE_32F));
      });
      finish_record(r, check_all(), env.log);
      doc.records.push_back(std::move(r));
    }
#else
    doc.skipped.push_back("grouped_gemm cublasGemmGroupedBatchedEx: needs cuBLAS 12.5");
#endif
  }
}

void bench_grouped_gemm_fp8(Env& env, const NamedGrouped& g, MeasurementDoc& doc) {
  // A loop of cuBLASLt FP8 (e4m3) GEMMs, one per expert, on one stream: cuBLAS's grouped
  // batched call has no FP8 types, and DeepGEMM's m-grouped FP8 kernel (one launch, 128×128
  // block scales) is not linked. Per-tensor scales of 1 (the inputs are e4m3 values already).
  const GroupedGemmShape& sh = g.shape;
  const std::int64_t total_m = sh.total_m(), n = sh.n, k = sh.k;
  const int groups = static_cast<int>(sh.group_m.size());
  const std::string tag = g.name + "/fp8";
  const std::int64_t set_bytes = total_m * k + groups * n * k + total_m * n * 2;
  const int sets = rotation_sets(set_bytes, env.l2_bytes, env.settings.quick);
  std::vector<DeviceBuffer> xs, ws, ys;
  for (int s = 0; s < sets; ++s) {
    xs.emplace_back(static_cast<std::size_t>(total_m * k));
    ws.emplace_back(static_cast<std::size_t>(groups * n * k));
    ys.emplace_back(static_cast<std::size_t>(total_m * n) * 2);
    fill_e4m3(env, xs.back().as<__nv_fp8_storage_t>(), total_m * k, seed_for(tag, s, 0));
    fill_e4m3(env, ws.back().as<__nv_fp8_storage_t>(), groups * n * k, seed_for(tag, s, 1));
    fill_bf16(env, ys.back().as<__nv_bfloat16>(), total_m * n, seed_for(tag, s, 2));
  }
  std::vector<std::int64_t> row0(static_cast<std::size_t>(groups), 0);
  for (int e = 1; e < groups; ++e)
    row0[static_cast<std::size_t>(e)] = row0[static_cast<std::size_t>(e - 1)] + sh.group_m[static_cast<std::size_t>(e - 1)];
  const auto x_of = [&](int s, int e) { return xs[static_cast<std::size_t>(s)].as<unsigned char>() + row0[static_cast<std::size_t>(e)] * k; };
  const auto w_of = [&](int s, int e) { return ws[static_cast<std::size_t>(s)].as<unsigned char>() + std::int64_t{e} * n * k; };
  const auto y_of = [&](int s, int e) { return ys[static_cast<std::size_t>(s)].as<__nv_bfloat16>() + row0[static_cast<std::size_t>(e)] * n; };
  std::vector<std::unique_ptr<LtGemm>> per_expert(static_cast<std::size_t>(groups));
  for (int e = 0; e < groups; ++e) {
    const std::int64_t me = sh.group_m[static_cast<std::size_t>(e)];
    if (me == 0) continue;  // an expert without tokens launches nothing
    per_expert[static_cast<std::size_t>(e)] = std::make_unique<LtGemm>(env.lt.get(), InType::kFp8, me, n, k, env.workspace.bytes());
    if (!per_expert[static_cast<std::size_t>(e)]->found()) {
      doc.skipped.push_back(g.name + ": cuBLASLt has no FP8 algorithm for expert " + std::to_string(e) + " (" +
                            std::to_string(me) + "x" + std::to_string(n) + "x" + std::to_string(k) + "); not measured");
      return;
    }
  }
  Measurement r;
  r.kind = "grouped_gemm";
  r.name = g.name;
  r.dtype = "fp8";
  r.impl = "loop of cublasLt FP8 e4m3 GEMMs (one per expert)";
  r.shape = sh;
  r.flops = FlopCount(grouped_gemm_flops(sh));
  r.bytes = Bytes(static_cast<double>(set_bytes));
  r.samples = time_on_stream(env, [&](int i) {
    const int s = i % sets;
    for (int e = 0; e < groups; ++e)
      if (per_expert[static_cast<std::size_t>(e)]) per_expert[static_cast<std::size_t>(e)]->run(env, w_of(s, e), x_of(s, e), y_of(s, e));
  });
  ErrorAccumulator err;
  for (int s = 0; s < std::min(sets, env.calls()); ++s)
    for (int e = 0; e < groups; ++e)
      if (sh.group_m[static_cast<std::size_t>(e)] > 0)
        err.merge(check_gemm(InType::kFp8, x_of(s, e), w_of(s, e), y_of(s, e), sh.group_m[static_cast<std::size_t>(e)], n, k, 3, 3,
                             seed_for(tag, s, 10 + e)));
  finish_record(r, err.rel_error(), env.log);
  doc.records.push_back(std::move(r));
}

}  // namespace clustercost::probe::cuda
