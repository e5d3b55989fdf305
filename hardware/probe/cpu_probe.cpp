#include "hardware/probe/cpu_probe.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "hardware/probe/checks.hpp"
#include "hardware/probe/cpu_kernels.hpp"
#include "hardware/probe/cpu_op_kernels.hpp"
#include "hardware/probe/data_gen.hpp"
#include "hardware/probe/rotation.hpp"
#include "hardware/probe/scenario_ops.hpp"
#include "hardware/probe/shapes.hpp"
#include "hardware/probe/system_info.hpp"

namespace clustercost::probe {

namespace {

constexpr std::int64_t kFallbackCacheBytes = 32ll << 20;  // when sysfs says nothing

struct CpuContext {
  const RunSettings& settings;
  std::int64_t cache_bytes;
  GemmBackend backend;
  WorkerPool& pool;
  std::ostream& log;
};

// Wall-clock samples for what is a latency (waking a thread), where waiting is the thing
// measured: `warmup` untimed calls, then `reps` timed ones.
template <class F>
std::vector<Seconds> time_calls_wall(int warmup, int reps, F&& call) {
  for (int i = 0; i < warmup; ++i) call(i);
  std::vector<Seconds> samples;
  samples.reserve(static_cast<std::size_t>(reps));
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    call(warmup + r);
    const auto t1 = std::chrono::steady_clock::now();
    samples.push_back(Seconds(std::chrono::duration<double>(t1 - t0).count()));
  }
  return samples;
}

int calls_of(const RunSettings& s) { return s.warmup + s.repetitions; }

/// A kernel measurement ready to run: inputs allocated and filled (outside any timing). call(i)
/// runs call number i (warm-up and timed calls share the numbering, so input sets rotate through
/// both); check() returns the worst sampled error over the input sets the calls used.
struct Prepared {
  Measurement record;  ///< everything but samples and the check
  std::int64_t bytes_held = 0;
  std::function<void(int)> call;
  std::function<double()> check;
};
using Preparer = std::function<Prepared()>;

// Memory the interleaved measurements may hold at once. The quick probe (about 0.6 GiB of
// inputs) fits in one batch; the full probe's inputs (each beyond 1.25 × the last-level cache)
// run a few at a time.
constexpr std::int64_t kInterleaveBytes = std::int64_t{1} << 30;

// Times the kernels round-robin: after every kernel's warm-up, round r times call r of each
// kernel in turn, so the samples of every kernel are spread over the whole run instead of being
// taken back to back. Interference that drifts over seconds (other processes on a shared
// machine: cache and memory-bandwidth pressure that CPU time does not remove) then touches all
// kernels alike, and the median of each is taken across it; back-to-back samples agreed to a few
// percent within a record while whole records moved by ±15% between runs.
//
// Each sample is the CPU time of the busiest pool thread during the call
// (WorkerPool::busiest_cpu_seconds): the call's duration had every worker a core to itself. On a
// dedicated machine it equals the wall-clock time of the call (the workers run from start to
// end); on a shared one the wall clock also counts the time slices the OS gave to other
// processes, which stretched single samples 2-3× (triad 2.2 ms then 6.2 ms in one record) under
// the load of parallel builds on two cores.
void run_interleaved(const std::vector<Preparer>& list, CpuContext& ctx,
                     std::vector<Measurement>& out) {
  std::size_t next = 0;
  while (next < list.size()) {
    std::vector<Prepared> batch;
    std::int64_t held = 0;
    while (next < list.size() && (batch.empty() || held < kInterleaveBytes)) {
      batch.push_back(list[next++]());
      held += batch.back().bytes_held;
    }
    for (Prepared& b : batch)
      for (int i = 0; i < ctx.settings.warmup; ++i) b.call(i);
    const auto reps = static_cast<std::size_t>(ctx.settings.repetitions);
    for (Prepared& b : batch) b.record.samples.reserve(reps);
    for (int r = 0; r < ctx.settings.repetitions; ++r) {
      for (Prepared& b : batch) {
        ctx.pool.reset_cpu_time();
        b.call(ctx.settings.warmup + r);
        b.record.samples.push_back(Seconds(ctx.pool.busiest_cpu_seconds()));
      }
    }
    for (Prepared& b : batch) {
      finish_record(b.record, b.check(), ctx.log);
      out.push_back(std::move(b.record));
    }
  }
}

template <class T>
Prepared prepare_gemm(const NamedGemm& g, const char* dtype, CpuContext& ctx) {
  const std::int64_t m = g.shape.m, n = g.shape.n, k = g.shape.k;
  const std::int64_t set_bytes = (m * k + k * n + m * n) * static_cast<std::int64_t>(sizeof(T));
  const int sets = rotation_sets(set_bytes, ctx.cache_bytes, ctx.settings.quick);
  const std::string tag = g.name + "/" + dtype;
  struct State {
    std::vector<AlignedBuffer<T>> as, bs, cs;
  };
  auto st = std::make_shared<State>();
  for (int s = 0; s < sets; ++s) {
    st->as.emplace_back(m * k);
    st->bs.emplace_back(k * n);
    st->cs.emplace_back(m * n);
    fill_random(st->as.back().data(), m * k, seed_for(tag, s, 0), ctx.pool);
    fill_random(st->bs.back().data(), k * n, seed_for(tag, s, 1), ctx.pool);
    // Outputs too: pages are touched outside the timed calls, and a kernel that skipped an
    // entry would leave random data the check catches.
    fill_random(st->cs.back().data(), m * n, seed_for(tag, s, 2), ctx.pool);
  }
  Prepared p;
  Measurement& r = p.record;
  r.kind = "gemm";
  r.name = g.name;
  r.dtype = dtype;
  r.impl = gemm_backend_name(ctx.backend);
  r.shape = g.shape;
  r.flops = FlopCount(gemm_flops(g.shape));
  r.bytes = Bytes(static_cast<double>(set_bytes));
  p.bytes_held = set_bytes * sets;
  p.call = [st, sets, m, n, k, &ctx](int i) {
    const int s = i % sets;
    gemm(ctx.backend, st->as[s].data(), st->bs[s].data(), st->cs[s].data(), m, n, k, ctx.pool);
  };
  p.check = [st, sets, m, n, k, tag, &ctx]() {
    ErrorAccumulator err;
    for (int s = 0; s < std::min(sets, calls_of(ctx.settings)); ++s) {
      err.merge(check_gemm_rowmajor(st->as[s].data(), st->bs[s].data(), st->cs[s].data(), m, n,
                                    k, 8, 8, seed_for(tag, s, 9)));
    }
    return err.rel_error();
  };
  return p;
}

Prepared prepare_grouped(const NamedGrouped& g, CpuContext& ctx) {
  using T = float;
  const GroupedGemmShape sh = g.shape;
  const std::int64_t total_m = sh.total_m(), n = sh.n, k = sh.k;
  const auto groups = static_cast<std::int64_t>(sh.group_m.size());
  const std::int64_t set_elems = total_m * k + groups * k * n + total_m * n;
  const std::int64_t set_bytes = set_elems * static_cast<std::int64_t>(sizeof(T));
  const int sets = rotation_sets(set_bytes, ctx.cache_bytes, ctx.settings.quick);
  const std::string tag = g.name + "/fp32";
  // Tokens of all experts are contiguous (sorted by expert, as after a MoE permutation); each
  // expert has its own k×n weight.
  struct State {
    std::vector<AlignedBuffer<T>> xs, ws, ys;
  };
  auto st = std::make_shared<State>();
  for (int s = 0; s < sets; ++s) {
    st->xs.emplace_back(total_m * k);
    st->ws.emplace_back(groups * k * n);
    st->ys.emplace_back(total_m * n);
    fill_random(st->xs.back().data(), total_m * k, seed_for(tag, s, 0), ctx.pool);
    fill_random(st->ws.back().data(), groups * k * n, seed_for(tag, s, 1), ctx.pool);
    fill_random(st->ys.back().data(), total_m * n, seed_for(tag, s, 2), ctx.pool);
  }
  Prepared p;
  Measurement& r = p.record;
  r.kind = "grouped_gemm";
  r.name = g.name;
  r.dtype = "fp32";
  r.impl = "loop of " + gemm_backend_name(ctx.backend) + " GEMMs";
  r.shape = sh;
  r.flops = FlopCount(grouped_gemm_flops(sh));
  r.bytes = Bytes(static_cast<double>(set_bytes));
  p.bytes_held = set_bytes * sets;
  p.call = [st, sets, sh, n, k, &ctx](int i) {
    const int s = i % sets;
    std::int64_t row = 0;
    for (std::size_t e = 0; e < sh.group_m.size(); ++e) {
      const std::int64_t me = sh.group_m[e];
      gemm(ctx.backend, st->xs[s].data() + row * k,
           st->ws[s].data() + static_cast<std::int64_t>(e) * k * n, st->ys[s].data() + row * n, me,
           n, k, ctx.pool);
      row += me;
    }
  };
  p.check = [st, sets, sh, n, k, tag, &ctx]() {
    ErrorAccumulator err;
    for (int s = 0; s < std::min(sets, calls_of(ctx.settings)); ++s) {
      std::int64_t row = 0;
      for (std::size_t e = 0; e < sh.group_m.size(); ++e) {
        const std::int64_t me = sh.group_m[e];
        err.merge(check_gemm_rowmajor(st->xs[s].data() + row * k,
                                      st->ws[s].data() + static_cast<std::int64_t>(e) * k * n,
                                      st->ys[s].data() + row * n, me, n, k, 4, 4,
                                      seed_for(tag, s, static_cast<int>(10 + e))));
        row += me;
      }
    }
    return err.rel_error();
  };
  return p;
}

Prepared prepare_memory(bool triad, CpuContext& ctx) {
  // STREAM's rule is arrays much larger than the last-level cache; quick mode only checks
  // that the path works.
  const std::int64_t array_bytes =
      ctx.settings.quick ? (8ll << 20) : std::max<std::int64_t>(ctx.cache_bytes, 64ll << 20);
  const std::int64_t n = array_bytes / 8;
  const double scalar = 3.0;  // STREAM's triad scalar
  const int arrays = triad ? 3 : 2;
  const int sets = rotation_sets(array_bytes * arrays, ctx.cache_bytes, ctx.settings.quick);
  const std::string tag = triad ? "triad" : "copy";
  auto bufs = std::make_shared<std::vector<AlignedBuffer<double>>>();
  for (int s = 0; s < sets; ++s) {
    for (int a = 0; a < arrays; ++a) {
      bufs->emplace_back(n);
      fill_random(bufs->back().data(), n, seed_for(tag, s, a), ctx.pool);
    }
  }
  Prepared p;
  Measurement& r = p.record;
  r.kind = "memory";
  r.name = tag;
  r.dtype = "fp64";
  r.impl = "stream (clustercost)";
  r.shape = BytesShape{array_bytes, 0};
  r.bytes = Bytes(static_cast<double>(array_bytes * arrays));  // read + written
  p.bytes_held = array_bytes * arrays * sets;
  p.call = [bufs, sets, arrays, triad, n, scalar, &ctx](int i) {
    auto& b = *bufs;
    double* base0 = b[static_cast<std::size_t>((i % sets) * arrays)].data();
    double* base1 = b[static_cast<std::size_t>((i % sets) * arrays + 1)].data();
    if (triad) {
      const double* base2 = b[static_cast<std::size_t>((i % sets) * arrays + 2)].data();
      stream_triad(base0, base1, base2, scalar, n, ctx.pool);
    } else {
      stream_copy(base0, base1, n, ctx.pool);
    }
  };
  p.check = [bufs, sets, arrays, triad, n, scalar, tag, &ctx]() {
    const auto& b = *bufs;
    ErrorAccumulator err;
    for (int s = 0; s < std::min(sets, calls_of(ctx.settings)); ++s) {
      const double* x0 = b[static_cast<std::size_t>(s * arrays)].data();
      const double* x1 = b[static_cast<std::size_t>(s * arrays + 1)].data();
      for (const std::int64_t i : sample_indices(n, 256, seed_for(tag, s, 9))) {
        if (triad) {
          const double* x2 = b[static_cast<std::size_t>(s * arrays + 2)].data();
          err.add(x0[i], static_cast<double>(static_cast<long double>(x1[i]) +
                                             static_cast<long double>(scalar) * x2[i]));
        } else {
          err.add(x1[i], x0[i]);
        }
      }
    }
    return err.rel_error();
  };
  return p;
}

Prepared prepare_attention(const NamedAttention& a, CpuContext& ctx) {
  const AttentionShape sh = a.shape;
  const std::int64_t elems = sh.batch * sh.heads * sh.seq * sh.head_dim;
  const std::int64_t set_bytes = 4 * elems * static_cast<std::int64_t>(sizeof(float));
  const int sets = rotation_sets(set_bytes, ctx.cache_bytes, ctx.settings.quick);
  const std::string tag = a.name + "/attention";
  struct State {
    std::vector<AlignedBuffer<float>> qs, ks, vs, os;
  };
  auto st = std::make_shared<State>();
  for (int s = 0; s < sets; ++s) {
    st->qs.emplace_back(elems);
    st->ks.emplace_back(elems);
    st->vs.emplace_back(elems);
    st->os.emplace_back(elems);
    fill_random(st->qs.back().data(), elems, seed_for(tag, s, 0), ctx.pool);
    fill_random(st->ks.back().data(), elems, seed_for(tag, s, 1), ctx.pool);
    fill_random(st->vs.back().data(), elems, seed_for(tag, s, 2), ctx.pool);
    fill_random(st->os.back().data(), elems, seed_for(tag, s, 3), ctx.pool);
  }
  Prepared p;
  Measurement& r = p.record;
  r.kind = "attention";
  r.name = a.name;
  r.dtype = "fp32";
  r.impl = "naive causal (clustercost)";
  r.shape = sh;
  r.flops = FlopCount(attention_flops(sh));
  r.bytes = Bytes(static_cast<double>(set_bytes));  // read q, k, v; write o
  p.bytes_held = set_bytes * sets;
  p.call = [st, sets, sh, &ctx](int i) {
    const int s = i % sets;
    attention_causal(st->qs[s].data(), st->ks[s].data(), st->vs[s].data(), st->os[s].data(),
                     sh.batch, sh.heads, sh.seq, sh.head_dim, ctx.pool);
  };
  p.check = [st, sets, sh, tag, &ctx]() {
    ErrorAccumulator err;
    std::vector<long double> ref;
    const double scale = 1.0 / std::sqrt(static_cast<double>(sh.head_dim));
    for (int s = 0; s < std::min(sets, calls_of(ctx.settings)); ++s) {
      const auto units = sample_indices(sh.batch * sh.heads, 2, seed_for(tag, s, 8));
      for (const std::int64_t u : units) {
        const std::int64_t base = u * sh.seq * sh.head_dim;
        const auto at = [&](const AlignedBuffer<float>& buf) {
          return [&buf, base, d = sh.head_dim](std::int64_t i, std::int64_t j) {
            return buf[base + i * d + j];
          };
        };
        for (const std::int64_t i : sample_indices(sh.seq, 4, seed_for(tag, s, 9))) {
          reference_attention_row(at(st->qs[s]), at(st->ks[s]), at(st->vs[s]), i, sh.head_dim,
                                  scale, ref);
          for (std::int64_t d = 0; d < sh.head_dim; ++d) {
            err.add(st->os[s][base + i * sh.head_dim + d],
                    static_cast<double>(ref[static_cast<std::size_t>(d)]));
          }
        }
      }
    }
    return err.rel_error();
  };
  return p;
}

Measurement bench_thread_wake(CpuContext& ctx) {
  // Always one parked helper, whatever --threads says: the figure is the cost of starting a
  // helper thread, which every multi-threaded CPU kernel pays per call.
  constexpr int kCalls = 200;
  WorkerPool pair(2);
  const std::function<void(int, int)> empty = [](int, int) {};
  Measurement r;
  r.kind = "launch";
  r.name = "cpu_thread_wake";
  r.dtype = "fp32";  // no data moves; the dtype enumeration has no "none"
  r.impl = "condition_variable round trip";
  r.shape = LaunchShape{kCalls};
  const auto batches = time_calls_wall(ctx.settings.warmup, ctx.settings.repetitions, [&](int) {
    for (int c = 0; c < kCalls; ++c) pair.run(empty);
  });
  for (const Seconds s : batches) r.samples.push_back(s / kCalls);
  finish_record(r, 0.0, ctx.log);  // nothing is computed, so nothing can be wrong
  return r;
}

// ---------------------------------------------------------------- probe --scenario

/// HBM bytes one row of width w moves (read + written) in the twin of `k`, fp32 storage; the
/// same tensors as cuda_row_bytes (cuda_scenario_memory.cu) moves in bf16. The RMSNorm weight
/// (one row for all rows) and its gradient's per-thread partials are not counted, as on CUDA.
/// RoPE's (cos, sin) table is a full-size input here (the CUDA kernel computes the angles).
std::int64_t mem_row_bytes(MemKernel k, bool backward, std::int64_t w, int top_k) {
  switch (k) {
    case MemKernel::Norm: return backward ? 12 * w : 8 * w;  // x (+dy) in; y / dx out
    case MemKernel::Swiglu: return backward ? 20 * w : 12 * w;  // g, u (+dy) in; y / dg, du out
    case MemKernel::Softmax: case MemKernel::Copy: case MemKernel::Score: return 8 * w;
    case MemKernel::Rope: case MemKernel::Add: return 12 * w;
    case MemKernel::Dropout: return 9 * w;
    case MemKernel::CastTile: return 5 * w + 4 * ((w + 127) / 128);
    case MemKernel::CastTensor: return 10 * w;  // amax pass, then cast and transposed copy
    case MemKernel::Permute: case MemKernel::Embed: return 8 * w + 4;
    case MemKernel::Unpermute: return top_k * (4 * w + 8) + 4 * w;
    case MemKernel::Topk: return 4 * w + 8 * top_k;
    case MemKernel::LossForward: return 4 * w + 12;
    case MemKernel::LossBackward: return 8 * w + 4;
    case MemKernel::Adam: return 28 * w;
  }
  return 8 * w;
}

Prepared prepare_scenario_memory(const ScenarioOp& op, CpuContext& ctx) {
  const MemKernel kk = mem_kernel_of(op);
  // Backward kernels of their own: RMSNorm (dx, dw) and SwiGLU (dg, du). RoPE's backward is
  // the forward kernel given the negated sine (rotation by −angle: same bytes, same arithmetic).
  const bool backward = mem_kernel_backward(op);
  const bool norm_bwd = backward && kk == MemKernel::Norm;
  const bool swiglu_bwd = backward && kk == MemKernel::Swiglu;
  const int top_k = std::max(1, op.top_k);
  std::int64_t w = std::max<std::int64_t>(op.width, 1);
  if (kk == MemKernel::Adam) w = 4096;  // optimizer: a flat parameter array in chunks
  if (kk == MemKernel::Topk || kk == MemKernel::Score) w = std::max<std::int64_t>(w, top_k);
  const std::int64_t row_bytes = mem_row_bytes(kk, backward, w, top_k);
  const std::int64_t rows = std::max<std::int64_t>(1, op.bytes / row_bytes);
  const std::int64_t set_bytes = rows * row_bytes;
  // Quick mode: two sets, like every other quick measurement (rotation.hpp: it checks paths,
  // not caches). Rotating past a server's last-level cache (hundreds of MiB) on each of a
  // DeepSeek layer's ~150 memory ops took minutes of fills and checks on one thread.
  const int sets = rotation_sets(set_bytes, ctx.cache_bytes, ctx.settings.quick);
  const std::int64_t tiles = (w + 127) / 128;
  const std::string tag = op.name + "/" + op.info.pass + "/mem";
  const std::int64_t in_rows = kk == MemKernel::Unpermute ? rows * top_k : rows;
  struct Set {
    std::vector<AlignedBuffer<float>> in, out;
    AlignedBuffer<std::uint8_t> q, qt;
    AlignedBuffer<float> scales, wts, wvec, dw;  // dw: RMSNorm backward's weight gradient
    AlignedBuffer<std::int32_t> idx;
    float amax = 0;
  };
  // Inputs: x | x, dy (RMSNorm backward) | g, u (+dy, SwiGLU backward) | a, b | p, g, m, v.
  const int n_in = kk == MemKernel::Adam ? 4
                   : swiglu_bwd ? 3
                   : (norm_bwd || kk == MemKernel::Rope || kk == MemKernel::Swiglu || kk == MemKernel::Add) ? 2 : 1;
  const int n_out = kk == MemKernel::Adam ? 3
                    : swiglu_bwd ? 2
                    : (kk == MemKernel::CastTile || kk == MemKernel::CastTensor) ? 0 : 1;
  const std::int64_t out_elems = kk == MemKernel::LossForward ? rows
                                 : kk == MemKernel::Topk ? rows * top_k : rows * w;
  auto st = std::make_shared<std::vector<Set>>(static_cast<std::size_t>(sets));
  for (int s = 0; s < sets; ++s) {
    Set& b = (*st)[static_cast<std::size_t>(s)];
    for (int a = 0; a < n_in; ++a) {
      b.in.emplace_back(in_rows * w);
      fill_random(b.in.back().data(), in_rows * w, seed_for(tag, s, a), ctx.pool);
    }
    if (kk == MemKernel::Rope) {  // (cos, sin) pairs of real angles; −angle for the backward
      float* cs = b.in[1].data();
      const double sign = backward ? -1.0 : 1.0;
      for (std::int64_t i = 0; i + 1 < rows * w; i += 2) {
        const double ang = sign * 3.0 * random_value(seed_for(tag, s, 7), static_cast<std::uint64_t>(i));
        cs[i] = static_cast<float>(std::cos(ang));
        cs[i + 1] = static_cast<float>(std::sin(ang));
      }
    }
    for (int a = 0; a < n_out; ++a) {
      b.out.emplace_back(out_elems);
      fill_random(b.out.back().data(), out_elems, seed_for(tag, s, 10 + a), ctx.pool);
    }
    if (kk == MemKernel::Norm) {
      b.wvec = AlignedBuffer<float>(w);
      fill_random(b.wvec.data(), w, seed_for(tag, s, 20), ctx.pool);
    }
    if (norm_bwd) {
      b.dw = AlignedBuffer<float>(w);
      fill_random(b.dw.data(), w, seed_for(tag, s, 24), ctx.pool);  // stale data the check catches
    }
    if (kk == MemKernel::Dropout || kk == MemKernel::CastTile || kk == MemKernel::CastTensor) {
      b.q = AlignedBuffer<std::uint8_t>(rows * w);
      std::memset(b.q.data(), 0xFF, static_cast<std::size_t>(rows * w));
    }
    if (kk == MemKernel::CastTensor) {
      b.qt = AlignedBuffer<std::uint8_t>(rows * w);
      std::memset(b.qt.data(), 0xFF, static_cast<std::size_t>(rows * w));
    }
    if (kk == MemKernel::CastTile) {
      b.scales = AlignedBuffer<float>(rows * tiles);
      fill_random(b.scales.data(), rows * tiles, seed_for(tag, s, 21), ctx.pool);
    }
    const std::int64_t n_idx = (kk == MemKernel::Unpermute || kk == MemKernel::Topk) ? rows * top_k : rows;
    b.idx = AlignedBuffer<std::int32_t>(n_idx);
    for (std::int64_t i = 0; i < n_idx; ++i) {
      const std::uint64_t range = kk == MemKernel::Unpermute ? static_cast<std::uint64_t>(in_rows)
                                  : kk == MemKernel::LossForward || kk == MemKernel::LossBackward
                                      ? static_cast<std::uint64_t>(w)
                                      : static_cast<std::uint64_t>(rows);
      b.idx[i] = static_cast<std::int32_t>(random_below(seed_for(tag, s, 22), static_cast<std::uint64_t>(i), range));
    }
    if (kk == MemKernel::Unpermute) {
      b.wts = AlignedBuffer<float>(rows * top_k);
      fill_random(b.wts.data(), rows * top_k, seed_for(tag, s, 23), ctx.pool);
    }
  }
  const std::uint64_t drop_seed = seed_for(tag, 0, 30);
  // One row of the kernel, into float outputs (timed) or double outputs (check). `dw_acc`: the
  // calling thread's partial of RMSNorm backward's weight gradient (null in the check).
  const auto row = [kk, w, top_k, drop_seed, backward](Set& b, std::int64_t r, auto* out0, auto* out1,
                                                        auto* out2, bool write_bytes, double* dw_acc) {
    const float* x = b.in[0].data();
    switch (kk) {
      case MemKernel::Norm:
        if (backward) {
          rmsnorm_backward_row(x + r * w, b.wvec.data(), b.in[1].data() + r * w, out0 + r * w, dw_acc, w);
        } else {
          norm_row(x + r * w, b.wvec.data(), out0 + r * w, w);
        }
        break;
      case MemKernel::Rope: rope_row(x + r * w, b.in[1].data() + r * w, out0 + r * w, w); break;
      case MemKernel::Swiglu:
        if (backward) {
          swiglu_backward_row(x + r * w, b.in[1].data() + r * w, b.in[2].data() + r * w, out0 + r * w,
                              out1 + r * w, w);
        } else {
          swiglu_row(x + r * w, b.in[1].data() + r * w, out0 + r * w, w);
        }
        break;
      case MemKernel::Add: add_row(x + r * w, b.in[1].data() + r * w, out0 + r * w, w); break;
      case MemKernel::Dropout:
        dropout_row(x + r * w, out0 + r * w, write_bytes ? b.q.data() + r * w : nullptr, drop_seed, r, w);
        break;
      case MemKernel::Softmax: softmax_row(x + r * w, out0 + r * w, w); break;
      case MemKernel::Score: score_row(x + r * w, out0 + r * w, w); break;
      case MemKernel::Copy:
        for (std::int64_t i = 0; i < w; ++i) out0[r * w + i] = x[r * w + i];
        break;
      case MemKernel::Permute: case MemKernel::Embed: {
        const float* src = x + static_cast<std::int64_t>(b.idx[r]) * w;
        for (std::int64_t i = 0; i < w; ++i) out0[r * w + i] = src[i];
        break;
      }
      case MemKernel::Unpermute:
        unpermute_row(x, b.idx.data() + r * top_k, b.wts.data() + r * top_k, top_k, out0 + r * w, w);
        break;
      case MemKernel::Topk: {
        std::int32_t tmp[64];
        const int k = std::min(top_k, 64);
        topk_row(x + r * w, w, k, tmp, out0 + r * top_k);
        if (write_bytes) std::copy(tmp, tmp + k, b.idx.data() + r * top_k);
        break;
      }
      case MemKernel::LossForward:
        out0[r] = static_cast<std::remove_pointer_t<decltype(out0)>>(cross_entropy_row(x + r * w, w, b.idx[r]));
        break;
      case MemKernel::LossBackward: cross_entropy_grad_row(x + r * w, w, b.idx[r], out0 + r * w); break;
      case MemKernel::Adam:
        adam_row(x + r * w, b.in[1].data() + r * w, b.in[2].data() + r * w, b.in[3].data() + r * w,
                 out0 + r * w, out1 + r * w, out2 + r * w, w);
        break;
      case MemKernel::CastTile: case MemKernel::CastTensor: break;  // byte outputs: below
    }
  };
  Prepared p;
  Measurement& rec = p.record;
  rec.kind = "memory";
  rec.name = op.name;
  rec.dtype = "fp32";
  rec.impl = std::string(mem_kernel_name(kk)) +
             (norm_bwd ? " backward (dx, and dw reduced over the rows)"
              : swiglu_bwd ? " backward (dgate, dup)"
              : backward && kk == MemKernel::Rope ? " backward (rotation by -angle)" : "") +
             " (clustercost cpu twin, fp32 storage)";
  rec.shape = BytesShape{set_bytes, 0};
  rec.bytes = Bytes(static_cast<double>(set_bytes));
  rec.op = op.info;
  rec.op->kernels = kk == MemKernel::CastTensor ? 2 : 1;  // pool runs: amax, then cast
  if (op.info.op_dtype != "fp32")
    rec.op->note = "fp32 storage on the cpu (the op moves " + op.info.op_dtype +
                   "), rows of the op's bytes";
  p.bytes_held = set_bytes * sets;
  // RMSNorm backward: one weight-gradient partial per thread, reduced once per call.
  auto dw_part = std::make_shared<std::vector<double>>(
      norm_bwd ? static_cast<std::size_t>(ctx.pool.size() * w) : 0);
  p.call = [st, sets, rows, w, tiles, kk, row, norm_bwd, dw_part, &ctx](int i) {
    Set& b = (*st)[static_cast<std::size_t>(i % sets)];
    if (kk == MemKernel::CastTensor) {
      std::vector<float> part(static_cast<std::size_t>(ctx.pool.size()), 0.0f);
      ctx.pool.run([&](int t, int nt) {
        const auto [r0, r1] = split_range(rows, nt, t);
        part[static_cast<std::size_t>(t)] = amax_of(b.in[0].data() + r0 * w, (r1 - r0) * w);
      });
      b.amax = *std::max_element(part.begin(), part.end());
    }
    ctx.pool.run([&](int t, int nt) {
      const auto [r0, r1] = split_range(rows, nt, t);
      if (kk == MemKernel::CastTile || kk == MemKernel::CastTensor) {
        const float* x = b.in[0].data();
        const float tensor_scale = fp8_scale(b.amax);
        for (std::int64_t r = r0; r < r1; ++r) {
          if (kk == MemKernel::CastTile) {
            cast_tilewise_row(x + r * w, w, b.q.data() + r * w, b.scales.data() + r * tiles);
            continue;
          }
          for (std::int64_t c = 0; c < w; ++c) {
            const std::uint8_t code = float_to_e4m3_bits(x[r * w + c] * tensor_scale);
            b.q[r * w + c] = code;
            b.qt[c * rows + r] = code;
          }
        }
        return;
      }
      float* o0 = b.out.empty() ? nullptr : b.out[0].data();
      float* o1 = b.out.size() > 1 ? b.out[1].data() : nullptr;
      float* o2 = b.out.size() > 2 ? b.out[2].data() : nullptr;
      double* part = norm_bwd ? dw_part->data() + static_cast<std::int64_t>(t) * w : nullptr;
      if (part) std::fill(part, part + w, 0.0);
      for (std::int64_t r = r0; r < r1; ++r) row(b, r, o0, o1, o2, true, part);
    });
    if (norm_bwd) {  // dw = Σ over threads of the partials, columns split over the threads
      const int used = ctx.pool.size();
      ctx.pool.run([&](int t, int nt) {
        const auto [c0, c1] = split_range(w, nt, t);
        for (std::int64_t c = c0; c < c1; ++c) {
          double sum = 0;
          for (int u = 0; u < used; ++u) sum += (*dw_part)[static_cast<std::size_t>(u * w + c)];
          b.dw[c] = static_cast<float>(sum);
        }
      });
    }
  };
  p.check = [st, sets, rows, w, tiles, kk, top_k, out_elems, row, tag, norm_bwd, swiglu_bwd, &ctx]() {
    ErrorAccumulator err, dw_err;  // dw on its own: a sum over rows, far larger than dx
    for (int s = 0; s < std::min(sets, calls_of(ctx.settings)); ++s) {
      Set& b = (*st)[static_cast<std::size_t>(s)];
      if (norm_bwd) {  // dw sums every row: all of it, from every row's contribution in double
        std::vector<double> dw(static_cast<std::size_t>(w), 0.0), dx(static_cast<std::size_t>(w));
        for (std::int64_t r = 0; r < rows; ++r)
          rmsnorm_backward_row(b.in[0].data() + r * w, b.wvec.data(), b.in[1].data() + r * w, dx.data(),
                               dw.data(), w);
        for (std::int64_t c = 0; c < w; ++c) dw_err.add(b.dw[c], dw[static_cast<std::size_t>(c)]);
      }
      for (const std::int64_t r : sample_indices(rows, 6, seed_for(tag, s, 40))) {
        if (kk == MemKernel::CastTile || kk == MemKernel::CastTensor) {
          const float* x = b.in[0].data();
          const float tensor_scale = kk == MemKernel::CastTensor ? fp8_scale(amax_of(x, rows * w)) : 1.0f;
          for (std::int64_t c = 0; c < w; ++c) {
            const std::int64_t c0 = (c / 128) * 128, c1 = std::min(w, c0 + 128);
            const float sc = kk == MemKernel::CastTile ? fp8_scale(amax_of(x + r * w + c0, c1 - c0)) : tensor_scale;
            const float ref = e4m3_bits_to_float(float_to_e4m3_bits(x[r * w + c] * sc)) / sc;
            err.add(e4m3_bits_to_float(b.q[r * w + c]) / sc, ref);
            if (kk == MemKernel::CastTensor) err.add(e4m3_bits_to_float(b.qt[c * rows + r]) / sc, ref);
            // The tile's stored scale (what the GEMM multiplies back), once per tile.
            if (kk == MemKernel::CastTile && c == c0)
              err.add(b.scales[r * tiles + c / 128] * 448.0f, 448.0f / sc);
          }
          continue;
        }
        const std::int64_t per_row = kk == MemKernel::LossForward ? 1 : kk == MemKernel::Topk ? top_k : w;
        const std::int64_t off = r * per_row;
        // Full-size reference outputs (the row functions index by row); only row r is filled.
        std::vector<double> f0(static_cast<std::size_t>(out_elems)), f1, f2;
        if (kk == MemKernel::Adam || swiglu_bwd) f1.resize(f0.size());
        if (kk == MemKernel::Adam) f2.resize(f0.size());
        row(b, r, f0.data(), f1.empty() ? nullptr : f1.data(), f2.empty() ? nullptr : f2.data(), false,
            nullptr);
        const std::vector<double> r0(f0.begin() + off, f0.begin() + off + per_row);
        const std::vector<double> r1 = f1.empty() ? std::vector<double>() : std::vector<double>(f1.begin() + off, f1.begin() + off + per_row);
        const std::vector<double> r2 = f2.empty() ? std::vector<double>() : std::vector<double>(f2.begin() + off, f2.begin() + off + per_row);
        // The cross-entropy gradient is softmax − one-hot: compared as the softmax (the −1 of the
        // target would set the RMS the error is measured against, hiding the other entries).
        // The target's entry (p − 1, near −1) is checked on its own against the fp32 rounding
        // of a value near 1.
        const std::int64_t hot = kk == MemKernel::LossBackward ? b.idx[r] : -1;
        if (hot >= 0 && std::fabs(b.out[0][off + hot] - r0[static_cast<std::size_t>(hot)]) > 1e-6)
          err.add(std::numeric_limits<double>::infinity(), 0.0);
        for (std::size_t i = 0; i < r0.size(); ++i) {
          if (static_cast<std::int64_t>(i) == hot) continue;
          err.add(b.out[0][off + static_cast<std::int64_t>(i)], r0[i]);
          if (!r1.empty()) err.add(b.out[1][off + static_cast<std::int64_t>(i)], r1[i]);
          if (!r2.empty()) err.add(b.out[2][off + static_cast<std::int64_t>(i)], r2[i]);
        }
      }
    }
    return norm_bwd ? std::max(err.rel_error(), dw_err.rel_error()) : err.rel_error();
  };
  return p;
}

Prepared prepare_attention_backward(const NamedAttention& a, CpuContext& ctx) {
  const AttentionShape sh = a.shape;
  const std::int64_t elems = sh.batch * sh.heads * sh.seq * sh.head_dim;
  const std::int64_t set_bytes = 7 * elems * static_cast<std::int64_t>(sizeof(float));
  const int sets = rotation_sets(set_bytes, ctx.cache_bytes, ctx.settings.quick);
  const std::string tag = a.name + "/attention_backward";
  struct State {
    std::vector<AlignedBuffer<float>> q, k, v, dout, dq, dk, dv;
  };
  auto st = std::make_shared<State>();
  for (int s = 0; s < sets; ++s) {
    int operand = 0;
    for (auto* vec : {&st->q, &st->k, &st->v, &st->dout, &st->dq, &st->dk, &st->dv}) {
      vec->emplace_back(elems);
      fill_random(vec->back().data(), elems, seed_for(tag, s, operand++), ctx.pool);
    }
  }
  Prepared p;
  Measurement& r = p.record;
  r.kind = "attention";
  r.name = a.name;
  r.dtype = "fp32";
  r.impl = "naive causal backward (clustercost)";
  r.shape = sh;
  r.flops = FlopCount(2.5 * attention_flops(sh));  // FlashAttention's backward: 2.5 × forward
  r.bytes = Bytes(static_cast<double>(set_bytes));  // read q, k, v, dO; write dq, dk, dv
  p.bytes_held = set_bytes * sets;
  p.call = [st, sets, sh, &ctx](int i) {
    const int s = i % sets;
    const std::int64_t per = sh.seq * sh.head_dim;
    ctx.pool.run([&](int t, int nt) {
      const auto [u0, u1] = split_range(sh.batch * sh.heads, nt, t);
      for (std::int64_t u = u0; u < u1; ++u)
        attention_backward_head<float>(st->q[s].data() + u * per, st->k[s].data() + u * per,
                                       st->v[s].data() + u * per, st->dout[s].data() + u * per,
                                       st->dq[s].data() + u * per, st->dk[s].data() + u * per,
                                       st->dv[s].data() + u * per, sh.seq, sh.head_dim);
    });
  };
  p.check = [st, sets, sh, tag, &ctx]() {
    ErrorAccumulator err;
    const std::int64_t per = sh.seq * sh.head_dim;
    std::vector<double> dq(static_cast<std::size_t>(per)), dk(dq.size()), dv(dq.size());
    for (int s = 0; s < std::min(sets, calls_of(ctx.settings)); ++s) {
      for (const std::int64_t u : sample_indices(sh.batch * sh.heads, 1, seed_for(tag, s, 8))) {
        attention_backward_head<double>(st->q[s].data() + u * per, st->k[s].data() + u * per,
                                        st->v[s].data() + u * per, st->dout[s].data() + u * per,
                                        dq.data(), dk.data(), dv.data(), sh.seq, sh.head_dim);
        for (const std::int64_t i : sample_indices(per, 64, seed_for(tag, s, 9))) {
          err.add(st->dq[s][u * per + i], dq[static_cast<std::size_t>(i)]);
          err.add(st->dk[s][u * per + i], dk[static_cast<std::size_t>(i)]);
          err.add(st->dv[s][u * per + i], dv[static_cast<std::size_t>(i)]);
        }
      }
    }
    return err.rel_error();
  };
  return p;
}

void fill_cpu_device(DeviceInfo& d, const CpuInfo& cpu, const RunSettings& settings,
                     const CpuContext& ctx) {
  d.kind = "cpu";
  d.name = cpu.model;
  d.compute_units = cpu.logical_cores;
  d.clock_mhz = cpu.max_mhz;
  d.memory_gib = cpu.memory_gib;
  d.driver = cpu.kernel;
  d.runtime = cpu.runtime;
  d.compiler = compiler_description();
  d.gemm_backend = gemm_backend_name(ctx.backend);
  d.cache_bytes = cpu.llc_bytes;
  d.simd = compiled_simd();
  d.threads = settings.threads;
}

}  // namespace

