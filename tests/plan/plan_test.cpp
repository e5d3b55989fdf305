// The layout and capacity search (sim/plan/plan.hpp) on the shipped scenarios, with small search
// spaces so that the whole file stays within a few seconds.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "sim/campaign/run_result.hpp"
#include "sim/plan/plan.hpp"
#include "sim/step/analytical_step.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;
using clustercost::test::data_dirs;
using clustercost::test::load_shipped;
using clustercost::test::shipped_catalog;

namespace {

/// The shipped scenario's overrides that make its own layout fit in the model: none when it
/// does, else full recomputation (the DeepSeek-V3 layouts' activations exceed 80 GB otherwise).
std::vector<std::string> fitting_sets(const std::string& name) {
  const Scenario s = clustercost::test::load_shipped(name);
  if (simulate_step_analytical(s).memory.fits()) return {};
  return {"parallelism.recompute=full", "parallelism.recompute_modules=[]"};
}

std::string scenario_path(const std::string& name) {
  return (data_dirs().scenarios() / name).string();
}

Json shipped_doc(const std::string& name) { return load_json_file(scenario_path(name)); }

PlanResult plan(const std::string& name, const PlanOptions& o,
               const std::vector<std::string>& sets = {}) {
  Json doc = shipped_doc(name);
  for (const auto& s : sets) apply_override(doc, s);
  return plan_layouts(doc, scenario_path(name), shipped_catalog(), data_dirs(), o);
}

/// A small search around each shipped layout: its own values plus a neighbour on each axis.
PlanOptions small_search(const Scenario& s) {
  PlanOptions o;
  const auto& p = s.parallelism;
  o.axes.tp = {p.tp, std::max(1, p.tp / 2)};
  o.axes.cp = {p.cp};
  o.axes.pp = {p.pp, p.pp * 2};
  o.axes.ep = {p.ep, std::max(1, p.ep / 2)};
  o.axes.vpp = {std::max(2, p.vpp)};
  o.axes.micro_batch = {p.micro_batch, 2 * p.micro_batch};
  o.axes.zero = {p.zero, 2};
  o.axes.recompute = {p.recompute, Recompute::Full};
  o.axes.schedule = {p.schedule, Schedule::OneFOneB};
  o.gpu_counts = {s.cluster.gpus};
  o.confirm = 0;
  o.top = 50;
  return o;
}

const std::vector<std::string> kShipped = {"deepseek-v3-h800.json", "deepseek-v3-a100.json",
                                           "deepseek-v3-ascend910b.json", "llama3-70b-h100.json",
                                           "mixtral-8x7b-h20.json"};

double analytical_days(const Scenario& s) {
  StepResult step = simulate_step_analytical(s);
  return estimate_run(s, step).wall_days;
}

/// Every layout a plan returns, for checks that must hold of all of them.
std::vector<PlanCandidate> returned(const PlanResult& r) {
  std::vector<PlanCandidate> out = r.ranked;
  for (const auto& t : r.types) {
    if (t.best) out.push_back(*t.best);
    if (t.cheapest) out.push_back(*t.cheapest);
    if (t.deadline && t.deadline->layout) out.push_back(*t.deadline->layout);
  }
  if (r.cheapest) out.push_back(*r.cheapest);
  return out;
}

}  // namespace

