// Fuzz target: a model file (DESIGN.md "Model"), then the accounting every run does with it.
#include "models/accounting.hpp"
#include "models/model_spec.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustercost;
  fuzz::accept_input_errors([&] {
    const Json j = parse_json_text(fuzz::as_text(data, size), "fuzz.json");
    const ModelSpec m = parse_model_spec(j, "fuzz.json", "model");
    (void)count_parameters(m);
    (void)training_flops_per_token(m, 4096);
    (void)model_spec_to_json(m).dump();
  });
  return 0;
}
