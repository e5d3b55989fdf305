// Fuzz target: a scenario file (DESIGN.md "Scenario"), parsed against the shipped catalogue,
// presets and profiles; a scenario that parses is then run at analytical fidelity and its report
// serialised, since a scenario that loads must also run without crashing.
#include "hardware/spec/catalog.hpp"
#include "sim/report/report.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace {
struct Shipped {
  clustercost::DataDirs dirs{clustercost::fuzz::data_root()};
  clustercost::Catalog catalog = clustercost::Catalog::load(dirs.catalog());
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustercost;
  static const Shipped shipped;  // loaded once: the fuzzer calls this millions of times
  fuzz::accept_input_errors([&] {
    const Json j = parse_json_text(fuzz::as_text(data, size), "fuzz.json");
    Scenario s = parse_scenario(j, "fuzz.json", shipped.catalog, shipped.dirs);
    (void)scenario_to_json(s).dump();
    // DES fidelity is covered by the event budget (tests/limits); analytical keeps each
    // execution in milliseconds so the fuzzer explores the parser, not one long simulation.
    s.simulation.fidelity = "analytical";
    (void)report_to_json(run_scenario(s)).dump();
  });
  return 0;
}
