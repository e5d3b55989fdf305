#include "sim/plan/plan.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <map>
#include <sstream>
#include <thread>

#include "hardware/spec/catalog.hpp"
#include "sim/campaign/run_result.hpp"
#include "sim/cost/cost_result.hpp"
#include "sim/step/analytical_step.hpp"
#include "sim/workload/des_step.hpp"

namespace clustercost {

namespace {

/// Below this many tokens per rank, context parallelism's attention blocks are too small to pay
/// for its ring exchange: Llama 3 trained with CP only in its 131K long-context stage (arXiv
/// 2407.21783 §3.3.2); Megatron-Core recommends CP for long sequences. The default axis tries
/// cp only while seq_len / cp ≥ this; `--cp` overrides it.
constexpr int kMinTokensPerCpRank = 4096;
/// Default virtual stages tried by the interleaved schedule (Megatron-LM uses 2–8 chunks;
/// Llama 3 70B's shipped layout uses 5).
constexpr int kMaxDefaultVpp = 8;

std::string fmt(double v, int prec = 4) {
  std::ostringstream os;
  os.precision(prec);
  os << v;
  return os.str();
}

/// Whether a layout's values are among the axes' given values (an empty axis: generated, which
/// always holds the base scenario's value).
bool within_axes(const ParallelismConfig& p, const PlanAxes& a) {
  auto in = [](const auto& list, const auto& v) {
    return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
  };
  return in(a.tp, p.tp) && in(a.cp, p.cp) && in(a.pp, p.pp) && in(a.ep, p.ep) &&
         (p.schedule != Schedule::Interleaved || in(a.vpp, p.vpp)) &&
         in(a.micro_batch, p.micro_batch) && in(a.zero, p.zero) && in(a.recompute, p.recompute) &&
         in(a.schedule, p.schedule);
}

/// "1 GPU", "512 GPUs".
std::string gpus_text(std::int64_t n) { return std::to_string(n) + (n == 1 ? " GPU" : " GPUs"); }

std::vector<int> divisors(std::int64_t n, std::int64_t at_most) {
  std::vector<int> out;
  for (std::int64_t d = 1; d <= n && d <= at_most; ++d)
    if (n % d == 0) out.push_back(static_cast<int>(d));
  return out;
}

void add_unique(std::vector<int>& v, int x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

template <typename T>
std::vector<T> sorted_unique(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

/// The axes that fix a layout's shape; ZeRO and recomputation are its memory "knobs".
struct Structure {
  int tp = 1, cp = 1, pp = 1, ep = 1, vpp = 1;
  Schedule schedule = Schedule::OneFOneB;
};

struct Knob {
  int zero = 1;
  Recompute recompute = Recompute::None;
};

/// a dominates b: a is at least as fast and holds at least as much memory (plan.hpp, stage 3).
/// One exception: at ZeRO-3 more recomputation can hide more of the per-micro-batch parameter
/// gathers behind compute, so ZeRO-3 settings are not compared across recomputation levels.
bool dominates(const Knob& a, const Knob& b) {
  const int ra = static_cast<int>(a.recompute), rb = static_cast<int>(b.recompute);
  if (ra > rb) return false;
  if (ra < rb && a.zero == 3) return false;
  return a.zero == b.zero || (a.zero >= 1 && a.zero <= b.zero);
}

/// How one GPU type is planned: the assignments that adapt the base scenario to it.
struct TypeContext {
  const GpuSpec* gpu = nullptr;
  std::vector<std::string> sets;
  std::vector<std::string> notes;
  int gpus_per_node = 8;
  int tp_limit = 8;                 // scale-up domain (tensor parallelism stays inside it)
  std::vector<std::int64_t> counts; // ascending
  std::string reason;               // why the type cannot be planned at all
};

/// Everything the search needs that does not change between candidates.
struct SearchContext {
  const Json* doc = nullptr;
  std::string file;
  const Catalog* catalog = nullptr;
  const DataDirs* dirs = nullptr;
  const Scenario* base = nullptr;
  bool base_has_dp = false;
  bool base_has_modules = false;
  PlanObjective objective = PlanObjective::Time;
};

struct Evaluation {
  bool accepted = false;
  std::string rejection;
  bool fits = false;
  bool unrunnable = false;
  PlanCandidate candidate;
};

Scenario load_candidate(const SearchContext& ctx, const std::vector<std::string>& sets) {
  Json j = *ctx.doc;
  for (const auto& s : sets) apply_override(j, s);
  return parse_scenario(j, ctx.file, *ctx.catalog, *ctx.dirs);
}

PlanEstimate estimate(const Scenario& s, const StepResult& step) {
  PlanEstimate e;
  e.fidelity = step.fidelity;
  e.step_time_s = step.step_time.value;
  e.mfu = step.mfu;
  const RunResult run = estimate_run(s, step);
  const CostResult cost = estimate_cost(s, step, run);
  e.wall_days = run.wall_days;
  e.gpu_hours = run.gpu_hours;
  e.total_usd = cost.total_usd;
  return e;
}

PlanLayout layout_of(const Scenario& s, std::vector<std::string> sets) {
  PlanLayout l;
  l.gpu = s.cluster.gpu;
  l.gpus = s.cluster.gpus;
  l.gpus_per_node = s.cluster.gpus_per_node;
  l.parallelism = s.parallelism;
  l.sets = std::move(sets);
  return l;
}

/// Loads and evaluates one layout with the analytical model. Loader and model errors reject it
/// (`accepted` false); a layout that fits but cannot make progress between failures is accepted
/// and marked `unrunnable`.
/// `cache` (optional): the topology and routing samples shared by the layouts of one structure.
Evaluation evaluate(const SearchContext& ctx, std::vector<std::string> sets,
                    StepCache* cache = nullptr) {
  Evaluation ev;
  Scenario s;
  StepResult step;
  try {
    s = load_candidate(ctx, sets);
    step = cache ? simulate_step_analytical(s, *cache) : simulate_step_analytical(s);
  } catch (const InputError& e) {
    ev.rejection = (e.json_path().empty() ? "" : e.json_path() + ": ") + e.message();
    return ev;
  }
  ev.accepted = true;
  ev.candidate.peak_gib = to_gib(step.memory.total());
  ev.candidate.capacity_gib = to_gib(step.memory.capacity);
  ev.fits = step.memory.fits();
  ev.candidate.layout = layout_of(s, std::move(sets));
  if (!ev.fits) return ev;
  try {
    ev.candidate.analytical = estimate(s, step);
  } catch (const InputError& e) {
    ev.fits = false;
    ev.unrunnable = true;
    ev.rejection = e.message();
  }
  return ev;
}

std::string value_text(int v) { return std::to_string(v); }

/// The assignments that turn the base scenario into (type, count, structure, mb, knob).
std::vector<std::string> layout_sets(const SearchContext& ctx, const TypeContext& type,
                                     std::int64_t gpus, const Structure& st, int mb,
                                     const Knob& k) {
  const Scenario& b = *ctx.base;
  const ParallelismConfig& bp = b.parallelism;
  std::vector<std::string> sets = type.sets;
  if (gpus != b.cluster.gpus || type.gpu->name != b.cluster.gpu)
    sets.push_back("cluster.gpus=" + std::to_string(gpus));
  auto put = [&](const char* key, int v, int base) {
    if (v != base) sets.push_back(std::string("parallelism.") + key + "=" + value_text(v));
  };
  put("tp", st.tp, bp.tp);
  put("cp", st.cp, bp.cp);
  put("pp", st.pp, bp.pp);
  put("ep", st.ep, bp.ep);
  put("vpp", st.vpp, bp.vpp);
  if (st.schedule != bp.schedule) sets.push_back("parallelism.schedule=" + schedule_name(st.schedule));
  put("micro_batch", mb, bp.micro_batch);
  put("zero", k.zero, bp.zero);
  if (k.recompute != bp.recompute)
    sets.push_back("parallelism.recompute=" + recompute_name(k.recompute));
  // Megatron's default: sequence parallelism whenever tensor parallelism is on.
  const bool sp = st.tp > 1;
  if (sp != bp.sequence_parallel)
    sets.push_back(std::string("parallelism.sequence_parallel=") + (sp ? "true" : "false"));
  if (k.recompute == Recompute::Full && ctx.base_has_modules)
    sets.push_back("parallelism.recompute_modules=[]");  // full already recomputes every module
  if (ctx.base_has_dp) {
    const std::int64_t mp = static_cast<std::int64_t>(st.tp) * st.cp * st.pp;
    if (mp > 0 && gpus % mp == 0 && gpus / mp != bp.dp)
      sets.push_back("parallelism.dp=" + std::to_string(gpus / mp));
  }
  return sets;
}

/// The loader's divisibility rules that need only arithmetic (a fast pre-check: the loader
/// itself stays the authority for every layout that is evaluated).
bool divides(const Scenario& b, std::int64_t gpus, const Structure& st, int mb) {
  const std::int64_t mp = static_cast<std::int64_t>(st.tp) * st.cp * st.pp;
  if (gpus % mp != 0) return false;
  const std::int64_t dp = gpus / mp;
  if (static_cast<std::int64_t>(st.pp) * st.vpp > b.model.layers) return false;
  if (b.training.global_batch % (dp * mb) != 0) return false;
  if (b.training.seq_len % st.cp != 0) return false;
  if (b.model.is_moe()) {
    if (b.model.moe->routed_experts % st.ep != 0 || (dp * st.cp) % st.ep != 0) return false;
  } else if (st.ep != 1) {
    return false;
  }
  const std::int64_t m = b.training.global_batch / (dp * mb);
  if (st.schedule == Schedule::Interleaved && (st.vpp < 2 || m % st.pp != 0)) return false;
  if (st.schedule != Schedule::Interleaved && st.vpp != 1) return false;
  if (st.schedule == Schedule::DualPipe && (st.pp % 2 != 0 || m < 2LL * st.pp)) return false;
  return true;
}

/// The outcome of one structure (all its micro-batch sizes and knob settings).
struct StructureOutcome {
  PlanCounts counts;
  std::vector<PlanCandidate> fitting;
  std::string first_rejection;
  std::optional<double> smallest_footprint_gib;
  std::optional<PlanCandidate> smallest_layout;
};

StructureOutcome search_structure(const SearchContext& ctx, const TypeContext& type,
                                  std::int64_t gpus, const Structure& st,
                                  const std::vector<int>& mbs, const std::vector<int>& zeros,
                                  const std::vector<Recompute>& recs) {
  StructureOutcome out;
  const auto n_knobs = static_cast<std::int64_t>(zeros.size() * recs.size());
  out.counts.generated = static_cast<std::int64_t>(mbs.size()) * n_knobs;
  // zeros and recs are sorted ascending: ZeRO-0 first, then 1..3; none, selective, full.
  const bool has_zero0 = zeros.front() == 0;
  const std::vector<int> staged(zeros.begin() + (has_zero0 ? 1 : 0), zeros.end());
  // The setting that holds the least memory: highest ZeRO stage, most recomputation.
  const Knob lightest{zeros.back(), recs.back()};
  bool too_big = false;  // a smaller micro-batch did not fit even at its lightest setting
  // The knobs (ZeRO, recompute) of one micro-batch share the network and the routing samples.
  StepCache cache;
  for (int mb : mbs) {
    if (!divides(*ctx.base, gpus, st, mb)) continue;
    if (too_big) {
      // Activations grow with the micro-batch: this one cannot fit either.
      out.counts.divisible += n_knobs;
      out.counts.memory_pruned += n_knobs;
      continue;
    }
    std::map<std::pair<int, int>, Evaluation> seen;  // (zero, recompute) → evaluation
    auto eval = [&](const Knob& k) -> const Evaluation& {
      auto key = std::make_pair(k.zero, static_cast<int>(k.recompute));
      auto it = seen.find(key);
      if (it != seen.end()) return it->second;
      ++out.counts.evaluated;
      Evaluation ev = evaluate(ctx, layout_sets(ctx, type, gpus, st, mb, k), &cache);
      if (!ev.accepted && out.first_rejection.empty()) out.first_rejection = ev.rejection;
      if (ev.unrunnable && out.first_rejection.empty()) out.first_rejection = ev.rejection;
      return seen.emplace(key, std::move(ev)).first->second;
    };
    const Evaluation& probe = eval(lightest);
    if (!probe.accepted) {
      --out.counts.evaluated;  // a loader rejection is a divisibility verdict, not a model run
      continue;  // ZeRO and recomputation never change divisibility
    }
    out.counts.divisible += n_knobs;
    if (!probe.unrunnable &&
        (!out.smallest_footprint_gib || probe.candidate.peak_gib < *out.smallest_footprint_gib)) {
      out.smallest_footprint_gib = probe.candidate.peak_gib;
      out.smallest_layout = probe.candidate;
    }
    if (!probe.fits && !probe.unrunnable) {
      out.counts.memory_pruned += n_knobs - 1;
      too_big = true;
      continue;
    }
    // The fitting settings no other fitting setting dominates (plan.hpp, stage 3). Memory only
    // falls with the ZeRO stage and with recomputation, time only rises: per recomputation level
    // the fastest fitting stage is the lowest one that fits, and it only matters when lower than
    // what a lighter recomputation level already reached.
    std::vector<Knob> frontier;
    int bound = 4;             // stages >= bound are dominated by a lighter recomputation's fit
    bool zero0_fits = false;   // ZeRO-0 at a lighter recomputation dominates ZeRO-0 here
    for (Recompute r : recs) {
      bool lowest_fits = staged.empty();
      // ZeRO-3 at a lighter level does not dominate ZeRO-3 here (see dominates()).
      for (std::size_t i = 0; i < staged.size(); ++i) {
        if (staged[i] >= bound && !(staged[i] == 3 && bound == 3)) break;
        const Evaluation& ev = eval({staged[i], r});
        if (ev.fits) {
          frontier.push_back({staged[i], r});
          bound = staged[i];
          lowest_fits = i == 0;
          break;
        }
      }
      // ZeRO-0 holds more than any sharded stage: try it only when the lowest stage fits.
      if (has_zero0 && !zero0_fits && lowest_fits) {
        if (eval({0, r}).fits) {
          frontier.push_back({0, r});
          zero0_fits = true;
        }
      }
    }
    // Classify what was not evaluated: dominated by a fitting setting, else too big.
    for (int z : zeros)
      for (Recompute r : recs) {
        const Knob k{z, r};
        auto it = seen.find({z, static_cast<int>(r)});
        if (it != seen.end()) {
          if (it->second.fits) {
            ++out.counts.fits;
            out.fitting.push_back(it->second.candidate);
          }
          continue;
        }
        if (std::any_of(frontier.begin(), frontier.end(), [&](const Knob& f) { return dominates(f, k); }))
          ++out.counts.dominated;
        else
          ++out.counts.memory_pruned;
      }
  }
  return out;
}

/// Runs `f(i)` for i in [0, n) on `threads` threads; each i writes only its own slot.
template <typename F>
void parallel_for(std::size_t n, int threads, F f) {
  const std::size_t workers = std::min<std::size_t>(n, static_cast<std::size_t>(std::max(1, threads)));
  if (workers <= 1) {
    for (std::size_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    pool.emplace_back([&, w]() {
      try {
        for (std::size_t i = next++; i < n && !failed; i = next++) f(i);
      } catch (...) {
        errors[w] = std::current_exception();
        failed = true;
      }
    });
  }
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

double objective_value(const PlanEstimate& e, PlanObjective o) {
  return o == PlanObjective::Time ? e.wall_days : e.total_usd;
}

/// Total order: objective, then the other objective, then fewer GPUs, then the layout key.
bool better(const PlanEstimate& a, const PlanLayout& la, const PlanEstimate& b,
            const PlanLayout& lb, PlanObjective o) {
  const PlanObjective other = o == PlanObjective::Time ? PlanObjective::Cost : PlanObjective::Time;
  const double va = objective_value(a, o), vb = objective_value(b, o);
  if (va != vb) return va < vb;
  const double wa = objective_value(a, other), wb = objective_value(b, other);
  if (wa != wb) return wa < wb;
  if (la.gpus != lb.gpus) return la.gpus < lb.gpus;
  return la.key() < lb.key();
}

/// How layouts are ranked: by the objective; with a deadline, those that meet it first (by the
/// objective), then the others closest to it first (fastest first: with none in time, the
/// question becomes how near one gets).
struct Order {
  PlanObjective objective = PlanObjective::Time;
  std::optional<double> deadline;

  bool before(const PlanEstimate& a, const PlanLayout& la, const PlanEstimate& b,
              const PlanLayout& lb) const {
    if (deadline) {
      const bool ma = a.wall_days <= *deadline, mb = b.wall_days <= *deadline;
      if (ma != mb) return ma;
      if (!ma) return better(a, la, b, lb, PlanObjective::Time);
    }
    return better(a, la, b, lb, objective);
  }
};

void sort_analytical(std::vector<const PlanCandidate*>& v, const Order& o) {
  std::sort(v.begin(), v.end(), [&o](const PlanCandidate* a, const PlanCandidate* b) {
    return o.before(a->analytical, a->layout, b->analytical, b->layout);
  });
}

void sort_best(std::vector<PlanCandidate>& v, const Order& o) {
  std::sort(v.begin(), v.end(), [&o](const PlanCandidate& a, const PlanCandidate& b) {
    return o.before(a.best(), a.layout, b.best(), b.layout);
  });
}

/// Discrete-event confirmations, computed once per layout.
class Confirmer {
 public:
  Confirmer(const SearchContext& ctx, int threads, PlanCounts& counts,
            const std::function<void(const std::string&)>& progress)
      : ctx_(ctx), threads_(threads), counts_(counts), progress_(progress) {}

  /// Fills `des` (or `des_error`) of each candidate, simulating the layouts not seen yet.
  void confirm(std::vector<PlanCandidate*> cands) {
    std::vector<PlanCandidate*> todo;
    for (auto* c : cands) {
      const std::string k = c->layout.key();
      if (done_.count(k) || std::any_of(todo.begin(), todo.end(), [&](PlanCandidate* t) {
            return t->layout.key() == k;
          }))
        continue;
      todo.push_back(c);
    }
    std::vector<Outcome> results(todo.size());
    parallel_for(todo.size(), threads_, [&](std::size_t i) {
      Outcome& o = results[i];
      try {
        Scenario s = load_candidate(ctx_, todo[i]->layout.sets);
        StepResult step = simulate_step_des(s);
        o.estimate = estimate(s, step);
      } catch (const InputError& e) {
        o.error = e.message();
      }
    });
    for (std::size_t i = 0; i < todo.size(); ++i) {
      ++counts_.confirmed;
      const auto& c = *todo[i];
      if (progress_) {
        std::string line = "plan: des " + c.layout.gpu + " x" + std::to_string(c.layout.gpus) +
                           " " + c.layout.label() + ": ";
        if (results[i].estimate)
          line += fmt(results[i].estimate->step_time_s) + " s/step (analytical " +
                  fmt(c.analytical.step_time_s) + ")";
        else
          line += "failed: " + results[i].error;
        progress_(line);
      }
      done_[c.layout.key()] = std::move(results[i]);
    }
    for (auto* c : cands) {
      const Outcome& o = done_.at(c->layout.key());
      c->des = o.estimate;
      c->des_error = o.error;
    }
  }

  /// Attaches an earlier confirmation of the same layout, if any, without simulating.
  void recall(PlanCandidate& c) const {
    const auto it = done_.find(c.layout.key());
    if (it == done_.end()) return;
    c.des = it->second.estimate;
    c.des_error = it->second.error;
  }

 private:
  struct Outcome {
    std::optional<PlanEstimate> estimate;
    std::string error;
  };
  const SearchContext& ctx_;
  int threads_;
  PlanCounts& counts_;
  const std::function<void(const std::string&)>& progress_;
  std::map<std::string, Outcome> done_;
};

/// The `n` best of `pool` by the analytical figures, confirmed; then ordered by the confirmed
/// figures.
std::vector<PlanCandidate> confirmed_best(const std::vector<const PlanCandidate*>& pool,
                                          std::size_t n, const Order& o, Confirmer& confirmer) {
  std::vector<const PlanCandidate*> sorted = pool;
  sort_analytical(sorted, o);
  std::vector<PlanCandidate> out;
  for (std::size_t i = 0; i < sorted.size() && i < n; ++i) out.push_back(*sorted[i]);
  std::vector<PlanCandidate*> ptrs;
  for (auto& c : out) ptrs.push_back(&c);
  confirmer.confirm(ptrs);
  sort_best(out, o);
  return out;
}

/// The first `keep` layouts of `pool` in one order over their best figures, with the first
/// `min(n_confirm, keep)` rows confirmed by the discrete-event step. The `n_confirm` first by
/// the analytical figures are confirmed; every layout is then ranked by its confirmed figures
/// when it has them (from this or an earlier confirmation), else its analytical ones, and each
/// row says which (PlanEstimate::fidelity), so no row is ranked above one that is better on the
/// figures shown. The DES is usually slower than the closed form, so a confirmed layout can
/// fall below an unconfirmed one: that one is confirmed in turn, until the head of the ranking
/// is confirmed (each layout at most once; one whose DES failed keeps its analytical figures
/// and says why).
std::vector<PlanCandidate> rank_candidates(const std::vector<const PlanCandidate*>& pool,
                                           std::size_t n_confirm, std::size_t keep,
                                           const Order& o, Confirmer& confirmer) {
  std::vector<const PlanCandidate*> sorted = pool;
  sort_analytical(sorted, o);
  const auto unconfirmed = [](const PlanCandidate& c) { return !c.des && c.des_error.empty(); };
  std::vector<PlanCandidate> out;
  std::size_t next = 0;  // the first of `sorted` not in `out`
  for (; next < sorted.size() && next < n_confirm + keep; ++next) out.push_back(*sorted[next]);
  {
    std::vector<PlanCandidate*> head;
    for (std::size_t i = 0; i < out.size() && i < n_confirm; ++i) head.push_back(&out[i]);
    confirmer.confirm(head);
  }
  const std::size_t must = std::min(n_confirm, keep);
  for (;;) {
    for (auto& c : out)
      if (unconfirmed(c)) confirmer.recall(c);
    // `out` holds `keep` unconfirmed rows (or all of `pool`): every row of `sorted` past them
    // is no better on its analytical figures, so the first `keep` of `out` are the pool's.
    auto open = static_cast<std::size_t>(std::count_if(out.begin(), out.end(), unconfirmed));
    while (open < keep && next < sorted.size()) {
      out.push_back(*sorted[next++]);
      confirmer.recall(out.back());
      if (unconfirmed(out.back())) ++open;
    }
    sort_best(out, o);
    std::vector<PlanCandidate*> todo;
    for (std::size_t i = 0; i < out.size() && i < must; ++i)
      if (unconfirmed(out[i])) todo.push_back(&out[i]);
    if (todo.empty()) break;
    confirmer.confirm(todo);
  }
  if (out.size() > keep) out.resize(keep);
  return out;
}

std::vector<int> default_tp(const ModelSpec& m, const TypeContext& type) {
  return divisors(m.heads, type.tp_limit);
}

std::vector<int> default_cp(int seq_len) {
  std::vector<int> out{1};
  for (int c = 2; c <= 64 && seq_len % c == 0 && seq_len / c >= kMinTokensPerCpRank; c *= 2)
    out.push_back(c);
  return out;
}

std::vector<int> default_ep(const ModelSpec& m) {
  if (!m.is_moe()) return {1};
  return divisors(m.moe->routed_experts, m.moe->routed_experts);
}

/// (schedule, vpp) pairs for a pipeline depth.
std::vector<std::pair<Schedule, int>> schedule_pairs(int pp, const PlanAxes& axes,
                                                     const Scenario& base, int layers) {
  std::vector<Schedule> scheds = axes.schedule;
  const bool generated = scheds.empty();
  if (generated)
    scheds = {Schedule::OneFOneB, Schedule::GPipe, Schedule::Interleaved, Schedule::ZbH1,
              Schedule::DualPipe};
  std::vector<std::pair<Schedule, int>> out;
  if (pp == 1) {
    // Without a pipeline the schedules coincide: keep 1F1B (or what the user listed).
    bool has_1f1b = std::find(scheds.begin(), scheds.end(), Schedule::OneFOneB) != scheds.end();
    for (Schedule s : scheds) {
      if (s == Schedule::Interleaved || s == Schedule::DualPipe) continue;
      if (has_1f1b && s != Schedule::OneFOneB) continue;
      out.push_back({s, 1});
    }
    if (generated && base.parallelism.pp == 1 && base.parallelism.schedule != Schedule::OneFOneB)
      out.push_back({base.parallelism.schedule, base.parallelism.vpp});
    return out;
  }
  for (Schedule s : scheds) {
    if (s != Schedule::Interleaved) {
      if (s == Schedule::DualPipe && pp % 2 != 0) continue;
      out.push_back({s, 1});
      continue;
    }
    std::vector<int> vpps = axes.vpp;
    if (vpps.empty()) {
      for (int v = 2; v <= kMaxDefaultVpp; ++v)
        if (layers % (pp * v) == 0) vpps.push_back(v);
      if (base.parallelism.schedule == Schedule::Interleaved) add_unique(vpps, base.parallelism.vpp);
    }
    for (int v : sorted_unique(vpps))
      if (v >= 2 && static_cast<std::int64_t>(pp) * v <= layers) out.push_back({s, v});
  }
  return out;
}

std::vector<std::int64_t> count_ladder(std::int64_t max_gpus, int per_node,
                                       std::optional<std::int64_t> base_count) {
  std::vector<std::int64_t> out;
  for (std::int64_t nodes = 1; nodes * per_node <= max_gpus; nodes *= 2) {
    out.push_back(nodes * per_node);
    if (3 * nodes * per_node <= max_gpus) out.push_back(3 * nodes * per_node);
  }
  if (max_gpus % per_node == 0 || max_gpus < per_node) out.push_back(max_gpus);
  if (base_count && *base_count <= max_gpus) out.push_back(*base_count);
  return sorted_unique(out);
}

TypeContext make_type(const SearchContext& ctx, const GpuSpec& g, const PlanOptions& opt) {
  const Scenario& b = *ctx.base;
  const Json& cluster = (*ctx.doc)["cluster"];
  TypeContext t;
  t.gpu = &g;
  const bool same = g.name == b.cluster.gpu;
  if (!same) {
    t.sets.push_back("cluster.gpu=" + g.name);
    const NodeSpec* node = g.default_node.empty() ? nullptr : ctx.catalog->find_node(g.default_node);
    if (cluster.contains("node"))
      t.sets.push_back("cluster.node=" + (node ? node->name : std::string()));
    t.gpus_per_node = node ? node->gpus_per_node : 8;
    if (cluster.contains("gpus_per_node"))
      t.sets.push_back("cluster.gpus_per_node=" + std::to_string(t.gpus_per_node));
    if (cluster.contains("profile")) t.sets.push_back("cluster.profile=\"\"");
    // The scenario's rental rate is its GPU's: another type is priced from its pool or the
    // catalogue.
    const Json* econ = ctx.doc->contains("economics") ? &(*ctx.doc)["economics"] : nullptr;
    if (econ && econ->is_object() && econ->contains("gpu_hour_usd")) {
      std::optional<double> rate;
      for (const auto& p : b.cluster.pools)
        if (p.gpu == g.name && p.gpu_hour_usd) rate = p.gpu_hour_usd;
      if (!rate) rate = g.price.rental_usd_per_gpu_hour.value;
      if (rate && *rate > 0) {
        t.sets.push_back("economics.gpu_hour_usd=" + fmt(*rate, 10));
        t.notes.push_back("priced at " + fmt(*rate) + " USD per GPU-hour (" +
                          (g.price.rental_usd_per_gpu_hour.source.empty()
                               ? std::string("pool")
                               : g.price.rental_usd_per_gpu_hour.source) +
                          ")");
      } else {
        t.reason = "no rental price for " + g.name + " in the catalogue or the pools";
      }
    }
    if (b.training.precision == "fp8" && !g.peak_tflops("fp8")) {
      t.sets.push_back("training.precision=bf16");
      if (b.moe_routing.dispatch_dtype == "fp8") t.sets.push_back("moe_routing.dispatch_dtype=bf16");
      t.notes.push_back(g.name + " has no FP8 tensor units: planned with BF16 GEMMs");
    }
  } else {
    t.gpus_per_node = b.cluster.gpus_per_node;
  }
  t.tp_limit = std::max(g.scale_up.domain_size, t.gpus_per_node);

  std::int64_t max_gpus = opt.max_gpus > 0 ? opt.max_gpus : b.cluster.gpus;
  for (const auto& p : b.cluster.pools)
    if (p.gpu == g.name) max_gpus = std::min(max_gpus, p.count);
  if (!opt.gpu_counts.empty()) {
    for (auto c : opt.gpu_counts)
      if (c <= max_gpus) t.counts.push_back(c);
    t.counts = sorted_unique(t.counts);
  } else {
    t.counts = count_ladder(max_gpus, t.gpus_per_node,
                            same ? std::optional<std::int64_t>(b.cluster.gpus) : std::nullopt);
  }
  if (t.counts.empty() && t.reason.empty())
    t.reason = "no GPU count to try up to " + std::to_string(max_gpus);
  return t;
}

struct GroupResult {
  std::int64_t gpus = 0;
  PlanCounts counts;
  std::vector<PlanCandidate> fitting;
  std::string first_rejection;
  std::optional<double> smallest_footprint_gib;
  std::optional<PlanCandidate> smallest_layout;
};

GroupResult search_group(const SearchContext& ctx, const TypeContext& type, std::int64_t gpus,
                         const PlanOptions& opt) {
  const Scenario& b = *ctx.base;
  const ParallelismConfig& bp = b.parallelism;
  const ModelSpec& m = b.model;
  const PlanAxes& ax = opt.axes;
  auto or_generated = [](const std::vector<int>& given, std::vector<int> generated, int base) {
    if (!given.empty()) return sorted_unique(given);
    add_unique(generated, base);
    return sorted_unique(generated);
  };
  const auto tps = or_generated(ax.tp, default_tp(m, type), bp.tp);
  const auto cps = or_generated(ax.cp, default_cp(b.training.seq_len), bp.cp);
  const auto pps = or_generated(ax.pp, divisors(gpus, m.layers), bp.pp);
  const auto eps = or_generated(ax.ep, default_ep(m), bp.ep);
  const auto mbs = or_generated(ax.micro_batch, {1, 2, 4}, bp.micro_batch);
  std::vector<int> zeros = or_generated(ax.zero, {0, 1, 2, 3}, bp.zero);
  std::vector<Recompute> recs = ax.recompute;
  if (recs.empty()) {
    recs = {Recompute::None, Recompute::Selective, Recompute::Full};
    if (std::find(recs.begin(), recs.end(), bp.recompute) == recs.end()) recs.push_back(bp.recompute);
  }
  recs = sorted_unique(recs);

  std::vector<Structure> structures;
  for (int tp : tps)
    for (int cp : cps)
      for (int pp : pps) {
        if (gpus % (static_cast<std::int64_t>(tp) * cp * pp) != 0) {
          // Counted as generated, never divisible.
          continue;
        }
        for (int ep : eps)
          for (auto [sched, vpp] : schedule_pairs(pp, ax, b, m.layers))
            structures.push_back({tp, cp, pp, ep, vpp, sched});
      }
  // Structures whose tp·cp·pp does not divide the count are generated too (for the counts).
  std::int64_t undivided = 0;
  for (int tp : tps)
    for (int cp : cps)
      for (int pp : pps)
        if (gpus % (static_cast<std::int64_t>(tp) * cp * pp) != 0)
          undivided += static_cast<std::int64_t>(eps.size()) *
                       static_cast<std::int64_t>(schedule_pairs(pp, ax, b, m.layers).size());

  std::vector<StructureOutcome> outcomes(structures.size());
  parallel_for(structures.size(), opt.threads, [&](std::size_t i) {
    outcomes[i] = search_structure(ctx, type, gpus, structures[i], mbs, zeros, recs);
  });
  GroupResult g;
  g.gpus = gpus;
  g.counts.generated = undivided * static_cast<std::int64_t>(mbs.size() * zeros.size() * recs.size());
  for (auto& o : outcomes) {
    g.counts += o.counts;
    for (auto& c : o.fitting) g.fitting.push_back(std::move(c));
    if (g.first_rejection.empty()) g.first_rejection = o.first_rejection;
    if (o.smallest_footprint_gib &&
        (!g.smallest_footprint_gib || *o.smallest_footprint_gib < *g.smallest_footprint_gib)) {
      g.smallest_footprint_gib = o.smallest_footprint_gib;
      g.smallest_layout = o.smallest_layout;
    }
  }
  return g;
}

void validate_options(const PlanOptions& o) {
  auto positive = [](const std::vector<int>& v, const char* name) {
    for (int x : v)
      if (x < 1) throw InputError("--" + std::string(name), "", "expected values >= 1, got " + std::to_string(x));
  };
  positive(o.axes.tp, "tp");
  positive(o.axes.cp, "cp");
  positive(o.axes.pp, "pp");
  positive(o.axes.ep, "ep");
  positive(o.axes.vpp, "vpp");
  positive(o.axes.micro_batch, "micro-batch");
  for (int z : o.axes.zero)
    if (z < 0 || z > 3) throw InputError("--zero", "", "expected ZeRO stages 0..3, got " + std::to_string(z));
  for (auto c : o.gpu_counts)
    if (c < 1) throw InputError("--gpu-counts", "", "expected counts >= 1, got " + std::to_string(c));
  if (o.max_gpus < 0) throw InputError("--max-gpus", "", "expected a positive GPU count");
  if (o.deadline_days && !(*o.deadline_days > 0))
    throw InputError("--deadline-days", "", "expected a positive number of days");
  if (o.top < 1) throw InputError("--top", "", "expected at least 1 row");
  if (o.confirm < 0) throw InputError("--confirm", "", "expected 0 or more layouts to confirm");
}

}  // namespace

PlanCounts& PlanCounts::operator+=(const PlanCounts& o) {
  generated += o.generated;
  divisible += o.divisible;
  memory_pruned += o.memory_pruned;
  dominated += o.dominated;
  evaluated += o.evaluated;
  fits += o.fits;
  confirmed += o.confirmed;
  return *this;
}

std::string PlanLayout::label() const {
  const auto& p = parallelism;
  std::string s = "tp" + std::to_string(p.tp) + " cp" + std::to_string(p.cp) + " pp" +
                  std::to_string(p.pp) + " ep" + std::to_string(p.ep) + " dp" +
                  std::to_string(p.dp) + " " + schedule_name(p.schedule);
  if (p.vpp > 1) s += " vpp" + std::to_string(p.vpp);
  s += " mb" + std::to_string(p.micro_batch) + " zero" + std::to_string(p.zero) + " " +
       recompute_name(p.recompute);
  if (p.sequence_parallel) s += " sp";
  return s;
}

std::string PlanLayout::key() const {
  const auto& p = parallelism;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s|%09lld|%04d|%04d|%04d|%04d|%04d|%d|%04d|%d|%d|%d|%zu",
                gpu.c_str(), static_cast<long long>(gpus), p.tp, p.cp, p.pp, p.ep, p.vpp,
                static_cast<int>(p.schedule), p.micro_batch, p.zero, static_cast<int>(p.recompute),
                p.sequence_parallel ? 1 : 0, p.recompute_modules.size());
  return buf;
}

PlanResult plan_layouts(const Json& doc, const std::string& file, const Catalog& catalog,
                        const DataDirs& dirs, const PlanOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  validate_options(options);
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  const Scenario base = parse_scenario(doc, file, catalog, dirs);
  // Candidates are evaluated from a copy with the model preset inlined: the same model, parsed
  // once from memory instead of from its file for each of thousands of layouts.
  Json eval_doc = doc;
  if (doc.contains("model") && doc["model"].is_string())
    eval_doc["model"] = load_json_file(dirs.presets() / (doc["model"].get<std::string>() + ".json"));
  SearchContext ctx;
  ctx.doc = &eval_doc;
  ctx.file = file;
  ctx.catalog = &catalog;
  ctx.dirs = &dirs;
  ctx.base = &base;
  ctx.objective = options.objective;
  if (doc.contains("parallelism") && doc["parallelism"].is_object()) {
    ctx.base_has_dp = doc["parallelism"].contains("dp");
    ctx.base_has_modules = !base.parallelism.recompute_modules.empty();
  }

  PlanResult result;
  result.scenario = base.name;
  result.file = file;
  result.objective = options.objective;
  result.deadline_days = options.deadline_days;
  result.axes = options.axes;

  // GPU types: as asked, else the pools', else the scenario's.
  std::vector<const GpuSpec*> types;
  auto add_type = [&](const std::string& name, const std::string& where) {
    const GpuSpec* g = catalog.find_gpu(name);
    if (!g) throw InputError(where, "", catalog.unknown_gpu_message(name));
    if (std::find(types.begin(), types.end(), g) == types.end()) types.push_back(g);
  };
  if (!options.gpu_types.empty()) {
    for (const auto& n : options.gpu_types) add_type(n, "--gpu-types");
  } else if (!base.cluster.pools.empty()) {
    for (const auto& p : base.cluster.pools) add_type(p.gpu, file);
  } else {
    add_type(base.cluster.gpu, file);
  }

  // The baseline: the scenario as written.
  std::optional<PlanCandidate> baseline;
  {
    Evaluation ev = evaluate(ctx, {});
    if (ev.accepted && ev.fits) {
      baseline = ev.candidate;
    } else if (ev.accepted) {
      result.baseline_note = "the scenario's own layout does not fit: " + fmt(ev.candidate.peak_gib) +
                             " GiB of " + fmt(ev.candidate.capacity_gib) + " GiB" +
                             (ev.rejection.empty() ? "" : " (" + ev.rejection + ")");
    }
  }

  Confirmer confirmer(ctx, options.threads, result.counts, options.progress);
  std::vector<std::vector<GroupResult>> groups(types.size());
  for (std::size_t ti = 0; ti < types.size(); ++ti) {
    const GpuSpec& g = *types[ti];
    TypeContext tc = make_type(ctx, g, options);
    PlanTypeResult tr;
    tr.gpu = g.name;
    tr.notes = tc.notes;
    tr.capacity_gib = g.hbm_usable_gib.get() > 0 ? g.hbm_usable_gib.get() : g.hbm_gb.get() * 1e9 / kGiB;
    if (!tc.reason.empty()) {
      tr.reason = tc.reason;
      say("plan: " + g.name + ": skipped: " + tc.reason);
      result.types.push_back(std::move(tr));
      continue;
    }
    std::optional<PlanCandidate> smallest;
    std::string first_rejection;
    for (std::int64_t count : tc.counts) {
      const auto tg = std::chrono::steady_clock::now();
      GroupResult gr = search_group(ctx, tc, count, options);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - tg).count();
      say("plan: " + g.name + " x" + std::to_string(count) + ": " +
          std::to_string(gr.counts.generated) + " layouts, " + std::to_string(gr.counts.divisible) +
          " divide, " + std::to_string(gr.counts.memory_pruned) + " pruned by memory, " +
          std::to_string(gr.counts.dominated) + " dominated, " +
          std::to_string(gr.counts.evaluated) + " evaluated, " + std::to_string(gr.counts.fits) +
          " fit (" + fmt(secs, 3) + " s)");
      tr.stats += gr.counts;
      PlanCountSummary sum;
      sum.gpus = count;
      sum.fitting = static_cast<std::int64_t>(gr.fitting.size());
      for (const auto& c : gr.fitting) {
        if (!sum.fastest_days || c.analytical.wall_days < *sum.fastest_days)
          sum.fastest_days = c.analytical.wall_days;
        if (!sum.cheapest_usd || c.analytical.total_usd < *sum.cheapest_usd)
          sum.cheapest_usd = c.analytical.total_usd;
      }
      tr.counts.push_back(sum);
      if (first_rejection.empty()) first_rejection = gr.first_rejection;
      if (gr.smallest_footprint_gib &&
          (!tr.smallest_footprint_gib || *gr.smallest_footprint_gib < *tr.smallest_footprint_gib)) {
        tr.smallest_footprint_gib = gr.smallest_footprint_gib;
        smallest = gr.smallest_layout;
      }
      groups[ti].push_back(std::move(gr));
    }
    // The baseline belongs to the search when its type, count and axis values were searched.
    if (baseline && baseline->layout.gpu == g.name && within_axes(baseline->layout.parallelism, options.axes)) {
      for (auto& gr : groups[ti]) {
        if (gr.gpus != baseline->layout.gpus) continue;
        const std::string k = baseline->layout.key();
        if (std::none_of(gr.fitting.begin(), gr.fitting.end(),
                         [&](const PlanCandidate& c) { return c.layout.key() == k; }))
          gr.fitting.push_back(*baseline);
      }
    }
    if (tr.stats.divisible == 0) {
      tr.reason = "no layout divides" + (first_rejection.empty() ? std::string() : ": " + first_rejection);
    } else if (tr.stats.fits == 0) {
      tr.reason = "no layout fits in " + fmt(tr.capacity_gib) + " GiB";
      if (tr.smallest_footprint_gib)
        tr.reason += ": smallest footprint " + fmt(*tr.smallest_footprint_gib) + " GiB (" +
                     gpus_text(smallest->layout.gpus) + ", " + smallest->layout.label() + ")";
    }
    result.counts += tr.stats;
    result.types.push_back(std::move(tr));
  }

  // Everything that fits, over all types and counts.
  std::vector<const PlanCandidate*> all;
  for (const auto& per_type : groups)
    for (const auto& gr : per_type)
      for (const auto& c : gr.fitting) all.push_back(&c);
  if (all.empty()) {
    std::string reason;
    for (const auto& t : result.types)
      reason += (reason.empty() ? "" : "; ") + (result.types.size() > 1 ? t.gpu + ": " : "") + t.reason;
    throw InfeasibleError(file, "parallelism", reason.empty() ? "no layout to search" : reason);
  }
  say("plan: " + std::to_string(all.size()) + " layouts fit; confirming the best " +
      std::to_string(options.confirm) + " with the discrete-event step");

  const PlanObjective obj = options.objective;
  const auto n_confirm = static_cast<std::size_t>(options.confirm);
  // Secondary answers (the cheapest layout under the time objective, the deadline counts)
  // confirm only their first candidate: the discrete-event step of a large MoE layout can take
  // longer than the whole analytical search.
  const std::size_t n_secondary = std::min<std::size_t>(n_confirm, 1);
  const bool baseline_searched =
      baseline && std::any_of(all.begin(), all.end(), [&](const PlanCandidate* c) {
        return c->layout.key() == baseline->layout.key();
      });
  if (baseline && !baseline_searched)
    result.baseline_note = "the scenario's own layout is outside the searched types, counts or axes";

  // Ranking: one order over every fitting layout (plan.hpp, PlanResult::ranked).
  const Order order{obj, options.deadline_days};
  result.ranked = rank_candidates(all, n_confirm, static_cast<std::size_t>(options.top), order, confirmer);
  if (options.deadline_days) {
    result.meeting_deadline = static_cast<std::int64_t>(
        std::count_if(all.begin(), all.end(), [&](const PlanCandidate* c) {
          return c->analytical.wall_days <= *options.deadline_days;
        }));
  }
  if (baseline) {
    result.baseline = baseline;
    if (n_confirm > 0) {
      std::vector<PlanCandidate*> one{&*result.baseline};
      confirmer.confirm(one);
    }
  }

  // Per type: the best by the objective, the cheapest, the fewest GPUs within the deadline.
  for (std::size_t ti = 0; ti < types.size(); ++ti) {
    PlanTypeResult& tr = result.types[ti];
    std::vector<const PlanCandidate*> mine;
    for (const auto& gr : groups[ti])
      for (const auto& c : gr.fitting) mine.push_back(&c);
    if (mine.empty()) continue;
    auto in_time = [&](const PlanCandidate& c) {
      return !options.deadline_days || c.best().wall_days <= *options.deadline_days;
    };
    // The same order as the ranking, so "best" is the type's first row there would be.
    auto first = [&](PlanObjective o, std::size_t n) {
      return rank_candidates(mine, n, 1, Order{o, options.deadline_days}, confirmer).front();
    };
    PlanCandidate top = first(obj, n_confirm);
    if (in_time(top)) tr.best = top;
    else tr.closest = top;  // nothing in time: the fastest there is
    PlanCandidate cheap = obj == PlanObjective::Cost ? top : first(PlanObjective::Cost, n_secondary);
    if (in_time(cheap)) tr.cheapest = cheap;
    // Searched with fewer confirmations, the cheapest could show a higher cost than the best:
    // then the best is the cheapest layout seen (and the other way round for time).
    if (tr.best && tr.cheapest) {
      if (tr.best->best().total_usd < tr.cheapest->best().total_usd) tr.cheapest = tr.best;
      else if (obj == PlanObjective::Time && tr.cheapest->best().wall_days < tr.best->best().wall_days)
        tr.best = tr.cheapest;
    }
    if (options.deadline_days) {
      // Fewest GPUs: counts ascending; a count qualifies when its fastest layout meets the
      // deadline analytically and, with confirmation on, in the des as well. Both
      // conditions only get easier with a longer deadline, so the answer is monotone.
      PlanDeadlineAnswer ans;
      ans.days = *options.deadline_days;
      std::optional<double> fastest;
      std::int64_t fastest_gpus = 0;
      const Order fastest_first{PlanObjective::Time, std::nullopt};
      for (const auto& gr : groups[ti]) {
        std::vector<const PlanCandidate*> pool;
        for (const auto& c : gr.fitting) pool.push_back(&c);
        if (pool.empty()) continue;
        sort_analytical(pool, fastest_first);
        const double a = pool.front()->analytical.wall_days;
        if (!fastest || a < *fastest) {
          fastest = a;
          fastest_gpus = gr.gpus;
        }
        if (a > ans.days) continue;
        std::vector<PlanCandidate> confirmed;
        if (n_secondary > 0) {
          confirmed = confirmed_best(pool, n_secondary, fastest_first, confirmer);
        } else {
          confirmed.push_back(*pool.front());
        }
        std::vector<PlanCandidate> ok;
        for (auto& c : confirmed)
          if (c.best().wall_days <= ans.days) ok.push_back(c);
        if (ok.empty()) continue;
        sort_best(ok, Order{obj, std::nullopt});
        ans.fewest_gpus = gr.gpus;
        ans.layout = ok.front();
        break;
      }
      if (!ans.fewest_gpus) {
        ans.reason = "no searched count up to " + gpus_text(groups[ti].back().gpus) +
                     " finishes within " + fmt(ans.days) + " days";
        if (fastest)
          ans.reason += " (fastest, analytical: " + fmt(*fastest) + " days with " +
                        gpus_text(fastest_gpus) + ")";
      }
      tr.deadline = ans;
    }
  }
  for (const auto& tr : result.types) {
    if (!tr.cheapest) continue;
    if (!result.cheapest || better(tr.cheapest->best(), tr.cheapest->layout, result.cheapest->best(),
                                   result.cheapest->layout, PlanObjective::Cost))
      result.cheapest = tr.cheapest;
  }
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  say("plan: done in " + fmt(result.wall_seconds, 3) + " s");
  return result;
}

}  // namespace clustercost