// The dominance rules the search relies on (plan.hpp, stage 3): a higher ZeRO stage (from 1)
// never makes the step faster; more recomputation never does either below ZeRO-3; neither ever
// needs more memory, and ZeRO-0 holds the most.
TEST(Plan, ZeroAndRecomputeTradeTimeForMemoryInTheModel) {
  for (const auto& name : kShipped) {
    SCOPED_TRACE(name);
    auto step = [&](int zero, const char* rec) {
      return simulate_step_analytical(load_shipped(
          name, {"parallelism.zero=" + std::to_string(zero), std::string("parallelism.recompute=") + rec,
                 "parallelism.recompute_modules=[]"}));
    };
    const char* recs[] = {"none", "selective", "full"};
    for (int r = 0; r < 3; ++r) {
      for (int z = 1; z < 3; ++z) {
        StepResult a = step(z, recs[r]), b = step(z + 1, recs[r]);
        EXPECT_LE(a.step_time.value, b.step_time.value * (1 + 1e-12)) << "zero " << z << " " << recs[r];
        EXPECT_GE(a.memory.total().value, b.memory.total().value) << "zero " << z << " " << recs[r];
      }
      if (r < 2) {
        for (int z = 0; z <= 3; ++z) {
          StepResult a = step(z, recs[r]), b = step(z, recs[r + 1]);
          if (z < 3) {
            EXPECT_LE(a.step_time.value, b.step_time.value * (1 + 1e-12)) << "zero " << z << " " << recs[r];
          }
          EXPECT_GE(a.memory.total().value, b.memory.total().value) << "zero " << z << " " << recs[r];
        }
      }
      EXPECT_GE(step(0, recs[r]).memory.total().value, step(1, recs[r]).memory.total().value);
    }
  }
}

TEST(Plan, EveryReturnedLayoutFitsAndDivides) {
  for (const auto& name : kShipped) {
    SCOPED_TRACE(name);
    const auto sets = fitting_sets(name);
    const Scenario base = load_shipped(name, sets);
    PlanResult r = plan(name, small_search(base), sets);
    ASSERT_FALSE(r.ranked.empty());
    EXPECT_GE(r.counts.generated, r.counts.fits);
    EXPECT_GT(r.counts.fits, 0);
    EXPECT_GE(r.counts.generated, r.counts.divisible);
    EXPECT_GE(r.counts.evaluated, r.counts.fits);
    for (const auto& c : returned(r)) {
      SCOPED_TRACE(c.layout.label());
      // Re-load through the loader from the reported assignments: it divides...
      std::vector<std::string> all = sets;
      all.insert(all.end(), c.layout.sets.begin(), c.layout.sets.end());
      Scenario s = load_shipped(name, all);
      const auto& p = s.parallelism;
      EXPECT_EQ(s.cluster.gpu, c.layout.gpu);
      EXPECT_EQ(s.cluster.gpus, c.layout.gpus);
      EXPECT_EQ(p.tp, c.layout.parallelism.tp);
      EXPECT_EQ(p.pp, c.layout.parallelism.pp);
      EXPECT_EQ(p.ep, c.layout.parallelism.ep);
      EXPECT_EQ(p.zero, c.layout.parallelism.zero);
      EXPECT_EQ(p.micro_batch, c.layout.parallelism.micro_batch);
      EXPECT_EQ(p.schedule, c.layout.parallelism.schedule);
      EXPECT_EQ(p.recompute, c.layout.parallelism.recompute);
      EXPECT_EQ(static_cast<std::int64_t>(p.tp) * p.cp * p.pp * p.dp, s.cluster.gpus);
      EXPECT_EQ(s.training.global_batch % (p.dp * p.micro_batch), 0);
      EXPECT_EQ(s.model.heads % p.tp, 0);
      if (s.model.is_moe()) {
        EXPECT_EQ(s.model.moe->routed_experts % p.ep, 0);
      }
      // ...and fits, with the figures the plan reports.
      StepResult step = simulate_step_analytical(s);
      EXPECT_TRUE(step.memory.fits());
      EXPECT_LE(c.peak_gib, c.capacity_gib);
      EXPECT_NEAR(step.step_time.value, c.analytical.step_time_s, 1e-9 * step.step_time.value);
    }
  }
}

