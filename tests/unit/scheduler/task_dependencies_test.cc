// TaskManager with dependsOn, stop order and health checks, in simulated time with the fake
// runtime: which container starts (or is signalled) when, and what the task says of it.
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "fakes/fake_runtime.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "fakes/scheduler_stack.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/health_monitor.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::scheduler {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kImage[] = "skiff.local/busybox:test";

class TaskDependenciesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_.AddImage(kImage);
    auto stack = fakes::SchedulerStack::Open({.loop = &loop_,
                                              .executor = &executor_,
                                              .runtime = &runtime_,
                                              .clock = &clock_,
                                              .random = &random_,
                                              .health = &health_},
                                             {.state_dir = dir_.path() + "/state"});
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    registry_ = &stack_->registry();
    tasks_ = &stack_->tasks();
  }

  // Registers family "t" with these container definitions and runs one task of it.
  std::string RunWith(const std::string& containers) {
    v1::RegisterTaskDefinitionRequest request;
    const std::string json = absl::StrCat(R"({"family": "t", "networkMode": "none",
        "containerDefinitions": [)", containers, "]}");
    absl::Status decoded = model::DecodeMessageText(json, &request);
    EXPECT_TRUE(decoded.ok()) << decoded;
    auto registered = registry_->Register(request);
    EXPECT_TRUE(registered.ok()) << registered.status();
    v1::RunTaskRequest run;
    run.set_task_definition("t");
    auto response = tasks_->RunTask(run);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->tasks().empty()) return "";
    const std::string arn = response->tasks(0).task_arn();
    id_ = arn.substr(arn.rfind('/') + 1);
    Settle();
    return id_;
  }

  void Settle() {
    while (loop_.RunPending() + executor_.RunAll() > 0) {
    }
  }
  void Advance(absl::Duration d) {
    const absl::Duration step = absl::Milliseconds(500);
    for (absl::Duration done; done < d; done += step) {
      loop_.AdvanceTime(std::min(step, d - done));
      Settle();
    }
  }

  v1::Task Describe() {
    v1::DescribeTasksRequest request;
    request.add_tasks(id_);
    auto response = tasks_->DescribeTasks(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->tasks().empty()) return v1::Task();
    return response->tasks(0);
  }
  const v1::Container& Container(const v1::Task& task, const std::string& name) {
    for (const v1::Container& c : task.containers()) {
      if (c.name() == name) return c;
    }
    ADD_FAILURE() << "no container " << name;
    return v1::Container::default_instance();
  }
  std::string Rid(const std::string& name) const { return absl::StrCat(id_, "-", name); }
  void Exit(const std::string& name, uint32_t status) {
    runtime_.Exit(Rid(name), status, clock_.Now());
    Settle();
  }
  // The calls of one kind ("StartContainer", "SignalContainer"), in order, without the task id.
  std::vector<std::string> Calls(const std::string& method) const {
    std::vector<std::string> out;
    for (const std::string& call : runtime_.calls()) {
      if (!absl::StartsWith(call, method + " ")) continue;
      std::string rest = call.substr(method.size() + 1);
      if (absl::StartsWith(rest, id_ + "-")) rest = rest.substr(id_.size() + 1);
      out.push_back(rest);
    }
    return out;
  }

  fakes::TempDir dir_;
  SimulatedClock clock_;
  SeededRandom random_{1};
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  fakes::FakeRuntime runtime_;
  HealthMonitor health_{&loop_, &executor_, &runtime_, &clock_};
  std::unique_ptr<fakes::SchedulerStack> stack_;
  TaskDefinitionRegistry* registry_ = nullptr;  // The stack's.
  TaskManager* tasks_ = nullptr;                // The stack's.
  std::string id_;
};

constexpr char kInitAndApp[] = R"(
    {"name": "init", "image": "skiff.local/busybox:test", "memory": 16, "essential": false},
    {"name": "app", "image": "skiff.local/busybox:test", "memory": 16,
     "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]})";

TEST_F(TaskDependenciesTest, ASuccessfulInitContainerGatesTheApp) {
  RunWith(kInitAndApp);
  EXPECT_THAT(Calls("CreateContainer"), ElementsAre("init", "app"));  // Both created at once.
  EXPECT_THAT(Calls("StartContainer"), ElementsAre("init"));
  EXPECT_EQ(Describe().last_status(), "PENDING");  // Not RUNNING while app waits.
  Advance(absl::Minutes(2));
  EXPECT_THAT(Calls("StartContainer"), ElementsAre("init"));

  Exit("init", 0);
  EXPECT_THAT(Calls("StartContainer"), ElementsAre("init", "app"));
  const v1::Task task = Describe();
  EXPECT_EQ(task.last_status(), "RUNNING");
  EXPECT_EQ(task.desired_status(), "RUNNING");
  EXPECT_EQ(Container(task, "init").last_status(), "STOPPED");
  EXPECT_EQ(Container(task, "init").exit_code(), 0);
  EXPECT_EQ(Container(task, "app").last_status(), "RUNNING");
}

TEST_F(TaskDependenciesTest, AFailingInitContainerFailsTheTaskAndNamesIt) {
  RunWith(kInitAndApp);
  Exit("init", 1);
  const v1::Task task = Describe();
  EXPECT_EQ(task.desired_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), HasSubstr("init exited with code 1"));
  EXPECT_THAT(task.stopped_reason(), HasSubstr("app depends on init with condition SUCCESS"));
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_EQ(Container(task, "app").last_status(), "STOPPED");
  EXPECT_FALSE(Container(task, "app").has_exit_code());
  EXPECT_THAT(Calls("StartContainer"), Not(Contains("app")));
}

