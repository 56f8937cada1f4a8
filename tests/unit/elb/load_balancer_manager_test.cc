// LoadBalancerManager against a real store in a temp dir, a fake data plane and simulated time:
// ELBv2's answers and errors, what reaches the data plane, persistence across a restart, and
// draining.
#include "skiff/elb/load_balancer_manager.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fakes/manual_event_loop.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"

namespace skiff::elb {
namespace {

using ::skiff::fakes::ManualEventLoop;
using ::skiff::fakes::TempDir;
using ::testing::HasSubstr;
using namespace elbv2::v1;  // NOLINT

class FakeDataPlane : public DataPlane {
 public:
  absl::Status Check(const lb::DataPlane& plane) override {
    ++checks;
    checked = plane;
    return check_result;
  }
  void Want(lb::DataPlane plane, uint64_t generation) override {
    wanted = std::move(plane);
    this->generation = generation;
  }
  absl::Status check_result;
  int checks = 0;
  lb::DataPlane checked;
  lb::DataPlane wanted;
  uint64_t generation = 0;
};

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

class LoadBalancerManagerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    manager_.reset();
    store_.reset();
    auto store = store::Store::Open(dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    manager_ = std::make_unique<LoadBalancerManager>(
        LoadBalancerManagerOptions{.listen_address = "127.0.0.1",
                                   .service_connect_address = "10.213.0.1"},
        store_.get(), &loop_, &clock_,
        &random_, &plane_, [this](const std::string&, int port) {
          return port == taken_port_ ? absl::UnavailableError("Address already in use")
                                     : absl::OkStatus();
        });
    absl::Status started = manager_->Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  std::string MakeLoadBalancer(const std::string& name = "web") {
    auto out = manager_->CreateLoadBalancer(Parse<CreateLoadBalancerInput>(
        absl::StrCat(R"({"Name": ")", name, R"(", "Subnets": ["subnet-1"]})")));
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->load_balancers(0).load_balancer_arn() : "";
  }

  std::string MakeGroup(const std::string& name, const std::string& extra = "") {
    auto out = manager_->CreateTargetGroup(Parse<CreateTargetGroupInput>(absl::StrCat(
        R"({"Name": ")", name, R"(", "Protocol": "HTTP", "Port": 80, "VpcId": "vpc-1")",
        extra.find("TargetType") == std::string::npos ? R"(, "TargetType": "ip")" : "", extra,
        "}")));
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->target_groups(0).target_group_arn() : "";
  }

  absl::StatusOr<CreateListenerOutput> Listen(const std::string& lb, int port,
                                              const std::string& group) {
    return manager_->CreateListener(Parse<CreateListenerInput>(absl::StrCat(
        R"({"LoadBalancerArn": ")", lb, R"(", "Protocol": "HTTP", "Port": )", port,
        R"(, "DefaultActions": [{"Type": "forward", "TargetGroupArn": ")", group, R"("}]})")));
  }

  absl::Status Register(const std::string& group, const std::string& targets) {
    return manager_
        ->RegisterTargets(Parse<RegisterTargetsInput>(absl::StrCat(
            R"({"TargetGroupArn": ")", group, R"(", "Targets": )", targets, "}")))
        .status();
  }

  std::vector<std::string> States(const std::string& group) {
    auto out = manager_->DescribeTargetHealth(Parse<DescribeTargetHealthInput>(
        absl::StrCat(R"({"TargetGroupArn": ")", group, R"("})")));
    EXPECT_TRUE(out.ok()) << out.status();
    std::vector<std::string> states;
    for (const auto& d : out->target_health_descriptions()) {
      states.push_back(absl::StrCat(d.target().id(), ":", d.target().port(), " ",
                                    d.target_health().state(), " ",
                                    d.target_health().reason()));
    }
    return states;
  }

  // What HAProxy would report with `servers` of the plane the manager last handed on.
  void Report(std::vector<lb::ServerStat> servers, std::vector<std::string> admitted) {
    DataPlaneView view{.generation = plane_.generation, .running = true,
                       .servers = std::move(servers)};
    for (auto& a : admitted) view.admitted.insert(a);
    manager_->OnReport(std::move(view));
  }

  TempDir dir_;
  SimulatedClock clock_{absl::FromUnixSeconds(1700000000)};
  ManualEventLoop loop_{&clock_};
  SeededRandom random_{7};
  FakeDataPlane plane_;
  int taken_port_ = -1;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<LoadBalancerManager> manager_;
};

TEST_F(LoadBalancerManagerTest, AListenerBecomesAFrontendForwardingToItsGroup) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  auto listener = Listen(lb, 8080, group);
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_THAT(listener->listeners(0).listener_arn(),
              HasSubstr(":listener/app/web/"));
  ASSERT_EQ(plane_.wanted.frontends.size(), 1u);
  EXPECT_EQ(plane_.wanted.frontends[0].port, 8080);
  EXPECT_EQ(plane_.wanted.frontends[0].address, "127.0.0.1");
  ASSERT_EQ(plane_.wanted.backends.size(), 1u);
  EXPECT_EQ(plane_.wanted.frontends[0].default_action.forward[0].backend,
            plane_.wanted.backends[0].name);
  EXPECT_GT(plane_.checks, 0);

