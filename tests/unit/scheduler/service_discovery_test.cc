// ServiceManager with discovery, on the fake ServiceEndpoints: endpoints published when the set
// of discoverable tasks changes (and only then), with their addresses and named ports, gone
// when a task stops or turns unhealthy, the service forgotten when it is deleted, and the events
// about its DNS name. Simulated time; no sleeps.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fakes/fake_service_endpoints.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/scheduler/service_fixture.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;

// awsvpc with a named port; bridge with two containers (each its own address), the second
// with the named port; a health-checked bridge task (every 5 s, one failure is enough).
constexpr char kAwsvpc[] = R"({"family": "vpc", "networkMode": "awsvpc",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "portMappings": [{"containerPort": 8080, "name": "Http_Api"}, {"containerPort": 9000}]}]})";
constexpr char kBridge[] = R"({"family": "br", "networkMode": "bridge",
    "containerDefinitions": [
      {"name": "side", "image": "skiff.local/busybox:test", "memory": 32},
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
       "portMappings": [{"containerPort": 80, "name": "web"}]}]})";
constexpr char kChecked[] = R"({"family": "checked", "networkMode": "bridge",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "healthCheck": {"command": ["CMD-SHELL", "test -f /ok"], "interval": 5, "retries": 1}}]})";

std::string CreateJson(const std::string& family, int desired, const std::string& name = "web") {
  return absl::StrCat(R"({"serviceName": ")", name, R"(", "taskDefinition": ")", family,
                      R"(", "desiredCount": )", desired, "}");
}

class ServiceDiscoveryTest : public ServiceManagerTest {
 protected:
  void SetUp() override {
    service_options_.endpoints = &dns_;
    ServiceManagerTest::SetUp();
    for (const char* json : {kAwsvpc, kBridge, kChecked}) Register(json);
  }
  v1::Task Task(const std::string& id) {
    v1::Task out;
    tasks_->ForEachTask([&](const store::StoredTask& t) {
      if (t.id == id) out = t.task;
    });
    return out;
  }
  absl::Status Scale(int desired) {
    return Update(absl::StrCat(R"({"service": "web", "desiredCount": )", desired, "}"));
  }

  fakes::FakeServiceEndpoints dns_;
};

TEST_F(ServiceDiscoveryTest, AnAwsvpcServiceIsPublishedWithAddressesAndNamedPorts) {
  ASSERT_TRUE(Create(CreateJson("vpc", 2)).ok());
  Settle();
  const std::vector<std::string> ids = TaskIds();
  ASSERT_THAT(ids, SizeIs(2));
  EXPECT_THAT(dns_.Ids("web"), UnorderedElementsAreArray(ids));
  for (const Endpoint& e : *dns_.Of("web")) {
    const v1::Task task = Task(e.task_id);
    const std::string address = task.containers(0).network_interfaces(0).private_ipv4_address();
    EXPECT_EQ(e.address, address);
    EXPECT_THAT(e.ports, ElementsAre(NamedPort{.name = "Http_Api", .address = address,
                                               .port = 8080}));
  }
}

TEST_F(ServiceDiscoveryTest, ABridgeTaskIsFoundAtTheContainerThatMapsPorts) {
  ASSERT_TRUE(Create(CreateJson("br", 1)).ok());
  Settle();
  ASSERT_THAT(dns_.Ids("web"), SizeIs(1));
  const v1::Task task = Task(dns_.Ids("web")[0]);
  ASSERT_EQ(task.containers_size(), 2);
  const std::string app = task.containers(1).network_interfaces(0).private_ipv4_address();
  ASSERT_NE(app, task.containers(0).network_interfaces(0).private_ipv4_address());
  const Endpoint& e = dns_.Of("web")->front();
  EXPECT_EQ(e.address, app);
  EXPECT_THAT(e.ports, ElementsAre(NamedPort{.name = "web", .address = app, .port = 80}));
}

TEST_F(ServiceDiscoveryTest, AHostServiceHasANameButNoEndpoints) {
  ASSERT_TRUE(Create(CreateJson("web", 1)).ok());  // The fixture's "web" family runs in host mode.
  Settle();
  ASSERT_NE(dns_.Of("web"), nullptr);
  EXPECT_THAT(*dns_.Of("web"), IsEmpty());
}

TEST_F(ServiceDiscoveryTest, PublishedOnlyWhenTheSetChanges) {
  ASSERT_TRUE(Create(CreateJson("vpc", 2)).ok());
  Settle();
  const int publications = dns_.publications();
  services_->MarkAllDirty();
  Settle();
  Advance(absl::Seconds(5));
  EXPECT_EQ(dns_.publications(), publications);

  ASSERT_TRUE(Scale(3).ok());
  Settle();
  EXPECT_THAT(dns_.Ids("web"), SizeIs(3));
  EXPECT_EQ(dns_.publications(), publications + 1);
}

