#include "hardware/probe/cpu_probe.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hardware/probe/checks.hpp"
#include "hardware/probe/cpu_kernels.hpp"
#include "hardware/probe/data_gen.hpp"
#include "hardware/probe/rotation.hpp"
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

}  // namespace

void run_cpu_probe(const RunSettings& settings, MeasurementDoc& doc, std::ostream& log) {
  const CpuInfo cpu = query_cpu_info();
  WorkerPool pool(settings.threads);
  CpuContext ctx{settings, cpu.llc_bytes > 0 ? cpu.llc_bytes : kFallbackCacheBytes,
                 default_gemm_backend(), pool, log};

  DeviceInfo& d = doc.device;
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