  auto groups = manager_->DescribeTargetGroups({});
  ASSERT_TRUE(groups.ok());
  ASSERT_EQ(groups->target_groups_size(), 1);
  EXPECT_EQ(groups->target_groups(0).load_balancer_arns(0), lb);
}

TEST_F(LoadBalancerManagerTest, APortTakenOnTheHostIsRefusedByNameAndNothingIsMade) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  taken_port_ = 8081;
  const uint64_t before = plane_.generation;
  auto listener = Listen(lb, 8081, group);
  EXPECT_EQ(ErrorOf(listener),
            "ValidationError: Port: 127.0.0.1:8081 cannot be bound on this node: Address "
            "already in use");
  EXPECT_EQ(plane_.generation, before);
  auto listed = manager_->DescribeListeners(
      Parse<DescribeListenersInput>(absl::StrCat(R"({"LoadBalancerArn": ")", lb, R"("})")));
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->listeners_size(), 0);

  ASSERT_TRUE(Listen(lb, 8082, group).ok());
  EXPECT_THAT(ErrorOf(Listen(lb, 8082, group)), HasSubstr("DuplicateListener"));
  const std::string other = MakeLoadBalancer("other");
  EXPECT_THAT(ErrorOf(Listen(other, 8082, MakeGroup("api"))),
              HasSubstr("ValidationError: Port: 8082 is already used by listener"));
}

TEST_F(LoadBalancerManagerTest, AConfigHaproxyRefusesIsNeverCommitted) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  plane_.check_result = absl::InvalidArgumentError("haproxy -c: [ALERT] bad config");
  EXPECT_THAT(ErrorOf(Listen(lb, 8080, group)), HasSubstr("bad config"));
  plane_.check_result = absl::OkStatus();
  Open();
  EXPECT_TRUE(manager_->state().listeners.empty());
}

TEST_F(LoadBalancerManagerTest, AGroupInUseCannotBeDeleted) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  auto listener = Listen(lb, 8080, group);
  ASSERT_TRUE(listener.ok());
  auto deleted = manager_->DeleteTargetGroup(
      Parse<DeleteTargetGroupInput>(absl::StrCat(R"({"TargetGroupArn": ")", group, R"("})")));
  EXPECT_THAT(ErrorOf(deleted), HasSubstr("ResourceInUse: Target group"));
  ASSERT_TRUE(manager_
                  ->DeleteLoadBalancer(Parse<DeleteLoadBalancerInput>(
                      absl::StrCat(R"({"LoadBalancerArn": ")", lb, R"("})")))
                  .ok());
  EXPECT_TRUE(plane_.wanted.frontends.empty());
  EXPECT_TRUE(manager_
                  ->DeleteTargetGroup(Parse<DeleteTargetGroupInput>(
                      absl::StrCat(R"({"TargetGroupArn": ")", group, R"("})")))
                  .ok());
  EXPECT_TRUE(plane_.wanted.backends.empty());
}

TEST_F(LoadBalancerManagerTest, TargetsGoThroughElbStatesFromTheDataPlanesReports) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup(
      "web", R"(, "HealthCheckIntervalSeconds": 5, "HealthCheckTimeoutSeconds": 2)");
  ASSERT_TRUE(Register(group, R"([{"Id": "10.0.0.1"}, {"Id": "10.0.0.2", "Port": 81}])").ok());
  EXPECT_THAT(States(group), ::testing::ElementsAre("10.0.0.1:80 unused Target.NotInUse",
                                                    "10.0.0.2:81 unused Target.NotInUse"));
  ASSERT_TRUE(Listen(lb, 8080, group).ok());
  EXPECT_THAT(States(group),
              ::testing::ElementsAre("10.0.0.1:80 initial Elb.RegistrationInProgress",
                                     "10.0.0.2:81 initial Elb.RegistrationInProgress"));
  const std::string backend = plane_.wanted.backends[0].name;
  Report({{.backend = backend, .name = "t_10_0_0_1_80", .status = "UP",
           .check_status = "L7OK", .check_code = 200},
          {.backend = backend, .name = "t_10_0_0_2_81", .status = "DOWN",
           .check_status = "L7STS", .check_code = 500}},
         {backend + "/t_10_0_0_1_80"});
  EXPECT_THAT(States(group),
              ::testing::ElementsAre("10.0.0.1:80 healthy ",
                                     "10.0.0.2:81 unhealthy Target.ResponseCodeMismatch"));
}