void run_cpu_scenario_probe(const RunSettings& settings, const ScenarioProbePlan& plan,
                            MeasurementDoc& doc, std::ostream& log) {
  const CpuInfo cpu = query_cpu_info();
  WorkerPool pool(settings.threads);
  CpuContext ctx{settings, cpu.llc_bytes > 0 ? cpu.llc_bytes : kFallbackCacheBytes,
                 default_gemm_backend(), pool, log};
  fill_cpu_device(doc.device, cpu, settings, ctx);
  log << "cpu probe of scenario " << plan.scenario.name << ": " << plan.ops.size() << " ops, "
      << settings.threads << " thread(s), gemm " << doc.device.gemm_backend << '\n';
  std::vector<Preparer> list;
  for (const ScenarioOp& op : plan.ops) {
    if (op.kind == "gemm" || op.kind == "grouped_gemm") {
      if (op.info.op_dtype == "fp8") {
        // No FP8 arithmetic on a CPU: say so and measure the rest (the FP8 casts still run).
        const std::string why = op.name + " (" + op.info.pass + ", " + op.info.role +
                                "): FP8 GEMM not supported on this device (cpu: no FP8 arithmetic); not measured";
        doc.skipped.push_back(why);
        log << "probe: skipped " << why << '\n';
        continue;
      }
      ScenarioOpInfo info = op.info;
      if (op.info.op_dtype != "fp32")
        info.note = (info.note.empty() ? "" : info.note + "; ") + op.info.op_dtype +
                    " GEMM run in fp32 (no " + op.info.op_dtype + " GEMM on the cpu)";
      // Launches of what runs here: one pool run per GEMM (the grouped one loops over groups).
      info.kernels = op.kind == "gemm" ? 1 : static_cast<int>(op.grouped.group_m.size());
      if (op.kind == "gemm") {
        const NamedGemm g{op.name, op.gemm};
        list.push_back([g, info, &ctx] {
          Prepared p = prepare_gemm<float>(g, "fp32", ctx);
          p.record.op = info;
          return p;
        });
      } else {
        const NamedGrouped g{op.name, op.grouped};
        list.push_back([g, info, &ctx] {
          Prepared p = prepare_grouped(g, ctx);
          p.record.op = info;
          return p;
        });
      }
    } else if (op.kind == "attention") {
      const NamedAttention a{op.name, op.attention};
      ScenarioOpInfo info = op.info;
      info.kernels = 1;
      info.note = (info.note.empty() ? "" : info.note + "; ") +
                  "naive fp32 causal attention stands in for " +
                  (info.attention_kernel.empty() ? std::string("the fused kernel") : info.attention_kernel);
      list.push_back([a, info, &ctx] {
        Prepared p = info.backward ? prepare_attention_backward(a, ctx) : prepare_attention(a, ctx);
        p.record.op = info;
        return p;
      });
    } else {
      list.push_back([op, &ctx] { return prepare_scenario_memory(op, ctx); });
    }
  }
  run_interleaved(list, ctx, doc.records);
  doc.records.push_back(bench_thread_wake(ctx));
  for (const std::string& s : plan.skipped) doc.skipped.push_back(s);
}

