// The ELBv2 shapes (proto/skiff/elbv2/v1, generated from the vendored model) through the same
// codec as ECS's: the JSON the AWS CLI takes for `elbv2` decodes with its PascalCase names, and
// bad input names its path.
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/elbv2/v1/elbv2.pb.h"
#include "skiff/model/json_codec.h"

namespace skiff::model {
namespace {

using ::testing::HasSubstr;

TEST(Elbv2CodecTest, ACreateTargetGroupInputAsTheAwsCliTakesItRoundTrips) {
  const std::string json = R"({
    "Name": "web", "Protocol": "HTTP", "Port": 80, "TargetType": "instance",
    "HealthCheckPath": "/healthz", "HealthCheckIntervalSeconds": 5,
    "Matcher": {"HttpCode": "200-299"}, "Tags": [{"Key": "team", "Value": "core"}]})";
  elbv2::v1::CreateTargetGroupInput input;
  absl::Status decoded = DecodeMessageText(json, &input);
  ASSERT_TRUE(decoded.ok()) << decoded;
  EXPECT_EQ(input.name(), "web");
  EXPECT_EQ(input.port(), 80);
  EXPECT_EQ(input.matcher().http_code(), "200-299");
  ASSERT_EQ(input.tags_size(), 1);
  EXPECT_EQ(input.tags(0).key(), "team");
  EXPECT_FALSE(input.has_health_check_timeout_seconds());  // Absent stays absent.
  const std::string encoded = EncodeMessageCompact(input);
  EXPECT_THAT(encoded, HasSubstr(R"("Matcher":{"HttpCode":"200-299"})"));
  EXPECT_THAT(encoded, HasSubstr(R"("Tags":[{"Key":"team","Value":"core"}])"));
}

TEST(Elbv2CodecTest, BadInputNamesItsPath) {
  elbv2::v1::CreateTargetGroupInput input;
  absl::Status unknown = DecodeMessageText(R"({"Name": "web", "Protocl": "HTTP"})", &input);
  EXPECT_THAT(std::string(unknown.message()), HasSubstr("Protocl"));

  elbv2::v1::CreateTargetGroupInput bad_enum;
  absl::Status not_allowed = DecodeMessageText(R"({"Name": "web", "Protocol": "HTTPX"})", &bad_enum);
  EXPECT_THAT(std::string(not_allowed.message()), HasSubstr("Protocol"));
  EXPECT_THAT(std::string(not_allowed.message()), HasSubstr("HTTPX"));

  elbv2::v1::CreateRuleInput rule;
  absl::Status nested = DecodeMessageText(
      R"({"ListenerArn": "a", "Priority": 1, "Actions": [{"Type": "forward"}],
          "Conditions": [{"Field": "path-pattern", "Values": [7]}]})",
      &rule);
  EXPECT_THAT(std::string(nested.message()), HasSubstr("Conditions[0].Values[0]"));

  elbv2::v1::CreateListenerInput listener;
  absl::Status missing = DecodeMessageText(R"({"Protocol": "HTTP", "Port": 80})", &listener);
  EXPECT_THAT(std::string(missing.message()), HasSubstr("LoadBalancerArn"));
}

}  // namespace
}  // namespace skiff::model
