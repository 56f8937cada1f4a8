#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "fakes/fake_runtime.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "unit/scheduler/service_fixture.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;

TEST_F(ServiceManagerTest, CreateStartsTheDesiredTasksAndReachesASteadyState) {
  auto response = services_->CreateService(Parse<v1::CreateServiceRequest>(
      R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 3})"));
  ASSERT_TRUE(response.ok()) << response.status();
  const v1::Service& created = response->service();
  EXPECT_EQ(created.service_arn(), "arn:aws:ecs:local:000000000000:service/default/web");
  EXPECT_EQ(created.status(), "ACTIVE");
  EXPECT_EQ(created.desired_count(), 3);
  EXPECT_EQ(created.deployment_configuration().maximum_percent(), 200);
  EXPECT_EQ(created.deployment_configuration().minimum_healthy_percent(), 100);
  ASSERT_EQ(created.deployments_size(), 1);
  EXPECT_EQ(created.deployments(0).status(), "PRIMARY");
  EXPECT_TRUE(absl::StartsWith(created.deployments(0).id(), "ecs-svc/"));
  EXPECT_EQ(created.deployments(0).rollout_state(), "IN_PROGRESS");
  EXPECT_TRUE(TaskIds().empty());  // Nothing starts before the pass.

  Settle();
  EXPECT_THAT(TaskIds(), SizeIs(3));
  const v1::Service s = Describe();
  EXPECT_EQ(s.running_count(), 3);
  EXPECT_EQ(s.pending_count(), 0);
  EXPECT_EQ(s.deployments(0).running_count(), 3);
  EXPECT_EQ(s.deployments(0).rollout_state(), "COMPLETED");
  ASSERT_GE(s.events_size(), 2);
  EXPECT_EQ(s.events(0).message(), "(service web) has reached a steady state.");
  EXPECT_TRUE(HasEvent(Events(), "(service web) has started 3 tasks: (task "));
  // Every task carries its service and deployment, as ECS shows them.
  tasks_->ForEachTask([&](const store::StoredTask& t) {
    EXPECT_EQ(t.task.group(), "service:web");
    EXPECT_EQ(t.task.started_by(), s.deployments(0).id());
  });
}

TEST_F(ServiceManagerTest, ASecondPassWithNoChangeDoesNothing) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 2})").ok());
  Settle();
  const int saves = saves_;
  const size_t calls = runtime_.calls().size();
  const int events = Describe().events_size();
  services_->MarkAllDirty();
  EXPECT_EQ(services_->ReconcileNow(), 1);
  Settle();
  EXPECT_EQ(saves_, saves);
  EXPECT_EQ(runtime_.calls().size(), calls);
  EXPECT_EQ(Describe().events_size(), events);
}

TEST_F(ServiceManagerTest, ScalesUpAndDownStoppingTheNewestFirst) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 3})").ok());
  Settle();
  std::vector<std::string> first = TaskIds();
  clock_.Advance(absl::Seconds(5));
  ASSERT_TRUE(Update(R"({"service": "web", "desiredCount": 5})").ok());
  Settle();
  EXPECT_THAT(TaskIds(), SizeIs(5));
  EXPECT_EQ(Describe().running_count(), 5);

  ASSERT_TRUE(Update(R"({"service": "web", "desiredCount": 1})").ok());
  Settle();
  const std::vector<std::string> left = TaskIds();
  ASSERT_THAT(left, SizeIs(1));
  // The oldest tasks were kept: the one left is one of the first three.
  EXPECT_THAT(first, testing::Contains(left[0]));
  const std::vector<std::string> stopped = TaskIds("web", "STOPPED");
  ASSERT_THAT(stopped, SizeIs(4));
  v1::DescribeTasksRequest describe;
  describe.add_tasks(stopped[0]);
  auto tasks = tasks_->DescribeTasks(describe);
  ASSERT_TRUE(tasks.ok());
  EXPECT_EQ(tasks->tasks(0).stop_code(), "ServiceSchedulerInitiated");
  EXPECT_THAT(tasks->tasks(0).stopped_reason(), HasSubstr("Scaling activity initiated by"));
  EXPECT_TRUE(HasEvent(Events(), "(service web) has stopped 4 running tasks: (task "));
  // Steady again once the stopped tasks are gone.
  for (const std::string& id : stopped) Kill(id, 143);
  Settle();
  EXPECT_EQ(Events()[0], "(service web) has reached a steady state.");
  EXPECT_EQ(Describe().running_count(), 1);
}