// The names of the plane's servers in the group's backend, backups marked.
std::vector<std::string> Servers(const lb::DataPlane& plane) {
  std::vector<std::string> out;
  for (const lb::Target& t : plane.backends.at(0).targets) {
    out.push_back(t.backup ? absl::StrCat(t.name, " backup") : t.name);
  }
  return out;
}

TEST_F(LoadBalancerManagerTest, WhenEveryTargetIsUnhealthyTrafficGoesToAllOfThem) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  ASSERT_TRUE(Listen(lb, 8080, group).ok());
  ASSERT_TRUE(Register(group, R"([{"Id": "10.0.0.1"}, {"Id": "10.0.0.2"}])").ok());
  const std::string backend = plane_.wanted.backends[0].name;
  auto stat = [&](const char* name, const char* status, const char* check) {
    return lb::ServerStat{.backend = backend, .name = name, .status = status,
                          .check_status = check, .check_code = 500};
  };
  // One unhealthy, one still initial: no fail-open (ALB waits for the initial checks).
  Report({stat("t_10_0_0_1_80", "DOWN", "L7STS"), stat("t_10_0_0_2_80", "UP", "INI")}, {});
  EXPECT_THAT(Servers(plane_.wanted),
              ::testing::ElementsAre("t_10_0_0_1_80", "t_10_0_0_2_80"));

  // Both unhealthy: each gets a twin that HAProxy uses while no target is UP.
  const uint64_t before = plane_.generation;
  Report({stat("t_10_0_0_1_80", "DOWN", "L7STS"), stat("t_10_0_0_2_80", "DOWN", "L7STS")}, {});
  EXPECT_GT(plane_.generation, before);
  EXPECT_THAT(Servers(plane_.wanted),
              ::testing::ElementsAre("t_10_0_0_1_80", "t_10_0_0_2_80", "o_10_0_0_1_80 backup",
                                     "o_10_0_0_2_80 backup"));
  // ELBv2 still says what the checks say.
  EXPECT_THAT(States(group),
              ::testing::Each(HasSubstr("unhealthy Target.ResponseCodeMismatch")));

  // A deregistered target loses its twin at once; its drain waits for the twin's requests.
  ASSERT_TRUE(manager_
                  ->DeregisterTargets(Parse<DeregisterTargetsInput>(absl::StrCat(
                      R"({"TargetGroupArn": ")", group, R"(", "Targets": [{"Id": "10.0.0.2"}]})")))
                  .ok());
  EXPECT_THAT(Servers(plane_.wanted), ::testing::ElementsAre("t_10_0_0_1_80", "t_10_0_0_2_80",
                                                             "o_10_0_0_1_80 backup"));
  lb::ServerStat twin = stat("o_10_0_0_2_80", "UP", "");
  twin.current_sessions = 1;
  Report({stat("t_10_0_0_1_80", "DOWN", "L7STS"), stat("t_10_0_0_2_80", "DRAIN", "L7STS"), twin},
         {});
  EXPECT_EQ(manager_->state().target_groups.at(group).targets.size(), 2u);

  // One passes again: the twins go, and the healthy target alone takes traffic.
  Report({stat("t_10_0_0_1_80", "UP", "L7OK")}, {backend + "/t_10_0_0_1_80"});
  EXPECT_THAT(Servers(plane_.wanted), ::testing::ElementsAre("t_10_0_0_1_80"));
}

