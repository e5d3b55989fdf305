// Fuzz target: a measurements file (`clustercost.measurements/1`, written by `probe` on machines
// we have never seen), then what `calibrate` does with it.
#include "hardware/efficiency/calibration.hpp"
#include "hardware/spec/catalog.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustercost;
  static const Catalog catalog = Catalog::load(fuzz::data_root() / "hardware" / "catalog");
  fuzz::accept_input_errors([&] {
    const Json j = parse_json_text(fuzz::as_text(data, size), "fuzz.json");
    const Measurements m = parse_measurements(j, "fuzz.json");
    const GpuSpec spec = device_spec_from(m, &catalog);
    (void)efficiency_profile_to_json(calibrate(m, spec, "fuzz.json")).dump();
  });
  return 0;
}
