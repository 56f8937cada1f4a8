// ServiceManager and TaskManager with load balancers, on the fake TargetRegistry: the checks of
// loadBalancers, registration once a task runs (and is HEALTHY, when checked) with the targets of
// its network mode, the drain before any stop signals a task, failing targets replaced, and a
// restart in the middle of a drain. Simulated time; no sleeps.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fakes/fake_target_registry.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/scheduler/states.h"
#include "unit/scheduler/service_fixture.h"

namespace skiff::scheduler {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

constexpr char kGroup[] = "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/web/1";
constexpr char kOtherGroup[] =
    "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/web-2/2";
constexpr char kIpGroup[] = "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/ip/3";

// Bridge (a dynamic host port), host, awsvpc; "lb-checked" has a container health check that
// runs every 5 s.
constexpr char kBridge[] = R"({"family": "lb-bridge", "networkMode": "bridge",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "portMappings": [{"containerPort": 8080}, {"containerPort": 9090}]}]})";
constexpr char kHost[] = R"({"family": "lb-host", "networkMode": "host",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "portMappings": [{"containerPort": 8080}]}]})";
constexpr char kAwsvpc[] = R"({"family": "lb-awsvpc", "networkMode": "awsvpc",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "portMappings": [{"containerPort": 8080}]}]})";
constexpr char kChecked[] = R"({"family": "lb-checked", "networkMode": "bridge",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "portMappings": [{"containerPort": 8080}],
      "healthCheck": {"command": ["CMD-SHELL", "test -f /ok"], "interval": 5, "retries": 1}}]})";

std::string LoadBalancers(const std::string& group, int port = 8080) {
  return absl::StrCat(R"("loadBalancers": [{"targetGroupArn": ")", group,
                      R"(", "containerName": "app", "containerPort": )", port, "}]");
}

std::string CreateJson(const std::string& family, const std::string& group, int desired = 1,
                       const std::string& extra = "") {
  return absl::StrCat(R"({"serviceName": "web", "taskDefinition": ")", family,
                      R"(", "desiredCount": )", desired, ", ", LoadBalancers(group), extra, "}");
}

class ServiceLoadBalancerTest : public ServiceManagerTest {
 protected:
  void SetUp() override {
    target_registry_ = &lb_;
    lb_.AddGroup(kGroup, "instance");
    lb_.AddGroup(kOtherGroup, "instance");
    lb_.AddGroup(kIpGroup, "ip");
    ServiceManagerTest::SetUp();
    for (const char* json : {kBridge, kHost, kAwsvpc, kChecked}) Register(json);
  }

  v1::Task Task(const std::string& id) {
    v1::Task out;
    tasks_->ForEachTask([&](const store::StoredTask& t) {
      if (t.id == id) out = t.task;
    });
    return out;
  }
  // Whether the task's app container was sent `signal`.
  bool Signalled(const std::string& id, int signal = 15) const {
    const std::string call = absl::StrCat("SignalContainer ", id, "-app ", signal);
    for (const std::string& c : runtime_.calls()) {
      if (c == call) return true;
    }
    return false;
  }
  std::string RegisteredEvent(const std::string& group, int n = 1) {
    return absl::StrCat("(service web) registered ", n, " targets in (target-group ", group, ")");
  }
  std::string DeregisteredEvent(const std::string& group, int n = 1) {
    return absl::StrCat("(service web) deregistered ", n, " targets in (target-group ", group,
                        ")");
  }
  // A service of `desired` tasks behind kGroup, every target healthy.
  std::vector<std::string> Serving(int desired = 1) {
    EXPECT_TRUE(Create(CreateJson("lb-bridge", kGroup, desired)).ok());
    Settle();
    const std::vector<std::string> ids = TaskIds();
    for (const std::string& id : ids) lb_.SetHealth(id, TargetsHealth::kHealthy);
    Settle();
    return ids;
  }
  // How many "registered N targets" events there are.
  static int Registrations(const std::vector<std::string>& events) {
    int n = 0;
    for (const std::string& e : events) n += absl::StartsWith(e, "(service web) registered ");
    return n;
  }
  absl::Status StopByUser(const std::string& id) {
    v1::StopTaskRequest request;
    request.set_task(id);
    return tasks_->StopTask(request).status();
  }