TEST_F(ServiceManagerTest, ATaskThatDiesIsReplacedByANewOne) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 3})").ok());
  Settle();
  Advance(absl::Minutes(1));  // Long enough that a death is not a failed launch.
  const std::vector<std::string> before = TaskIds();
  Kill(before[1]);
  const std::vector<std::string> after = TaskIds();
  ASSERT_THAT(after, SizeIs(3));
  EXPECT_THAT(after, testing::Not(testing::Contains(before[1])));
  EXPECT_EQ(Describe().running_count(), 3);
  EXPECT_TRUE(HasEvent(Events(), "has started 1 tasks"));
  EXPECT_EQ(Describe().deployments(0).failed_tasks(), 0);
}

TEST_F(ServiceManagerTest, FailingLaunchesBackOffExponentiallyUpToTheCap) {
  Register(R"({"family": "broken", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/missing:1", "memory": 32}]})");
  ASSERT_TRUE(
      Create(R"({"serviceName": "web", "taskDefinition": "broken", "desiredCount": 1})").ok());
  Settle();
  // Each launch fails before anything is created; the service waits longer each time.
  auto launches = [&] {
    int n = 0;
    tasks_->ForEachTask([&](const store::StoredTask& t) { n += t.service == "web"; });
    return n;
  };
  EXPECT_EQ(launches(), 2);  // The first failure retries at once.
  Advance(absl::Seconds(1));
  EXPECT_EQ(launches(), 3);  // After 1 s.
  Advance(absl::Seconds(2));
  EXPECT_EQ(launches(), 4);  // After 2 s more.
  Advance(absl::Milliseconds(3900));
  EXPECT_EQ(launches(), 4);  // Not before 4 s.
  Advance(absl::Milliseconds(200));
  EXPECT_EQ(launches(), 5);
  // Ten minutes later the delay is at its 5-minute cap: 8+16+32+64+128+256 s > 600 s.
  Advance(absl::Minutes(10));
  const int at_cap = launches();
  EXPECT_LE(at_cap, 11);
  Advance(absl::Minutes(5));
  EXPECT_EQ(launches(), at_cap + 1);
  const v1::Service s = Describe();
  EXPECT_EQ(s.deployments(0).failed_tasks(), launches());
  EXPECT_TRUE(HasEvent(Events(), "(service web) is unable to consistently start tasks "
                                 "successfully."));
  // The event is not repeated for every failure.
  int unstable = 0;
  for (const std::string& e : Events()) unstable += absl::StrContains(e, "unable to consistently");
  EXPECT_LE(unstable, 1);
}

TEST_F(ServiceManagerTest, BackOffSurvivesARestartAndANewRevisionResetsIt) {
  Register(R"({"family": "broken", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/missing:1", "memory": 32}]})");
  ASSERT_TRUE(
      Create(R"({"serviceName": "web", "taskDefinition": "broken", "desiredCount": 1})").ok());
  Settle();
  Advance(absl::Seconds(64));  // Several failures: the next delay is tens of seconds.
  auto stored = store_->LoadServices();
  ASSERT_TRUE(stored.ok());
  ASSERT_THAT(*stored, SizeIs(1));
  const int failures = (*stored)[0].launch_failures;
  const double next = (*stored)[0].next_launch_at;
  ASSERT_GE(failures, 5);
  const double now = absl::ToDoubleSeconds(clock_.Now() - absl::UnixEpoch());
  ASSERT_GT(next, now + 1);

  Open();  // skiffd restarts.
  Settle();
  int launches = 0;
  tasks_->ForEachTask([&](const store::StoredTask& t) { launches += t.service == "web"; });
  const int before = launches;
  Advance(absl::Seconds(next - now - 0.5));
  launches = 0;
  tasks_->ForEachTask([&](const store::StoredTask& t) { launches += t.service == "web"; });
  EXPECT_EQ(launches, before) << "the restart must not reset the back-off";

  // A new revision that works starts at once.
  ASSERT_TRUE(Update(R"({"service": "web", "taskDefinition": "web"})").ok());
  Settle();
  EXPECT_EQ(Describe().running_count(), 1);
  auto reset = store_->LoadServices();
  ASSERT_TRUE(reset.ok());
  EXPECT_EQ((*reset)[0].launch_failures, 0);
}

