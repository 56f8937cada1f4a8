// ServiceManager with Service Connect, on the fake ServiceEndpoints and ServiceConnect: the
// checks of serviceConnectConfiguration with their member paths, ECS's defaults, the echo on the
// deployments, and what each pass publishes (ready tasks, clients), when, and until when.
// Simulated time; no sleeps.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fakes/fake_service_connect.h"
#include "fakes/fake_service_endpoints.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "unit/scheduler/service_fixture.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;

// awsvpc, a named port 8080; bridge, the same; a health-checked one; host mode.
constexpr char kAwsvpc[] = R"({"family": "vpc", "networkMode": "awsvpc",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "portMappings": [{"containerPort": 8080, "name": "http"},
                       {"containerPort": 53, "protocol": "udp", "name": "dns"}]}]})";
constexpr char kChecked[] = R"({"family": "checked", "networkMode": "bridge",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "portMappings": [{"containerPort": 8080, "name": "http"}],
      "healthCheck": {"command": ["CMD-SHELL", "test -f /ok"], "interval": 5, "retries": 1}}]})";
constexpr char kHost[] = R"({"family": "hostnet", "networkMode": "host",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "portMappings": [{"containerPort": 8080, "name": "http"}]}]})";

constexpr char kAlias[] = R"({"enabled": true, "namespace": "internal",
    "services": [{"portName": "http", "clientAliases": [{"port": 80, "dnsName": "backend"}]}]})";

std::string CreateJson(const std::string& family, int desired, const std::string& connect,
                       const std::string& name = "web") {
  return absl::StrCat(R"({"serviceName": ")", name, R"(", "taskDefinition": ")", family,
                      R"(", "desiredCount": )", desired,
                      connect.empty() ? "" : R"(, "serviceConnectConfiguration": )", connect, "}");
}

class ServiceConnectTest : public ServiceManagerTest {
 protected:
  void SetUp() override {
    service_options_.endpoints = &dns_;
    service_options_.connect = &connect_;
    ServiceManagerTest::SetUp();
    for (const char* json : {kAwsvpc, kChecked, kHost}) Register(json);
  }
  // "InvalidParameterException: message" of CreateService, or "OK".
  std::string CreateError(const std::string& connect, const std::string& family = "vpc") {
    absl::Status s = Create(CreateJson(family, 1, connect));
    if (s.ok()) return "OK";
    return absl::StrCat(model::EcsExceptionName(s), ": ", s.message());
  }

  fakes::FakeServiceEndpoints dns_;
  fakes::FakeServiceConnect connect_;
};

TEST_F(ServiceConnectTest, EachBadInputIsRefusedNamingItsMember) {
  const std::string at = "InvalidParameterException: serviceConnectConfiguration.";
  EXPECT_EQ(CreateError(R"({"enabled": true, "namespace": "internal",
                            "services": [{"portName": "web"}]})"),
            at + R"(services[0].portName: no tcp portMapping named "web" in task definition )"
                 "vpc:1");
  EXPECT_THAT(CreateError(R"({"enabled": true, "namespace": "internal",
                              "services": [{"portName": "dns"}]})"),
              HasSubstr(R"(services[0].portName: no tcp portMapping named "dns")"));
  EXPECT_EQ(CreateError(R"({"enabled": true})"),
            at + "namespace: required when Service Connect is enabled");
  EXPECT_THAT(CreateError(R"({"enabled": true, "namespace": "bad name"})"),
              HasSubstr("namespace: \"bad name\" is not a namespace name"));
  for (const char* bad : {"Backend", "-backend", "a..b", "back end"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(CreateError(absl::StrCat(
                    R"({"enabled": true, "namespace": "internal", "services": [{"portName": )"
                    R"("http", "clientAliases": [{"port": 80, "dnsName": ")", bad, R"("}]}]})")),
                HasSubstr(at + "services[0].clientAliases[0].dnsName: "));
  }
  EXPECT_EQ(CreateError(R"({"enabled": true, "namespace": "internal", "services": [
                {"portName": "http", "clientAliases": [{"port": 0}]}]})"),
            at + "services[0].clientAliases[0].port: must be between 1 and 65535; got 0");
  EXPECT_THAT(CreateError(R"({"enabled": true, "namespace": "internal", "services": [
                  {"portName": "http", "clientAliases": [{"port": 65536}]}]})"),
              HasSubstr("clientAliases[0].port: must be between 1 and 65535; got 65536"));
  EXPECT_THAT(CreateError(R"({"enabled": true, "namespace": "internal", "services": [
                  {"portName": "http", "ingressPortOverride": 0}]})"),
              HasSubstr("services[0].ingressPortOverride: must be between 1 and 65535"));
  EXPECT_THAT(CreateError(R"({"enabled": true, "namespace": "internal", "services": [
                  {"portName": "http", "clientAliases": [{"port": 80}, {"port": 81}]}]})"),
              HasSubstr("services[0].clientAliases: at most 1 client alias per service"));
  EXPECT_THAT(CreateError(R"({"enabled": true, "namespace": "internal", "services": [
                  {"portName": "http", "discoveryName": "-x"}]})"),
              HasSubstr("services[0].discoveryName: \"-x\" must be 1-64 letters"));
  EXPECT_THAT(CreateError(R"({"enabled": true, "namespace": "internal", "services": [
                  {"portName": "http"}, {"portName": "http"}]})"),
              HasSubstr("services[1].portName: http is in an earlier entry too"));
  EXPECT_THAT(CreateError(R"({"enabled": false, "services": [{"portName": "http"}]})"),
              HasSubstr("services: Service Connect is not enabled"));
  EXPECT_THAT(CreateError(kAlias, "hostnet"),
              HasSubstr("has networkMode host; Service Connect needs bridge or awsvpc"));
  // What the node refuses (a port another service holds) comes back as the node says it.
  connect_.check_result = model::EcsError(
      absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
      "serviceConnectConfiguration.services[0].clientAliases[0].port: port 80 is taken");
  EXPECT_EQ(CreateError(kAlias),
            at + "services[0].clientAliases[0].port: port 80 is taken");
  EXPECT_THAT(TaskIds(), IsEmpty());
}

