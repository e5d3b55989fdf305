// The CUDA probe's decision to skip FP8 ops on GPUs older than sm_89 (hardware/probe/
// fp8_support.hpp), and the record it leaves: testable without a GPU.
#include <gtest/gtest.h>

#include "hardware/probe/fp8_support.hpp"

using namespace clustercost::probe;

TEST(Fp8Support, OnlyAdaAndHopperAndNewerRunFp8) {
  EXPECT_FALSE(fp8_support(7, 5).supported);  // T4
  EXPECT_FALSE(fp8_support(8, 0).supported);  // A100
  EXPECT_FALSE(fp8_support(8, 6).supported);  // A10 / RTX 30
  EXPECT_FALSE(fp8_support(8, 7).supported);  // Orin
  EXPECT_TRUE(fp8_support(8, 9).supported);   // L4 / L40S / RTX 40
  EXPECT_TRUE(fp8_support(9, 0).supported);   // H100 / H200 / H800
  EXPECT_TRUE(fp8_support(10, 0).supported);  // B200
  EXPECT_TRUE(fp8_support(12, 0).supported);
  EXPECT_TRUE(fp8_support(9, 0).reason.empty());
}

TEST(Fp8Support, TheSkipLineNamesTheOpTheDeviceAndWhy) {
  const Fp8Support a100 = fp8_support(8, 0);
  EXPECT_EQ(a100.device, "sm_80");
  EXPECT_EQ(fp8_skip_line("moe.experts.up_gate", "forward", "fprop", "FP8 grouped GEMM", a100),
            "moe.experts.up_gate (forward, fprop): FP8 grouped GEMM not supported on this device "
            "(sm_80: FP8 needs compute capability 8.9 or newer); not measured");
  // Casts have no GEMM role. The op name comes first: the validation's accounting of measured
  // and skipped ops reads it up to the first space.
  const std::string cast = fp8_skip_line("attn.norm.cast", "forward", "", "FP8 cast", a100);
  EXPECT_EQ(cast, "attn.norm.cast (forward): FP8 cast not supported on this device (sm_80: FP8 "
                  "needs compute capability 8.9 or newer); not measured");
  EXPECT_EQ(cast.substr(0, cast.find(' ')), "attn.norm.cast");
  // The CPU twin's wording for the same situation shares the phrase tests and users look for.
  EXPECT_NE(cast.find("not supported on this device"), std::string::npos);
}
