#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "sim/moe/histogram.hpp"
#include "sim/common/random.hpp"
#include "tests/common/test_paths.hpp"

using namespace clustercost;

namespace {

std::filesystem::path fixture(const std::string& name) {
  return test::data_root() / "tests" / "moe" / "data" / name;
}

// The error a parse raises, or "" when it parses.
std::string csv_error(const std::string& text) {
  try {
    parse_histogram_csv(text, "h.csv");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Histogram, CsvAndJsonFixturesAgree) {
  const ExpertHistogram csv = load_expert_histogram(fixture("skewed8.csv"));
  const ExpertHistogram json = load_expert_histogram(fixture("skewed8.json"));
  ASSERT_EQ(csv.layers.size(), 2u);
  EXPECT_EQ(csv.experts(), 8u);
  EXPECT_EQ(csv.layers, json.layers);
  EXPECT_DOUBLE_EQ(csv.layers[0][0], 4000);
  EXPECT_DOUBLE_EQ(csv.layers[1][7], 5000);
}

TEST(Histogram, CsvToleratesSpacesCrlfCommentsAndFractions) {
  const auto h = parse_histogram_csv("# c\r\n 1.5 , 2,3e2\r\n\r\n4,5,6\n", "x.csv");
  ASSERT_EQ(h.layers.size(), 2u);
  EXPECT_DOUBLE_EQ(h.layers[0][0], 1.5);
  EXPECT_DOUBLE_EQ(h.layers[0][2], 300);
  EXPECT_DOUBLE_EQ(h.layers[1][2], 6);
}

TEST(Histogram, CsvErrorsNameLineAndColumn) {
  EXPECT_NE(csv_error("1,2,3\n4,x,6\n").find("line 2, column 2"), std::string::npos);
  EXPECT_NE(csv_error("1,2,3\n4,5\n").find("line 2"), std::string::npos);
  EXPECT_NE(csv_error("1,2,3\n4,5\n").find("first row has 3"), std::string::npos);
  EXPECT_NE(csv_error("1,-2,3\n").find("non-negative"), std::string::npos);
  EXPECT_NE(csv_error("0,0,0\n").find("no tokens"), std::string::npos);
  EXPECT_NE(csv_error("").find("no rows"), std::string::npos);
  EXPECT_NE(csv_error("a,b,c\n").find("no rows"), std::string::npos);  // a header only
  EXPECT_NE(csv_error("1,,3\n").find("column 2"), std::string::npos);
  EXPECT_NE(csv_error("1,inf,3\n").find("finite"), std::string::npos);
  EXPECT_NE(csv_error("1,nan,3\n").find("finite"), std::string::npos);
  EXPECT_NE(csv_error("1,2,3\na,b,c\n").find("line 2, column 1"), std::string::npos);  // not a header
  // Bounds: too many experts in a row, too many layers.
  std::string wide;
  for (std::size_t i = 0; i <= kMaxHistogramExperts; ++i) wide += i ? ",1" : "1";
  EXPECT_NE(csv_error(wide).find("exceed the limit"), std::string::npos);
  std::string tall;
  for (std::size_t i = 0; i <= kMaxHistogramLayers; ++i) tall += "1,2\n";
  EXPECT_NE(csv_error(tall).find("more than"), std::string::npos);
  try {
    load_expert_histogram(fixture("ragged.csv"));
    FAIL() << "a ragged CSV must not load";
  } catch (const InputError& e) {
    EXPECT_NE(e.file().find("ragged.csv"), std::string::npos);
    EXPECT_EQ(e.json_path(), "line 2");
  }
}

TEST(Histogram, JsonErrorsNameThePath) {
  auto err = [](const char* text) -> std::string {
    try {
      parse_histogram_json(parse_json_text(text, "h.json"), "h.json");
    } catch (const InputError& e) {
      return e.json_path() + ": " + e.message();
    }
    return "";
  };
  EXPECT_NE(err(R"({"layers": [[1, 2], [3, "x"]]})").find("layers[1][1]"), std::string::npos);
  EXPECT_NE(err(R"({"layers": [[1, 2], [3]]})").find("layers[1]"), std::string::npos);
  EXPECT_NE(err(R"({"layers": [[1, 2], 3]})").find("layers[1]"), std::string::npos);
  EXPECT_NE(err(R"({"layers": []})").find("no rows"), std::string::npos);
  EXPECT_NE(err(R"({"layer": [[1]]})").find("layers"), std::string::npos);  // missing / unknown key
  EXPECT_NE(err(R"({"layers": [[0, 0]]})").find("no tokens"), std::string::npos);
  EXPECT_NE(err(R"({"layers": [[1, -1]]})").find("non-negative"), std::string::npos);
  EXPECT_NE(err(R"([1, 2])").find("object"), std::string::npos);
  EXPECT_THROW(load_expert_histogram(fixture("missing.json")), InputError);
  EXPECT_THROW(load_expert_histogram(fixture("missing.csv")), InputError);
}

TEST(Histogram, RandomBytesNeverCrashTheCsvReader) {
  // A small in-test fuzz: mutated CSV text either parses to a well-formed histogram or raises
  // InputError; nothing else.
  portable_random::Rng rng(42);
  const std::string alphabet = "0123456789,.-+eE \n\r#abinf";
  int parsed = 0;
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    const auto len = rng.below(60);
    for (std::uint32_t i = 0; i < len; ++i) text += alphabet[rng.below(static_cast<std::uint32_t>(alphabet.size()))];
    try {
      const auto h = parse_histogram_csv(text, "fuzz");
      ++parsed;
      ASSERT_FALSE(h.layers.empty());
      for (const auto& row : h.layers) {
        ASSERT_EQ(row.size(), h.experts());
        double sum = 0;
        for (double v : row) {
          ASSERT_GE(v, 0);
          sum += v;
        }
        ASSERT_GT(sum, 0);
      }
    } catch (const InputError&) {
    }
  }
  EXPECT_GT(parsed, 0);  // the alphabet does produce valid histograms sometimes
}
