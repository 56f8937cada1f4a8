#include "skiff/elb/rules.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"

namespace skiff::elb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Field = lb::Condition::Field;

constexpr char kWeb[] = "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/web/1";
constexpr char kGreen[] = "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/green/2";

absl::StatusOr<std::string> Backends(const std::string& arn) {
  if (arn == kWeb) return std::string("tg-1");
  if (arn == kGreen) return std::string("tg-2");
  return absl::NotFoundError(arn);
}

elbv2::v1::CreateRuleInput Rule(const std::string& conditions, const std::string& actions) {
  elbv2::v1::CreateRuleInput input;
  absl::Status decoded = model::DecodeMessageText(
      absl::StrCat(R"({"ListenerArn": "l", "Priority": 1, "Conditions": )", conditions,
                   R"(, "Actions": )", actions, "}"),
      &input);
  EXPECT_TRUE(decoded.ok()) << decoded;
  return input;
}

const std::string kForwardWeb = absl::StrCat(R"([{"Type": "forward", "TargetGroupArn": ")", kWeb,
                                             R"("}])");

std::string ConditionError(const std::string& conditions) {
  auto result = ConditionsOf(Rule(conditions, kForwardWeb).conditions());
  if (result.ok()) return "OK";
  return absl::StrCat(model::EcsExceptionName(result.status()), ": ", result.status().message());
}

std::string ActionError(const std::string& actions, bool tcp = false) {
  auto result = ActionOf(Rule(R"([{"Field": "path-pattern", "Values": ["/"]}])", actions)
                             .actions(),
                         "Actions", tcp, Backends);
  if (result.ok()) return "OK";
  return absl::StrCat(model::EcsExceptionName(result.status()), ": ", result.status().message());
}