TEST_F(ServiceConnectTest, TwoAliasesOfOneServiceOnOnePortAreRefused) {
  Register(R"({"family": "two", "networkMode": "awsvpc",
      "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
        "portMappings": [{"containerPort": 8080, "name": "http"},
                         {"containerPort": 9090, "name": "admin"}]}]})");
  EXPECT_EQ(CreateError(R"({"enabled": true, "namespace": "internal", "services": [
                {"portName": "http", "clientAliases": [{"port": 80}]},
                {"portName": "admin", "clientAliases": [{"port": 80}]}]})", "two"),
            "InvalidParameterException: serviceConnectConfiguration.services[1].clientAliases[0]"
            ".port: port 80 is also serviceConnectConfiguration.services[0].clientAliases[0]'s");
}

TEST_F(ServiceConnectTest, DefaultsAreEcssAndTheDeploymentEchoesTheConfiguration) {
  ASSERT_TRUE(Create(CreateJson("vpc", 0, R"({"enabled": true,
      "namespace": "arn:aws:servicediscovery:us-east-1:123456789012:namespace/Internal",
      "services": [{"portName": "http", "clientAliases": [{"port": 80}]}]})")).ok());
  const ConnectConfig& checked = connect_.checked();
  EXPECT_EQ(checked.ns, "Internal");
  ASSERT_THAT(checked.aliases, SizeIs(1));
  EXPECT_EQ(checked.aliases[0].discovery_name, "http");
  EXPECT_EQ(checked.aliases[0].dns_name, "http.internal");  // discoveryName.namespace
  EXPECT_EQ(checked.aliases[0].port, 80);

  const v1::Service s = Describe();
  ASSERT_THAT(s.deployments(), SizeIs(1));
  const v1::Deployment& d = s.deployments(0);
  EXPECT_TRUE(d.service_connect_configuration().enabled());
  EXPECT_EQ(d.service_connect_configuration().services(0).client_aliases(0).port(), 80);
  ASSERT_THAT(d.service_connect_resources(), SizeIs(1));
  EXPECT_EQ(d.service_connect_resources(0).discovery_name(), "http");
  EXPECT_THAT(d.service_connect_resources(0).discovery_arn(),
              ::testing::MatchesRegex("arn:aws:servicediscovery:local:000000000000:service/"
                                      "srv-[0-9a-f]{16}"));
}

TEST_F(ServiceConnectTest, OnlyReadyTasksServeTheAliasAndEveryRunningTaskIsAClient) {
  ASSERT_TRUE(Create(CreateJson("checked", 2, kAlias)).ok());
  Settle();
  const ConnectState* state = connect_.Of("web");
  ASSERT_NE(state, nullptr);
  EXPECT_THAT(state->ready, IsEmpty());  // Running, not HEALTHY yet.
  EXPECT_THAT(state->clients, SizeIs(2));  // But clients of the namespace already.
  EXPECT_EQ(state->config.aliases[0].dns_name, "backend");
  Advance(absl::Seconds(5));
  EXPECT_THAT(connect_.ReadyIds("web"), UnorderedElementsAreArray(TaskIds()));
  for (const Endpoint& e : connect_.Of("web")->ready) {
    EXPECT_THAT(e.ports, ElementsAre(testing::Field(&NamedPort::port, 8080)));
  }

  // A task told to stop leaves at once, before its stop, which waits for its drain.
  const std::string victim = TaskIds()[0];
  v1::StopTaskRequest stop;
  stop.set_task(victim);
  ASSERT_TRUE(tasks_->StopTask(stop).ok());
  loop_.RunPending();
  EXPECT_THAT(connect_.ReadyIds("web"), testing::Not(testing::Contains(victim)));
  // An unhealthy one leaves too.
  const std::string sick = connect_.ReadyIds("web")[0];
  runtime_.ScriptExec(sick + "-app", runtime::ExecResult{.exit_code = 1});
  Advance(absl::Seconds(5));
  EXPECT_THAT(connect_.ReadyIds("web"), testing::Not(testing::Contains(sick)));
}

TEST_F(ServiceConnectTest, PublishedOnlyWhenSomethingChanges) {
  ASSERT_TRUE(Create(CreateJson("vpc", 2, kAlias)).ok());
  Settle();
  ASSERT_THAT(connect_.ReadyIds("web"), SizeIs(2));
  const int publications = connect_.publications();
  services_->MarkAllDirty();
  Settle();
  EXPECT_EQ(connect_.publications(), publications);
}

TEST_F(ServiceConnectTest, AClientOnlyServiceIsAClientWithNoAlias) {
  ASSERT_TRUE(Create(CreateJson("vpc", 1, R"({"enabled": true, "namespace": "internal"})")).ok());
  Settle();
  ASSERT_NE(connect_.Of("web"), nullptr);
  EXPECT_THAT(connect_.Of("web")->config.aliases, IsEmpty());
  EXPECT_THAT(connect_.Of("web")->clients, SizeIs(1));
  EXPECT_EQ(connect_.Of("web")->config.ns, "internal");
}

TEST_F(ServiceConnectTest, UpdateStartsADeploymentAndDisablingForgetsTheAliases) {
  ASSERT_TRUE(Create(CreateJson("vpc", 1, kAlias)).ok());
  Settle();
  ASSERT_TRUE(Update(R"({"service": "web", "serviceConnectConfiguration": {"enabled": true,
      "namespace": "internal", "services": [{"portName": "http",
      "clientAliases": [{"port": 8081, "dnsName": "api"}]}]}})").ok());
  v1::Service s = Describe();
  ASSERT_THAT(s.deployments(), SizeIs(2));
  EXPECT_EQ(s.deployments(0).service_connect_configuration().services(0).client_aliases(0)
                .dns_name(), "api");
  EXPECT_EQ(s.deployments(1).service_connect_configuration().services(0).client_aliases(0)
                .dns_name(), "backend");
  Settle();
  EXPECT_EQ(connect_.Of("web")->config.aliases[0].dns_name, "api");
  // The same configuration again: nothing new.
  ASSERT_TRUE(Update(R"({"service": "web", "desiredCount": 2})").ok());
  s = Describe();
  EXPECT_EQ(s.deployments(0).service_connect_configuration().services(0).client_aliases(0)
                .port(), 8081);

  ASSERT_TRUE(Update(R"({"service": "web", "serviceConnectConfiguration": {"enabled": false}})")
                  .ok());
  EXPECT_EQ(connect_.Of("web"), nullptr);
  EXPECT_FALSE(Describe().deployments(0).service_connect_configuration().enabled());
  Settle();
  EXPECT_EQ(connect_.Of("web"), nullptr);
}

