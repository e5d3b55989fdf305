// Fuzz target: an efficiency profile (hardware/profiles/*.json, or `calibrate`'s output).
#include "hardware/efficiency/efficiency_profile.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustercost;
  fuzz::accept_input_errors([&] {
    const Json j = parse_json_text(fuzz::as_text(data, size), "fuzz.json");
    (void)efficiency_profile_to_json(parse_efficiency_profile(j, "fuzz.json")).dump();
  });
  return 0;
}