TEST_F(LoadBalancerManagerTest, BadTargetsAreRefusedNamingTheMember) {
  const std::string group = MakeGroup("web");
  EXPECT_EQ(ErrorOf(manager_->RegisterTargets(Parse<RegisterTargetsInput>(absl::StrCat(
                R"({"TargetGroupArn": ")", group,
                R"(", "Targets": [{"Id": "10.0.0.1"}, {"Id": "web-1"}]})")))),
            "InvalidTarget: Targets[1].Id: 'web-1' is not an IPv4 address a target of type ip "
            "can have");
  EXPECT_THAT(ErrorOf(manager_->RegisterTargets(Parse<RegisterTargetsInput>(absl::StrCat(
                  R"({"TargetGroupArn": ")", group,
                  R"(", "Targets": [{"Id": "10.0.0.1", "Port": 70000}]})")))),
              HasSubstr("Targets[0].Port: must be 1-65535"));
  EXPECT_TRUE(manager_->state().target_groups.at(group).targets.empty());
}

TEST_F(LoadBalancerManagerTest, ADeregisteredTargetDrainsUntilItsConnectionsEnd) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  ASSERT_TRUE(Listen(lb, 8080, group).ok());
  ASSERT_TRUE(Register(group, R"([{"Id": "10.0.0.1"}])").ok());
  const std::string backend = plane_.wanted.backends[0].name;
  ASSERT_TRUE(manager_
                  ->DeregisterTargets(Parse<DeregisterTargetsInput>(absl::StrCat(
                      R"({"TargetGroupArn": ")", group, R"(", "Targets": [{"Id": "10.0.0.1"}]})")))
                  .ok());
  EXPECT_THAT(States(group), ::testing::ElementsAre(
                                 "10.0.0.1:80 draining Target.DeregistrationInProgress"));
  ASSERT_EQ(plane_.wanted.backends[0].targets.size(), 1u);
  EXPECT_TRUE(plane_.wanted.backends[0].targets[0].draining);

  // One request still in flight: the target stays.
  Report({{.backend = backend, .name = "t_10_0_0_1_80", .status = "DRAIN",
           .current_sessions = 1, .check_status = "L7OK"}}, {});
  EXPECT_EQ(manager_->state().target_groups.at(group).targets.size(), 1u);
  // It ends: the target leaves the plane, long before the 300 s delay.
  Report({{.backend = backend, .name = "t_10_0_0_1_80", .status = "DRAIN",
           .current_sessions = 0, .check_status = "L7OK"}}, {});
  EXPECT_TRUE(manager_->state().target_groups.at(group).targets.empty());
  EXPECT_TRUE(plane_.wanted.backends[0].targets.empty());
}

TEST_F(LoadBalancerManagerTest, ADrainEndsAtTheDeregistrationDelayWhateverIsInFlight) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  ASSERT_TRUE(Listen(lb, 8080, group).ok());
  ASSERT_TRUE(manager_
                  ->ModifyTargetGroupAttributes(Parse<ModifyTargetGroupAttributesInput>(
                      absl::StrCat(R"({"TargetGroupArn": ")", group,
                                   R"(", "Attributes": [{"Key": )"
                                   R"("deregistration_delay.timeout_seconds", "Value": "10"}]})")))
                  .ok());
  ASSERT_TRUE(Register(group, R"([{"Id": "10.0.0.1"}])").ok());
  ASSERT_TRUE(manager_
                  ->DeregisterTargets(Parse<DeregisterTargetsInput>(absl::StrCat(
                      R"({"TargetGroupArn": ")", group, R"(", "Targets": [{"Id": "10.0.0.1"}]})")))
                  .ok());
  const std::string backend = plane_.wanted.backends[0].name;
  Report({{.backend = backend, .name = "t_10_0_0_1_80", .status = "DRAIN",
           .current_sessions = 3, .check_status = "L7OK"}}, {});
  loop_.AdvanceTime(absl::Seconds(9));
  EXPECT_EQ(manager_->state().target_groups.at(group).targets.size(), 1u);
  loop_.AdvanceTime(absl::Seconds(2));
  EXPECT_TRUE(manager_->state().target_groups.at(group).targets.empty());
}

TEST_F(LoadBalancerManagerTest, EverythingSurvivesARestart) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  auto listener = Listen(lb, 8080, group);
  ASSERT_TRUE(listener.ok());
  auto rule = manager_->CreateRule(Parse<CreateRuleInput>(absl::StrCat(
      R"({"ListenerArn": ")", listener->listeners(0).listener_arn(),
      R"(", "Priority": 10, "Conditions": [{"Field": "path-pattern", "Values": ["/api/*"]}],)",
      R"( "Actions": [{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],)",
      R"( "Tags": [{"Key": "team", "Value": "a"}]})")));
  ASSERT_TRUE(rule.ok()) << rule.status();
  ASSERT_TRUE(Register(group, R"([{"Id": "10.0.0.1"}])").ok());
  const std::string before = absl::StrCat(plane_.wanted.frontends.size(), "/",
                                          plane_.wanted.frontends[0].rules.size(), "/",
                                          plane_.wanted.backends[0].targets.size());
  Open();
  EXPECT_EQ(absl::StrCat(plane_.wanted.frontends.size(), "/",
                         plane_.wanted.frontends[0].rules.size(), "/",
                         plane_.wanted.backends[0].targets.size()),
            before);
  auto rules = manager_->DescribeRules(Parse<DescribeRulesInput>(absl::StrCat(
      R"({"ListenerArn": ")", listener->listeners(0).listener_arn(), R"("})")));
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->rules_size(), 2);
  EXPECT_EQ(rules->rules(0).priority(), "10");
  EXPECT_EQ(rules->rules(1).priority(), "default");
  auto tags = manager_->DescribeTags(Parse<DescribeTagsInput>(
      absl::StrCat(R"({"ResourceArns": [")", rules->rules(0).rule_arn(), R"("]})")));
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(model::EncodeMessageCompact(tags->tag_descriptions(0)),
            absl::StrCat(R"({"ResourceArn":")", rules->rules(0).rule_arn(),
                         R"(","Tags":[{"Key":"team","Value":"a"}]})"));
}

