#include "deploy/yaml_data.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

YAML::Node Y(const std::string& s) { return *LoadYaml(s, "test"); }

TEST(YamlData, JsonTypesAsYaml11Resolves) {
  EXPECT_EQ(*YamlToJson(Y("a: [1, -2, 0x10, 1.5, yes, off, ~, '3', \"true\", x]")),
            R"({"a":[1,-2,16,1.5,true,false,null,"3","true","x"]})");
  EXPECT_EQ(*YamlToJson(Y("b: 1\na: {}\n")), R"({"a":{},"b":1})");
  EXPECT_FALSE(YamlToJson(Y("a: .inf")).ok());
}

TEST(YamlData, SortedBlockOutput) {
  const YAML::Node n = Y("z: [ {b: 1, a: 2}, x ]\ny: '007'\nx: {}\nw: []\nv: ~\n");
  EXPECT_EQ(EmitSortedYaml(n, 2),
            "v: null\nw: []\nx: {}\ny: \"007\"\nz:\n- a: 2\n  b: 1\n- x\n");
  EXPECT_EQ(EmitSortedYaml(n, 4),
            "v: null\nw: []\nx: {}\ny: \"007\"\nz:\n    - a: 2\n      b: 1\n    - x\n");
}

TEST(YamlData, MergesAsMergo) {
  YAML::Node dst = Y("a: {b: 1, c: [1]}\nd: x\ne: ''\n");
  DeepMergeOverride(dst, Y("a: {c: [2], n: 3}\nd: y\n"));
  EXPECT_EQ(EmitSortedYaml(dst, 2), "a:\n  b: 1\n  c:\n  - 2\n  n: 3\nd: y\ne: \"\"\n");
  YAML::Node fill = Y("a: {b: 1, c: []}\nd: x\ne: ''\nf: 0\n");
  DeepMergeFill(fill, Y("a: {b: 2, c: [9]}\nd: y\ne: z\nf: 5\ng: new\n"));
  EXPECT_EQ(EmitSortedYaml(fill, 2), "a:\n  b: 1\n  c:\n  - 9\nd: x\ne: z\nf: 5\ng: new\n");
}

}  // namespace
}  // namespace cfs::deploy
