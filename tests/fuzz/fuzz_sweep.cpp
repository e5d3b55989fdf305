// Fuzz target: a sweep file (sim/sweep/sweep.hpp), resolved against the shipped scenarios/sweeps
// folder; the first points of a parsed sweep are expanded into scenario documents (a grid of a
// million points costs nothing until its points are generated, so only a few are).
#include <algorithm>

#include "sim/sweep/sweep.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustercost;
  static const std::filesystem::path folder = fuzz::data_root() / "scenarios" / "sweeps";
  fuzz::accept_input_errors([&] {
    const Json j = parse_json_text(fuzz::as_text(data, size), "fuzz.json");
    const SweepPlan plan = SweepPlan::parse(j, "fuzz.json", folder);
    const std::size_t n = std::min<std::size_t>(plan.size(), 8);
    for (std::size_t i = 0; i < n; ++i) {
      const SweepPoint p = plan.point(i);
      fuzz::accept_input_errors([&] { (void)plan.scenario_document(p).dump(); });
    }
    if (plan.size() > n) (void)plan.point(plan.size() - 1);  // the last point of a big grid
  });
  return 0;
}