TEST_F(LoadBalancerManagerTest, RulesKeepTheirPrioritiesAndTheDefaultRuleStays) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  auto listener = Listen(lb, 8080, group);
  ASSERT_TRUE(listener.ok());
  const std::string create = absl::StrCat(
      R"({"ListenerArn": ")", listener->listeners(0).listener_arn(),
      R"(", "Priority": 5, "Conditions": [{"Field": "host-header", "Values": ["a.example"]}],)",
      R"( "Actions": [{"Type": "forward", "TargetGroupArn": ")", group, R"("}]})");
  ASSERT_TRUE(manager_->CreateRule(Parse<CreateRuleInput>(create)).ok());
  EXPECT_THAT(ErrorOf(manager_->CreateRule(Parse<CreateRuleInput>(create))),
              HasSubstr("PriorityInUse"));
  auto rules = manager_->DescribeRules(Parse<DescribeRulesInput>(absl::StrCat(
      R"({"ListenerArn": ")", listener->listeners(0).listener_arn(), R"("})")));
  ASSERT_TRUE(rules.ok());
  EXPECT_THAT(ErrorOf(manager_->DeleteRule(Parse<DeleteRuleInput>(
                  absl::StrCat(R"({"RuleArn": ")", rules->rules(1).rule_arn(), R"("})")))),
              HasSubstr("OperationNotPermitted"));
  EXPECT_THAT(ErrorOf(manager_->CreateRule(Parse<CreateRuleInput>(absl::StrCat(
                  R"({"ListenerArn": ")", listener->listeners(0).listener_arn(),
                  R"(", "Priority": 6, "Conditions": [{"Field": "host-header"}],)",
                  R"( "Actions": [{"Type": "forward", "TargetGroupArn": ")", group,
                  R"("}]})")))),
              HasSubstr("Conditions[0]"));
}

TEST_F(LoadBalancerManagerTest, AServicesLoadBalancersAreCheckedAgainstTheGroups) {
  const std::string lb = MakeLoadBalancer();
  const std::string ip_group = MakeGroup("web");
  google::protobuf::RepeatedPtrField<v1::LoadBalancer> lbs;
  v1::LoadBalancer* entry = lbs.Add();
  entry->set_target_group_arn(ip_group);
  entry->set_container_name("web");
  entry->set_container_port(80);
  EXPECT_THAT(manager_->CheckLoadBalancers(lbs, "awsvpc").message(),
              HasSubstr("loadBalancers[0].targetGroupArn: the target group"));  // No listener.
  ASSERT_TRUE(Listen(lb, 8080, ip_group).ok());
  EXPECT_TRUE(manager_->CheckLoadBalancers(lbs, "awsvpc").ok());
  const absl::Status bridge = manager_->CheckLoadBalancers(lbs, "bridge");
  EXPECT_EQ(model::EcsExceptionName(bridge), "InvalidParameterException");
  EXPECT_THAT(bridge.message(), HasSubstr("target type ip, which is incompatible with the bridge"));
  entry->set_target_group_arn(ip_group + "0");
  EXPECT_THAT(manager_->CheckLoadBalancers(lbs, "awsvpc").message(),
              HasSubstr("loadBalancers[0].targetGroupArn: target group"));
}

