#include "skiff/elb/target_groups.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"

namespace skiff::elb {
namespace {

using ::testing::HasSubstr;
using elbv2::v1::TargetGroup;

template <typename Message>
Message Parse(const std::string& json) {
  Message m;
  absl::Status decoded = model::DecodeMessageText(json, &m);
  EXPECT_TRUE(decoded.ok()) << decoded << " in " << json;
  return m;
}

absl::StatusOr<TargetGroup> Create(const std::string& json) {
  return NewTargetGroup(Parse<elbv2::v1::CreateTargetGroupInput>(json), model::ArnScope{},
                        "0123456789abcdef");
}

// "ValidationError: message" of a refused input, or "OK".
std::string ErrorOf(const std::string& json) {
  absl::StatusOr<TargetGroup> g = Create(json);
  if (g.ok()) return "OK";
  return absl::StrCat(model::EcsExceptionName(g.status()), ": ", g.status().message());
}

TEST(TargetGroupsTest, AnHttpGroupGetsAlbsDefaultsAndItsArn) {
  absl::StatusOr<TargetGroup> g = Create(R"({"Name": "web", "Protocol": "HTTP", "Port": 80})");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(model::EncodeMessageCompact(*g),
            R"({"TargetGroupArn":"arn:aws:elasticloadbalancing:local:000000000000:)"
            R"(targetgroup/web/0123456789abcdef","TargetGroupName":"web","Protocol":"HTTP",)"
            R"("Port":80,"HealthCheckProtocol":"HTTP","HealthCheckPort":"traffic-port",)"
            R"("HealthCheckEnabled":true,"HealthCheckIntervalSeconds":30,)"
            R"("HealthCheckTimeoutSeconds":5,"HealthyThresholdCount":5,)"
            R"("UnhealthyThresholdCount":2,"HealthCheckPath":"/","Matcher":{"HttpCode":"200"},)"
            R"("LoadBalancerArns":[],"TargetType":"instance","ProtocolVersion":"HTTP1",)"
            R"("IpAddressType":"ipv4"})");
}

TEST(TargetGroupsTest, ATcpGroupGetsAnNlbsDefaultsAndNoHttpMembers) {
  absl::StatusOr<TargetGroup> tcp = Create(R"({"Name": "db", "Protocol": "TCP", "Port": 5432,
                                               "TargetType": "ip"})");
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  EXPECT_EQ(tcp->health_check_protocol(), "TCP");
  EXPECT_EQ(tcp->health_check_timeout_seconds(), 10);
  EXPECT_EQ(tcp->target_type(), "ip");
  EXPECT_FALSE(tcp->has_health_check_path());
  EXPECT_FALSE(tcp->has_matcher());
  EXPECT_FALSE(tcp->has_protocol_version());
  // With an HTTP check: an NLB's path and matcher defaults.
  absl::StatusOr<TargetGroup> checked = Create(R"({"Name": "db", "Protocol": "TCP", "Port": 5432,
                                                   "HealthCheckProtocol": "HTTP"})");
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->health_check_path(), "/");
  EXPECT_EQ(checked->matcher().http_code(), "200-399");
}

TEST(TargetGroupsTest, GivenHealthCheckSettingsAreKept) {
  absl::StatusOr<TargetGroup> g = Create(R"({"Name": "web", "Protocol": "HTTP", "Port": 8080,
      "HealthCheckPath": "/healthz", "HealthCheckPort": "9000", "HealthCheckIntervalSeconds": 5,
      "HealthCheckTimeoutSeconds": 2, "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 3,
      "Matcher": {"HttpCode": "200-299,304"}, "VpcId": "vpc-1"})");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->health_check_path(), "/healthz");
  EXPECT_EQ(g->health_check_port(), "9000");
  EXPECT_EQ(g->health_check_interval_seconds(), 5);
  EXPECT_EQ(g->matcher().http_code(), "200-299,304");
  EXPECT_EQ(g->vpc_id(), "vpc-1");
}

