// The batch HTML report rendered by headless Chromium (scripts/setup installs it): the DOM after
// rendering holds the three SVG charts with their marks, and a screenshot of the report carries
// far more drawn content than one of an empty page.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/cli/cli_test_util.hpp"

using namespace cli_test;
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

std::string find_chromium() {
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"})
    if (::access(c, X_OK) == 0) return c;
  return "";
}

int chromium(const std::string& exe, const fs::path& dir, const std::string& what,
             const fs::path& html, const fs::path& out) {
  const std::string cmd = exe + " --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
                          "--disable-background-networking --disable-component-update --disable-sync "
                          "--user-data-dir=" + (dir / "profile").string() + " " + what +
                          " --window-size=1200,2000 file://" + html.string() + " > " + out.string() +
                          " 2>" + (dir / "chromium.log").string();
  return std::system(cmd.c_str());
}

}  // namespace

TEST(HtmlReport, RendersChartsInHeadlessChromium) {
  const std::string exe = find_chromium();
  if (exe.empty()) {
    std::fprintf(stderr, "\n*** SKIPPED: chromium is not installed (scripts/setup installs it); the "
                         "HTML report was NOT checked in a browser ***\n\n");
    GTEST_SKIP() << "chromium not installed";
  }
  const auto dir = temp_dir() / "html";
  fs::remove_all(dir);
  fs::create_directories(dir);
  Json sweep = {{"base", (data_dir() / "scenarios" / "llama3-70b-h100.json").string()},
                {"set", {{"simulation.fidelity", "analytical"}}},
                {"grid", {{"cluster.gpus", {256, 512, 1024}}, {"cluster.gpu", Json::array({"H100-SXM", "H20"})}}}};
  std::ofstream(dir / "sweep.json") << sweep.dump();
  Result r = run("sweep " + (dir / "sweep.json").string() + " -q -o " + (dir / "r.jsonl").string());
  ASSERT_EQ(r.code, 0) << r.err;
  const auto html = dir / "report.html";
  r = run("report " + (dir / "r.jsonl").string() + " --format html -o " + html.string());
  ASSERT_EQ(r.code, 0) << r.err;

  const auto dom = dir / "dom.html";
  ASSERT_EQ(chromium(exe, dir, "--dump-dom", html, dom), 0) << slurp(dir / "chromium.log");
  const std::string d = slurp(dom);
  for (const char* id : {"chart-breakdown", "chart-cost", "chart-days", "comparison"})
    EXPECT_NE(d.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  auto count = [&](const std::string& s) {
    std::size_t n = 0;
    for (auto p = d.find(s); p != std::string::npos; p = d.find(s, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<circle"), 12u) << "6 points in each of the two scaling charts";
  EXPECT_EQ(count("<polyline"), 4u) << "one line per GPU type in each chart";
  EXPECT_GE(count("class=\"bar\""), 6u);

  const auto shot = dir / "report.png";
  ASSERT_EQ(chromium(exe, dir, "--screenshot=" + shot.string(), html, dir / "out.txt"), 0)
      << slurp(dir / "chromium.log");
  const auto blank_html = dir / "blank.html";
  std::ofstream(blank_html) << "<!DOCTYPE html><html><body></body></html>";
  const auto blank = dir / "blank.png";
  ASSERT_EQ(chromium(exe, dir, "--screenshot=" + blank.string(), blank_html, dir / "out.txt"), 0);
  const std::string png = slurp(shot);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  // A white page compresses to almost nothing; text, bars and charts do not.
  EXPECT_GT(png.size(), 5 * fs::file_size(blank)) << png.size() << " vs " << fs::file_size(blank);
}