TEST_F(TaskDependenciesTest, CompleteAcceptsAnyExitCode) {
  RunWith(R"(
    {"name": "init", "image": "skiff.local/busybox:test", "memory": 16, "essential": false},
    {"name": "app", "image": "skiff.local/busybox:test", "memory": 16,
     "dependsOn": [{"containerName": "init", "condition": "COMPLETE"}]})");
  Exit("init", 3);
  EXPECT_THAT(Calls("StartContainer"), ElementsAre("init", "app"));
  EXPECT_EQ(Describe().last_status(), "RUNNING");
}

TEST_F(TaskDependenciesTest, StartChainsStartInOrder) {
  RunWith(R"(
    {"name": "db", "image": "skiff.local/busybox:test", "memory": 16},
    {"name": "api", "image": "skiff.local/busybox:test", "memory": 16,
     "dependsOn": [{"containerName": "db", "condition": "START"}]},
    {"name": "web", "image": "skiff.local/busybox:test", "memory": 16,
     "dependsOn": [{"containerName": "api", "condition": "START"}]})");
  EXPECT_THAT(Calls("StartContainer"), ElementsAre("db", "api", "web"));
  EXPECT_EQ(Describe().last_status(), "RUNNING");
}

TEST_F(TaskDependenciesTest, StartTimeoutBoundsTheWait) {
  RunWith(R"(
    {"name": "init", "image": "skiff.local/busybox:test", "memory": 16, "essential": false},
    {"name": "app", "image": "skiff.local/busybox:test", "memory": 16, "startTimeout": 30,
     "dependsOn": [{"containerName": "init", "condition": "COMPLETE"}]})");
  Advance(absl::Seconds(29));
  EXPECT_EQ(Describe().desired_status(), "RUNNING");
  Advance(absl::Seconds(1));
  const v1::Task task = Describe();
  EXPECT_EQ(task.desired_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), HasSubstr("app was still waiting for init (COMPLETE)"));
  EXPECT_THAT(task.stopped_reason(), HasSubstr("startTimeout of 30 s"));
  EXPECT_THAT(Calls("SignalContainer"), Contains(absl::StrCat("init ", SIGTERM)));
}

TEST_F(TaskDependenciesTest, AnEssentialExitWhileOthersWaitStopsTheTask) {
  RunWith(R"(
    {"name": "db", "image": "skiff.local/busybox:test", "memory": 16},
    {"name": "init", "image": "skiff.local/busybox:test", "memory": 16, "essential": false,
     "dependsOn": [{"containerName": "db", "condition": "START"}]},
    {"name": "app", "image": "skiff.local/busybox:test", "memory": 16,
     "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]})");
  EXPECT_THAT(Calls("StartContainer"), ElementsAre("db", "init"));
  Exit("db", 2);
  const v1::Task task = Describe();
  EXPECT_EQ(task.stop_code(), "EssentialContainerExited");
  EXPECT_THAT(Calls("StartContainer"), Not(Contains("app")));
}

TEST_F(TaskDependenciesTest, ContainersStopInReverseDependencyOrderEachWithItsTimeout) {
  RunWith(R"(
    {"name": "db", "image": "skiff.local/busybox:test", "memory": 16, "stopTimeout": 20},
    {"name": "app", "image": "skiff.local/busybox:test", "memory": 16, "stopTimeout": 5,
     "dependsOn": [{"containerName": "db", "condition": "START"}]})");
  v1::StopTaskRequest stop;
  stop.set_task(id_);
  ASSERT_TRUE(tasks_->StopTask(stop).ok());
  Settle();
  // app first: db still serves it while it shuts down.
  EXPECT_THAT(Calls("SignalContainer"), ElementsAre(absl::StrCat("app ", SIGTERM)));
  Advance(absl::Seconds(5));
  EXPECT_THAT(Calls("SignalContainer"),
              ElementsAre(absl::StrCat("app ", SIGTERM), absl::StrCat("app ", SIGKILL)));
  Exit("app", 137);
  EXPECT_THAT(Calls("SignalContainer"),
              ElementsAre(absl::StrCat("app ", SIGTERM), absl::StrCat("app ", SIGKILL),
                          absl::StrCat("db ", SIGTERM)));
  Advance(absl::Seconds(19));
  EXPECT_EQ(Calls("SignalContainer").size(), 3u);  // db's own 20 s, counted from its SIGTERM.
  Advance(absl::Seconds(1));
  EXPECT_THAT(Calls("SignalContainer"), Contains(absl::StrCat("db ", SIGKILL)));
  Exit("db", 137);
  EXPECT_EQ(Describe().last_status(), "STOPPED");
}

constexpr char kCheckedApp[] = R"(
    {"name": "app", "image": "skiff.local/busybox:test", "memory": 16,
     "healthCheck": {"command": ["CMD-SHELL", "test -f /ok"], "interval": 5, "retries": 2}},
    {"name": "sidecar", "image": "skiff.local/busybox:test", "memory": 16, "essential": false,
     "healthCheck": {"command": ["CMD", "true"], "interval": 5, "retries": 1}})";

