#pragma once
/// The CPU twins of the GPU microkernels: GEMM (Eigen when built with it, else a cache-blocked
/// kernel of our own), STREAM-style copy and triad, and a straightforward causal attention.
/// Work is split over a WorkerPool owned by the caller (single-threaded by default).

#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace clustercost::probe {

/// A fixed set of threads that run one function together: run(fn) calls fn(index, count) on
/// every thread (the caller is index 0) and returns when all are done. Workers park on a
/// condition variable between calls; an exception in any thread is rethrown by run().
///
/// Each thread also adds the CPU time it spends inside fn (CLOCK_THREAD_CPUTIME_ID) to its own
/// counter. busiest_cpu_seconds() is what the work since reset_cpu_time() would take if every
/// thread had a core to itself: the time the probe reports, so that other processes sharing
/// the cores (a loaded CI machine) do not stretch some samples and not others.
class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  void run(const std::function<void(int, int)>& fn);

  /// Zeroes the per-thread CPU-time counters (call between runs, not during one).
  void reset_cpu_time();
  /// The largest per-thread CPU time spent inside run() since reset_cpu_time(), in seconds.
  double busiest_cpu_seconds() const;

 private:
  void worker_loop(int index);
  void run_timed(const std::function<void(int, int)>& fn, int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  /// CPU seconds per thread index; slot i is written only by thread i, inside run(), and read
  /// by the caller after run() returned (ordered by the mutex hand-off of pending_).
  std::vector<double> cpu_seconds_;
};

/// CPU time consumed so far by the calling thread (CLOCK_THREAD_CPUTIME_ID), in seconds.
double thread_cpu_seconds();

/// [begin, end) of part `index` when [0, n) is split into `parts` nearly equal parts.
std::pair<std::int64_t, std::int64_t> split_range(std::int64_t n, int parts, int index);

/// 64-byte aligned, uninitialised storage (filling is part of the probe, not of allocation).
template <class T>
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(std::int64_t n) : size_(n) {
    const std::size_t bytes = ((static_cast<std::size_t>(n) * sizeof(T) + 63) / 64) * 64;
    data_.reset(static_cast<T*>(std::aligned_alloc(64, bytes == 0 ? 64 : bytes)));
    if (!data_) throw std::bad_alloc();
  }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  std::int64_t size() const { return size_; }
  T& operator[](std::int64_t i) { return data_.get()[i]; }
  const T& operator[](std::int64_t i) const { return data_.get()[i]; }

 private:
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data_;
  std::int64_t size_ = 0;
};

/// Fills x[0..n) with random_value(seed, i) (data_gen.hpp), split over the pool.
template <class T>
void fill_random(T* x, std::int64_t n, std::uint64_t seed, WorkerPool& pool);

enum class GemmBackend { kEigen, kBlocked };

/// True when this build can use Eigen for the CPU GEMM.
bool eigen_available();
/// "eigen 3.4.0" or "blocked (clustercost)" for the given backend.
std::string gemm_backend_name(GemmBackend backend);
/// Eigen when available, else the blocked kernel.
GemmBackend default_gemm_backend();

/// Row-major C(m×n) = A(m×k)·B(k×n) (overwrites C), rows split over the pool.
template <class T>
void gemm(GemmBackend backend, const T* a, const T* b, T* c, std::int64_t m, std::int64_t n,
          std::int64_t k, WorkerPool& pool);

/// dst[i] = src[i].
void stream_copy(const double* src, double* dst, std::int64_t n, WorkerPool& pool);
/// a[i] = b[i] + s·c[i] (STREAM triad).
void stream_triad(double* a, const double* b, const double* c, double s, std::int64_t n,
                  WorkerPool& pool);

/// Causal attention forward, fp32, layout [batch][heads][seq][head_dim]; scores scaled by
/// 1/√head_dim; (batch, head) pairs split over the pool.
void attention_causal(const float* q, const float* k, const float* v, float* o, std::int64_t batch,
                      std::int64_t heads, std::int64_t seq, std::int64_t head_dim,
                      WorkerPool& pool);

}  // namespace clustercost::probe
