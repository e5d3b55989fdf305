// The scenario loop of issue 16 end to end through the real binary: `probe --scenario` on the
// CPU twin (--quick: scaled sizes), `calibrate`, then `validate --measurements --profile` in text
// and JSON. One probe run is shared by the tests of this file (the probe is the slow part: a few
// seconds on one thread, more under ASan).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "cli_test_util.hpp"

using namespace cli_test;
using Json = nlohmann::ordered_json;

namespace {

struct Loop {
  std::filesystem::path measurements, profile;
  Result probe, calibrate, text, json;
  Json m, p, v;  ///< the measurements, the profile and validate's JSON output
};

/// Runs probe → calibrate → validate (text, JSON) once for the file.
const Loop& loop() {
  static const Loop l = [] {
    Loop x;
    const auto dir = temp_dir();
    x.measurements = dir / "loop-measurements.json";
    x.profile = dir / "loop-profile.json";
    const auto scenario = data_dir() / "scenarios" / "llama3-70b-h100.json";
    x.probe = run("probe --scenario " + scenario.string() + " --device cpu --quick --threads 1 -o " +
                  x.measurements.string());
    if (x.probe.code != 0) return x;
    x.m = Json::parse(slurp(x.measurements));
    x.calibrate = run("calibrate " + x.measurements.string() + " -o " + x.profile.string());
    if (x.calibrate.code != 0) return x;
    x.p = Json::parse(slurp(x.profile));
    x.text = run("validate --measurements " + x.measurements.string() + " --profile " +
                 x.profile.string());
    x.json = run("validate --measurements " + x.measurements.string() + " --profile " +
                 x.profile.string() + " --format json");
    if (x.json.code == 0) x.v = Json::parse(x.json.out);
    return x;
  }();
  return l;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

/// "12.3%" → 12.3
double percent(const std::string& w) {
  EXPECT_FALSE(w.empty());
  EXPECT_EQ(w.back(), '%') << w;
  return std::stod(w.substr(0, w.size() - 1));
}

}  // namespace

TEST(CliScenarioLoop, ProbeWritesTheScenariosOpsWithChecks) {
  const Loop& l = loop();
  ASSERT_EQ(l.probe.code, 0) << l.probe.err;
  ASSERT_TRUE(l.m.contains("scenario")) << "probe --scenario records the scenario it measured";
  EXPECT_NE(l.m["scenario"]["file"].get<std::string>().find("llama3-70b-h100.json"), std::string::npos);
  EXPECT_EQ(l.m["device"]["kind"], "cpu");
  std::set<std::string> listed;
  for (const auto& o : l.m["scenario"]["ops"]) listed.insert(o.get<std::string>());
  ASSERT_FALSE(listed.empty());
  // Every listed op has at least one record carrying its op info, and every record's result was
  // checked (ok) against the reference.
  std::set<std::string> measured;
  int scaled = 0;
  for (const auto& r : l.m["records"]) {
    EXPECT_TRUE(r["ok"].get<bool>()) << r["name"];
    if (!r.contains("op")) continue;
    measured.insert(r["name"].get<std::string>());
    EXPECT_GT(r["time_s"].get<double>(), 0.0) << r["name"];
    if (r["op"].contains("scale") && r["op"]["scale"].get<double>() < 1.0) {
      ++scaled;
      EXPECT_FALSE(r["op"]["scaled"].get<std::string>().empty()) << r["name"] << ": says how it was scaled";
    }
  }
  EXPECT_EQ(measured, listed);
  EXPECT_GT(scaled, 0) << "--quick on the CPU scales the 70B layer down";
}

TEST(CliScenarioLoop, CalibrateFitsEveryKernelClassAndRecordsTheMeasurementHash) {
  const Loop& l = loop();
  ASSERT_EQ(l.probe.code, 0) << l.probe.err;
  ASSERT_EQ(l.calibrate.code, 0) << l.calibrate.err;
  EXPECT_EQ(l.p["schema"], "clustercost.profile/1");
  EXPECT_NE(l.p.dump().find("fnv1a64"), std::string::npos) << "provenance names the file's hash";
  EXPECT_TRUE(l.p["fit"].is_object());
}

TEST(CliScenarioLoop, ValidatePrintsPerOpRowsLayerTotalsAndTheRepredictedStep) {
  // validate re-predicts the step only (no campaign): however slow the measured device (the CPU
  // twin under ASan), the step is printed.
  const Loop& l = loop();
  ASSERT_EQ(l.probe.code, 0) << l.probe.err;
  ASSERT_EQ(l.calibrate.code, 0) << l.calibrate.err;
  ASSERT_EQ(l.text.code, 0) << l.text.err;
  const std::string& out = l.text.out;
  EXPECT_NE(out.find("calibrated: " + l.profile.string()), std::string::npos) << out;
  // Per-op rows: kind, name, pass, dtype, measured, default (err), calibrated (err). Every
  // scenario op appears with a forward or backward pass and consistent errors.
  std::set<std::string> ops_in_text;
  const auto lines = lines_of(out);
  std::size_t i = 0;
  while (i < lines.size() && lines[i].rfind("kind ", 0) != 0) ++i;
  ASSERT_LT(i, lines.size()) << "no per-op table header:\n" << out;
  const auto header = words_of(lines[i]);
  ASSERT_EQ(header, (std::vector<std::string>{"kind", "name", "pass", "dtype", "measured_us",
                                              "default_us", "err", "calib_us", "err"}));
  for (++i; i < lines.size() && !lines[i].empty() && lines[i][0] != '('; ++i) {
    const auto w = words_of(lines[i]);
    ASSERT_EQ(w.size(), 9u) << lines[i];
    if (w[2] == "-") continue;  // the launch record: not a scenario op
    EXPECT_TRUE(w[2] == "forward" || w[2] == "recompute" || w[2] == "input_grad" ||
                w[2] == "weight_grad")
        << lines[i];
    const double measured = std::stod(w[4]), def = std::stod(w[5]), cal = std::stod(w[7]);
    EXPECT_GT(measured, 0.0) << lines[i];
    EXPECT_GT(def, 0.0) << lines[i];
    EXPECT_GT(cal, 0.0) << lines[i];
    // The printed errors are (predicted − measured) / measured of the printed times (to their
    // rounding: times have 2 decimals in µs, errors 1 in %).
    if (measured >= 10.0) {
      EXPECT_NEAR(percent(w[6]), (def - measured) / measured * 100, 0.2 + 100 * 0.01 / measured) << lines[i];
      EXPECT_NEAR(percent(w[8]), (cal - measured) / measured * 100, 0.2 + 100 * 0.01 / measured) << lines[i];
    }
    ops_in_text.insert(w[1]);
  }
  std::set<std::string> listed;
  for (const auto& o : l.m["scenario"]["ops"]) listed.insert(o.get<std::string>());
  EXPECT_EQ(ops_in_text, listed);
  // Layer totals: forward and backward of the dense layer (Llama has one layer kind).
  const auto t = out.find("Layer totals at the measured sizes");
  ASSERT_NE(t, std::string::npos) << out;
  std::set<std::string> passes;
  for (const auto& line : lines_of(out.substr(t))) {
    const auto w = words_of(line);
    if (w.size() == 7 && (w[1] == "forward" || w[1] == "backward")) {
      passes.insert(w[0] + "/" + w[1]);
      EXPECT_GT(std::stod(w[2]), 0.0) << line;
    }
  }
  EXPECT_TRUE(passes.count("dense/forward")) << out.substr(t);
  EXPECT_TRUE(passes.count("dense/backward")) << out.substr(t);
  // The step re-predicted with the calibrated profile, next to the default one.
  const auto s = out.find("\nStep of ");
  ASSERT_NE(s, std::string::npos) << out;
  EXPECT_NE(out.find("llama3-70b-h100.json", s), std::string::npos);
  const auto d = out.find("  default profile:", s), c = out.find("  calibrated profile:", s);
  ASSERT_NE(d, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(d, c);
  EXPECT_GT(std::stod(out.substr(out.find(':', d) + 1)), 0.0);
  EXPECT_GT(std::stod(out.substr(out.find(':', c) + 1)), 0.0);
  // Measured on a CPU: the note says whose peaks the fitted fractions are applied to.
  EXPECT_NE(out.find("note: the calibrated profile was measured on", s), std::string::npos);
}

TEST(CliScenarioLoop, ValidateJsonHasKernelsLayersAndStep) {
  const Loop& l = loop();
  ASSERT_EQ(l.probe.code, 0) << l.probe.err;
  ASSERT_EQ(l.calibrate.code, 0) << l.calibrate.err;
  ASSERT_EQ(l.json.code, 0) << l.json.err;
  const Json& v = l.v;
  EXPECT_EQ(v["calibrated_profile"], l.profile.string());
  std::set<std::string> ops;
  std::map<std::string, double> fwd_measured, bwd_measured;
  for (const auto& k : v["kernels"]) {
    if (!k.contains("layer")) continue;
    ops.insert(k["name"].get<std::string>());
    const double m = k["measured_s"], d = k["predicted_default_s"], c = k["predicted_calibrated_s"];
    EXPECT_GT(m, 0.0);
    EXPECT_GT(d, 0.0);
    EXPECT_GT(c, 0.0);
    EXPECT_NEAR(k["error_default"].get<double>(), (d - m) / m, 1e-9) << k["name"];
    EXPECT_NEAR(k["error_calibrated"].get<double>(), (c - m) / m, 1e-9) << k["name"];
    if (k["kind"] == "gemm") {
      EXPECT_TRUE(k.contains("role")) << k["name"];
    }
  }
  std::set<std::string> listed;
  for (const auto& o : l.m["scenario"]["ops"]) listed.insert(o.get<std::string>());
  EXPECT_EQ(ops, listed);
  // Layer totals: each op's time counted as often as the layer runs it (occurrences per layer).
  ASSERT_TRUE(v.contains("layers")) << v.dump(1);
  ASSERT_TRUE(v["layers"].contains("dense")) << v["layers"].dump(1);
  double fwd = 0, bwd = 0;
  for (const auto& k : v["kernels"]) {
    if (!k.contains("layer")) continue;
    // Llama's ops all belong to the dense layer except the per-step ones (embedding, head, loss,
    // optimizer), which carry their own layer name.
    if (k["layer"] != "dense") continue;
    (k["pass"] == "forward" ? fwd : bwd) += k["occurrences"].get<int>() * k["measured_s"].get<double>();
  }
  const Json& dense = v["layers"]["dense"];
  EXPECT_NEAR(dense["forward_measured_s"].get<double>(), fwd, 1e-9 + 1e-9 * fwd);
  EXPECT_NEAR(dense["backward_measured_s"].get<double>(), bwd, 1e-9 + 1e-9 * bwd);
  for (const char* f : {"forward_default_s", "forward_calibrated_s", "backward_default_s", "backward_calibrated_s"})
    EXPECT_GT(dense[f].get<double>(), 0.0) << f;
  // The step, default and calibrated.
  ASSERT_TRUE(v.contains("step"));
  EXPECT_NE(v["step"]["scenario"].get<std::string>().find("llama3-70b-h100.json"), std::string::npos);
  EXPECT_GT(v["step"]["default_s"].get<double>(), 0.0);
  EXPECT_GT(v["step"]["calibrated_s"].get<double>(), 0.0);
  EXPECT_EQ(v["step"]["fidelity"], "des") << "the shipped Llama scenario runs the op-level DES";
  EXPECT_TRUE(std::isfinite(v["mape_calibrated"].get<double>()));
  EXPECT_TRUE(v["mape_by_kind"].contains("gemm"));
  EXPECT_TRUE(v["mape_by_kind"].contains("memory"));
  EXPECT_TRUE(v["mape_by_kind"].contains("attention"));
  EXPECT_TRUE(v["skipped"].is_array());
}

TEST(CliScenarioLoop, BadInputsAreClearErrorsWithNoOutput) {
  const auto out = temp_dir() / "loop-bad-measurements.json";
  std::filesystem::remove(out);
  const auto bad = write_scenario("loop-bad.json", R"({"model": 3})");
  Result r = run("probe --scenario " + bad.string() + " --device cpu --quick -o " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("loop-bad.json"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  Result nomeas = run("validate --measurements /nonexistent-m.json");
  EXPECT_EQ(nomeas.code, 2);
  EXPECT_NE(nomeas.err.find("/nonexistent-m.json"), std::string::npos) << nomeas.err;
}
