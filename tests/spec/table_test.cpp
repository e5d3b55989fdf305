// The listings behind `clustercost list gpus`: aligned text with markers for doubtful figures,
// and JSON that keeps every figure's source and flag.

#include <gtest/gtest.h>

#include <sstream>

#include "hardware/spec/catalog_table.hpp"
#include "spec_test_util.hpp"

using namespace clustercost;
using clustercost::test::catalog_dir;

namespace {

const Catalog& shipped() {
  static const Catalog c = Catalog::load(catalog_dir());
  return c;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The whitespace-separated cells of a table row.
std::vector<std::string> cells_of(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string c; in >> c;) out.push_back(c);
  return out;
}

const std::string* row_for(const std::vector<std::string>& lines, const std::string& name) {
  for (const auto& l : lines)
    if (l.rfind(name + " ", 0) == 0) return &l;
  return nullptr;
}

}  // namespace

TEST(GpuTable, TextHasOneAlignedRowPerGpuAndMarksDoubtfulFigures) {
  const std::string text = gpu_table_text(shipped());
  const auto lines = lines_of(text);
  ASSERT_GE(lines.size(), shipped().gpus().size() + 3);
  EXPECT_NE(lines[0].find("BF16 TF"), std::string::npos);
  EXPECT_NE(lines[0].find("scale-up GB/s"), std::string::npos);
  EXPECT_EQ(lines[1].find_first_not_of("- "), std::string::npos);  // the rule under the header

  // Right-aligned numeric columns end where their header ends.
  const std::size_t bf16_end = lines[0].find("BF16 TF") + std::string("BF16 TF").size();
  for (const auto& g : shipped().gpus()) {
    const std::string* row = row_for(lines, g.name);
    ASSERT_NE(row, nullptr) << g.name;
    auto cells = cells_of(*row);
    ASSERT_GE(cells.size(), 11u) << *row;
    // The vendor may contain no spaces; BF16 is then the third cell.
    const std::string& bf16 = cells[2];
    const std::size_t at = row->find(" " + bf16 + " ", lines[0].find("vendor")) + 1;
    EXPECT_EQ(at + bf16.size(), bf16_end) << *row;
  }

  const auto h800 = cells_of(*row_for(lines, "H800-SXM"));
  EXPECT_EQ(h800[1], "NVIDIA");
  EXPECT_EQ(h800[2], "989");
  EXPECT_EQ(h800[3], "1979");
  EXPECT_EQ(h800[6], "200*");  // disputed NVLink figure
  EXPECT_EQ(h800[9], "2.00*");  // DeepSeek's $2/GPU-h, flagged P/U; in cents, not "2*"
  const auto a100 = cells_of(*row_for(lines, "A100-80G-SXM"));
  EXPECT_EQ(a100[3], "-");  // no FP8
  const auto b = cells_of(*row_for(lines, "Ascend-910B"));
  EXPECT_EQ(b[2], "354*");  // derived peak
  EXPECT_NE(text.find("* estimated, disputed or unverified"), std::string::npos);
}

TEST(GpuTable, JsonKeepsEveryFigureWithSourceAndFlag) {
  const Json j = gpu_table_json(shipped());
  EXPECT_EQ(j["schema"], "clustercost.gpu-list/1");
  EXPECT_EQ(j["catalog"], shipped().fingerprint());
  ASSERT_EQ(j["gpus"].size(), shipped().gpus().size());
  for (const auto& e : j["gpus"]) {
    const std::string name = e["name"];
    EXPECT_EQ(e["file"], name + ".json");
    EXPECT_TRUE(e["bf16_tflops"].contains("source"));
    EXPECT_TRUE(e["scale_up"]["gbs_uni_per_gpu"].contains("flag"));
    // Without the listing's "file", an entry is a valid catalogue file again.
    Json spec = e;
    spec.erase("file");
    const GpuSpec g = parse_gpu_spec(spec, "listing");
    EXPECT_EQ(g.name, name);
    EXPECT_EQ(g.bf16_tflops.get(), shipped().find_gpu(name)->bf16_tflops.get());
  }
}

TEST(NodeTable, TextAndJson) {
  const std::string text = node_table_text(shipped());
  const auto lines = lines_of(text);
  for (const auto& n : shipped().nodes()) {
    const std::string* row = row_for(lines, n.name);
    ASSERT_NE(row, nullptr) << n.name;
    const auto cells = cells_of(*row);
    EXPECT_EQ(cells[1], n.gpu);
    EXPECT_EQ(cells[2], std::to_string(n.gpus_per_node));
    EXPECT_EQ(cells[5], n.default_topology);
  }
  const auto h100 = cells_of(*row_for(lines, "HGX-H100"));
  EXPECT_EQ(h100[6], "2");
  EXPECT_EQ(h100[7], "10.2");  // kW
  EXPECT_EQ(h100[8], "13390*");

  const Json j = node_table_json(shipped());
  EXPECT_EQ(j["schema"], "clustercost.node-list/1");
  ASSERT_EQ(j["nodes"].size(), shipped().nodes().size());
  for (const auto& e : j["nodes"]) {
    Json spec = e;
    spec.erase("file");
    EXPECT_EQ(parse_node_spec(spec, "listing").name, e["name"]);
  }
}