TEST(TargetGroupsTest, BadInputIsAValidationErrorNamingTheMember) {
  const std::string base = R"("Protocol": "HTTP", "Port": 80)";
  EXPECT_THAT(ErrorOf(R"({"Name": "-web", )" + base + "}"),
              HasSubstr("ValidationError: Name: must be 1-32 letters"));
  EXPECT_THAT(ErrorOf(R"({"Name": "internal-web", )" + base + "}"), HasSubstr("Name: "));
  EXPECT_THAT(ErrorOf(R"({"Name": "a_b", )" + base + "}"), HasSubstr("Name: "));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "Protocol": "HTTP"})"), HasSubstr("Port: required"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "Protocol": "HTTP", "Port": 0})"),
              HasSubstr("Port: must be 1-65535; got 0"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "Protocol": "HTTPS", "Port": 443})"),
              HasSubstr("Protocol: HTTPS is not supported on a skiff node; use HTTP or TCP"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "TargetType": "lambda", )" + base + "}"),
              HasSubstr("TargetType: lambda is not supported"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "ProtocolVersion": "GRPC", )" + base + "}"),
              HasSubstr("ProtocolVersion: GRPC is not supported"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "HealthCheckIntervalSeconds": 3, )" + base + "}"),
              HasSubstr("HealthCheckIntervalSeconds: must be 5-300; got 3"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "HealthCheckTimeoutSeconds": 30, )" + base + "}"),
              HasSubstr("HealthCheckTimeoutSeconds: must be smaller than the interval (30 s)"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "UnhealthyThresholdCount": 11, )" + base + "}"),
              HasSubstr("UnhealthyThresholdCount: must be 2-10; got 11"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "HealthCheckPort": "http", )" + base + "}"),
              HasSubstr("HealthCheckPort: must be traffic-port or 1-65535"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "HealthCheckPath": "health", )" + base + "}"),
              HasSubstr("HealthCheckPath: must be 1-1024 printable characters"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "Matcher": {"HttpCode": "200-600"}, )" + base + "}"),
              HasSubstr("Matcher.HttpCode: must be codes 200-499"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "HealthCheckProtocol": "TCP", )" + base + "}"),
              HasSubstr("HealthCheckProtocol: an HTTP target group is checked over HTTP"));
  EXPECT_THAT(ErrorOf(R"({"Name": "web", "HealthCheckEnabled": false, )" + base + "}"),
              HasSubstr("HealthCheckEnabled: health checks cannot be disabled"));
}

TEST(TargetGroupsTest, ModifyChangesTheHealthCheckUnderTheSameRules) {
  absl::StatusOr<TargetGroup> g = Create(R"({"Name": "web", "Protocol": "HTTP", "Port": 80})");
  ASSERT_TRUE(g.ok()) << g.status();
  absl::StatusOr<TargetGroup> modified = ModifiedTargetGroup(
      *g, Parse<elbv2::v1::ModifyTargetGroupInput>(
              R"({"TargetGroupArn": "x", "HealthCheckPath": "/ready",
                  "HealthCheckIntervalSeconds": 10})"));
  ASSERT_TRUE(modified.ok()) << modified.status();
  EXPECT_EQ(modified->health_check_path(), "/ready");
  EXPECT_EQ(modified->health_check_interval_seconds(), 10);
  EXPECT_EQ(modified->health_check_timeout_seconds(), 5);  // Kept.
  absl::StatusOr<TargetGroup> bad = ModifiedTargetGroup(
      *g, Parse<elbv2::v1::ModifyTargetGroupInput>(
              R"({"TargetGroupArn": "x", "HealthCheckIntervalSeconds": 5,
                  "HealthCheckTimeoutSeconds": 5})"));
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("HealthCheckTimeoutSeconds: must be smaller than the interval"));
}