  fakes::FakeTargetRegistry lb_{&loop_};
};

// ---------------------------------------------------------------------------------------------
// Registration.

TEST_F(ServiceLoadBalancerTest, ABridgeTaskRegistersItsHostPortOnceItRuns) {
  ASSERT_TRUE(Create(CreateJson("lb-bridge", kGroup)).ok());
  Settle();
  const std::vector<std::string> ids = TaskIds();
  ASSERT_THAT(ids, SizeIs(1));
  const v1::Task task = Task(ids[0]);
  EXPECT_EQ(task.last_status(), "RUNNING");
  int host_port = 0;
  for (const v1::NetworkBinding& b : task.containers(0).network_bindings()) {
    if (b.container_port() == 8080) host_port = b.host_port();
  }
  ASSERT_GT(host_port, 0);
  ASSERT_THAT(lb_.registrations(), SizeIs(1));
  EXPECT_EQ(lb_.registrations()[0].task_id, ids[0]);
  EXPECT_THAT(lb_.registrations()[0].targets,
              ElementsAre(TaskTarget{.target_group_arn = kGroup, .ip = "", .port = host_port}));
  EXPECT_TRUE(HasEvent(Events(), RegisteredEvent(kGroup)));
  // Registered, not yet healthy: the deployment waits for the load balancer's verdict.
  EXPECT_EQ(Describe().deployments(0).rollout_state(), "IN_PROGRESS");

  lb_.SetHealth(ids[0], TargetsHealth::kHealthy);
  Settle();
  EXPECT_EQ(Describe().deployments(0).rollout_state(), "COMPLETED");
  EXPECT_EQ(Events()[0], "(service web) has reached a steady state.");
  // Once: later passes do not register it again.
  services_->MarkAllDirty();
  services_->ReconcileNow();
  Settle();
  EXPECT_THAT(lb_.registrations(), SizeIs(1));
}

TEST_F(ServiceLoadBalancerTest, AHostTaskRegistersTheContainerPortOnTheHost) {
  ASSERT_TRUE(Create(CreateJson("lb-host", kGroup)).ok());
  Settle();
  ASSERT_THAT(lb_.registrations(), SizeIs(1));
  EXPECT_THAT(lb_.registrations()[0].targets,
              ElementsAre(TaskTarget{.target_group_arn = kGroup, .ip = "", .port = 8080}));
}

TEST_F(ServiceLoadBalancerTest, AnAwsvpcTaskRegistersItsAddressAndTheContainerPort) {
  ASSERT_TRUE(Create(CreateJson("lb-awsvpc", kIpGroup)).ok());
  Settle();
  const std::vector<std::string> ids = TaskIds();
  ASSERT_THAT(ids, SizeIs(1));
  const v1::Task task = Task(ids[0]);
  ASSERT_THAT(task.containers(0).network_interfaces(), SizeIs(1));
  const std::string address = task.containers(0).network_interfaces(0).private_ipv4_address();
  EXPECT_THAT(address, testing::StartsWith("10.213.0."));
  ASSERT_THAT(lb_.registrations(), SizeIs(1));
  EXPECT_THAT(lb_.registrations()[0].targets,
              ElementsAre(TaskTarget{.target_group_arn = kIpGroup, .ip = address, .port = 8080}));
}