TEST_F(LoadBalancerManagerTest, ATasksTargetsAreRegisteredHealthCheckedAndDrained) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("web");
  ASSERT_TRUE(Listen(lb, 8080, group).ok());
  std::vector<std::string> told;
  manager_->AddHealthListener([&](const std::string& task) { told.push_back(task); });
  EXPECT_EQ(manager_->HealthOf("t1").state, scheduler::TargetsHealth::kNone);

  manager_->RegisterTask("t1", {{.target_group_arn = group, .ip = "10.0.0.7", .port = 80}});
  EXPECT_EQ(manager_->HealthOf("t1").state, scheduler::TargetsHealth::kInitial);
  EXPECT_THAT(States(group),
              ::testing::ElementsAre("10.0.0.7:80 initial Elb.RegistrationInProgress"));
  const std::string backend = plane_.wanted.backends[0].name;
  const std::string server = backend + "/t_10_0_0_7_80";
  Report({{.backend = backend, .name = "t_10_0_0_7_80", .status = "UP",
           .check_status = "L7OK", .check_code = 200}}, {server});
  EXPECT_EQ(manager_->HealthOf("t1").state, scheduler::TargetsHealth::kHealthy);
  Report({{.backend = backend, .name = "t_10_0_0_7_80", .status = "DOWN",
           .check_status = "L7STS", .check_code = 503}}, {server});
  const scheduler::TaskTargetsHealth unhealthy = manager_->HealthOf("t1");
  EXPECT_EQ(unhealthy.state, scheduler::TargetsHealth::kUnhealthy);
  EXPECT_EQ(unhealthy.failing_group, group);
  EXPECT_THAT(told, ::testing::ElementsAre("t1", "t1", "t1"));

  bool drained = false;
  manager_->DrainTask("t1", [&] { drained = true; });
  loop_.RunPending();
  EXPECT_FALSE(drained);  // One request in flight.
  Report({{.backend = backend, .name = "t_10_0_0_7_80", .status = "DRAIN",
           .current_sessions = 1, .check_status = "L7OK"}}, {server});
  loop_.RunPending();
  EXPECT_FALSE(drained);
  Report({{.backend = backend, .name = "t_10_0_0_7_80", .status = "DRAIN",
           .current_sessions = 0, .check_status = "L7OK"}}, {server});
  loop_.RunPending();
  EXPECT_TRUE(drained);
  EXPECT_TRUE(States(group).empty());
  EXPECT_EQ(manager_->HealthOf("t1").state, scheduler::TargetsHealth::kNone);

  // A task without targets drains at once.
  bool none = false;
  manager_->DrainTask("t2", [&] { none = true; });
  loop_.RunPending();
  EXPECT_TRUE(none);
}

TEST_F(LoadBalancerManagerTest, ATasksTargetsSurviveARestartAndStillDrain) {
  const std::string lb = MakeLoadBalancer();
  const std::string group = MakeGroup("node", R"(, "TargetType": "instance")");
  ASSERT_TRUE(Listen(lb, 8080, group).ok());
  manager_->RegisterTask("t1", {{.target_group_arn = group, .ip = "", .port = 32768}});
  ASSERT_EQ(plane_.wanted.backends[0].targets.size(), 1u);
  EXPECT_EQ(plane_.wanted.backends[0].targets[0].address, "127.0.0.1");
  EXPECT_EQ(plane_.wanted.backends[0].targets[0].port, 32768);
  Open();
  EXPECT_EQ(manager_->HealthOf("t1").state, scheduler::TargetsHealth::kInitial);
  bool drained = false;
  manager_->DrainTask("t1", [&] { drained = true; });
  loop_.AdvanceTime(absl::Seconds(299));
  EXPECT_FALSE(drained);
  loop_.AdvanceTime(absl::Seconds(2));  // No report came: the deregistration delay ends it.
  loop_.RunPending();
  EXPECT_TRUE(drained);
}

// ---- Service Connect ----

AliasSpec Alias(const std::string& owner, int port, const std::string& dns_name,
                std::vector<AliasTarget> targets = {}, const std::string& ns = "internal") {
  return {.alias = {.owner = owner,
                    .ns = ns,
                    .dns_name = dns_name,
                    .port_name = "http",
                    .discovery_name = dns_name},
          .port = port,
          .targets = std::move(targets),
          .service_path = "serviceConnectConfiguration.services[0]",
          .alias_path = "serviceConnectConfiguration.services[0].clientAliases[0]"};
}

const lb::Frontend* AliasFrontendOn(const lb::DataPlane& plane, int port) {
  for (const lb::Frontend& f : plane.frontends) {
    if (f.port == port && f.name.rfind("sc_", 0) == 0) return &f;
  }
  return nullptr;
}