TEST_F(ServiceConnectTest, ADeletedServiceIsForgottenAndARestartPublishesAgain) {
  ASSERT_TRUE(Create(CreateJson("vpc", 1, kAlias)).ok());
  Settle();
  const std::vector<std::string> before = connect_.ReadyIds("web");
  ASSERT_THAT(before, SizeIs(1));
  connect_ = fakes::FakeServiceConnect();
  Open();
  Settle();
  EXPECT_EQ(connect_.ReadyIds("web"), before);
  v1::DeleteServiceRequest request;
  request.set_service("web");
  request.set_force(true);
  ASSERT_TRUE(services_->DeleteService(request).ok());
  EXPECT_EQ(connect_.Of("web"), nullptr);
  Settle();
  EXPECT_EQ(connect_.Of("web"), nullptr);
}

TEST_F(ServiceConnectTest, MembersWithoutEffectAreSaidInAnEvent) {
  ASSERT_TRUE(Create(CreateJson("vpc", 0, R"({"enabled": true, "namespace": "internal",
      "services": [{"portName": "http", "ingressPortOverride": 15000,
                    "timeout": {"idleTimeoutSeconds": 60}}]})")).ok());
  EXPECT_TRUE(HasEvent(Events(), "serviceConnectConfiguration: services[0].ingressPortOverride, "
                                 "services[0].timeout has no effect on skiff"));
}

}  // namespace
}  // namespace skiff::scheduler
