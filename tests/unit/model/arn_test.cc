#include "skiff/model/arn.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::model {
namespace {

TEST(ArnTest, TaskDefinitionArnHasTheEcsForm) {
  EXPECT_EQ(TaskDefinitionArn(ArnScope{}, "web", 3),
            "arn:aws:ecs:local:000000000000:task-definition/web:3");
  ArnScope scope{.partition = "aws", .region = "eu-west-1", .account = "123456789012"};
  EXPECT_EQ(TaskDefinitionArn(scope, "w", 1),
            "arn:aws:ecs:eu-west-1:123456789012:task-definition/w:1");
}

TEST(ArnTest, ParsesEveryReferenceForm) {
  auto family = ParseTaskDefinitionRef(ArnScope{}, "web", "taskDefinition");
  ASSERT_TRUE(family.ok());
  EXPECT_EQ(family->family, "web");
  EXPECT_FALSE(family->revision.has_value());

  auto revision = ParseTaskDefinitionRef(ArnScope{}, "web:12", "taskDefinition");
  ASSERT_TRUE(revision.ok());
  EXPECT_EQ(revision->revision, 12);

  auto arn = ParseTaskDefinitionRef(
      ArnScope{}, "arn:aws:ecs:local:000000000000:task-definition/web_2:7", "taskDefinition");
  ASSERT_TRUE(arn.ok());
  EXPECT_EQ(arn->family, "web_2");
  EXPECT_EQ(arn->revision, 7);
}

TEST(ArnTest, RejectsBadReferencesNamingTheField) {
  for (const char* bad : {"", "web:0", "web:x", "we b", "web: 2", "web:+2", "web:99999999999", "arn:aws:ecs:us-east-1:1:task-definition/w:1",
                          "arn:aws:ecs:local:000000000000:task-definition/web"}) {
    auto ref = ParseTaskDefinitionRef(ArnScope{}, bad, "taskDefinition");
    EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(ref.status().message()), ::testing::StartsWith("taskDefinition: ")) << bad;
  }
}

TEST(ArnTest, NameCharset) {
  EXPECT_TRUE(IsValidName("a-B_9"));
  EXPECT_TRUE(IsValidName(std::string(255, 'x')));
  EXPECT_FALSE(IsValidName(std::string(256, 'x')));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("a:b"));
}

}  // namespace
}  // namespace skiff::model
