// Restart policies (src/scheduler/task_restarts.cc), in simulated time with the fake runtime:
// given a task whose container has a restartPolicy, when the container exits, these runtime
// calls and this record.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "fakes/fake_runtime.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "fakes/scheduler_stack.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::scheduler {
namespace {

using ::testing::Contains;
using ::testing::Not;

constexpr char kImage[] = "skiff.local/busybox:test";

class TaskRestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_.AddImage(kImage);
    Open();
    // "app" restarts after 60 s of running unless it exits 0; "sidecar" (not essential) after
    // the default 300 s.
    Register(R"({"family": "web", "networkMode": "host", "containerDefinitions": [
        {"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
         "restartPolicy": {"enabled": true, "ignoredExitCodes": [0],
                           "restartAttemptPeriod": 60}},
        {"name": "sidecar", "image": "skiff.local/busybox:test", "memory": 16,
         "essential": false, "restartPolicy": {"enabled": true}}]})");
  }

  void Open() {
    stack_.reset();
    auto stack = fakes::SchedulerStack::Open(
        {.loop = &loop_, .executor = &executor_, .runtime = &runtime_, .clock = &clock_,
         .random = &random_},
        {.state_dir = dir_.path() + "/state"});
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    tasks_ = &stack_->tasks();
  }

  void Register(const std::string& json) {
    v1::RegisterTaskDefinitionRequest request;
    ASSERT_TRUE(model::DecodeMessageText(json, &request).ok());
    ASSERT_TRUE(stack_->registry().Register(request).ok());
  }

  void Settle() {
    while (loop_.RunPending() + executor_.RunAll() > 0) {
    }
  }

  // Runs a task of "web" until its containers run; its id.
  std::string RunOne() {
    v1::RunTaskRequest request;
    request.set_task_definition("web");
    auto response = tasks_->RunTask(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->tasks().empty()) return "";
    Settle();
    const std::string arn = response->tasks(0).task_arn();
    return arn.substr(arn.rfind('/') + 1);
  }

  v1::Task Describe(const std::string& id) {
    v1::DescribeTasksRequest request;
    request.add_tasks(id);
    auto response = tasks_->DescribeTasks(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->tasks().empty()) return v1::Task();
    return response->tasks(0);
  }

  int RestartCount(const std::string& id, const std::string& container) {
    auto found = tasks_->FindContainers("", id, container);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() ? (*found)[0].restart_count : -1;
  }

  int Starts(const std::string& runtime_id) {
    const std::vector<std::string> calls = runtime_.calls();
    return static_cast<int>(std::count(calls.begin(), calls.end(), "StartContainer " + runtime_id));
  }

  // The container's restart count and last start as the store has them.
  v1::ContainerRestarts::Entry Stored(const std::string& id, const std::string& container) {
    auto tasks = stack_->store().LoadTasks();
    EXPECT_TRUE(tasks.ok()) << tasks.status();
    for (const store::StoredTask& t : *tasks) {
      if (t.id != id) continue;
      for (const auto& e : t.restarts.containers()) {
        if (e.container_name() == container) return e;
      }
    }
    return {};
  }

  fakes::TempDir dir_;
  SimulatedClock clock_;
  SeededRandom random_{1};
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  fakes::FakeRuntime runtime_;
  std::unique_ptr<fakes::SchedulerStack> stack_;
  TaskManager* tasks_ = nullptr;
};

TEST_F(TaskRestartTest, AnExitAfterThePeriodRestartsInPlaceAndTheTaskRuns) {
  const std::string id = RunOne();
  const std::string app = id + "-app";
  clock_.Advance(absl::Seconds(61));
  runtime_.Exit(app, 1, clock_.Now());
  Settle();
  // The same container again: its exited task deleted, a new one started; nothing removed.
  EXPECT_EQ(Starts(app), 2);
  EXPECT_THAT(runtime_.calls(), Contains("DeleteTask " + app));
  EXPECT_THAT(runtime_.calls(), Not(Contains("RemoveContainer " + app)));
  EXPECT_TRUE(runtime_.IsRunning(app));
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "RUNNING");
  EXPECT_EQ(task.desired_status(), "RUNNING");
  EXPECT_EQ(task.containers(0).last_status(), "RUNNING");
  EXPECT_FALSE(task.containers(0).has_exit_code());
  EXPECT_EQ(RestartCount(id, "app"), 1);
  EXPECT_EQ(Stored(id, "app").restart_count(), 1);
  EXPECT_EQ(Stored(id, "app").last_started_at(),
            absl::ToDoubleSeconds(clock_.Now() - absl::UnixEpoch()));

  // The period counts from the restart: a second run of 61 s restarts again.
  clock_.Advance(absl::Seconds(61));
  runtime_.Exit(app, 137, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(app), 3);
  EXPECT_EQ(RestartCount(id, "app"), 2);
  EXPECT_EQ(Describe(id).last_status(), "RUNNING");
}

TEST_F(TaskRestartTest, AnExitBeforeThePeriodIsNotRestartedAndStopsTheTask) {
  const std::string id = RunOne();
  const std::string app = id + "-app";
  clock_.Advance(absl::Seconds(59));
  runtime_.Exit(app, 1, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(app), 1);
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.desired_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "EssentialContainerExited");
  EXPECT_EQ(task.stopped_reason(), "Essential container in task exited");
  EXPECT_EQ(task.containers(0).exit_code(), 1);
  EXPECT_EQ(RestartCount(id, "app"), 0);
}