TEST_F(ServiceManagerTest, ACrashLoopAfterStartBacksOffAndALongRunClearsIt) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1})").ok());
  Settle();
  for (int i = 0; i < 4; ++i) {
    std::vector<std::string> ids = TaskIds();
    ASSERT_THAT(ids, SizeIs(1)) << "round " << i;
    Kill(ids[0], 1);                  // Dies right after it started.
    Advance(absl::Seconds(1 << i));   // Waits out 0, 1, 2, 4 s of back-off.
  }
  auto stored = store_->LoadServices();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)[0].launch_failures, 4);
  Advance(absl::Seconds(30));  // The current task runs well.
  stored = store_->LoadServices();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)[0].launch_failures, 0);
}

TEST_F(ServiceManagerTest, TasksThatDoNotFitStayUnplacedUntilResourcesFree) {
  Open({.cpu = 4096, .memory = 80});  // Room for two 32 MiB tasks.
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 3})").ok());
  Settle();
  EXPECT_THAT(TaskIds(), SizeIs(2));
  EXPECT_TRUE(HasEvent(Events(), "(service web) was unable to place a task because no container "
                                 "instance met all of its requirements. The closest matching "
                                 "(container-instance "));
  EXPECT_TRUE(HasEvent(Events(), "has insufficient memory available."));
  // Retries do not pile up the same event.
  Advance(absl::Minutes(2));
  int unplaced = 0;
  for (const std::string& e : Events()) unplaced += absl::StrContains(e, "unable to place");
  EXPECT_EQ(unplaced, 1);
  EXPECT_THAT(TaskIds(), SizeIs(2));
  // Another service gives memory back: the third task fits.
  ASSERT_TRUE(Update(R"({"service": "web", "desiredCount": 2})").ok());
  Settle();
  EXPECT_EQ(Describe().running_count(), 2);
  v1::RunTaskRequest run;
  run.set_task_definition("web");
  auto ran = tasks_->RunTask(run);
  ASSERT_TRUE(ran.ok());
  ASSERT_EQ(ran->failures_size(), 1);
  EXPECT_EQ(ran->failures(0).reason(), "RESOURCE:MEMORY");
}

TEST_F(ServiceManagerTest, CapacityFreedByAStoppedTaskIsUsedAtOnce) {
  Open({.cpu = 4096, .memory = 80});
  v1::RunTaskRequest run;
  run.set_task_definition("web");
  auto ran = tasks_->RunTask(run);
  ASSERT_TRUE(ran.ok());
  Settle();
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 2})").ok());
  Settle();
  EXPECT_THAT(TaskIds(), SizeIs(1));
  const std::string arn = ran->tasks(0).task_arn();
  Kill(arn.substr(arn.rfind('/') + 1), 0);
  EXPECT_THAT(TaskIds(), SizeIs(2));
  EXPECT_EQ(Describe().running_count(), 2);
}

// A service waiting for capacity has its 30 s placement retry queued. A back-off that ends
// sooner must still wake it then, not when the placement retry comes.
TEST_F(ServiceManagerTest, AShortBackOffIsNotHeldUpByAPendingPlacementRetry) {
  Open({.cpu = 4096, .memory = 80});  // Room for two of the three 32 MiB tasks.
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 3})").ok());
  Settle();
  ASSERT_THAT(TaskIds(), SizeIs(2));  // The third waits, its retry 30 s away.
  // Two tasks die right after starting: the first failure retries at once (and that task
  // fits), the second waits out 1 s of back-off.
  Kill(TaskIds()[0], 1);
  ASSERT_THAT(TaskIds(), SizeIs(2));
  Kill(TaskIds()[0], 1);
  EXPECT_THAT(TaskIds(), SizeIs(1));
  Advance(absl::Milliseconds(1100));
  EXPECT_THAT(TaskIds(), SizeIs(2)) << "the launch waited for the placement retry";
}

