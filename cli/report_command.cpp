// clustercost report RESULTS [--format csv|html|pdf] -o FILE
//
// RESULTS is a report JSON (`run --format json`) or a sweep results file (JSON Lines). The
// format is --format, else the output file's extension; the two disagreeing is an error (exit 2,
// nothing written). CSV and HTML come from sim/report/batch_report.hpp and are written
// atomically; the HTML is titled with the sweep's name. PDF goes through the GUI's PDF export:
// this runs `clustercost-gui --report RESULTS --pdf FILE` (offscreen, Qt's own warnings off)
// when the GUI was built next to this binary (same folder, or ../gui/ in a build tree), else
// exits 2.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>

#include "cli/cli_common.hpp"
#include "cli/sweep_commands.hpp"
#include "sim/common/input_error.hpp"
#include "sim/report/batch_report.hpp"

extern char** environ;

namespace clustercost::cli {

namespace {

struct ReportOptions {
  std::string results;
  std::string format;
  std::string output;
};

std::filesystem::path find_gui() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const auto& candidate : {self.parent_path() / "clustercost-gui",
                                self.parent_path().parent_path() / "gui" / "clustercost-gui"})
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  return {};
}

int run_gui_pdf(const std::filesystem::path& gui, const std::string& results,
                const std::string& output) {
  // Headless unless the caller chose a platform. Qt's own warnings about the platform
  // ("XDG_RUNTIME_DIR not set", "This plugin does not support propagateSizeHints()") say nothing
  // about the report: off unless the caller set rules. The GUI prints its errors itself, not
  // through Qt's logging, so they still show.
  if (!std::getenv("QT_QPA_PLATFORM")) ::setenv("QT_QPA_PLATFORM", "offscreen", 1);
  if (!std::getenv("QT_LOGGING_RULES"))
    ::setenv("QT_LOGGING_RULES", "default.warning=false;qt.*.warning=false", 1);
  std::string a0 = gui.string(), a1 = "--report", a2 = results, a3 = "--pdf", a4 = output;
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), a4.data(), nullptr};
  pid_t pid = 0;
  if (const int rc = ::posix_spawn(&pid, a0.c_str(), nullptr, nullptr, argv, environ); rc != 0)
    throw std::runtime_error("cannot start " + a0 + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 1;
}

}  // namespace

Action add_report_command(CLI::App& app) {
  auto opt = std::make_shared<ReportOptions>();
  auto* sub = app.add_subcommand("report", "Write a CSV, HTML or PDF report of results");
  sub->add_option("results", opt->results, "Report JSON or sweep results (JSON Lines)")->required();
  sub->add_option("--format", opt->format, "Report format (default: from the -o file's extension)")
      ->check(CLI::IsMember({"csv", "html", "pdf"}));
  sub->add_option("-o,--output", opt->output, "Output file (written atomically)")->required();
  return [opt]() {
    const std::string format = output_format(opt->format, opt->output, {"csv", "html", "pdf"}, "");
    if (format == "pdf") {
      const auto gui = find_gui();
      if (gui.empty()) {
        std::cerr << "error: PDF needs the GUI build (Qt 6): clustercost-gui not found\n";
        return 2;
      }
      load_batch(opt->results);  // bad input is reported here, with the CLI's message
      return run_gui_pdf(gui, opt->results, opt->output);
    }
    const auto entries = load_batch(opt->results);
    const std::string title =
        batch_title(entries, std::filesystem::path(opt->results).stem().string());
    emit(opt->output, format == "csv" ? batch_to_csv(entries) : batch_to_html(entries, title));
    return 0;
  };
}

}  // namespace clustercost::cli