TEST_F(ServiceLoadBalancerTest, OneTargetPerLoadBalancerAndOneEventPerGroup) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "lb-bridge", "desiredCount": 2,
      "loadBalancers": [
        {"targetGroupArn": ")" + std::string(kGroup) + R"(", "containerName": "app",
         "containerPort": 8080},
        {"targetGroupArn": ")" + std::string(kOtherGroup) + R"(", "containerName": "app",
         "containerPort": 9090}]})")
                  .ok());
  Settle();
  ASSERT_THAT(lb_.registrations(), SizeIs(2));
  for (const auto& r : lb_.registrations()) {
    ASSERT_THAT(r.targets, SizeIs(2));
    EXPECT_EQ(r.targets[0].target_group_arn, kGroup);
    EXPECT_EQ(r.targets[1].target_group_arn, kOtherGroup);
    EXPECT_NE(r.targets[0].port, r.targets[1].port);
  }
  // Both tasks ran in the same pass: one event per group counts both.
  EXPECT_TRUE(HasEvent(Events(), RegisteredEvent(kGroup, 2)));
  EXPECT_TRUE(HasEvent(Events(), RegisteredEvent(kOtherGroup, 2)));
}

TEST_F(ServiceLoadBalancerTest, AHealthCheckedTaskRegistersOnlyOnceHealthy) {
  ASSERT_TRUE(Create(CreateJson("lb-checked", kGroup)).ok());
  Settle();
  ASSERT_THAT(TaskIds(), SizeIs(1));
  EXPECT_EQ(Task(TaskIds()[0]).last_status(), "RUNNING");
  EXPECT_THAT(lb_.registrations(), IsEmpty());  // RUNNING, health UNKNOWN.
  Advance(absl::Seconds(5));  // Its first check passes.
  EXPECT_EQ(Task(TaskIds()[0]).health_status(), "HEALTHY");
  ASSERT_THAT(lb_.registrations(), SizeIs(1));
  EXPECT_EQ(lb_.registrations()[0].task_id, TaskIds()[0]);
}

// ---------------------------------------------------------------------------------------------
// The drain before a stop.

TEST_F(ServiceLoadBalancerTest, StopTaskDrainsTheTargetsBeforeSigterm) {
  const std::vector<std::string> ids = Serving();
  ASSERT_THAT(ids, SizeIs(1));
  const std::string id = ids[0];
  ASSERT_TRUE(StopByUser(id).ok());
  Settle();
  v1::Task task = Task(id);
  EXPECT_EQ(task.last_status(), "DEACTIVATING");
  EXPECT_EQ(task.desired_status(), "STOPPED");
  EXPECT_TRUE(lb_.Draining(id));
  EXPECT_FALSE(Signalled(id)) << "SIGTERM before the drain ended";
  EXPECT_TRUE(HasEvent(Events(), DeregisteredEvent(kGroup)));
  // The replacement starts meanwhile (and registers).
  EXPECT_THAT(TaskIds(), SizeIs(1));
  EXPECT_THAT(TaskIds(), Not(Contains(id)));

  Advance(absl::Minutes(5));  // However long the drain takes.
  EXPECT_EQ(Task(id).last_status(), "DEACTIVATING");
  EXPECT_FALSE(Signalled(id));

  lb_.FinishDrain(id);
  Settle();
  EXPECT_EQ(Task(id).last_status(), "STOPPING");
  EXPECT_TRUE(Signalled(id));
  Kill(id, 143);
  EXPECT_EQ(Task(id).last_status(), "STOPPED");
  EXPECT_EQ(Task(id).stop_code(), "UserInitiated");
}

TEST_F(ServiceLoadBalancerTest, ScaleInDrainsBeforeSigterm) {
  const std::vector<std::string> ids = Serving(2);
  ASSERT_THAT(ids, SizeIs(2));
  ASSERT_TRUE(Update(R"({"service": "web", "desiredCount": 1})").ok());
  Settle();
  const std::vector<std::string> stopping = TaskIds("web", "STOPPED");
  ASSERT_THAT(stopping, SizeIs(1));
  const std::string id = stopping[0];
  EXPECT_EQ(Task(id).last_status(), "DEACTIVATING");
  EXPECT_FALSE(Signalled(id));
  EXPECT_TRUE(HasEvent(Events(), DeregisteredEvent(kGroup)));
  lb_.FinishDrain(id);
  Settle();
  EXPECT_TRUE(Signalled(id));
  EXPECT_THAT(Task(id).stopped_reason(), HasSubstr("Scaling activity initiated by"));
}

