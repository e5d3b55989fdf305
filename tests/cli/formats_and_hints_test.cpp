// Output formats follow the file's extension, and the CLI's details a new user trips on (issue 17,
// items 8 and 15): mismatched --format and extension, files given to `report` that are not
// results, `list gpus` prices and short aliases, `list models` order.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/cli/cli_test_util.hpp"

using namespace cli_test;
using Json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

std::string scenario(const std::string& name) { return (data_dir() / "scenarios" / name).string(); }

fs::path fresh_dir(const std::string& name) {
  const auto d = temp_dir() / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

const std::string kFast = " --set simulation.fidelity=analytical --replicas 0";

}  // namespace

TEST(CliFormats, RunWritesTheFormatItsExtensionNames) {
  const auto dir = fresh_dir("run-ext");
  const auto html = dir / "guess.html", json = dir / "guess.json", csv = dir / "guess.CSV",
             txt = dir / "guess.txt";
  for (const auto& f : {html, json, csv, txt}) {
    const Result r = run("run " + scenario("llama3-70b-h100.json") + kFast + " -o " + f.string());
    ASSERT_EQ(r.code, 0) << f << ": " << r.err;
  }
  EXPECT_EQ(slurp(html).rfind("<!DOCTYPE html>", 0), 0u) << slurp(html).substr(0, 200);
  EXPECT_NE(slurp(html).find("</html>"), std::string::npos);
  EXPECT_EQ(Json::parse(slurp(json))["schema"], "clustercost.report/1");
  EXPECT_EQ(slurp(csv).rfind("name,model,gpu,gpus,", 0), 0u);
  EXPECT_EQ(slurp(txt).rfind("clustercost ", 0), 0u);
  // An explicit --format that agrees is fine; an unknown extension leaves the choice to --format.
  EXPECT_EQ(run("run " + scenario("llama3-70b-h100.json") + kFast + " --format html -o " +
                (dir / "x.htm").string()).code, 0);
  const Result other = run("run " + scenario("llama3-70b-h100.json") + kFast + " --format json -o " +
                           (dir / "x.out").string());
  ASSERT_EQ(other.code, 0) << other.err;
  EXPECT_EQ(Json::parse(slurp(dir / "x.out"))["schema"], "clustercost.report/1");
}