void run_cpu_probe(const RunSettings& settings, MeasurementDoc& doc, std::ostream& log) {
  const CpuInfo cpu = query_cpu_info();
  WorkerPool pool(settings.threads);
  CpuContext ctx{settings, cpu.llc_bytes > 0 ? cpu.llc_bytes : kFallbackCacheBytes,
                 default_gemm_backend(), pool, log};

  DeviceInfo& d = doc.device;
  fill_cpu_device(d, cpu, settings, ctx);
  log << "cpu probe: " << d.name << ", " << settings.threads << " thread(s), gemm "
      << d.gemm_backend << ", simd " << d.simd << ", last-level cache " << (ctx.cache_bytes >> 20)
      << " MiB" << (settings.quick ? ", quick" : "") << '\n';

  // Preparers, in the order of the records; run_interleaved prepares as many at a time as
  // kInterleaveBytes allows and times them round-robin.
  std::vector<Preparer> list;
  for (const NamedGemm& g : cpu_gemm_shapes(settings.quick)) {
    list.push_back([g, &ctx] { return prepare_gemm<float>(g, "fp32", ctx); });
    list.push_back([g, &ctx] { return prepare_gemm<double>(g, "fp64", ctx); });
  }
  for (const NamedGrouped& g : cpu_grouped_shapes(settings.quick)) {
    list.push_back([g, &ctx] { return prepare_grouped(g, ctx); });
  }
  for (const bool triad : {false, true}) {
    list.push_back([triad, &ctx] { return prepare_memory(triad, ctx); });
  }
  for (const NamedAttention& a : cpu_attention_shapes(settings.quick)) {
    list.push_back([a, &ctx] { return prepare_attention(a, ctx); });
  }
  run_interleaved(list, ctx, doc.records);
  doc.records.push_back(bench_thread_wake(ctx));
}

}  // namespace clustercost::probe