const lb::Backend* BackendNamed(const lb::DataPlane& plane, const std::string& name) {
  for (const lb::Backend& b : plane.backends) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

TEST_F(LoadBalancerManagerTest, AnAliasIsATcpFrontendOnTheGatewayThatElbv2NeverShows) {
  manager_->SetServiceConnect(
      "default/backend", {Alias("default/backend", 80, "backend",
                                {{.task_id = "t1", .address = "10.213.0.5", .port = 8080},
                                 {.task_id = "t2", .address = "10.213.0.6", .port = 8080}})});
  const lb::Frontend* frontend = AliasFrontendOn(plane_.wanted, 80);
  ASSERT_NE(frontend, nullptr);
  EXPECT_EQ(frontend->address, "10.213.0.1");
  EXPECT_EQ(frontend->protocol, lb::Protocol::kTcp);
  EXPECT_TRUE(frontend->transparent);
  ASSERT_EQ(frontend->default_action.forward.size(), 1u);
  const lb::Backend* backend =
      BackendNamed(plane_.wanted, frontend->default_action.forward[0].backend);
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->check.protocol, lb::Protocol::kTcp);
  ASSERT_EQ(backend->targets.size(), 2u);
  EXPECT_EQ(backend->targets[0].address, "10.213.0.5");
  EXPECT_EQ(backend->targets[0].port, 8080);  // Alias 80 -> container port 8080.

  auto groups = manager_->DescribeTargetGroups({});
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(groups->target_groups_size(), 0);
  const std::string key = manager_->state().target_groups.begin()->first;
  EXPECT_THAT(ErrorOf(manager_->DescribeTargetHealth(Parse<DescribeTargetHealthInput>(
                  absl::StrCat(R"({"TargetGroupArn": ")", key, R"("})")))),
              HasSubstr("TargetGroupNotFound"));
  EXPECT_THAT(ErrorOf(manager_->DeleteTargetGroup(Parse<DeleteTargetGroupInput>(
                  absl::StrCat(R"({"TargetGroupArn": ")", key, R"("})")))),
              HasSubstr("TargetGroupNotFound"));
  // Its checks are no load balancer's verdict on the task.
  EXPECT_EQ(manager_->HealthOf("t1").state, scheduler::TargetsHealth::kNone);

  manager_->SetServiceConnect("default/backend", {});
  EXPECT_EQ(AliasFrontendOn(plane_.wanted, 80), nullptr);
  EXPECT_TRUE(manager_->state().target_groups.empty());
}

TEST_F(LoadBalancerManagerTest, AliasConflictsAreRefusedNamingTheMember) {
  const std::string lb = MakeLoadBalancer();
  ASSERT_TRUE(Listen(lb, 8080, MakeGroup("web")).ok());
  const auto error = [&](const AliasSpec& spec) {
    absl::Status s = manager_->CheckServiceConnect(spec.alias.owner, {spec});
    return s.ok() ? std::string("OK") : absl::StrCat(model::EcsExceptionName(s), ": ",
                                                     s.message());
  };
  const std::string port = "serviceConnectConfiguration.services[0].clientAliases[0].port: ";
  EXPECT_EQ(error(Alias("default/a", 8080, "a")),
            absl::StrCat("InvalidParameterException: ", port,
                         "port 8080 is the port of load balancer listener ",
                         manager_->state().listeners.begin()->first));
  EXPECT_THAT(error(Alias("default/a", 53, "a")), HasSubstr(port + "port 53 is the node's "));
  taken_port_ = 9000;
  EXPECT_THAT(error(Alias("default/a", 9000, "a")),
              HasSubstr(port + "port 9000 cannot be bound on this node: Address already in use"));

  ASSERT_EQ(error(Alias("default/a", 80, "a")), "OK");
  manager_->SetServiceConnect("default/a", {Alias("default/a", 80, "a")});
  EXPECT_EQ(error(Alias("default/a", 80, "a")), "OK");  // Its own port, again.
  EXPECT_THAT(error(Alias("default/b", 80, "b", {}, "other")),
              HasSubstr(port + "port 80 is taken by alias a of service default/a (namespace "
                               "internal); an alias port serves one alias on this node"));
  EXPECT_THAT(error(Alias("default/b", 81, "a")),
              HasSubstr("clientAliases[0].dnsName: a is already the alias a of service "
                        "default/a (namespace internal)"));
  AliasSpec same_discovery = Alias("default/b", 81, "b");
  same_discovery.alias.discovery_name = "a";
  EXPECT_THAT(error(same_discovery),
              HasSubstr("services[0].discoveryName: a is already taken by service default/a"));
  EXPECT_EQ(error(Alias("default/b", 81, "a", {}, "other")), "OK");  // Another namespace.
  // And a listener cannot take an alias's port.
  EXPECT_THAT(ErrorOf(Listen(lb, 80, MakeGroup("api"))),
              HasSubstr("Port: 80 is used by the Service Connect alias a of ECS service "
                        "default/a"));
  plane_.check_result = absl::UnavailableError("haproxy: No such file or directory");
  EXPECT_THAT(error(Alias("default/b", 82, "b")),
              HasSubstr("ServerException: serviceConnectConfiguration: the node's proxy "
                        "(HAProxy) cannot serve the aliases: haproxy: No such file"));
}

