#include "skiff/elb/listeners.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"

namespace skiff::elb {
namespace {

using ::testing::HasSubstr;

constexpr char kWeb[] = "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/web/1";

absl::StatusOr<std::string> Backends(const std::string& arn) {
  if (arn == kWeb) return std::string("tg-1");
  return absl::NotFoundError(arn);
}

template <typename Message>
Message Parse(const std::string& json) {
  Message m;
  absl::Status decoded = model::DecodeMessageText(json, &m);
  EXPECT_TRUE(decoded.ok()) << decoded << " in " << json;
  return m;
}

template <typename T>
std::string ErrorOf(const absl::StatusOr<T>& result) {
  if (result.ok()) return "OK";
  return absl::StrCat(model::EcsExceptionName(result.status()), ": ", result.status().message());
}

absl::StatusOr<elbv2::v1::LoadBalancer> Create(const std::string& json) {
  return NewLoadBalancer(Parse<elbv2::v1::CreateLoadBalancerInput>(json), model::ArnScope{},
                         "50dc6c495c0c9188",
                         {.created_at = 1700000000, .dns_name = "localhost"});
}

const std::string kForward =
    absl::StrCat(R"([{"Type": "forward", "TargetGroupArn": ")", kWeb, R"("}])");

absl::StatusOr<elbv2::v1::Listener> Listen(const elbv2::v1::LoadBalancer& lb,
                                           const std::string& fields) {
  return NewListener(
      Parse<elbv2::v1::CreateListenerInput>(absl::StrCat(
          R"({"LoadBalancerArn": ")", lb.load_balancer_arn(), R"(", )", fields, "}")),
      lb, "0467ef3c8400ae65", Backends);
}

TEST(LoadBalancersTest, AnApplicationLoadBalancerAsElbDescribesIt) {
  absl::StatusOr<elbv2::v1::LoadBalancer> lb =
      Create(R"({"Name": "web", "Subnets": ["subnet-1"], "SecurityGroups": ["sg-1"]})");
  ASSERT_TRUE(lb.ok()) << lb.status();
  EXPECT_EQ(model::EncodeMessageCompact(*lb),
            R"({"LoadBalancerArn":"arn:aws:elasticloadbalancing:local:000000000000:)"
            R"(loadbalancer/app/web/50dc6c495c0c9188","DNSName":"localhost",)"
            R"("CreatedTime":1700000000.0,"LoadBalancerName":"web","Scheme":"internet-facing",)"
            R"("State":{"Code":"active"},"Type":"application","SecurityGroups":["sg-1"],)"
            R"("IpAddressType":"ipv4"})");
  absl::StatusOr<elbv2::v1::LoadBalancer> net = Create(R"({"Name": "db", "Type": "network"})");
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_THAT(net->load_balancer_arn(), HasSubstr(":loadbalancer/net/db/"));
  EXPECT_THAT(ErrorOf(Create(R"({"Name": "gw", "Type": "gateway"})")),
              HasSubstr("ValidationError: Type: gateway is not supported on a skiff node"));
  EXPECT_THAT(ErrorOf(Create(R"({"Name": "web-"})")), HasSubstr("Name: must be 1-32"));
  EXPECT_THAT(ErrorOf(Create(R"({"Name": "web", "IpAddressType": "dualstack"})")),
              HasSubstr("IpAddressType: only ipv4"));
}

TEST(ListenersTest, AListenerTakesTheProtocolOfItsLoadBalancerAndChecksItsActions) {
  absl::StatusOr<elbv2::v1::LoadBalancer> lb = Create(R"({"Name": "web"})");
  ASSERT_TRUE(lb.ok()) << lb.status();
  absl::StatusOr<elbv2::v1::Listener> l =
      Listen(*lb, R"("Port": 80, "DefaultActions": )" + kForward);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->protocol(), "HTTP");
  EXPECT_EQ(l->listener_arn(), "arn:aws:elasticloadbalancing:local:000000000000:"
                               "listener/app/web/50dc6c495c0c9188/0467ef3c8400ae65");
  EXPECT_EQ(RuleArn(l->listener_arn(), "9683b2d02a6cabee"),
            "arn:aws:elasticloadbalancing:local:000000000000:"
            "listener-rule/app/web/50dc6c495c0c9188/0467ef3c8400ae65/9683b2d02a6cabee");

  EXPECT_THAT(ErrorOf(Listen(*lb, R"("Protocol": "HTTPS", "Port": 443, "DefaultActions": )" +
                                      kForward)),
              HasSubstr("Protocol: HTTPS is not supported on a skiff node for an application "
                        "load balancer; use HTTP"));
  EXPECT_THAT(ErrorOf(Listen(*lb, R"("Port": 0, "DefaultActions": )" + kForward)),
              HasSubstr("Port: must be 1-65535; got 0"));
  EXPECT_THAT(ErrorOf(Listen(*lb, R"("Port": 80, "DefaultActions": [{"Type": "forward",
                                    "TargetGroupArn": "arn:nope"}])")),
              HasSubstr("TargetGroupNotFound: DefaultActions[0].TargetGroupArn"));

  absl::StatusOr<elbv2::v1::LoadBalancer> net = Create(R"({"Name": "db", "Type": "network"})");
  ASSERT_TRUE(net.ok()) << net.status();
  absl::StatusOr<elbv2::v1::Listener> tcp =
      Listen(*net, R"("Port": 5432, "DefaultActions": )" + kForward);
  ASSERT_TRUE(tcp.ok()) << tcp.status();
  EXPECT_EQ(tcp->protocol(), "TCP");
  EXPECT_THAT(ErrorOf(Listen(*net, R"("Port": 80, "DefaultActions": [{"Type": "fixed-response",
                                     "FixedResponseConfig": {"StatusCode": "200"}}])")),
              HasSubstr("DefaultActions[0].Type: a TCP listener only forwards"));
}

TEST(ListenersTest, ModifyChangesWhatItNamesUnderTheSameRules) {
  absl::StatusOr<elbv2::v1::LoadBalancer> lb = Create(R"({"Name": "web"})");
  ASSERT_TRUE(lb.ok()) << lb.status();
  absl::StatusOr<elbv2::v1::Listener> l =
      Listen(*lb, R"("Port": 80, "DefaultActions": )" + kForward);
  ASSERT_TRUE(l.ok()) << l.status();
  absl::StatusOr<elbv2::v1::Listener> moved = ModifiedListener(
      *l, Parse<elbv2::v1::ModifyListenerInput>(R"({"ListenerArn": "x", "Port": 8080})"), *lb,
      Backends);
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->port(), 8080);
  EXPECT_EQ(moved->default_actions_size(), 1);  // Kept.
  EXPECT_THAT(ErrorOf(ModifiedListener(
                  *l, Parse<elbv2::v1::ModifyListenerInput>(
                          R"({"ListenerArn": "x", "Protocol": "TCP"})"),
                  *lb, Backends)),
              HasSubstr("Protocol: TCP is not supported on a skiff node for an application"));
}

}  // namespace
}  // namespace skiff::elb