TEST_F(ServiceManagerTest, DeleteNeedsZeroOrForceThenDrainsToInactive) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 2})").ok());
  Settle();
  v1::DeleteServiceRequest del;
  del.set_service("web");
  absl::Status refused = services_->DeleteService(del).status();
  EXPECT_EQ(model::EcsExceptionName(refused), "InvalidParameterException");
  EXPECT_THAT(refused.message(), HasSubstr("scaled above 0"));
  del.set_force(true);
  auto deleted = services_->DeleteService(del);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->service().status(), "DRAINING");
  Settle();
  const std::vector<std::string> stopping = TaskIds("web", "STOPPED");
  ASSERT_THAT(stopping, SizeIs(2));
  EXPECT_EQ(Describe().status(), "DRAINING");
  for (const std::string& id : stopping) Kill(id, 143);
  EXPECT_EQ(Describe().status(), "INACTIVE");
  // Gone from the list, still describable, and the name can be used again.
  v1::ListServicesRequest list;
  auto listed = services_->ListServices(list);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->service_arns_size(), 0);
  EXPECT_EQ(model::EcsExceptionName(Update(R"({"service": "web", "desiredCount": 1})")),
            "ServiceNotFoundException");
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1})").ok());
  Settle();
  EXPECT_EQ(Describe().running_count(), 1);
}

TEST_F(ServiceManagerTest, DeleteAtZeroNeedsNoForce) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 0})").ok());
  Settle();
  v1::DeleteServiceRequest del;
  del.set_service("web");
  ASSERT_TRUE(services_->DeleteService(del).ok());
  Settle();
  EXPECT_EQ(Describe().status(), "INACTIVE");
  // Removed for good after the retention.
  Advance(absl::Hours(1) + absl::Seconds(1));
  v1::DescribeServicesRequest describe;
  describe.add_services("web");
  auto response = services_->DescribeServices(describe);
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->failures_size(), 1);
  EXPECT_EQ(response->failures(0).reason(), "MISSING");
}

TEST_F(ServiceManagerTest, ANewRevisionRollsWithinTheConfiguredBounds) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 2})").ok());
  Settle();
  Register(R"({"family": "web", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 16}]})");
  ASSERT_TRUE(Update(R"({"service": "web", "taskDefinition": "web:2"})").ok());
  v1::Service s = Describe();
  ASSERT_EQ(s.deployments_size(), 2);
  EXPECT_EQ(s.deployments(0).status(), "PRIMARY");
  EXPECT_EQ(s.deployments(0).task_definition(),
            "arn:aws:ecs:local:000000000000:task-definition/web:2");
  EXPECT_EQ(s.deployments(1).status(), "ACTIVE");
  EXPECT_EQ(s.task_definition(), "arn:aws:ecs:local:000000000000:task-definition/web:2");
  Settle();
  // 200 %: both new tasks start before an old one stops; 100 %: old ones stop only then.
  s = Describe();
  EXPECT_EQ(s.running_count(), 2);
  EXPECT_THAT(TaskIds(), SizeIs(2));
  for (const std::string& id : TaskIds("web", "STOPPED")) Kill(id, 143);
  s = Describe();
  ASSERT_EQ(s.deployments_size(), 1);
  EXPECT_EQ(s.deployments(0).rollout_state(), "COMPLETED");
  EXPECT_EQ(Events()[0], "(service web) has reached a steady state.");
  tasks_->ForEachTask([&](const store::StoredTask& t) {
    if (t.task.desired_status() == "RUNNING") {
      EXPECT_EQ(t.task.task_definition_arn(), s.deployments(0).task_definition());
    }
  });
}

TEST_F(ServiceManagerTest, ServicesAndTheirTasksSurviveARestart) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 3})").ok());
  Settle();
  const std::vector<std::string> before = TaskIds();
  const int launches = Launches();
  Open();
  Settle();
  EXPECT_EQ(TaskIds(), before);
  EXPECT_EQ(Launches(), launches) << "a restart must not start tasks that already run";
  const v1::Service s = Describe();
  EXPECT_EQ(s.running_count(), 3);
  int steady = 0;
  for (const v1::ServiceEvent& e : s.events()) {
    steady += absl::StrContains(e.message(), "steady state");
  }
  EXPECT_EQ(steady, 1);
}

