#include "hardware/efficiency/kernel_cost.hpp"
#include "hardware/efficiency/grouped_gemm.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "tests/common/kernel_cost_of.hpp"
#include "tests/common/shipped_data.hpp"

using namespace clustercost;

namespace {

using clustercost::test::kernel_cost_of;

const GpuSpec& h800() { return *test::shipped_catalog().find_gpu("H800-SXM"); }

EfficiencyProfile h800_profile() {
  return load_default_profile(test::data_dirs().profiles(), h800());
}

}  // namespace

TEST(GroupedGemm, SmReservation) {
  // DeepSeek-V3 reserves 20 of the H800's 132 SMs for communication (arXiv 2412.19437 §3.2.2).
  EXPECT_DOUBLE_EQ(sm_reservation_slowdown(132, 20), 132.0 / 112.0);
  EXPECT_DOUBLE_EQ(sm_reservation_slowdown(132, 0), 1.0);
  EXPECT_DOUBLE_EQ(sm_compute_fraction(132, 20), 112.0 / 132.0);
  EXPECT_THROW(sm_compute_fraction(132, 132), std::invalid_argument);
  EXPECT_THROW(sm_compute_fraction(132, -1), std::invalid_argument);

  const EfficiencyProfile p = h800_profile();
  const ExpertShape shape{7168, 2048, true, "fp8"};
  const std::vector<double> tokens(8, 4096.0);
  const ExpertComputeTime full = expert_compute_time(h800(), p, tokens, shape);
  const ExpertComputeTime less =
      expert_compute_time(h800(), p, tokens, shape, sm_compute_fraction(132, 20));
  // Compute-bound: the slowdown applies to the FLOP part (the fixed per-kernel time stays).
  const double overhead = 2 * (p.gemm_for("fp8").overhead_us + p.launch_overhead_us) * 1e-6;
  EXPECT_NEAR((less.forward.value - overhead) / (full.forward.value - overhead), 132.0 / 112.0,
              1e-9);
}

TEST(GroupedGemm, PaddingToTheRowTile) {
  const EfficiencyProfile p = h800_profile();
  const ExpertShape shape{7168, 2048, true, "fp8"};
  const int tile = p.gemm_for("fp8").tile_m;
  const std::vector<double> one = {1.0};
  const std::vector<double> full = {static_cast<double>(tile)};
  const std::vector<double> over = {static_cast<double>(tile + 1)};
  const auto a = expert_compute_time(h800(), p, one, shape);
  const auto b = expert_compute_time(h800(), p, full, shape);
  const auto c = expert_compute_time(h800(), p, over, shape);
  // One token costs a whole tile of rows (as far as the compute is concerned).
  EXPECT_EQ(a.padded_rows, b.padded_rows);
  EXPECT_NEAR(a.forward.value, b.forward.value, 0.05 * b.forward.value);
  // One row over the tile costs a second tile; within one wave of the SMs it costs no time.
  EXPECT_GE(c.forward.value, b.forward.value);
  EXPECT_EQ(c.padded_rows, 2.0 * tile);
  // Experts with no token cost nothing; nothing at all costs zero.
  const std::vector<double> with_idle = {static_cast<double>(tile), 0.0, 0.0};
  EXPECT_DOUBLE_EQ(expert_compute_time(h800(), p, with_idle, shape).forward.value,
                   b.forward.value);
  const std::vector<double> none = {0.0, 0.0};
  EXPECT_EQ(expert_compute_time(h800(), p, none, shape).forward.value, 0.0);
  const std::vector<double> bad = {-1.0};
  EXPECT_THROW(expert_compute_time(h800(), p, bad, shape), std::invalid_argument);
}

