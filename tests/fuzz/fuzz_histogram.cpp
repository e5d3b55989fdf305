// Fuzz target: a routing histogram (sim/moe/histogram.hpp), measured tokens per expert exported
// by other tools: the same bytes are read as CSV and, when they are JSON, as the JSON form.
#include "sim/moe/histogram.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustercost;
  const std::string_view text = fuzz::as_text(data, size);
  fuzz::accept_input_errors([&] { (void)parse_histogram_csv(text, "fuzz.csv"); });
  fuzz::accept_input_errors([&] {
    (void)parse_histogram_json(parse_json_text(text, "fuzz.json"), "fuzz.json");
  });
  return 0;
}