TEST(Plan, BestIsAtLeastAsFastAsTheShippedLayout) {
  for (const auto& name : kShipped) {
    SCOPED_TRACE(name);
    const auto sets = fitting_sets(name);
    const Scenario base = load_shipped(name, sets);
    PlanResult r = plan(name, small_search(base), sets);
    ASSERT_FALSE(r.ranked.empty());
    ASSERT_TRUE(r.baseline.has_value()) << r.baseline_note;
    const double shipped_days = analytical_days(base);
    EXPECT_LE(r.ranked.front().analytical.wall_days, shipped_days * (1 + 1e-9));
    EXPECT_NEAR(r.baseline->analytical.wall_days, shipped_days, 1e-9 * shipped_days);
    // The ranking is sorted by the objective.
    for (std::size_t i = 1; i < r.ranked.size(); ++i)
      EXPECT_LE(r.ranked[i - 1].analytical.wall_days, r.ranked[i].analytical.wall_days);
  }
}

TEST(Plan, ConfirmedBestIsAtLeastAsFastAsTheShippedLayoutInTheDes) {
  const std::string name = "llama3-70b-h100.json";
  const Scenario base = load_shipped(name);
  PlanOptions o = small_search(base);
  o.confirm = 2;
  o.top = 5;
  PlanResult r = plan(name, o);
  ASSERT_TRUE(r.baseline && r.baseline->des);
  ASSERT_TRUE(r.ranked.front().des.has_value());
  EXPECT_EQ(r.ranked.front().best().fidelity, "des");
  EXPECT_LE(r.ranked.front().des->wall_days, r.baseline->des->wall_days * (1 + 1e-9));
  EXPECT_GE(r.counts.confirmed, 2);
}

TEST(Plan, FewestGpusForADeadlineIsMonotone) {
  // Mixtral on H20: the count ladder 8..64 GPUs, a small layout space.
  PlanOptions o;
  o.axes.tp = {1, 2};
  o.axes.pp = {1, 2};
  o.axes.ep = {1, 8};
  o.axes.micro_batch = {1};
  o.axes.schedule = {Schedule::OneFOneB};
  o.confirm = 0;
  o.max_gpus = 64;
  std::optional<std::int64_t> previous;
  bool any = false;
  for (double days : {5.0, 20.0, 40.0, 80.0, 160.0, 400.0, 2000.0}) {
    o.deadline_days = days;
    PlanResult r = plan("mixtral-8x7b-h20.json", o);
    ASSERT_EQ(r.types.size(), 1u);
    ASSERT_TRUE(r.types[0].deadline.has_value());
    const auto& d = *r.types[0].deadline;
    if (d.fewest_gpus) {
      any = true;
      ASSERT_TRUE(d.layout.has_value());
      EXPECT_LE(d.layout->best().wall_days, days);
      EXPECT_EQ(d.layout->layout.gpus, *d.fewest_gpus);
      if (previous) {
        EXPECT_LE(*d.fewest_gpus, *previous) << days << " days";
      }
      // No smaller searched count finishes in time.
      for (const auto& c : r.types[0].counts) {
        if (c.gpus < *d.fewest_gpus && c.fastest_days) {
          EXPECT_GT(*c.fastest_days, days);
        }
      }
      previous = d.fewest_gpus;
    } else {
      EXPECT_FALSE(previous.has_value()) << "a longer deadline lost its answer at " << days;
      EXPECT_NE(d.reason.find("finishes within"), std::string::npos);
    }
  }
  EXPECT_TRUE(any);
  EXPECT_TRUE(previous.has_value());
}

TEST(Plan, NothingFitsSaysWhyWithTheSmallestFootprint) {
  PlanOptions o;
  o.gpu_counts = {16};
  o.axes.tp = {1};
  o.axes.pp = {1, 2};
  o.axes.micro_batch = {1};
  o.axes.ep = {8, 16};
  o.confirm = 0;
  try {
    plan("deepseek-v3-h800.json", o);
    FAIL() << "DeepSeek-V3 does not fit on 16 H800";
  } catch (const InfeasibleError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("no layout fits in"), std::string::npos) << m;
    EXPECT_NE(m.find("smallest footprint"), std::string::npos) << m;
  }
}

