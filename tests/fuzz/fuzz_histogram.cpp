// Fuzz target: the routing files of a MoE scenario, both exported by other tools:
//  - a routing histogram (sim/moe/histogram.hpp), measured tokens per expert: the same bytes are
//    read as CSV and, when they are JSON, as the JSON form;
//  - an expert placement (sim/moe/routing.hpp), a JSON list of EP ranks, one per expert: checked
//    for as many experts as the list has (so the per-element checks run, not only the length
//    check) over 1, 2, 4 or 8 EP ranks, the count picked by the input's first byte.
#include <algorithm>

#include "sim/moe/histogram.hpp"
#include "sim/moe/routing.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustercost;
  const std::string_view text = fuzz::as_text(data, size);
  fuzz::accept_input_errors([&] { (void)parse_histogram_csv(text, "fuzz.csv"); });
  fuzz::accept_input_errors([&] {
    const Json j = parse_json_text(text, "fuzz.json");
    fuzz::accept_input_errors([&] { (void)parse_histogram_json(j, "fuzz.json"); });
    const int ep = size > 0 ? 1 << (data[0] % 4) : 1;
    const int experts = j.is_array() ? static_cast<int>(std::min<std::size_t>(j.size(), 1 << 20)) : 8;
    (void)parse_expert_placement(j, "fuzz.json", experts, ep);
  });
  return 0;
}