TEST(CliFormats, MismatchedFormatAndExtensionExitsTwoAndWritesNothing) {
  const auto dir = fresh_dir("mismatch");
  const auto out = dir / "q.html";
  Result r = run("run " + scenario("llama3-70b-h100.json") + kFast + " --format json -o " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("error: --format: json does not match the output file " + out.string()), std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out));
  // A format `run` does not write.
  r = run("run " + scenario("llama3-70b-h100.json") + kFast + " -o " + (dir / "q.pdf").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not pdf"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "q.pdf"));

  // `report`: the same rule, whatever the format (the PDF path included).
  const auto report = dir / "r.json";
  ASSERT_EQ(run("run " + scenario("llama3-70b-h100.json") + kFast + " -o " + report.string()).code, 0);
  r = run("report " + report.string() + " --format pdf -o " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--format: pdf does not match"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  r = run("report " + report.string() + " --format csv -o " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(fs::exists(out));
  // Without --format the extension decides; with neither, a clear usage error.
  r = run("report " + report.string() + " -o " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(slurp(out).find("<title>clustercost: llama3-70b-h100</title>"), std::string::npos);
  r = run("report " + report.string() + " -o " + (dir / "r.data").string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("error: --format: expected csv, html or pdf, or an output file"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "r.data"));
}

TEST(CliReportHints, AScenarioAnHtmlFileOrASweepFileSayWhatToRunFirst) {
  const auto dir = fresh_dir("hints");
  const auto out = dir / "out.html";
  Result r = run("report " + scenario("llama3-70b-h100.json") + " -o " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("this is a scenario, not a report: run `clustercost run " +
                       scenario("llama3-70b-h100.json") + " --format json -o report.json` first"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out));

  const auto html = dir / "page.html";
  ASSERT_EQ(run("run " + scenario("llama3-70b-h100.json") + kFast + " -o " + html.string()).code, 0);
  r = run("report " + html.string() + " -o " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("this is HTML or XML"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << "no library exception text: " << r.err;
  EXPECT_FALSE(fs::exists(out));

  r = run("report " + (data_dir() / "scenarios" / "sweeps" / "llama3-70b-gpu-type-vs-count.json").string() +
          " -o " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("this is a sweep file, not results: run `clustercost sweep "), std::string::npos) << r.err;

  // A damaged results line: its number and the parser's position, without the library's code.
  const auto bad = dir / "bad.jsonl";
  std::ofstream(bad) << "{\"id\": \"a\", \"error\": {}}\n{\"id\": oops}\n";
  r = run("report " + bad.string() + " -o " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("at line 2: not valid JSON (parse error at line 1, column"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
}

TEST(CliReportHints, PdfExportPrintsNoQtPlatformNoise) {
  const bool have_gui = fs::exists(binary().parent_path().parent_path() / "gui" / "clustercost-gui");
  if (!have_gui) GTEST_SKIP() << "clustercost-gui not built: no PDF export";
  const auto dir = fresh_dir("pdf");
  const auto report = dir / "r.json";
  ASSERT_EQ(run("run " + scenario("llama3-70b-h100.json") + kFast + " -o " + report.string()).code, 0);
  // Without XDG_RUNTIME_DIR Qt warns about it; the report command keeps Qt's warnings quiet.
  const auto err = dir / "stderr.txt";
  const std::string cmd = "env -u XDG_RUNTIME_DIR -u QT_LOGGING_RULES " + binary().string() +
                          " report " + report.string() + " -o " + (dir / "r.pdf").string() +
                          " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = slurp(err);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(dir / "r.pdf").substr(0, 5), "%PDF-");
  EXPECT_EQ(r.err.find("propagateSizeHints"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("XDG_RUNTIME_DIR"), std::string::npos) << r.err;
}

TEST(CliList, PricesInCentsAndAmbiguousAliasesExplained) {
  const Result r = run("list gpus");
  ASSERT_EQ(r.code, 0) << r.err;
  std::istringstream in(r.out);
  std::string h800;
  for (std::string l; std::getline(in, l);)
    if (l.rfind("H800-SXM ", 0) == 0) h800 = l;
  ASSERT_FALSE(h800.empty()) << r.out;
  EXPECT_NE(h800.find(" 2.00* "), std::string::npos) << h800;
  EXPECT_EQ(h800.find(" 2* "), std::string::npos) << h800;
  EXPECT_NE(r.out.find("* estimated, disputed or unverified"), std::string::npos);
  EXPECT_NE(r.out.find("\"a100\" means A100-80G-SXM (A100-40G-SXM is also in the catalogue"),
            std::string::npos)
      << r.out;
}

TEST(CliList, ModelsSortByFamilyThenSize) {
  const Result r = run("list models");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto at = [&](const std::string& name) { return r.out.find("\n" + name + " "); };
  for (const char* m : {"megatron-1.7b", "megatron-18.4b", "megatron-145.6b", "megatron-1t",
                        "llama3-8b", "llama3-70b", "llama3-405b"})
    ASSERT_NE(at(m), std::string::npos) << m << "\n" << r.out;
  EXPECT_LT(at("megatron-1.7b"), at("megatron-18.4b"));
  EXPECT_LT(at("megatron-18.4b"), at("megatron-145.6b"));
  EXPECT_LT(at("megatron-145.6b"), at("megatron-1t"));
  EXPECT_LT(at("llama3-8b"), at("llama3-70b"));
  EXPECT_LT(at("llama3-70b"), at("llama3-405b"));
}

TEST(CliRun, AShortAliasForOneOfSeveralPartsGetsANote) {
  Result r = run("run " + scenario("llama3-70b-h100.json") + kFast +
                 " --set cluster.gpu=A100 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["scenario"]["cluster"]["gpu"], "A100-80G-SXM");
  EXPECT_NE(r.err.find("note: cluster.gpu: \"A100\" means A100-80G-SXM (A100-40G-SXM is also in the "
                       "catalogue: write the full name to choose)"),
            std::string::npos)
      << r.err;
  // The full name, or an alias only one part answers to, goes without a note.
  r = run("run " + scenario("llama3-70b-h100.json") + kFast + " --set cluster.gpu=A100-80G-SXM --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("note: cluster.gpu"), std::string::npos) << r.err;
  r = run("run " + scenario("llama3-70b-h100.json") + kFast + " --set cluster.gpu=h100 --format json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("note: cluster.gpu"), std::string::npos) << r.err;
}