TEST(GroupedGemm, BackwardIsTheDgradAndWgradKernelsAtTheirRoleEfficiencies) {
  // Twice the forward's work, in two kernels priced at their roles' efficiencies (kernel_cost,
  // as the op program prices them): the weight gradient runs well below the forward GEMM in
  // DeepSeek's profile (docs/reference/deepseek-v3-train-profile.md).
  const EfficiencyProfile p = h800_profile();
  const ExpertShape shape{7168, 2048, true, "fp8"};
  const std::vector<double> tokens(8, 4096.0);
  const auto t = expert_compute_time(h800(), p, tokens, shape);
  const GemmEfficiency& g = p.gemm_for("fp8");
  const double fprop = g.efficiency_for(true, 0), dgrad = g.efficiency_for(true, 1),
               wgrad = g.efficiency_for(true, 2);
  EXPECT_NEAR(t.backward.value / t.forward.value, fprop / dgrad + fprop / wgrad, 0.02);
  EXPECT_GT(t.backward.value / t.forward.value, 2.0);
  // 3 GEMMs of 2·m·h·f FLOPs per token row.
  EXPECT_DOUBLE_EQ(t.useful_flops_forward.value, 8 * 4096.0 * 3 * 2 * 7168.0 * 2048.0);
}

TEST(GroupedGemm, BusiestRankSetsThePace) {
  const EfficiencyProfile p = h800_profile();
  const ExpertShape shape{7168, 2048, true, "fp8"};
  Eigen::MatrixXd tokens = Eigen::MatrixXd::Constant(4, 8, 1024.0);
  tokens(2, 3) = 4096.0;  // one hot expert on rank 2
  const EpComputePace pace = ep_compute_pace(h800(), p, tokens, shape);
  EXPECT_EQ(pace.busiest_rank, 2);
  EXPECT_GT(pace.busiest.forward.value + pace.busiest.backward.value, pace.mean_total.value);
  std::vector<double> row2(8, 1024.0);
  row2[3] = 4096.0;
  EXPECT_DOUBLE_EQ(pace.busiest.forward.value,
                   expert_compute_time(h800(), p, row2, shape).forward.value);
}

TEST(GroupedGemm, DeepGemmGroupedContiguousFigures) {
  // DeepGEMM grouped contiguous FP8 on H800 SXM5 (README @55ab91f; published-runs.md D2).
  // The profile was fitted to the dense figures only: this prints the error on grouped ones.
  struct Row {
    int groups, m, n, k;
    double tflops;
  };
  const Row rows[] = {{4, 8192, 4096, 7168, 1346},
                      {4, 8192, 7168, 2048, 1214},
                      {8, 4096, 4096, 7168, 1346},
                      {8, 4096, 7168, 2048, 1214}};
  const EfficiencyProfile p = h800_profile();
  std::printf("\nDeepGEMM grouped contiguous FP8 (H800): published vs model\n");
  for (const Row& r : rows) {
    // One grouped kernel of N = r.n, K = r.k: the gate+up GEMM when N = 2f (f = N/2, K = h)
    // and the down GEMM when N = h. Time it through kernel_cost as expert_compute_time does.
    const double padded = static_cast<double>(r.groups) * r.m;
    const double flops = 2.0 * padded * r.n * r.k;
    const GemmShape shape{padded, static_cast<double>(r.n), static_cast<double>(r.k), 1};
    const Seconds t = kernel_cost_of(h800(), p, OpClass::GroupedGemm, shape, FlopCount(flops),
                                  Bytes(0.0), "fp8");
    const double model = flops / t.value / 1e12;
    const double err = (model - r.tflops) / r.tflops;
    std::printf("  %d x %5d, N %5d, K %5d: published %5.0f, model %6.0f TFLOP/s (%+.0f%%)\n",
                r.groups, r.m, r.n, r.k, r.tflops, model, 100 * err);
    EXPECT_LT(std::fabs(err), 0.25);
  }
  // The gate+up kernel of 4 experts × 8192 rows through expert_compute_time is the first row.
  const std::vector<double> tokens(4, 8192.0);
  const ExpertShape ds{7168, 2048, true, "fp8"};
  const ExpertComputeTime t = expert_compute_time(h800(), p, tokens, ds);
  const double achieved = t.useful_flops_forward.value / t.forward.value / 1e12;
  std::printf("  DeepSeek-V3 expert FFN forward, 4 experts x 8192 tokens: %.0f TFLOP/s\n\n",
              achieved);
  EXPECT_GT(achieved, 1100.0);
  EXPECT_LT(achieved, 1979.0);
}