TEST_F(TaskRestartTest, AnExitBeforeThePeriodSinceTheLastRestartIsNotRestarted) {
  const std::string id = RunOne();
  const std::string app = id + "-app";
  clock_.Advance(absl::Seconds(60));
  runtime_.Exit(app, 1, clock_.Now());
  Settle();
  ASSERT_EQ(RestartCount(id, "app"), 1);
  clock_.Advance(absl::Seconds(30));  // 90 s since the task started, 30 s since the restart.
  runtime_.Exit(app, 1, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(app), 2);
  EXPECT_EQ(Describe(id).stop_code(), "EssentialContainerExited");
}

TEST_F(TaskRestartTest, AnIgnoredExitCodeIsNotRestarted) {
  const std::string id = RunOne();
  clock_.Advance(absl::Minutes(10));
  runtime_.Exit(id + "-app", 0, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(id + "-app"), 1);
  EXPECT_EQ(Describe(id).stop_code(), "EssentialContainerExited");
}

TEST_F(TaskRestartTest, TheDefaultPeriodIsFiveMinutes) {
  const std::string id = RunOne();
  const std::string sidecar = id + "-sidecar";
  clock_.Advance(absl::Seconds(299));
  runtime_.Exit(sidecar, 1, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(sidecar), 1);  // Not restarted; not essential, so the task runs on.
  v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "RUNNING");
  EXPECT_EQ(task.containers(1).last_status(), "STOPPED");

  const std::string other = RunOne();
  clock_.Advance(absl::Seconds(300));
  runtime_.Exit(other + "-sidecar", 1, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(other + "-sidecar"), 2);
  EXPECT_EQ(RestartCount(other, "sidecar"), 1);
}

TEST_F(TaskRestartTest, AContainerOfATaskToStopIsNeverRestarted) {
  const std::string id = RunOne();
  const std::string app = id + "-app";
  clock_.Advance(absl::Minutes(5));
  v1::StopTaskRequest stop;
  stop.set_task(id);
  ASSERT_TRUE(tasks_->StopTask(stop).ok());
  Settle();
  runtime_.Exit(app, 143, clock_.Now());
  runtime_.Exit(id + "-sidecar", 143, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(app), 1);
  EXPECT_EQ(Describe(id).last_status(), "STOPPED");
  EXPECT_EQ(RestartCount(id, "app"), 0);
}

TEST_F(TaskRestartTest, AStopDuringTheRestartWinsOverIt) {
  const std::string id = RunOne();
  const std::string app = id + "-app";
  clock_.Advance(absl::Minutes(5));
  runtime_.Exit(app, 1, clock_.Now());
  loop_.RunPending();  // The exit is heard: its task's deletion is queued, not yet run.
  v1::StopTaskRequest stop;
  stop.set_task(id);
  ASSERT_TRUE(tasks_->StopTask(stop).ok());
  Settle();
  runtime_.Exit(id + "-sidecar", 143, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(app), 1);  // Deleted, never started again.
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_EQ(task.containers(0).exit_code(), 1);
}

TEST_F(TaskRestartTest, ARestartThatFailsToStartStopsTheTask) {
  const std::string id = RunOne();
  const std::string app = id + "-app";
  clock_.Advance(absl::Minutes(5));
  runtime_.FailNext("StartContainer", absl::InternalError("runc: exec format error"));
  runtime_.Exit(app, 1, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(app), 2);  // Tried once; not again.
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.stop_code(), "EssentialContainerExited");
  EXPECT_EQ(task.containers(0).exit_code(), 1);
  EXPECT_EQ(task.containers(0).reason(),
            "CannotStartContainerError: restart: runc: exec format error");
}

TEST_F(TaskRestartTest, CountsAndStartsSurviveARestartOfSkiffd) {
  const std::string id = RunOne();
  const std::string app = id + "-app";
  clock_.Advance(absl::Seconds(61));
  runtime_.Exit(app, 1, clock_.Now());
  Settle();
  ASSERT_EQ(RestartCount(id, "app"), 1);
  Open();  // A new manager, from the store.
  EXPECT_EQ(RestartCount(id, "app"), 1);
  // The period counts from the restart before skiffd's: 30 s later is too early...
  clock_.Advance(absl::Seconds(30));
  runtime_.Exit(app, 1, clock_.Now());
  Settle();
  EXPECT_EQ(Starts(app), 2);
  EXPECT_EQ(Describe(id).stop_code(), "EssentialContainerExited");
}

TEST_F(TaskRestartTest, AnExitMissedWhileSkiffdWasDownIsRestartedAtResync) {
  const std::string id = RunOne();
  const std::string app = id + "-app";
  stack_.reset();  // skiffd goes down; the container exits meanwhile.
  clock_.Advance(absl::Seconds(90));
  runtime_.Exit(app, 2, clock_.Now());
  Open();
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  EXPECT_EQ(Starts(app), 2);
  EXPECT_TRUE(runtime_.IsRunning(app));
  EXPECT_EQ(Describe(id).last_status(), "RUNNING");
  EXPECT_EQ(RestartCount(id, "app"), 1);
  EXPECT_EQ(Stored(id, "app").restart_count(), 1);
}

}  // namespace
}  // namespace skiff::scheduler
