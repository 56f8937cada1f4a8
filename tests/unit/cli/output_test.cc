#include "skiff/cli/output.h"

#include "gtest/gtest.h"

namespace skiff::cli {
namespace {

using json = nlohmann::ordered_json;

TEST(RenderTableTest, ListResponsesPrintOneItemPerLine) {
  json response = {{"taskDefinitionArns", {"arn:1", "arn:2"}}};
  EXPECT_EQ(RenderTable(response), "arn:1\narn:2\n");
  response["nextToken"] = "t";
  EXPECT_EQ(RenderTable(response), "arn:1\narn:2\nnextToken t\n");
}

TEST(RenderTableTest, ObjectsPrintAlignedPathsAndValues) {
  json response = json::parse(R"({"taskDefinition": {"family": "web", "revision": 2,
      "containerDefinitions": [{"name": "app"}]}})");
  const std::string pad(std::string("containerDefinitions[0].name").size() - 6 + 2, ' ');
  EXPECT_EQ(RenderTable(response), "taskDefinition.family" + pad + "web\n" +
                                       "taskDefinition.revision" + pad.substr(2) + "2\n" +
                                       "taskDefinition.containerDefinitions[0].name  app\n");
}

}  // namespace
}  // namespace skiff::cli
