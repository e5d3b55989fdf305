// clustercost-probe: a thin command line over run_probe (arguments parsed by hand, so the probe
// needs no CLI library on GPU machines).

#include <charconv>
#include <fstream>
#include <iterator>
#include <iostream>
#include <string>
#include <string_view>

#include "hardware/probe/probe.hpp"
#include "hardware/probe/scenario_ops.hpp"

namespace {

constexpr const char* kUsage =
    "usage: clustercost-probe [--device cpu|cuda] [--quick] [--threads N] [--repetitions N]\n"
    "                         [--plan PLAN] -o FILE\n"
    "Measures GEMM, grouped GEMM, memory, attention and launch overhead; writes\n"
    "clustercost.measurements/1 JSON to FILE. With --plan, times a scenario's own ops instead\n"
    "(a plan written by `clustercost probe --scenario S --write-plan PLAN`; shipped ones are in\n"
    "hardware/probe/plans/). Exit: 0 ok, 1 a check failed, 2 bad usage, a bad plan or no CUDA\n"
    "device.\n";

bool parse_int(std::string_view s, int& out) {
  const auto res = std::from_chars(s.data(), s.data() + s.size(), out);
  return res.ec == std::errc() && res.ptr == s.data() + s.size();
}

}  // namespace

int main(int argc, char** argv) {
  clustercost::ProbeOptions options;
  std::string plan_file;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool has_inline_value = false;
    if (arg.rfind("--", 0) == 0) {
      if (const auto eq = arg.find('='); eq != std::string_view::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
    }
    const auto take_value = [&](std::string_view& v) {
      if (has_inline_value) {
        v = value;
        return true;
      }
      if (i + 1 >= argc) return false;
      v = argv[++i];
      return true;
    };
    std::string_view v;
    const bool takes_value = arg == "--device" || arg == "--threads" || arg == "--repetitions" ||
                             arg == "-o" || arg == "--output" || arg == "--plan";
    if (!takes_value && arg != "--quick" && arg != "-h" && arg != "--help") {
      std::cerr << "clustercost-probe: unknown argument \"" << argv[i] << "\"\n" << kUsage;
      return 2;
    }
    if (takes_value && !take_value(v)) {
      std::cerr << "clustercost-probe: " << arg << " needs a value\n" << kUsage;
      return 2;
    }
    if (!takes_value && has_inline_value) {
      std::cerr << "clustercost-probe: " << arg << " takes no value\n" << kUsage;
      return 2;
    }
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--plan") {
      plan_file = std::string(v);
    } else if (arg == "--device") {
      options.device = std::string(v);
    } else if (arg == "--threads" || arg == "--repetitions") {
      int& target = arg == "--threads" ? options.threads : options.repetitions;
      if (!parse_int(v, target)) {
        std::cerr << "clustercost-probe: " << arg << " needs an integer, not \"" << v << "\"\n"
                  << kUsage;
        return 2;
      }
    } else {  // -o / --output
      options.output_path = std::string(v);
    }
  }
  if (options.output_path.empty()) {
    std::cerr << "clustercost-probe: -o FILE is required\n" << kUsage;
    return 2;
  }
  if (!plan_file.empty()) {
    std::ifstream in(plan_file, std::ios::binary);
    if (!in) {
      std::cerr << "clustercost-probe: cannot read the plan " << plan_file << '\n';
      return 2;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    clustercost::probe::ScenarioProbePlan plan;
    try {
      plan = clustercost::probe::parse_scenario_plan(text, plan_file);
    } catch (const std::exception& e) {
      std::cerr << "clustercost-probe: " << e.what() << '\n';
      return 2;
    }
    return clustercost::run_scenario_probe(options, plan, std::cerr);
  }
  return clustercost::run_probe(options, std::cerr);
}
