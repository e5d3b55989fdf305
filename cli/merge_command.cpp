// clustercost merge A.jsonl B.jsonl ... [-o ALL.jsonl]
//
// Joins sweep results files (shards, resumed runs): one line per id, sorted by id, written
// atomically. Lines depend only on their point, so merged shards equal the unsharded run after
// sorting; the same id with different bytes (different versions or data) is an error (exit 2).
#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/sweep_commands.hpp"
#include "sim/sweep/sweep.hpp"

namespace clustercost::cli {

namespace {
struct MergeOptions {
  std::vector<std::string> inputs;
  std::string output;
};
}  // namespace

Action add_merge_command(CLI::App& app) {
  auto opt = std::make_shared<MergeOptions>();
  auto* sub = app.add_subcommand("merge", "Join sweep results files (shards) into one, sorted by id");
  sub->add_option("inputs", opt->inputs, "Results files (JSON Lines)")->required();
  sub->add_option("-o,--output", opt->output, "Merged file (written atomically); default stdout");
  return [opt]() {
    std::vector<std::filesystem::path> files(opt->inputs.begin(), opt->inputs.end());
    std::size_t torn = 0;
    const auto lines = merge_results(files, &torn);
    if (torn)
      std::cerr << "warning: skipped " << torn << " torn last line" << (torn == 1 ? "" : "s")
                << " (an interrupted sweep: run it again with --resume)\n";
    emit(opt->output, results_text(lines));
    if (!opt->output.empty() && opt->output != "-")
      std::cerr << "merge: " << lines.size() << " points from " << files.size() << " file"
                << (files.size() == 1 ? "" : "s") << " → " << opt->output << "\n";
    return 0;
  };
}

}  // namespace clustercost::cli