TEST(Plan, NothingDividesSaysWhy) {
  PlanOptions o;
  o.axes.tp = {3};  // DeepSeek-V3 has 128 heads
  o.gpu_counts = {2048};
  o.confirm = 0;
  EXPECT_THROW(plan("deepseek-v3-h800.json", o), InfeasibleError);
  try {
    plan("deepseek-v3-h800.json", o);
  } catch (const InfeasibleError& e) {
    EXPECT_NE(std::string(e.what()).find("no layout divides"), std::string::npos) << e.what();
  }
}

TEST(Plan, ResultsDoNotDependOnThreads) {
  const auto sets = fitting_sets("deepseek-v3-h800.json");
  const Scenario base = load_shipped("deepseek-v3-h800.json", sets);
  PlanOptions o = small_search(base);
  o.confirm = 1;
  o.top = 8;
  o.threads = 1;
  Json a = plan_to_json(plan("deepseek-v3-h800.json", o, sets));
  o.threads = 2;
  Json b = plan_to_json(plan("deepseek-v3-h800.json", o, sets));
  a.erase("wall_s");
  b.erase("wall_s");
  EXPECT_EQ(a.dump(), b.dump());
  EXPECT_EQ(a["schema"], "clustercost.plan/1");
}

TEST(Plan, OtherGpuTypesAreAdaptedAndCompared) {
  // DeepSeek-V3's FP8 scenario on A100 (no FP8 units) and on H800: the cheapest type is the
  // cheaper of the two types' cheapest layouts.
  PlanOptions o;
  o.gpu_types = {"A100-80G-SXM", "h800"};
  o.gpu_counts = {2048};
  o.axes.tp = {1};
  o.axes.pp = {16};
  o.axes.ep = {64};
  o.axes.micro_batch = {1};
  o.axes.zero = {1};
  o.axes.recompute = {Recompute::Full};
  o.axes.schedule = {Schedule::DualPipe};
  o.confirm = 0;
  PlanResult r = plan("deepseek-v3-h800.json", o);
  ASSERT_EQ(r.types.size(), 2u);
  EXPECT_EQ(r.types[0].gpu, "A100-80G-SXM");
  EXPECT_EQ(r.types[1].gpu, "H800-SXM");
  ASSERT_FALSE(r.types[0].notes.empty());
  bool bf16 = false;
  for (const auto& n : r.types[0].notes) bf16 |= n.find("BF16") != std::string::npos;
  EXPECT_TRUE(bf16);
  ASSERT_TRUE(r.types[0].best && r.types[1].best);
  const auto& a100_sets = r.types[0].best->layout.sets;
  EXPECT_NE(std::find(a100_sets.begin(), a100_sets.end(), "training.precision=bf16"), a100_sets.end());
  Scenario a100 = load_shipped("deepseek-v3-h800.json", a100_sets);
  EXPECT_EQ(a100.cluster.gpu, "A100-80G-SXM");
  EXPECT_EQ(a100.training.precision, "bf16");
  EXPECT_NE(a100.economics.gpu_hour_usd, 2.0);  // the H800 scenario's rate is not the A100's
  // H800 is faster on the same layout (FP8, faster GPU).
  EXPECT_LT(r.types[1].best->analytical.step_time_s, r.types[0].best->analytical.step_time_s);
  ASSERT_TRUE(r.cheapest.has_value());
  const double cheapest = std::min(r.types[0].cheapest->analytical.total_usd,
                                   r.types[1].cheapest->analytical.total_usd);
  EXPECT_EQ(r.cheapest->analytical.total_usd, cheapest);
}

TEST(Plan, BadOptionsAreInputErrors) {
  PlanOptions o;
  o.gpu_types = {"H9000"};
  EXPECT_THROW(plan("mixtral-8x7b-h20.json", o), InputError);
  PlanOptions z;
  z.axes.zero = {4};
  EXPECT_THROW(plan("mixtral-8x7b-h20.json", z), InputError);
  EXPECT_THROW(parse_objective("fast"), InputError);
  EXPECT_THROW(parse_schedule_name("2f2b", "--schedule"), InputError);
  EXPECT_EQ(parse_recompute_name("selective", "--recompute"), Recompute::Selective);
}
