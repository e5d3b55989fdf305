// Fuzz target: one catalogue entry (hardware/catalog/*.json GPU, or nodes/*.json node).
#include "hardware/spec/catalog.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustercost;
  Json j;
  try {
    j = parse_json_text(fuzz::as_text(data, size), "fuzz.json");
  } catch (const InputError&) {
    return 0;
  }
  fuzz::accept_input_errors([&] { (void)gpu_spec_to_json(parse_gpu_spec(j, "fuzz.json")).dump(); });
  fuzz::accept_input_errors([&] { (void)node_spec_to_json(parse_node_spec(j, "fuzz.json")).dump(); });
  return 0;
}