TEST_F(ServiceLoadBalancerTest, ADeploymentDrainsOldTasksOnceTheNewTargetsAreHealthy) {
  const std::vector<std::string> old = Serving();
  ASSERT_THAT(old, SizeIs(1));
  ASSERT_TRUE(Update(R"({"service": "web", "forceNewDeployment": true})").ok());
  Settle();
  std::vector<std::string> running = TaskIds();
  ASSERT_THAT(running, SizeIs(2));  // minimumHealthyPercent 100: the old one stays.
  const std::string fresh = running[0] == old[0] ? running[1] : running[0];
  EXPECT_TRUE(lb_.Registered(fresh));
  EXPECT_EQ(Task(old[0]).desired_status(), "RUNNING");  // The new targets are only initial.

  lb_.SetHealth(fresh, TargetsHealth::kHealthy);
  Settle();
  EXPECT_EQ(Task(old[0]).last_status(), "DEACTIVATING");
  EXPECT_FALSE(Signalled(old[0]));
  lb_.FinishDrain(old[0]);
  Settle();
  EXPECT_TRUE(Signalled(old[0]));
  Kill(old[0], 143);
  const v1::Service s = Describe();
  ASSERT_THAT(s.deployments(), SizeIs(1));
  EXPECT_EQ(s.deployments(0).rollout_state(), "COMPLETED");
}

TEST_F(ServiceLoadBalancerTest, DeleteServiceDrainsItsTasks) {
  const std::vector<std::string> ids = Serving();
  v1::DeleteServiceRequest request;
  request.set_service("web");
  request.set_force(true);
  ASSERT_TRUE(services_->DeleteService(request).ok());
  Settle();
  EXPECT_EQ(Task(ids[0]).last_status(), "DEACTIVATING");
  EXPECT_FALSE(Signalled(ids[0]));
  lb_.FinishDrain(ids[0]);
  Settle();
  EXPECT_TRUE(Signalled(ids[0]));
  Kill(ids[0], 143);
  EXPECT_EQ(Describe().status(), "INACTIVE");
}

TEST_F(ServiceLoadBalancerTest, ContainersThatExitDuringTheDrainJustStopTheTask) {
  const std::vector<std::string> ids = Serving();
  const std::string id = ids[0];
  const int64_t backward = BackwardTransitions();
  ASSERT_TRUE(StopByUser(id).ok());
  Settle();
  ASSERT_EQ(Task(id).last_status(), "DEACTIVATING");
  Kill(id);
  EXPECT_EQ(Task(id).last_status(), "STOPPED");
  lb_.FinishDrain(id);  // Late: nothing more happens to the task.
  Settle();
  EXPECT_EQ(Task(id).last_status(), "STOPPED");
  EXPECT_FALSE(Signalled(id));
  EXPECT_EQ(BackwardTransitions(), backward);
}

TEST_F(ServiceLoadBalancerTest, ATaskFoundDeactivatingAfterARestartDrainsAgain) {
  const std::vector<std::string> ids = Serving();
  const std::string id = ids[0];
  ASSERT_TRUE(StopByUser(id).ok());
  Settle();
  ASSERT_EQ(Task(id).last_status(), "DEACTIVATING");
  const size_t registrations = lb_.registrations().size();
  const int said = Registrations(Events());

  Open();  // skiffd restarts while the drain runs.
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  EXPECT_EQ(Task(id).last_status(), "DEACTIVATING");
  EXPECT_THAT(lb_.drains(), ElementsAre(id, id));  // Asked again by the new TaskManager.
  EXPECT_FALSE(Signalled(id));
  // The running task (its replacement) was registered before: not again, nor said again.
  EXPECT_EQ(lb_.registrations().size(), registrations);
  EXPECT_EQ(Registrations(Events()), said);

  lb_.FinishDrain(id);
  Settle();
  EXPECT_EQ(Task(id).last_status(), "STOPPING");
  EXPECT_TRUE(Signalled(id));
}