TEST(TargetGroupAttributesTest, DefaultsListAsElbListsThemAndChangesApply) {
  absl::StatusOr<TargetGroup> g = Create(R"({"Name": "web", "Protocol": "HTTP", "Port": 80})");
  ASSERT_TRUE(g.ok()) << g.status();
  const TargetGroupAttributes defaults;
  std::string listed;
  for (const auto& a : defaults.ToList(*g)) absl::StrAppend(&listed, a.key(), "=", a.value(), " ");
  EXPECT_EQ(listed, "deregistration_delay.timeout_seconds=300 stickiness.enabled=false "
                    "stickiness.type=lb_cookie stickiness.lb_cookie.duration_seconds=86400 "
                    "slow_start.duration_seconds=0 load_balancing.algorithm.type=round_robin ");
  auto changes = Parse<elbv2::v1::ModifyTargetGroupAttributesInput>(
      R"({"TargetGroupArn": "x", "Attributes": [
          {"Key": "deregistration_delay.timeout_seconds", "Value": "5"},
          {"Key": "stickiness.enabled", "Value": "true"},
          {"Key": "stickiness.lb_cookie.duration_seconds", "Value": "60"},
          {"Key": "slow_start.duration_seconds", "Value": "30"}]})");
  absl::StatusOr<TargetGroupAttributes> a = ApplyAttributes(defaults, *g, changes.attributes());
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->deregistration_delay, absl::Seconds(5));
  EXPECT_TRUE(a->stickiness);
  EXPECT_EQ(a->stickiness_duration, absl::Seconds(60));
  EXPECT_EQ(a->slow_start, absl::Seconds(30));
}

// A TCP group's stored attributes (ToList's) read back, as a restart of skiffd reads them.
TEST(TargetGroupAttributesTest, ATcpGroupsListedAttributesApplyAgain) {
  absl::StatusOr<TargetGroup> g = Create(R"({"Name": "db", "Protocol": "TCP", "Port": 5432})");
  ASSERT_TRUE(g.ok()) << g.status();
  TargetGroupAttributes attributes;
  attributes.deregistration_delay = absl::Seconds(30);
  google::protobuf::RepeatedPtrField<elbv2::v1::TargetGroupAttribute> listed;
  for (const auto& a : attributes.ToList(*g)) *listed.Add() = a;
  absl::StatusOr<TargetGroupAttributes> back = ApplyAttributes({}, *g, listed);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->deregistration_delay, absl::Seconds(30));
  listed[2].set_value("lb_cookie");
  EXPECT_THAT(std::string(ApplyAttributes({}, *g, listed).status().message()),
              HasSubstr("Attributes[2]: only source_ip is supported"));
}

TEST(TargetGroupAttributesTest, BadChangesNameTheirPlaceAndChangeNothing) {
  absl::StatusOr<TargetGroup> g = Create(R"({"Name": "web", "Protocol": "HTTP", "Port": 80})");
  ASSERT_TRUE(g.ok()) << g.status();
  auto error = [&g](const std::string& attributes) {
    auto input = Parse<elbv2::v1::ModifyTargetGroupAttributesInput>(
        R"({"TargetGroupArn": "x", "Attributes": )" + attributes + "}");
    absl::StatusOr<TargetGroupAttributes> a = ApplyAttributes({}, *g, input.attributes());
    return a.ok() ? std::string("OK") : std::string(a.status().message());
  };
  EXPECT_THAT(error(R"([{"Key": "deregistration_delay.timeout_seconds", "Value": "3601"}])"),
              HasSubstr("Attributes[0]: must be 0-3600 seconds; got '3601'"));
  EXPECT_THAT(error(R"([{"Key": "stickiness.enabled", "Value": "true"},
                        {"Key": "slow_start.duration_seconds", "Value": "10"}])"),
              HasSubstr("Attributes[1]: must be 0 or 30-900 seconds"));
  EXPECT_THAT(error(R"([{"Key": "stickiness.type", "Value": "app_cookie"}])"),
              HasSubstr("Attributes[0]: only lb_cookie is supported"));
  EXPECT_THAT(error(R"([{"Key": "load_balancing.cross_zone.enabled", "Value": "true"}])"),
              HasSubstr("Attributes[0]: target group attribute key "
                        "'load_balancing.cross_zone.enabled' is not recognized"));
  EXPECT_THAT(error(R"([{"Key": "load_balancing.algorithm.type", "Value": "weighted_random"},
                        {"Key": "slow_start.duration_seconds", "Value": "60"}])"),
              HasSubstr("slow start needs the round_robin or least_outstanding_requests"));
}

}  // namespace
}  // namespace skiff::elb