TEST_F(TaskDependenciesTest, TaskHealthComesFromTheEssentialContainers) {
  RunWith(kCheckedApp);
  v1::Task task = Describe();
  EXPECT_EQ(task.health_status(), "UNKNOWN");
  EXPECT_EQ(Container(task, "app").health_status(), "UNKNOWN");

  runtime_.ScriptExec(Rid("sidecar"), runtime::ExecResult{.exit_code = 1});
  Advance(absl::Seconds(5));
  task = Describe();
  EXPECT_EQ(Container(task, "app").health_status(), "HEALTHY");
  EXPECT_EQ(Container(task, "sidecar").health_status(), "UNHEALTHY");
  EXPECT_EQ(task.health_status(), "HEALTHY");  // The sidecar is not essential.

  runtime_.ScriptExec(Rid("app"), runtime::ExecResult{.exit_code = 1, .stdout_data = "gone\n"});
  Advance(absl::Seconds(5));
  EXPECT_EQ(Describe().health_status(), "HEALTHY");  // 1 failure of 2.
  Advance(absl::Seconds(5));
  task = Describe();
  EXPECT_EQ(task.health_status(), "UNHEALTHY");
  // A standalone task keeps running when unhealthy.
  EXPECT_EQ(task.desired_status(), "RUNNING");
  EXPECT_EQ(task.last_status(), "RUNNING");

  auto details = tasks_->ContainerHealth("", id_);
  ASSERT_TRUE(details.ok()) << details.status();
  ASSERT_EQ(details->size(), 2u);
  EXPECT_EQ((*details)[0].container_name(), "app");
  EXPECT_EQ((*details)[0].health_status(), "UNHEALTHY");
  EXPECT_EQ((*details)[0].consecutive_failures(), 2);
  EXPECT_EQ((*details)[0].last_exit_code(), 1);
  EXPECT_EQ((*details)[0].last_output(), "gone\n");
  EXPECT_EQ(tasks_->ContainerHealth("", "0123456789abcdef0123456789abcdef").status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(TaskDependenciesTest, NoChecksMeansUnknownAndNoExec) {
  RunWith(R"({"name": "app", "image": "skiff.local/busybox:test", "memory": 16})");
  Advance(absl::Minutes(2));
  EXPECT_EQ(Describe().health_status(), "UNKNOWN");
  EXPECT_FALSE(Container(Describe(), "app").has_health_status());
  EXPECT_TRUE(Calls("Exec").empty());
}

TEST_F(TaskDependenciesTest, AHealthyDependencyGatesTheApp) {
  RunWith(R"(
    {"name": "db", "image": "skiff.local/busybox:test", "memory": 16,
     "healthCheck": {"command": ["CMD", "true"], "interval": 10, "retries": 1}},
    {"name": "app", "image": "skiff.local/busybox:test", "memory": 16,
     "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]})");
  EXPECT_THAT(Calls("StartContainer"), ElementsAre("db"));
  Advance(absl::Seconds(9));
  EXPECT_THAT(Calls("StartContainer"), ElementsAre("db"));
  Advance(absl::Seconds(1));
  EXPECT_THAT(Calls("StartContainer"), ElementsAre("db", "app"));
  EXPECT_EQ(Describe().last_status(), "RUNNING");
  EXPECT_EQ(Describe().health_status(), "HEALTHY");
}

TEST_F(TaskDependenciesTest, ChecksStopWithTheContainer) {
  RunWith(kCheckedApp);
  Exit("app", 0);  // Essential: the task stops.
  Settle();
  EXPECT_EQ(health_.watched(), 0u);
  const size_t execs = Calls("Exec").size();
  Advance(absl::Minutes(1));
  EXPECT_EQ(Calls("Exec").size(), execs);
}

}  // namespace
}  // namespace skiff::scheduler
