#include <gtest/gtest.h>

#include "sim/common/json_reader.hpp"
#include "sim/common/units.hpp"

using namespace clustercost;

TEST(JsonReader, ReadsTypedValuesAndRejectsUnknownKeysWithSuggestion) {
  Json j = Json::parse(R"({"tp": 2, "pp": 4, "tpp": 1})");
  ObjectReader r(j, "s.json", "parallelism");
  EXPECT_EQ(r.positive_integer("tp"), 2);
  EXPECT_EQ(r.positive_integer("pp"), 4);
  try {
    r.finish();
    FAIL() << "unknown key accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "s.json");
    EXPECT_EQ(e.json_path(), "parallelism.tpp");
    EXPECT_NE(std::string(e.what()).find("did you mean \"tp\""), std::string::npos) << e.what();
  }
}

TEST(JsonReader, WrongTypeNamesPathAndValue) {
  Json j = Json::parse(R"({"gpus": "many"})");
  ObjectReader r(j, "f.json", "cluster");
  try {
    r.positive_integer("gpus");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "cluster.gpus");
    EXPECT_NE(e.message().find("expected an integer"), std::string::npos);
    EXPECT_NE(e.message().find("\"many\""), std::string::npos);
  }
}

TEST(JsonReader, NegativeCountRejected) {
  Json j = Json::parse(R"({"gpus": -8})");
  ObjectReader r(j, "f.json", "cluster");
  EXPECT_THROW(r.positive_integer("gpus"), InputError);
}

TEST(JsonReader, IntegralFloatsAreIntegers) {
  Json j = Json::parse(R"({"tokens": 14.8e12, "bad": 1.5})");
  ObjectReader r(j, "f.json", "training");
  EXPECT_EQ(r.positive_integer("tokens"), 14'800'000'000'000);
  EXPECT_THROW(r.positive_integer("bad"), InputError);
}

TEST(JsonReader, MalformedJsonGivesLineAndColumn) {
  try {
    parse_json_text("{\n  \"a\": 1,\n  \"b\": }\n", "x.json");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.file(), "x.json");
    EXPECT_NE(e.message().find("line 3"), std::string::npos) << e.what();
  }
}

TEST(JsonReader, MissingFileIsInputError) {
  EXPECT_THROW(load_json_file("/nonexistent/file.json"), InputError);
}

TEST(JsonReader, OneOfListsChoices) {
  Json j = Json::parse(R"({"schedule": "2f2b"})");
  ObjectReader r(j, "f.json", "parallelism");
  try {
    r.one_of("schedule", {"gpipe", "1f1b"});
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(e.message().find("\"gpipe\", \"1f1b\""), std::string::npos);
  }
}

TEST(Units, SecondsToTicksRoundsUp) {
  EXPECT_EQ(SimTime::from_seconds(Seconds(1e-9)).ns, 1);
  EXPECT_EQ(SimTime::from_seconds(Seconds(1.5e-9)).ns, 2);
  EXPECT_EQ(SimTime::from_seconds(Seconds(2.0)).ns, 2'000'000'000);
  EXPECT_EQ(SimTime::from_seconds(Seconds(0.0)).ns, 0);
}

TEST(Units, QuantitiesDoNotMix) {
  Bytes b(100);
  Bytes c = b * 2.0 + Bytes(50);
  EXPECT_DOUBLE_EQ(c.value, 250);
  EXPECT_DOUBLE_EQ(c / b, 2.5);
  EXPECT_DOUBLE_EQ(to_gib(gib(3)), 3.0);
}