TEST_F(ServiceDiscoveryTest, AStoppedOrScaledInTaskIsGoneAtOnce) {
  ASSERT_TRUE(Create(CreateJson("vpc", 3)).ok());
  Settle();
  ASSERT_THAT(dns_.Ids("web"), SizeIs(3));
  ASSERT_TRUE(Scale(2).ok());
  Settle();
  EXPECT_THAT(dns_.Ids("web"), SizeIs(2));
  EXPECT_THAT(dns_.Ids("web"), UnorderedElementsAreArray(TaskIds()));

  // A task stopped by a user: gone from the moment it is told to stop, and its replacement
  // comes once it runs.
  const std::string victim = dns_.Ids("web")[0];
  v1::StopTaskRequest stop;
  stop.set_task(victim);
  ASSERT_TRUE(tasks_->StopTask(stop).ok());
  loop_.RunPending();
  EXPECT_THAT(dns_.Ids("web"), testing::Not(testing::Contains(victim)));
  Settle();
  EXPECT_THAT(dns_.Ids("web"), SizeIs(2));
}

TEST_F(ServiceDiscoveryTest, AnUnhealthyTaskIsGoneAndAReadyOneAppears) {
  ASSERT_TRUE(Create(CreateJson("checked", 1)).ok());
  Settle();
  EXPECT_THAT(dns_.Ids("web"), IsEmpty());  // Not HEALTHY yet.
  Advance(absl::Seconds(5));
  const std::vector<std::string> first = TaskIds();
  ASSERT_THAT(first, SizeIs(1));
  EXPECT_THAT(dns_.Ids("web"), ElementsAre(first[0]));

  runtime_.ScriptExec(first[0] + "-app", runtime::ExecResult{.exit_code = 1});
  Advance(absl::Seconds(5));
  EXPECT_THAT(dns_.Ids("web"), testing::Not(testing::Contains(first[0])));
}

TEST_F(ServiceDiscoveryTest, ATaskWithoutChecksAppearsAfterTheReadinessWindow) {
  service_options_.planner.ready_after = absl::Milliseconds(500);
  Open();
  ASSERT_TRUE(Create(CreateJson("vpc", 1)).ok());
  Settle();
  EXPECT_THAT(dns_.Ids("web"), IsEmpty());
  Advance(absl::Milliseconds(500));  // The pass's wake-up, not a later event, publishes it.
  EXPECT_THAT(dns_.Ids("web"), SizeIs(1));
}

TEST_F(ServiceDiscoveryTest, ADeletedServiceIsForgotten) {
  ASSERT_TRUE(Create(CreateJson("vpc", 1)).ok());
  Settle();
  ASSERT_NE(dns_.Of("web"), nullptr);
  v1::DeleteServiceRequest request;
  request.set_service("web");
  request.set_force(true);
  ASSERT_TRUE(services_->DeleteService(request).ok());
  EXPECT_EQ(dns_.Of("web"), nullptr);
  EXPECT_EQ(dns_.forgets(), 1);
  Settle();
  EXPECT_EQ(dns_.Of("web"), nullptr);  // Its draining tasks publish nothing.
}

TEST_F(ServiceDiscoveryTest, AfterARestartTheRunningTasksArePublishedAgain) {
  ASSERT_TRUE(Create(CreateJson("vpc", 2)).ok());
  Settle();
  const std::vector<std::string> before = dns_.Ids("web");
  dns_ = fakes::FakeServiceEndpoints();  // A new resolver state, as after kill -9.
  Open();
  Settle();
  EXPECT_EQ(dns_.Ids("web"), before);
}

TEST_F(ServiceDiscoveryTest, ANameThatIsNotItsDnsNameIsSaidOnce) {
  ASSERT_TRUE(Create(CreateJson("vpc", 0, "My_Web")).ok());
  EXPECT_TRUE(HasEvent(Events("My_Web"),
                       "(service My_Web) is found by DNS as my-web.default.skiff.internal"));
  ASSERT_TRUE(Create(CreateJson("vpc", 0, "web")).ok());
  EXPECT_FALSE(HasEvent(Events("web"), "found by DNS"));
  ASSERT_TRUE(Create(CreateJson("vpc", 0, "web-2")).ok());
  EXPECT_FALSE(HasEvent(Events("web-2"), "found by DNS"));
  ASSERT_TRUE(Create(CreateJson("vpc", 0, "_web")).ok());
  EXPECT_TRUE(HasEvent(Events("_web"), "(service _web) cannot be found by DNS: "));
}

}  // namespace
}  // namespace skiff::scheduler