TEST(RuleConditionsTest, EveryFieldInItsOwnFormBecomesADataPlaneCondition) {
  auto conditions = ConditionsOf(
      Rule(R"([{"Field": "path-pattern", "Values": ["/api/*"]},
               {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}},
               {"Field": "http-header",
                "HttpHeaderConfig": {"HttpHeaderName": "X-Env", "Values": ["beta"]}},
               {"Field": "query-string",
                "QueryStringConfig": {"Values": [{"Key": "v", "Value": "2"}]}}])",
           kForwardWeb)
          .conditions());
  ASSERT_TRUE(conditions.ok()) << conditions.status();
  ASSERT_EQ(conditions->size(), 4u);
  EXPECT_EQ((*conditions)[0].field, Field::kPathPattern);
  EXPECT_THAT((*conditions)[0].values, ElementsAre("/api/*"));
  EXPECT_EQ((*conditions)[1].field, Field::kHostHeader);
  EXPECT_THAT((*conditions)[1].values, ElementsAre("*.example.com"));
  EXPECT_EQ((*conditions)[2].header_name, "X-Env");
  EXPECT_EQ((*conditions)[3].query.at(0), std::make_pair(std::string("v"), std::string("2")));

  auto methods = ConditionsOf(
      Rule(R"([{"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["GET"]}},
               {"Field": "source-ip", "SourceIpConfig": {"Values": ["10.0.0.0/8"]}}])",
           kForwardWeb)
          .conditions());
  ASSERT_TRUE(methods.ok()) << methods.status();
  EXPECT_EQ((*methods)[0].field, Field::kHttpRequestMethod);
  EXPECT_EQ((*methods)[1].field, Field::kSourceIp);
}

TEST(RuleConditionsTest, BadConditionsNameTheirMember) {
  EXPECT_THAT(ConditionError(R"([{"Field": "cookie", "Values": ["a"]}])"),
              HasSubstr("ValidationError: Conditions[0].Field: must be path-pattern"));
  EXPECT_THAT(ConditionError(R"([{"Field": "path-pattern", "Values": ["/a"],
                                  "PathPatternConfig": {"Values": ["/b"]}}])"),
              HasSubstr("Conditions[0]: give Values or PathPatternConfig.Values, not both"));
  EXPECT_THAT(ConditionError(R"([{"Field": "path-pattern", "Values": ["/a"]},
                                 {"Field": "path-pattern", "Values": ["/b"]}])"),
              HasSubstr("Conditions[1].Field: 'path-pattern' may appear once in a rule"));
  EXPECT_THAT(ConditionError(R"([{"Field": "path-pattern",
                                  "Values": ["/1", "/2", "/3", "/4", "/5", "/6"]}])"),
              HasSubstr("Conditions: a rule has at most 5 condition values; got 6"));
  EXPECT_THAT(ConditionError(R"([{"Field": "host-header", "RegexValues": ["^a$"]}])"),
              HasSubstr("Conditions[0]: RegexValues are not supported on a skiff node"));
  EXPECT_THAT(ConditionError(R"([{"Field": "http-header", "Values": ["a"]}])"),
              HasSubstr("Conditions[0].Values: only path-pattern and host-header take Values"));
  EXPECT_THAT(ConditionError(R"([{"Field": "http-header",
                                  "HttpHeaderConfig": {"HttpHeaderName": "X Env",
                                                       "Values": ["a"]}}])"),
              HasSubstr("Conditions[0].HttpHeaderConfig.HttpHeaderName: must be 1-40"));
  EXPECT_THAT(ConditionError(R"([{"Field": "host-header",
                                  "HostHeaderConfig": {"Values": [""]}}])"),
              HasSubstr("Conditions[0].HostHeaderConfig.Values[0]: must be 1-128 characters"));
  // Two headers are two conditions, as ALB allows.
  EXPECT_EQ(ConditionError(R"([{"Field": "http-header",
                               "HttpHeaderConfig": {"HttpHeaderName": "A", "Values": ["1"]}},
                              {"Field": "http-header",
                               "HttpHeaderConfig": {"HttpHeaderName": "B", "Values": ["2"]}}])"),
            "OK");
}

TEST(RuleActionsTest, AForwardNamesItsBackendsWithWeightsAndStickiness) {
  auto rule = Rule(R"([{"Field": "path-pattern", "Values": ["/"]}])",
                   absl::StrCat(R"([{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                                      {"TargetGroupArn": ")", kWeb, R"(", "Weight": 30},
                                      {"TargetGroupArn": ")", kGreen, R"(", "Weight": 70}],
                                    "TargetGroupStickinessConfig":
                                      {"Enabled": true, "DurationSeconds": 60}}}])"));
  absl::StatusOr<lb::Action> action = ActionOf(rule.actions(), "Actions", false, Backends);
  ASSERT_TRUE(action.ok()) << action.status();
  EXPECT_EQ(action->type, lb::Action::Type::kForward);
  ASSERT_EQ(action->forward.size(), 2u);
  EXPECT_EQ(action->forward[0].backend, "tg-1");
  EXPECT_EQ(action->forward[1].weight, 70);
  EXPECT_EQ(action->group_stickiness, absl::Seconds(60));
  EXPECT_THAT(ForwardedGroups(rule.actions()), ElementsAre(kGreen, kWeb));
}

TEST(RuleActionsTest, RedirectsAndFixedResponsesAsAlbChecksThem) {
  auto rule = Rule(R"([{"Field": "path-pattern", "Values": ["/"]}])",
                   R"([{"Type": "redirect", "RedirectConfig": {"Host": "new.example.com",
                                                                "StatusCode": "HTTP_302"}}])");
  absl::StatusOr<lb::Action> redirect = ActionOf(rule.actions(), "Actions", false, Backends);
  ASSERT_TRUE(redirect.ok()) << redirect.status();
  EXPECT_EQ(redirect->status_code, 302);
  EXPECT_EQ(redirect->redirect_host, "new.example.com");
  EXPECT_EQ(redirect->redirect_path, "/#{path}");
  EXPECT_EQ(ActionError(R"([{"Type": "fixed-response", "FixedResponseConfig":
                             {"StatusCode": "503", "ContentType": "application/json",
                              "MessageBody": "{}"}}])"),
            "OK");
}

TEST(RuleActionsTest, BadActionsNameTheirMember) {
  EXPECT_THAT(ActionError(
                  R"([{"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301"}}])"),
              HasSubstr("InvalidLoadBalancerAction: Actions[0].RedirectConfig: would redirect to "
                        "the same URL"));
  EXPECT_THAT(ActionError(R"([{"Type": "redirect", "RedirectConfig": {"StatusCode": "HTTP_301",
                                                                      "Port": "99999"}}])"),
              HasSubstr("Actions[0].RedirectConfig.Port: must be 1-65535 or #{port}"));
  EXPECT_THAT(ActionError(R"([{"Type": "fixed-response",
                               "FixedResponseConfig": {"StatusCode": "302"}}])"),
              HasSubstr("Actions[0].FixedResponseConfig.StatusCode: must be 2XX, 4XX or 5XX"));
  EXPECT_THAT(ActionError(R"([{"Type": "fixed-response", "FixedResponseConfig":
                               {"StatusCode": "200", "ContentType": "image/png"}}])"),
              HasSubstr("Actions[0].FixedResponseConfig.ContentType: must be text/plain"));
  EXPECT_THAT(ActionError(R"([{"Type": "forward",
                               "TargetGroupArn": "arn:aws:elasticloadbalancing:x"}])"),
              HasSubstr("TargetGroupNotFound: Actions[0].TargetGroupArn: no target group"));
  EXPECT_THAT(ActionError(R"([{"Type": "authenticate-oidc"}])"),
              HasSubstr("Actions[0].Type: authenticate-oidc is not supported on a skiff node"));
  EXPECT_THAT(ActionError(absl::StrCat(
                  R"([{"Type": "forward", "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": ")",
                  kWeb, R"(", "Weight": 1000}]}}])")),
              HasSubstr("Actions[0].ForwardConfig.TargetGroups[0].Weight: must be 0-999"));
  EXPECT_THAT(ActionError(R"([{"Type": "fixed-response",
                               "FixedResponseConfig": {"StatusCode": "200"}}])",
                          /*tcp=*/true),
              HasSubstr("Actions[0].Type: a TCP listener only forwards"));
  EXPECT_THAT(ActionError(R"([
                  {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}},
                  {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "201"}}])"),
              HasSubstr("Actions: a skiff node takes exactly one action (forward, redirect or "
                        "fixed-response); got 2"));
}

}  // namespace
}  // namespace skiff::elb
