#include "hardware/probe/cpu_kernels.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(CLUSTERCOST_PROBE_HAVE_EIGEN)
// GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsics when Eigen's packet
// transposes are inlined (a known false positive of the intrinsic headers, not of our code); the
// location is the intrinsic header, which this pragma region covers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <Eigen/Core>
#endif

#include "hardware/probe/data_gen.hpp"

namespace clustercost::probe {

// ------------------------------------------------------------------ WorkerPool

double thread_cpu_seconds() {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0.0;
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

WorkerPool::WorkerPool(int threads)
    : cpu_seconds_(static_cast<std::size_t>(std::max(threads, 1)), 0.0) {
  const int workers = std::max(threads, 1) - 1;
  workers_.reserve(static_cast<std::size_t>(workers));
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this, i] { worker_loop(i + 1); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void WorkerPool::worker_loop(int index) {
  std::uint64_t seen = 0;
  for (;;) {
    const std::function<void(int, int)>* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    std::exception_ptr err;
    try {
      run_timed(*job, index);
    } catch (...) {
      err = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (err && !error_) error_ = err;
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void WorkerPool::run_timed(const std::function<void(int, int)>& fn, int index) {
  const double t0 = thread_cpu_seconds();
  // Counted even when fn throws: the time was spent.
  struct Add {
    double& slot;
    double t0;
    ~Add() { slot += thread_cpu_seconds() - t0; }
  } add{cpu_seconds_[static_cast<std::size_t>(index)], t0};
  fn(index, size());
}

void WorkerPool::reset_cpu_time() { std::fill(cpu_seconds_.begin(), cpu_seconds_.end(), 0.0); }

double WorkerPool::busiest_cpu_seconds() const {
  return *std::max_element(cpu_seconds_.begin(), cpu_seconds_.end());
}

void WorkerPool::run(const std::function<void(int, int)>& fn) {
  if (workers_.empty()) {
    run_timed(fn, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    pending_ = static_cast<int>(workers_.size());
    error_ = nullptr;
    ++generation_;
  }
  start_cv_.notify_all();
  std::exception_ptr own;
  try {
    run_timed(fn, 0);
  } catch (...) {
    own = std::current_exception();
  }
  std::exception_ptr err;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
    err = error_;
  }
  if (own) std::rethrow_exception(own);
  if (err) std::rethrow_exception(err);
}

std::pair<std::int64_t, std::int64_t> split_range(std::int64_t n, int parts, int index) {
  const std::int64_t p = std::max(parts, 1);
  const std::int64_t base = n / p, extra = n % p;
  const std::int64_t begin = index * base + std::min<std::int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

template <class T>
void fill_random(T* x, std::int64_t n, std::uint64_t seed, WorkerPool& pool) {
  pool.run([&](int t, int nt) {
    const auto [b, e] = split_range(n, nt, t);
    for (std::int64_t i = b; i < e; ++i) {
      x[i] = static_cast<T>(random_value(seed, static_cast<std::uint64_t>(i)));
    }
  });
}
template void fill_random<float>(float*, std::int64_t, std::uint64_t, WorkerPool&);
template void fill_random<double>(double*, std::int64_t, std::uint64_t, WorkerPool&);

// ------------------------------------------------------------------ GEMM

bool eigen_available() {
#if defined(CLUSTERCOST_PROBE_HAVE_EIGEN)
  return true;
#else
  return false;
#endif
}

std::string gemm_backend_name(GemmBackend backend) {
  if (backend == GemmBackend::kEigen) {
#if defined(CLUSTERCOST_PROBE_HAVE_EIGEN)
    return "eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." +
           std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION);
#else
    return "eigen (not built)";
#endif
  }
  return "blocked (clustercost)";
}

GemmBackend default_gemm_backend() {
  return eigen_available() ? GemmBackend::kEigen : GemmBackend::kBlocked;
}

namespace {

// Cache blocking for the own kernel: a KC×NC panel of B (256×256 doubles = 512 KiB) stays in
// L2 while 4-row strips of A stream through it; the MR×NR accumulator tile (4×64) lives in L1
// and the inner loop over NR contiguous columns vectorises.
constexpr std::int64_t kKc = 256;
constexpr std::int64_t kNc = 256;
constexpr std::int64_t kMr = 4;
constexpr std::int64_t kNr = 64;

template <class T, std::int64_t MR, std::int64_t NR>
void micro_tile_fixed(const T* a, const T* b, T* c, std::int64_t n, std::int64_t k,
                      std::int64_t kn) {
  T acc[MR][NR];
  for (std::int64_t r = 0; r < MR; ++r)
    for (std::int64_t j = 0; j < NR; ++j) acc[r][j] = c[r * n + j];
  for (std::int64_t kk = 0; kk < kn; ++kk) {
    const T* brow = b + kk * n;
    for (std::int64_t r = 0; r < MR; ++r) {
      const T av = a[r * k + kk];
      for (std::int64_t j = 0; j < NR; ++j) acc[r][j] += av * brow[j];
    }
  }
  for (std::int64_t r = 0; r < MR; ++r)
    for (std::int64_t j = 0; j < NR; ++j) c[r * n + j] = acc[r][j];
}

template <class T>
void micro_tile_edge(const T* a, const T* b, T* c, std::int64_t n, std::int64_t k, std::int64_t kn,
                     std::int64_t mr, std::int64_t nr) {
  for (std::int64_t r = 0; r < mr; ++r) {
    for (std::int64_t kk = 0; kk < kn; ++kk) {
      const T av = a[r * k + kk];
      const T* brow = b + kk * n;
      for (std::int64_t j = 0; j < nr; ++j) c[r * n + j] += av * brow[j];
    }
  }
}

template <class T>
void gemm_blocked_rows(const T* a, const T* b, T* c, std::int64_t n, std::int64_t k,
                       std::int64_t row_begin, std::int64_t row_end) {
  for (std::int64_t i = row_begin; i < row_end; ++i) std::fill(c + i * n, c + (i + 1) * n, T(0));
  for (std::int64_t j0 = 0; j0 < n; j0 += kNc) {
    const std::int64_t jn = std::min(kNc, n - j0);
    for (std::int64_t k0 = 0; k0 < k; k0 += kKc) {
      const std::int64_t kn = std::min(kKc, k - k0);
      for (std::int64_t i0 = row_begin; i0 < row_end; i0 += kMr) {
        const std::int64_t mr = std::min(kMr, row_end - i0);
        for (std::int64_t j1 = 0; j1 < jn; j1 += kNr) {
          const std::int64_t nr = std::min(kNr, jn - j1);
          const T* ap = a + i0 * k + k0;
          const T* bp = b + k0 * n + j0 + j1;
          T* cp = c + i0 * n + j0 + j1;
          if (mr == kMr && nr == kNr) {
            micro_tile_fixed<T, kMr, kNr>(ap, bp, cp, n, k, kn);
          } else {
            micro_tile_edge(ap, bp, cp, n, k, kn, mr, nr);
          }
        }
      }
    }
  }
}

#if defined(CLUSTERCOST_PROBE_HAVE_EIGEN)
template <class T>
void gemm_eigen_rows(const T* a, const T* b, T* c, std::int64_t n, std::int64_t k,
                     std::int64_t row_begin, std::int64_t row_end) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::Index rows = static_cast<Eigen::Index>(row_end - row_begin);
  Eigen::Map<const Mat> am(a + row_begin * k, rows, static_cast<Eigen::Index>(k));
  Eigen::Map<const Mat> bm(b, static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(n));
  Eigen::Map<Mat> cm(c + row_begin * n, rows, static_cast<Eigen::Index>(n));
  cm.noalias() = am * bm;
}
#endif

}  // namespace

template <class T>
void gemm(GemmBackend backend, const T* a, const T* b, T* c, std::int64_t m, std::int64_t n,
          std::int64_t k, WorkerPool& pool) {
  pool.run([&](int t, int nt) {
    const auto [r0, r1] = split_range(m, nt, t);
    if (r0 >= r1) return;
#if defined(CLUSTERCOST_PROBE_HAVE_EIGEN)
    if (backend == GemmBackend::kEigen) {
      gemm_eigen_rows(a, b, c, n, k, r0, r1);
      return;
    }
#else
    (void)backend;
#endif
    gemm_blocked_rows(a, b, c, n, k, r0, r1);
  });
}
template void gemm<float>(GemmBackend, const float*, const float*, float*, std::int64_t,
                          std::int64_t, std::int64_t, WorkerPool&);
template void gemm<double>(GemmBackend, const double*, const double*, double*, std::int64_t,
                           std::int64_t, std::int64_t, WorkerPool&);

// ------------------------------------------------------------------ memory

void stream_copy(const double* src, double* dst, std::int64_t n, WorkerPool& pool) {
  pool.run([&](int t, int nt) {
    const auto [b, e] = split_range(n, nt, t);
    std::copy(src + b, src + e, dst + b);
  });
}

void stream_triad(double* a, const double* b, const double* c, double s, std::int64_t n,
                  WorkerPool& pool) {
  pool.run([&](int t, int nt) {
    const auto [lo, hi] = split_range(n, nt, t);
    for (std::int64_t i = lo; i < hi; ++i) a[i] = b[i] + s * c[i];
  });
}

// ------------------------------------------------------------------ attention

namespace {

// Eight partial sums so the compiler can vectorise a float reduction without -ffast-math.
float dot(const float* x, const float* y, std::int64_t n) {
  float acc[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += x[i + j] * y[i + j];
  float s = 0.0f;
  for (; i < n; ++i) s += x[i] * y[i];
  for (float v : acc) s += v;
  return s;
}

}  // namespace

void attention_causal(const float* q, const float* k, const float* v, float* o, std::int64_t batch,
                      std::int64_t heads, std::int64_t seq, std::int64_t head_dim,
                      WorkerPool& pool) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const std::int64_t units = batch * heads;
  pool.run([&](int t, int nt) {
    const auto [u0, u1] = split_range(units, nt, t);
    std::vector<float> p(static_cast<std::size_t>(seq));
    for (std::int64_t u = u0; u < u1; ++u) {
      const std::int64_t base = u * seq * head_dim;
      const float* qh = q + base;
      const float* kh = k + base;
      const float* vh = v + base;
      float* oh = o + base;
      for (std::int64_t i = 0; i < seq; ++i) {
        float mx = -std::numeric_limits<float>::infinity();
        for (std::int64_t j = 0; j <= i; ++j) {
          p[static_cast<std::size_t>(j)] =
              dot(qh + i * head_dim, kh + j * head_dim, head_dim) * scale;
          mx = std::max(mx, p[static_cast<std::size_t>(j)]);
        }
        float sum = 0.0f;
        for (std::int64_t j = 0; j <= i; ++j) {
          const float e = std::exp(p[static_cast<std::size_t>(j)] - mx);
          p[static_cast<std::size_t>(j)] = e;
          sum += e;
        }
        float* orow = oh + i * head_dim;
        std::fill(orow, orow + head_dim, 0.0f);
        for (std::int64_t j = 0; j <= i; ++j) {
          const float w = p[static_cast<std::size_t>(j)];
          const float* vrow = vh + j * head_dim;
          for (std::int64_t d = 0; d < head_dim; ++d) orow[d] += w * vrow[d];
        }
        const float inv = 1.0f / sum;
        for (std::int64_t d = 0; d < head_dim; ++d) orow[d] *= inv;
      }
    }
  });
}

}  // namespace clustercost::probe