// ---------------------------------------------------------------------------------------------
// Failing targets.

TEST_F(ServiceLoadBalancerTest, ATaskWhoseTargetsFailIsReplacedThenDrained) {
  const std::vector<std::string> ids = Serving();
  const std::string sick = ids[0];
  lb_.SetHealth(sick, TargetsHealth::kUnhealthy, kGroup);
  Settle();
  // maximumPercent 200: the replacement starts first; the failing task still runs.
  std::vector<std::string> running = TaskIds();
  ASSERT_THAT(running, SizeIs(2));
  const std::string replacement = running[0] == sick ? running[1] : running[0];
  EXPECT_TRUE(lb_.Registered(replacement));
  EXPECT_EQ(Task(sick).desired_status(), "RUNNING");

  lb_.SetHealth(replacement, TargetsHealth::kHealthy);
  Settle();
  EXPECT_EQ(Task(sick).last_status(), "DEACTIVATING");
  EXPECT_EQ(Task(sick).stopped_reason(),
            absl::StrCat("Task failed ELB health checks in (target-group ", kGroup, ")"));
  EXPECT_TRUE(HasEvent(Events(), absl::StrCat("(service web) (task ", sick,
                                              ") failed ELB health checks in (target-group ",
                                              kGroup, ")")));
  EXPECT_TRUE(HasEvent(Events(), DeregisteredEvent(kGroup)));
  EXPECT_FALSE(Signalled(sick));
  lb_.FinishDrain(sick);
  Settle();
  EXPECT_TRUE(Signalled(sick));
}

TEST_F(ServiceLoadBalancerTest, TheGracePeriodDelaysActingOnFailingTargets) {
  ASSERT_TRUE(
      Create(CreateJson("lb-bridge", kGroup, 1, R"(, "healthCheckGracePeriodSeconds": 60)")).ok());
  Settle();
  const std::string id = TaskIds()[0];
  lb_.SetHealth(id, TargetsHealth::kUnhealthy, kGroup);
  Advance(absl::Seconds(30));
  EXPECT_THAT(TaskIds(), ElementsAre(id));  // Within the grace period: nothing.
  Advance(absl::Seconds(31));
  EXPECT_THAT(TaskIds(), SizeIs(2));  // Its replacement starts.
}

// ---------------------------------------------------------------------------------------------
// loadBalancers on CreateService and UpdateService.