TEST_F(LoadBalancerManagerTest, AnAliasTargetDrainsBeforeItsTaskStopsAndOnlyThen) {
  const AliasTarget t1{.task_id = "t1", .address = "10.213.0.5", .port = 8080};
  const AliasTarget t2{.task_id = "t2", .address = "10.213.0.6", .port = 8080};
  manager_->SetServiceConnect("default/backend", {Alias("default/backend", 80, "backend",
                                                        {t1, t2})});
  const std::string backend = AliasFrontendOn(plane_.wanted, 80)->default_action.forward[0].backend;
  bool drained = false;
  manager_->DrainTask("t1", [&] { drained = true; });
  const lb::Backend* b = BackendNamed(plane_.wanted, backend);
  ASSERT_EQ(b->targets.size(), 2u);
  EXPECT_TRUE(b->targets[0].draining);
  EXPECT_FALSE(b->targets[1].draining);
  // The next pass no longer lists it (it is stopping); a later one that did would not take
  // it back while its task waits for the drain.
  manager_->SetServiceConnect("default/backend", {Alias("default/backend", 80, "backend", {t2})});
  manager_->SetServiceConnect("default/backend",
                              {Alias("default/backend", 80, "backend", {t1, t2})});
  EXPECT_TRUE(BackendNamed(plane_.wanted, backend)->targets[0].draining);
  Report({{.backend = backend, .name = "t_10_213_0_5_8080", .status = "DRAIN",
           .current_sessions = 2, .check_status = "L4OK"}}, {});
  loop_.RunPending();
  EXPECT_FALSE(drained);
  Report({{.backend = backend, .name = "t_10_213_0_5_8080", .status = "DRAIN",
           .current_sessions = 0, .check_status = "L4OK"}}, {});
  loop_.RunPending();
  EXPECT_TRUE(drained);
  ASSERT_EQ(BackendNamed(plane_.wanted, backend)->targets.size(), 1u);
  EXPECT_EQ(BackendNamed(plane_.wanted, backend)->targets[0].address, "10.213.0.6");
}

TEST_F(LoadBalancerManagerTest, AnUnlistedAliasTargetDrainsAtMost30sAndComesBackWhenReady) {
  const AliasTarget t1{.task_id = "t1", .address = "10.213.0.5", .port = 8080};
  manager_->SetServiceConnect("default/backend",
                              {Alias("default/backend", 80, "backend", {t1})});
  const std::string backend = AliasFrontendOn(plane_.wanted, 80)->default_action.forward[0].backend;
  // Unhealthy for a while: out of the alias, draining, its task still running.
  manager_->SetServiceConnect("default/backend", {Alias("default/backend", 80, "backend", {})});
  EXPECT_TRUE(BackendNamed(plane_.wanted, backend)->targets[0].draining);
  manager_->SetServiceConnect("default/backend",
                              {Alias("default/backend", 80, "backend", {t1})});
  EXPECT_FALSE(BackendNamed(plane_.wanted, backend)->targets[0].draining);
  // Stopped: one connection stays open, and the drain ends at 30 s whatever it does.
  bool drained = false;
  manager_->DrainTask("t1", [&] { drained = true; });
  Report({{.backend = backend, .name = "t_10_213_0_5_8080", .status = "DRAIN",
           .current_sessions = 1, .check_status = "L4OK"}}, {});
  loop_.AdvanceTime(absl::Seconds(29));
  EXPECT_FALSE(drained);
  loop_.AdvanceTime(absl::Seconds(2));
  loop_.RunPending();
  EXPECT_TRUE(drained);
}

TEST_F(LoadBalancerManagerTest, AliasesAndTheirTargetsSurviveARestart) {
  manager_->SetServiceConnect(
      "default/backend",
      {Alias("default/backend", 80, "backend",
             {{.task_id = "t1", .address = "10.213.0.5", .port = 8080}})});
  Open();
  const lb::Frontend* frontend = AliasFrontendOn(plane_.wanted, 80);
  ASSERT_NE(frontend, nullptr);
  const lb::Backend* b = BackendNamed(plane_.wanted, frontend->default_action.forward[0].backend);
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->targets.size(), 1u);
  const ServiceConnectAlias& alias = *manager_->state().target_groups.begin()->second.alias;
  EXPECT_EQ(alias.dns_name, "backend");
  EXPECT_EQ(alias.ns, "internal");
  const std::string backend = b->name;  // The plane is replaced below.
  bool drained = false;
  manager_->DrainTask("t1", [&] { drained = true; });
  EXPECT_TRUE(BackendNamed(plane_.wanted, backend)->targets[0].draining);
  EXPECT_FALSE(drained);
}

}  // namespace
}  // namespace skiff::elb
