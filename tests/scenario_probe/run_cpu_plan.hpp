#pragma once
// Runs a `probe --scenario` plan on the CPU twin (quick, one thread) into `out`, checks that the
// probe succeeded, and returns the measurements read back (the file is removed).

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "hardware/probe/probe.hpp"
#include "hardware/probe/scenario_ops.hpp"

namespace clustercost::test {

inline Measurements run_cpu_plan(const probe::ScenarioProbePlan& plan,
                                 const std::filesystem::path& out, std::string* log_out = nullptr) {
  ProbeOptions o;
  o.device = "cpu";
  o.quick = true;
  o.threads = 1;
  o.output_path = out.string();
  std::ostringstream log;
  const int rc = run_scenario_probe(o, plan, log);
  if (log_out) *log_out = log.str();
  EXPECT_EQ(rc, kProbeOk) << log.str();
  Measurements m = load_measurements(o.output_path);
  std::filesystem::remove(o.output_path);
  return m;
}

}  // namespace clustercost::test