TEST_F(ServiceLoadBalancerTest, BadLoadBalancersAreRefusedNamingTheMember) {
  auto entry = [](const std::string& body) {
    return absl::StrCat(R"({"serviceName": "web", "taskDefinition": "lb-bridge",
                           "desiredCount": 1, "loadBalancers": [)",
                        body, "]}");
  };
  const std::string good = absl::StrCat(R"({"targetGroupArn": ")", kGroup,
                                        R"(", "containerName": "app", "containerPort": 8080})");
  std::string six;
  for (int i = 0; i < 6; ++i) six += (i > 0 ? ", " : "") + good;
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {entry(six), "loadBalancers: at most 5"},
      {entry(R"({"containerName": "app", "containerPort": 8080})"),
       "loadBalancers[0].targetGroupArn: required"},
      {entry(good + R"(, {"targetGroupArn": "x", "containerName": "app"})"),
       "loadBalancers[1].containerPort: required"},
      {entry(absl::StrCat(R"({"targetGroupArn": ")", kGroup, R"(", "containerPort": 8080})")),
       "loadBalancers[0].containerName: required"},
      {entry(absl::StrCat(R"({"targetGroupArn": ")", kGroup,
                          R"(", "containerName": "db", "containerPort": 8080})")),
       "loadBalancers[0].containerName: no container \"db\""},
      {entry(absl::StrCat(R"({"targetGroupArn": ")", kGroup,
                          R"(", "containerName": "app", "containerPort": 7070})")),
       "loadBalancers[0].containerPort: container \"app\""},
      {entry(good + ", " + good), "loadBalancers[1]: the same as loadBalancers[0]"},
      {entry(R"({"loadBalancerName": "classic", "containerName": "app", "containerPort": 8080})"),
       "loadBalancers[0].loadBalancerName:"},
      {entry(R"({"targetGroupArn": "arn:nope", "containerName": "app", "containerPort": 8080})"),
       "loadBalancers[0].targetGroupArn: no such target group"},
      {entry(absl::StrCat(R"({"targetGroupArn": ")", kIpGroup,
                          R"(", "containerName": "app", "containerPort": 8080})")),
       "loadBalancers[0].targetGroupArn: target type ip"},
  };
  for (const Case& c : cases) {
    const absl::Status s = Create(c.json);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(model::EcsExceptionName(s), "InvalidParameterException") << c.json;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << c.json;
  }
  EXPECT_EQ(services_->ActiveServiceCount("default"), 0);
}

TEST_F(ServiceLoadBalancerTest, UpdateServiceChecksTheLoadBalancersAgainstTheNewRevision) {
  ASSERT_TRUE(Create(CreateJson("lb-bridge", kGroup)).ok());
  Settle();
  // "web" (the fixture's) has no port mappings: the service's loadBalancers cannot follow it.
  absl::Status s = Update(R"({"service": "web", "taskDefinition": "web"})");
  EXPECT_EQ(model::EcsExceptionName(s), "InvalidParameterException");
  EXPECT_THAT(std::string(s.message()), HasSubstr("loadBalancers[0].containerPort:"));
  s = Update(absl::StrCat(R"({"service": "web", )", LoadBalancers(kGroup, 7070), "}"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("loadBalancers[0].containerPort:"));
  const v1::Service unchanged = Describe();
  EXPECT_THAT(unchanged.task_definition(), HasSubstr("lb-bridge"));
  EXPECT_THAT(unchanged.deployments(), SizeIs(1));
}

TEST_F(ServiceLoadBalancerTest, NewLoadBalancersStartADeploymentWhoseTasksRegisterUnderThem) {
  const std::vector<std::string> old = Serving();
  ASSERT_TRUE(Update(absl::StrCat(R"({"service": "web", )", LoadBalancers(kOtherGroup), "}")).ok());
  Settle();
  const v1::Service s = Describe();
  ASSERT_THAT(s.deployments(), SizeIs(2));
  ASSERT_THAT(s.load_balancers(), SizeIs(1));
  EXPECT_EQ(s.load_balancers(0).target_group_arn(), kOtherGroup);
  ASSERT_THAT(lb_.registrations(), SizeIs(2));
  EXPECT_EQ(lb_.registrations()[1].targets[0].target_group_arn, kOtherGroup);
  // The same set again is no change.
  ASSERT_TRUE(Update(absl::StrCat(R"({"service": "web", )", LoadBalancers(kOtherGroup), "}")).ok());
  EXPECT_THAT(Describe().deployments(), SizeIs(2));
}

// Without a TargetRegistry (skiffd without load balancing).
TEST_F(ServiceManagerTest, LoadBalancersAreRefusedWithoutLoadBalancing) {
  Register(kBridge);
  const absl::Status s = Create(CreateJson("lb-bridge", kGroup));
  EXPECT_EQ(model::EcsExceptionName(s), "InvalidParameterException");
  EXPECT_THAT(std::string(s.message()), HasSubstr("load balancing is not available"));
}

}  // namespace
}  // namespace skiff::scheduler
