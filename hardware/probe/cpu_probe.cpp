#include "hardware/probe/cpu_probe.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
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

// Warm-up calls first (untimed), then `reps` timed calls; call(i) gets the global call index,
// so input sets rotate through warm-up and timed calls alike.
template <class F>
std::vector<Seconds> time_calls(int warmup, int reps, F&& call) {
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

template <class T>
Measurement bench_gemm(const NamedGemm& g, const char* dtype, CpuContext& ctx) {
  const std::int64_t m = g.shape.m, n = g.shape.n, k = g.shape.k;
  const std::int64_t set_bytes = (m * k + k * n + m * n) * static_cast<std::int64_t>(sizeof(T));
  const int sets = rotation_sets(set_bytes, ctx.cache_bytes, ctx.settings.quick);
  const std::string tag = g.name + "/" + dtype;
  std::vector<AlignedBuffer<T>> as, bs, cs;
  for (int s = 0; s < sets; ++s) {
    as.emplace_back(m * k);
    bs.emplace_back(k * n);
    cs.emplace_back(m * n);
    fill_random(as.back().data(), m * k, seed_for(tag, s, 0), ctx.pool);
    fill_random(bs.back().data(), k * n, seed_for(tag, s, 1), ctx.pool);
    // Outputs too: pages are touched outside the timed calls, and a kernel that skipped an
    // entry would leave random data the check catches.
    fill_random(cs.back().data(), m * n, seed_for(tag, s, 2), ctx.pool);
  }
  Measurement r;
  r.kind = "gemm";
  r.name = g.name;
  r.dtype = dtype;
  r.impl = gemm_backend_name(ctx.backend);
  r.shape = g.shape;
  r.flops = FlopCount(gemm_flops(g.shape));
  r.bytes = Bytes(static_cast<double>(set_bytes));
  r.samples = time_calls(ctx.settings.warmup, ctx.settings.repetitions, [&](int i) {
    const int s = i % sets;
    gemm(ctx.backend, as[s].data(), bs[s].data(), cs[s].data(), m, n, k, ctx.pool);
  });
  ErrorAccumulator err;
  for (int s = 0; s < std::min(sets, calls_of(ctx.settings)); ++s) {
    err.merge(check_gemm_rowmajor(as[s].data(), bs[s].data(), cs[s].data(), m, n, k, 8, 8,
                                  seed_for(tag, s, 9)));
  }
  finish_record(r, err.rel_error(), ctx.log);
  return r;
}

Measurement bench_grouped(const NamedGrouped& g, CpuContext& ctx) {
  using T = float;
  const GroupedGemmShape& sh = g.shape;
  const std::int64_t total_m = sh.total_m(), n = sh.n, k = sh.k;
  const auto groups = static_cast<std::int64_t>(sh.group_m.size());
  const std::int64_t set_elems = total_m * k + groups * k * n + total_m * n;
  const std::int64_t set_bytes = set_elems * static_cast<std::int64_t>(sizeof(T));
  const int sets = rotation_sets(set_bytes, ctx.cache_bytes, ctx.settings.quick);
  const std::string tag = g.name + "/fp32";
  // Tokens of all experts are contiguous (sorted by expert, as after a MoE permutation); each
  // expert has its own k×n weight.
  std::vector<AlignedBuffer<T>> xs, ws, ys;
  for (int s = 0; s < sets; ++s) {
    xs.emplace_back(total_m * k);
    ws.emplace_back(groups * k * n);
    ys.emplace_back(total_m * n);
    fill_random(xs.back().data(), total_m * k, seed_for(tag, s, 0), ctx.pool);
    fill_random(ws.back().data(), groups * k * n, seed_for(tag, s, 1), ctx.pool);
    fill_random(ys.back().data(), total_m * n, seed_for(tag, s, 2), ctx.pool);
  }
  const auto run_groups = [&](int s) {
    std::int64_t row = 0;
    for (std::int64_t e = 0; e < groups; ++e) {
      const std::int64_t me = sh.group_m[static_cast<std::size_t>(e)];
      gemm(ctx.backend, xs[s].data() + row * k, ws[s].data() + e * k * n, ys[s].data() + row * n,
           me, n, k, ctx.pool);
      row += me;
    }
  };
  Measurement r;
  r.kind = "grouped_gemm";
  r.name = g.name;
  r.dtype = "fp32";
  r.impl = "loop of " + gemm_backend_name(ctx.backend) + " GEMMs";
  r.shape = sh;
  r.flops = FlopCount(grouped_gemm_flops(sh));
  r.bytes = Bytes(static_cast<double>(set_bytes));
  r.samples = time_calls(ctx.settings.warmup, ctx.settings.repetitions,
                         [&](int i) { run_groups(i % sets); });
  ErrorAccumulator err;
  for (int s = 0; s < std::min(sets, calls_of(ctx.settings)); ++s) {
    std::int64_t row = 0;
    for (std::int64_t e = 0; e < groups; ++e) {
      const std::int64_t me = sh.group_m[static_cast<std::size_t>(e)];
      err.merge(check_gemm_rowmajor(xs[s].data() + row * k, ws[s].data() + e * k * n,
                                    ys[s].data() + row * n, me, n, k, 4, 4,
                                    seed_for(tag, s, static_cast<int>(10 + e))));
      row += me;
    }
  }
  finish_record(r, err.rel_error(), ctx.log);
  return r;
}

std::vector<Measurement> bench_memory(CpuContext& ctx) {
  // STREAM's rule is arrays much larger than the last-level cache; quick mode only checks
  // that the path works.
  const std::int64_t array_bytes =
      ctx.settings.quick ? (8ll << 20) : std::max<std::int64_t>(ctx.cache_bytes, 64ll << 20);
  const std::int64_t n = array_bytes / 8;
  std::vector<Measurement> out;
  const double scalar = 3.0;  // STREAM's triad scalar
  for (const bool triad : {false, true}) {
    const int arrays = triad ? 3 : 2;
    const int sets = rotation_sets(array_bytes * arrays, ctx.cache_bytes, ctx.settings.quick);
    const std::string tag = triad ? "triad" : "copy";
    std::vector<AlignedBuffer<double>> bufs;
    for (int s = 0; s < sets; ++s) {
      for (int a = 0; a < arrays; ++a) {
        bufs.emplace_back(n);
        fill_random(bufs.back().data(), n, seed_for(tag, s, a), ctx.pool);
      }
    }
    Measurement r;
    r.kind = "memory";
    r.name = tag;
    r.dtype = "fp64";
    r.impl = "stream (clustercost)";
    r.shape = BytesShape{array_bytes, 0};
    r.bytes = Bytes(static_cast<double>(array_bytes * arrays));  // read + written
    r.samples = time_calls(ctx.settings.warmup, ctx.settings.repetitions, [&](int i) {
      double* base0 = bufs[static_cast<std::size_t>((i % sets) * arrays)].data();
      double* base1 = bufs[static_cast<std::size_t>((i % sets) * arrays + 1)].data();
      if (triad) {
        const double* base2 = bufs[static_cast<std::size_t>((i % sets) * arrays + 2)].data();
        stream_triad(base0, base1, base2, scalar, n, ctx.pool);
      } else {
        stream_copy(base0, base1, n, ctx.pool);
      }
    });
    ErrorAccumulator err;
    for (int s = 0; s < std::min(sets, calls_of(ctx.settings)); ++s) {
      const double* x0 = bufs[static_cast<std::size_t>(s * arrays)].data();
      const double* x1 = bufs[static_cast<std::size_t>(s * arrays + 1)].data();
      for (const std::int64_t i : sample_indices(n, 256, seed_for(tag, s, 9))) {
        if (triad) {
          const double* x2 = bufs[static_cast<std::size_t>(s * arrays + 2)].data();
          err.add(x0[i], static_cast<double>(static_cast<long double>(x1[i]) +
                                             static_cast<long double>(scalar) * x2[i]));
        } else {
          err.add(x1[i], x0[i]);
        }
      }
    }
    finish_record(r, err.rel_error(), ctx.log);
    out.push_back(std::move(r));
  }
  return out;
}

Measurement bench_attention(const NamedAttention& a, CpuContext& ctx) {
  const AttentionShape& sh = a.shape;
  const std::int64_t elems = sh.batch * sh.heads * sh.seq * sh.head_dim;
  const std::int64_t set_bytes = 4 * elems * static_cast<std::int64_t>(sizeof(float));
  const int sets = rotation_sets(set_bytes, ctx.cache_bytes, ctx.settings.quick);
  const std::string tag = a.name + "/attention";
  std::vector<AlignedBuffer<float>> qs, ks, vs, os;
  for (int s = 0; s < sets; ++s) {
    qs.emplace_back(elems);
    ks.emplace_back(elems);
    vs.emplace_back(elems);
    os.emplace_back(elems);
    fill_random(qs.back().data(), elems, seed_for(tag, s, 0), ctx.pool);
    fill_random(ks.back().data(), elems, seed_for(tag, s, 1), ctx.pool);
    fill_random(vs.back().data(), elems, seed_for(tag, s, 2), ctx.pool);
    fill_random(os.back().data(), elems, seed_for(tag, s, 3), ctx.pool);
  }
  Measurement r;
  r.kind = "attention";
  r.name = a.name;
  r.dtype = "fp32";
  r.impl = "naive causal (clustercost)";
  r.shape = sh;
  r.flops = FlopCount(attention_flops(sh));
  r.bytes = Bytes(static_cast<double>(set_bytes));  // read q, k, v; write o
  r.samples = time_calls(ctx.settings.warmup, ctx.settings.repetitions, [&](int i) {
    const int s = i % sets;
    attention_causal(qs[s].data(), ks[s].data(), vs[s].data(), os[s].data(), sh.batch, sh.heads,
                     sh.seq, sh.head_dim, ctx.pool);
  });
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
        reference_attention_row(at(qs[s]), at(ks[s]), at(vs[s]), i, sh.head_dim, scale, ref);
        for (std::int64_t d = 0; d < sh.head_dim; ++d) {
          err.add(os[s][base + i * sh.head_dim + d],
                  static_cast<double>(ref[static_cast<std::size_t>(d)]));
        }
      }
    }
  }
  finish_record(r, err.rel_error(), ctx.log);
  return r;
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
  const auto batches = time_calls(ctx.settings.warmup, ctx.settings.repetitions, [&](int) {
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

  for (const NamedGemm& g : cpu_gemm_shapes(settings.quick)) {
    doc.records.push_back(bench_gemm<float>(g, "fp32", ctx));
    doc.records.push_back(bench_gemm<double>(g, "fp64", ctx));
  }
  for (const NamedGrouped& g : cpu_grouped_shapes(settings.quick)) {
    doc.records.push_back(bench_grouped(g, ctx));
  }
  for (Measurement& m : bench_memory(ctx)) doc.records.push_back(std::move(m));
  for (const NamedAttention& a : cpu_attention_shapes(settings.quick)) {
    doc.records.push_back(bench_attention(a, ctx));
  }
  doc.records.push_back(bench_thread_wake(ctx));
}

}  // namespace clustercost::probe
