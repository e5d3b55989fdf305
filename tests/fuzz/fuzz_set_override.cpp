// Fuzz target: `--set PATH=VALUE` assignments, one per line, applied to a shipped scenario (the
// path syntax, the value parsed as JSON else a string), then the scenario is parsed.
#include <string>

#include "hardware/spec/catalog.hpp"
#include "sim/scenario/scenario.hpp"
#include "tests/fuzz/fuzz_common.hpp"

namespace {
struct Shipped {
  clustercost::DataDirs dirs{clustercost::fuzz::data_root()};
  clustercost::Catalog catalog = clustercost::Catalog::load(dirs.catalog());
  clustercost::Json base =
      clustercost::load_json_file(dirs.scenarios() / "llama3-70b-h100.json");
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustercost;
  static const Shipped shipped;
  fuzz::accept_input_errors([&] {
    Json j = shipped.base;
    const std::string_view text = fuzz::as_text(data, size);
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      if (end > start) apply_override(j, std::string(text.substr(start, end - start)));
      start = end + 1;
    }
    (void)parse_scenario(j, "fuzz.json", shipped.catalog, shipped.dirs);
  });
  return 0;
}