TEST_F(ServiceManagerTest, ManyServicesAtOnce) {
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(Create(absl::StrCat(R"({"serviceName": "svc-)", i,
                                    R"(", "taskDefinition": "web", "desiredCount": 3})"))
                    .ok());
  }
  Settle();
  for (int i = 0; i < 40; ++i) {
    const std::string name = absl::StrCat("svc-", i);
    EXPECT_EQ(Describe(name).running_count(), 3) << name;
    EXPECT_THAT(TaskIds(name), SizeIs(3));
  }
  services_->MarkAllDirty();
  EXPECT_EQ(services_->ReconcileNow(), 40);
  int total = 0;
  tasks_->ForEachTask([&](const store::StoredTask&) { ++total; });
  EXPECT_EQ(total, 120);
}

TEST_F(ServiceManagerTest, DaemonServicesRunOneTaskOnTheNode) {
  ASSERT_TRUE(Create(R"({"serviceName": "agent", "taskDefinition": "web",
                         "schedulingStrategy": "DAEMON"})").ok());
  Settle();
  EXPECT_EQ(Describe("agent").desired_count(), 1);
  EXPECT_THAT(TaskIds("agent"), SizeIs(1));
}

TEST_F(ServiceManagerTest, NoLaunchAndNoFailureWhileTheRuntimeIsAway) {
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamLost});
  runtime_health_.up = false;  // As the RuntimeMonitor says on the stream's loss.
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 2})").ok());
  Advance(absl::Minutes(2));
  EXPECT_TRUE(TaskIds().empty());
  auto stored = store_->LoadServices();
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)[0].launch_failures, 0);
  EXPECT_FALSE(HasEvent(Events(), "unable"));
  runtime_health_.up = true;
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  services_->MarkAllDirty();  // As the daemon does when the stream is back.
  Settle();
  EXPECT_EQ(Describe().running_count(), 2);
}

TEST_F(ServiceManagerTest, BadInputIsRefusedNamingTheField) {
  struct Case {
    std::string json;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": -1})", "desiredCount:"},
      {R"({"serviceName": "web", "taskDefinition": "web"})", "desiredCount: required"},
      {R"({"serviceName": "bad name", "taskDefinition": "web", "desiredCount": 1})",
       "serviceName:"},
      {R"({"serviceName": "web", "desiredCount": 1})", "taskDefinition: required"},
      {R"({"serviceName": "web", "taskDefinition": "nope", "desiredCount": 1})", "nope"},
      {R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1,
           "deploymentConfiguration": {"maximumPercent": 50}})",
       "deploymentConfiguration.maximumPercent:"},
      {R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1,
           "deploymentConfiguration": {"minimumHealthyPercent": 101}})",
       "deploymentConfiguration.minimumHealthyPercent:"},
      {R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1,
           "tags": [{"key": "", "value": "x"}]})",
       "tags[0].key:"},
      {R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1,
           "schedulingStrategy": "DAEMON"})",
       "desiredCount: not allowed"},
      {R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1,
           "deploymentController": {"type": "CODE_DEPLOY"}})",
       "deploymentController.type:"},
  };
  for (const Case& c : cases) {
    absl::Status s = Create(c.json);
    EXPECT_FALSE(s.ok()) << c.json;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.message)) << c.json;
    EXPECT_NE(model::EcsExceptionName(s), "ServerException") << c.json;
  }
  EXPECT_EQ(services_->ActiveServiceCount("default"), 0);
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1})").ok());
  absl::Status dup = Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1})");
  EXPECT_EQ(model::EcsExceptionName(dup), "InvalidParameterException");
  EXPECT_THAT(std::string(dup.message()), HasSubstr("not idempotent"));
  EXPECT_EQ(model::EcsExceptionName(Update(R"({"service": "nope", "desiredCount": 1})")),
            "ServiceNotFoundException");
  EXPECT_THAT(std::string(Update(R"({"service": "web", "desiredCount": 99999})").message()),
              HasSubstr("desiredCount:"));
  EXPECT_EQ(Describe().desired_count(), 1);  // A refused update changes nothing.
}

}  // namespace
}  // namespace skiff::scheduler
