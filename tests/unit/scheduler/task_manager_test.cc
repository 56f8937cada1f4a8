#include "skiff/scheduler/task_manager.h"

#include <algorithm>
#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fakes/fake_runtime.h"
#include "fakes/fake_runtime_health.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "fakes/scheduler_stack.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/states.h"

namespace skiff::scheduler {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr char kImage[] = "skiff.local/busybox:test";

class TaskManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_.AddImage(kImage);
    Open();
    Register(R"({"family": "web", "networkMode": "host", "containerDefinitions": [
        {"name": "app", "image": "skiff.local/busybox:test", "memory": 32},
        {"name": "sidecar", "image": "skiff.local/busybox:test", "memory": 16,
         "essential": false, "stopTimeout": 5}]})");
  }

  void Open() {
    stack_.reset();
    auto stack = fakes::SchedulerStack::Open(
        {.loop = &loop_,
         .executor = &executor_,
         .runtime = &runtime_,
         .clock = &clock_,
         .random = &random_},
        {.state_dir = dir_.path() + "/state",
         .tasks = {.image_puller = puller_.get(), .runtime_health = &runtime_health_}});
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
    store_ = &stack_->store();
    registry_ = &stack_->registry();
    tasks_ = &stack_->tasks();
    tasks_->AddListener(
        [this](const store::StoredTask& t) { changes_.push_back(t.task.last_status()); });
  }

  void Register(const std::string& json) {
    v1::RegisterTaskDefinitionRequest request;
    ASSERT_TRUE(model::DecodeMessageText(json, &request).ok());
    ASSERT_TRUE(registry_->Register(request).ok());
  }

  // Lets the loop and the executor answer each other until both are idle.
  void Settle() {
    while (loop_.RunPending() + executor_.RunAll() > 0) {
    }
  }

  absl::StatusOr<v1::RunTaskResponse> Run(const std::string& json = R"({"taskDefinition": "web"})") {
    v1::RunTaskRequest request;
    absl::Status decoded = model::DecodeMessageText(json, &request);
    if (!decoded.ok()) return decoded;
    return tasks_->RunTask(request);
  }

  std::string RunOne(const std::string& json = R"({"taskDefinition": "web"})") {
    auto response = Run(json);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->tasks().empty()) return "";
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

  absl::Status Stop(const std::string& id, const std::string& reason = "") {
    v1::StopTaskRequest request;
    request.set_task(id);
    if (!reason.empty()) request.set_reason(reason);
    return tasks_->StopTask(request).status();
  }

  fakes::TempDir dir_;
  SimulatedClock clock_;
  SeededRandom random_{1};
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  fakes::FakeRuntime runtime_;
  fakes::FakeRuntimeHealth runtime_health_;
  std::unique_ptr<ImagePuller> puller_;  // Set before Open() by tests that pull.
  std::unique_ptr<fakes::SchedulerStack> stack_;
  // The stack's parts.
  store::Store* store_ = nullptr;
  TaskDefinitionRegistry* registry_ = nullptr;
  TaskManager* tasks_ = nullptr;
  std::vector<std::string> changes_;
};

TEST_F(TaskManagerTest, TaskIsPersistedBeforeTheRuntimeIsAsked) {
  auto response = Run();
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->tasks_size(), 1);
  const v1::Task& task = response->tasks(0);
  EXPECT_EQ(task.desired_status(), "RUNNING");
  EXPECT_THAT(task.task_arn(),
              testing::StartsWith("arn:aws:ecs:local:000000000000:task/default/"));
  EXPECT_EQ(task.containers_size(), 2);
  // Nothing has reached the runtime yet, but the store already has the task.
  EXPECT_THAT(runtime_.calls(), IsEmpty());
  auto stored = store_->LoadTasks();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ((*stored)[0].task.containers(1).name(), "sidecar");
  EXPECT_THAT(changes_, ElementsAre("PROVISIONING", "PENDING"));
}

TEST_F(TaskManagerTest, LaunchCreatesThenStartsEveryContainer) {
  const std::string id = RunOne();
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "RUNNING");
  EXPECT_TRUE(task.has_started_at());
  EXPECT_EQ(task.containers(0).last_status(), "RUNNING");
  EXPECT_EQ(task.containers(0).runtime_id(), id + "-app");
  EXPECT_THAT(runtime_.calls(),
              ElementsAre(absl::StrCat("GetImage ", kImage), absl::StrCat("GetImage ", kImage),
                          "CreateContainer " + id + "-app", "CreateContainer " + id + "-sidecar",
                          "StartContainer " + id + "-app", "StartContainer " + id + "-sidecar"));
  EXPECT_EQ(runtime_.SpecOf(id + "-app").labels.at("skiff.task"), id);
  EXPECT_EQ(runtime_.SpecOf(id + "-app").labels.at("skiff.cluster"), "default");
}

TEST_F(TaskManagerTest, MissingImageFailsTheTaskWithoutCreatingAnything) {
  Register(R"({"family": "ghost", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/nothing:here", "memory": 32}]})");
  const std::string id = RunOne(R"({"taskDefinition": "ghost"})");
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), HasSubstr("CannotPullContainerError"));
  EXPECT_THAT(task.stopped_reason(), HasSubstr("skiff load-image"));
  EXPECT_THAT(runtime_.calls(), Not(Contains(HasSubstr("CreateContainer"))));
  EXPECT_EQ(task.containers(0).last_status(), "STOPPED");
}

TEST_F(TaskManagerTest, ImagesArePulledBeforeTheContainersAreCreated) {
  puller_ = std::make_unique<ImagePuller>(&runtime_, ImagePullerOptions{});
  Open();
  runtime_.AddRegistryImage("127.0.0.1:5000/app:latest", "sha256:pulled");
  Register(R"({"family": "pulled", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "127.0.0.1:5000/app", "memory": 32}]})");
  clock_.Advance(absl::Seconds(5));
  const std::string id = RunOne(R"({"taskDefinition": "pulled"})");
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "RUNNING");
  EXPECT_EQ(runtime_.pull_calls(), 1);
  EXPECT_EQ(task.containers(0).image_digest(), "sha256:pulled");
  EXPECT_GT(task.pull_started_at(), 0);
  EXPECT_GE(task.pull_stopped_at(), task.pull_started_at());
  const std::vector<std::string> calls = runtime_.calls();
  const auto pull = std::find(calls.begin(), calls.end(), "PullImage 127.0.0.1:5000/app:latest");
  const auto create = std::find(calls.begin(), calls.end(), "CreateContainer " + id + "-app");
  ASSERT_NE(pull, calls.end());
  EXPECT_LT(pull, create);
}

TEST_F(TaskManagerTest, AFailedPullStopsTheTaskNamingTheImageAndTheRegistrysError) {
  puller_ = std::make_unique<ImagePuller>(&runtime_, ImagePullerOptions{});
  Open();
  Register(R"({"family": "ghost", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "127.0.0.1:5000/ghost:1", "memory": 32}]})");
  const std::string id = RunOne(R"({"taskDefinition": "ghost"})");
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), HasSubstr("CannotPullContainerError"));
  EXPECT_THAT(task.stopped_reason(), HasSubstr("127.0.0.1:5000/ghost:1"));
  EXPECT_THAT(task.stopped_reason(), HasSubstr("MANIFEST_UNKNOWN"));
  EXPECT_THAT(runtime_.calls(), Not(Contains(HasSubstr("CreateContainer"))));
}

TEST_F(TaskManagerTest, StartFailureStopsWhatAlreadyRuns) {
  runtime_.FailNext("StartContainer", absl::OkStatus());
  runtime_.FailNext("StartContainer", absl::InternalError("runc: exec format error"));
  const std::string id = RunOne();
  Settle();
  v1::Task task = Describe(id);
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), HasSubstr("CannotStartContainerError"));
  EXPECT_THAT(runtime_.calls(), Contains("SignalContainer " + id + "-app 15"));
  EXPECT_EQ(task.last_status(), "STOPPING");
  runtime_.Exit(id + "-app", 143, clock_.Now());
  Settle();
  EXPECT_EQ(Describe(id).last_status(), "STOPPED");
}

TEST_F(TaskManagerTest, EssentialExitStopsTheTask) {
  const std::string id = RunOne();
  Settle();
  runtime_.Exit(id + "-app", 3, clock_.Now());
  Settle();
  v1::Task task = Describe(id);
  EXPECT_EQ(task.desired_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "EssentialContainerExited");
  EXPECT_EQ(task.stopped_reason(), "Essential container in task exited");
  EXPECT_EQ(task.containers(0).exit_code(), 3);
  EXPECT_EQ(task.last_status(), "STOPPING");  // The sidecar still runs.
  EXPECT_THAT(runtime_.calls(), Contains("SignalContainer " + id + "-sidecar 15"));
  runtime_.Exit(id + "-sidecar", 0, clock_.Now());
  Settle();
  task = Describe(id);
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_TRUE(task.has_stopped_at());
  EXPECT_TRUE(task.has_execution_stopped_at());
  EXPECT_THAT(runtime_.calls(), Contains("DeleteTask " + id + "-app"));
  // Every stage was observed, in order.
  EXPECT_THAT(changes_, Contains("DEPROVISIONING"));
  EXPECT_EQ(changes_.back(), "STOPPED");
}

TEST_F(TaskManagerTest, NonEssentialExitLeavesTheTaskRunning) {
  const std::string id = RunOne();
  Settle();
  runtime_.Exit(id + "-sidecar", 1, clock_.Now());
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "RUNNING");
  EXPECT_EQ(task.containers(1).last_status(), "STOPPED");
  EXPECT_EQ(task.containers(1).exit_code(), 1);
}

TEST_F(TaskManagerTest, StopSendsSigtermThenSigkillAfterTheStopTimeout) {
  const std::string id = RunOne();
  Settle();
  ASSERT_TRUE(Stop(id, "maintenance").ok());
  Settle();
  v1::Task task = Describe(id);
  EXPECT_EQ(task.desired_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "UserInitiated");
  EXPECT_EQ(task.stopped_reason(), "maintenance");
  EXPECT_EQ(task.last_status(), "STOPPING");
  EXPECT_THAT(runtime_.calls(), Contains("SignalContainer " + id + "-app 15"));
  EXPECT_THAT(runtime_.calls(), Not(Contains("SignalContainer " + id + "-app 9")));
  // The longest stopTimeout of the task (app: the 30 s default) decides.
  loop_.AdvanceTime(absl::Seconds(29));
  Settle();
  EXPECT_THAT(runtime_.calls(), Not(Contains("SignalContainer " + id + "-app 9")));
  loop_.AdvanceTime(absl::Seconds(1));
  Settle();
  EXPECT_THAT(runtime_.calls(), Contains("SignalContainer " + id + "-app 9"));
  runtime_.Exit(id + "-app", 137, clock_.Now());
  runtime_.Exit(id + "-sidecar", 137, clock_.Now());
  Settle();
  EXPECT_EQ(Describe(id).last_status(), "STOPPED");
}

TEST_F(TaskManagerTest, StopOfAnExitedTaskSendsNoSigkill) {
  const std::string id = RunOne();
  Settle();
  ASSERT_TRUE(Stop(id).ok());
  runtime_.Exit(id + "-app", 0, clock_.Now());
  runtime_.Exit(id + "-sidecar", 0, clock_.Now());
  Settle();
  EXPECT_EQ(Describe(id).stopped_reason(), "Task stopped by user");
  loop_.AdvanceTime(absl::Seconds(60));
  Settle();
  EXPECT_THAT(runtime_.calls(), Not(Contains("SignalContainer " + id + "-app 9")));
  EXPECT_THAT(runtime_.calls(), Not(Contains("SignalContainer " + id + "-sidecar 9")));
}

TEST_F(TaskManagerTest, AStopSentAgainNeverMovesTheTaskBackwards) {
  const int64_t before = BackwardTransitions();
  const std::string id = RunOne();
  Settle();
  ASSERT_TRUE(Stop(id, "first").ok());
  Settle();
  ASSERT_EQ(Describe(id).last_status(), "STOPPING");
  ASSERT_TRUE(Stop(id, "again while stopping").ok());
  runtime_.Exit(id + "-app", 0, clock_.Now());
  runtime_.Exit(id + "-sidecar", 0, clock_.Now());
  loop_.RunPending();  // The exits, not yet the executor's cleanup.
  ASSERT_EQ(Describe(id).last_status(), "DEPROVISIONING");
  ASSERT_TRUE(Stop(id, "again while deprovisioning").ok());
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_EQ(task.stopped_reason(), "first");
  ASSERT_TRUE(Stop(id, "again once stopped").ok());
  EXPECT_EQ(Describe(id).last_status(), "STOPPED");
  EXPECT_EQ(BackwardTransitions(), before);
}

TEST_F(TaskManagerTest, OomIsTheContainersReason) {
  const std::string id = RunOne();
  Settle();
  runtime_.Oom(id + "-app", clock_.Now());
  runtime_.Exit(id + "-app", 137, clock_.Now());
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_THAT(task.containers(0).reason(), HasSubstr("OutOfMemoryError"));
  EXPECT_EQ(task.containers(0).exit_code(), 137);
  EXPECT_EQ(task.stop_code(), "EssentialContainerExited");
}

TEST_F(TaskManagerTest, ExitDuringLaunchIsNotLost) {
  const std::string id = RunOne();
  // The launch runs; the app exits before the loop hears that it started.
  executor_.RunAll();
  runtime_.Exit(id + "-app", 0, clock_.Now());
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.containers(0).last_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "EssentialContainerExited");
  runtime_.Exit(id + "-sidecar", 0, clock_.Now());
  Settle();
  EXPECT_EQ(Describe(id).last_status(), "STOPPED");
}

TEST_F(TaskManagerTest, StoppedTasksAreRemovedAfterTheRetention) {
  const std::string id = RunOne();
  Settle();
  runtime_.Exit(id + "-app", 0, clock_.Now());
  runtime_.Exit(id + "-sidecar", 0, clock_.Now());
  Settle();
  ASSERT_EQ(Describe(id).last_status(), "STOPPED");
  loop_.AdvanceTime(absl::Minutes(59));
  Settle();
  EXPECT_TRUE(runtime_.HasContainer(id + "-app"));
  loop_.AdvanceTime(absl::Minutes(1));
  Settle();
  EXPECT_FALSE(runtime_.HasContainer(id + "-app"));
  EXPECT_FALSE(runtime_.HasContainer(id + "-sidecar"));
  v1::DescribeTasksRequest request;
  request.add_tasks(id);
  auto response = tasks_->DescribeTasks(request);
  ASSERT_TRUE(response.ok());
  ASSERT_EQ(response->failures_size(), 1);
  EXPECT_EQ(response->failures(0).reason(), "MISSING");
  EXPECT_THAT(*store_->LoadTasks(), IsEmpty());
}

TEST_F(TaskManagerTest, TasksSurviveARestartOfTheManager) {
  const std::string id = RunOne();
  Settle();
  Open();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "RUNNING");
  // Exits still find their task after the restart.
  runtime_.Exit(id + "-app", 2, clock_.Now());
  Settle();
  EXPECT_EQ(Describe(id).stop_code(), "EssentialContainerExited");
}

// The manager keeps its tasks lean in memory (no ARNs, no container sizes); every record that
// leaves it is the whole ECS task, the same in the store, to listeners and in answers.
TEST_F(TaskManagerTest, RecordsLeaveTheManagerWhole) {
  Register(R"({"family": "sized", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "cpu": 128, "memory": 32,
       "memoryReservation": 16}]})");
  std::vector<v1::Task> heard;
  tasks_->AddListener([&heard](const store::StoredTask& t) { heard.push_back(t.task); });
  auto response = Run(R"({"taskDefinition": "sized"})");
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->tasks_size(), 1);
  Settle();
  const std::string arn = response->tasks(0).task_arn();
  const std::string id = arn.substr(arn.rfind('/') + 1);
  const v1::Task described = Describe(id);
  EXPECT_EQ(model::EncodeMessageCompact(described),
            absl::StrCat(R"({"clusterArn":"arn:aws:ecs:local:000000000000:cluster/default",)",
                         R"("containers":[{"containerArn":)",
                         R"("arn:aws:ecs:local:000000000000:container/default/)", id, R"(/app",)",
                         R"("taskArn":")", arn, R"(","name":"app",)",
                         R"("image":"skiff.local/busybox:test","runtimeId":")", id, R"(-app",)",
                         R"("lastStatus":"RUNNING","cpu":"128","memory":"32",)",
                         R"("memoryReservation":"16"}],)",
                         R"("createdAt":1700000000.0,"desiredStatus":"RUNNING",)",
                         R"("group":"family:sized","healthStatus":"UNKNOWN",)",
                         R"("lastStatus":"RUNNING","launchType":"EC2","overrides":{},)",
                         R"("pullStartedAt":1700000000.0,"pullStoppedAt":1700000000.0,)",
                         R"("startedAt":1700000000.0,"taskArn":")", arn, R"(",)",
                         R"("taskDefinitionArn":)",
                         R"("arn:aws:ecs:local:000000000000:task-definition/sized:1",)",
                         R"("version":3})"));
  ASSERT_FALSE(heard.empty());
  EXPECT_EQ(model::EncodeMessageCompact(heard.back()), model::EncodeMessageCompact(described));
  auto stored = store_->LoadTasks();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_EQ(model::EncodeMessageCompact((*stored)[0].task), model::EncodeMessageCompact(described));
  EXPECT_EQ(model::EncodeMessageCompact(response->tasks(0).containers(0)),
            model::EncodeMessageCompact(heard.front().containers(0)));
}

// A stored row whose derived fields do not say what skiffd would derive today (an older skiffd
// wrote it, or someone edited it) is answered and written back as it was.
TEST_F(TaskManagerTest, ARowUnlikeItsDerivationComesBackAsItWas) {
  const std::string id = RunOne();
  Settle();
  ASSERT_TRUE(Stop(id).ok());
  Settle();
  runtime_.Exit(id + "-app", 0, clock_.Now());
  runtime_.Exit(id + "-sidecar", 0, clock_.Now());
  Settle();
  auto stored = store_->LoadTasks();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  store::StoredTask row = (*stored)[0];
  ASSERT_EQ(row.task.last_status(), "STOPPED");
  row.task.mutable_containers(0)->set_task_arn("arn:aws:ecs:elsewhere:1:task/x/y");
  row.task.mutable_containers(1)->clear_container_arn();
  row.task.mutable_containers(1)->set_memory("17");
  row.task.clear_overrides();
  ASSERT_TRUE(store_->PutTask(row).ok());
  Open();
  EXPECT_EQ(model::EncodeMessageCompact(Describe(id)), model::EncodeMessageCompact(row.task));
}

// A row of an older skiffd may name a container otherwise than <task id>-<name>: its events
// still find their task after a restart.
TEST_F(TaskManagerTest, AContainerWithAnOlderRuntimeIdStillHearsItsExit) {
  const std::string id = RunOne();
  Settle();
  auto stored = store_->LoadTasks();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 1u);
  store::StoredTask row = (*stored)[0];
  const std::string legacy = "legacy-" + id + "-app";
  ASSERT_EQ(row.task.containers(0).name(), "app");
  row.task.mutable_containers(0)->set_runtime_id(legacy);
  ASSERT_TRUE(store_->PutTask(row).ok());
  Open();
  EXPECT_EQ(Describe(id).containers(0).runtime_id(), legacy);
  runtime_.Exit(legacy, 2, clock_.Now());
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.stop_code(), "EssentialContainerExited");
  EXPECT_EQ(task.containers(0).exit_code(), 2);
}

TEST_F(TaskManagerTest, ARestartDuringLaunchFailsTheTaskAndStopsWhatStarted) {
  const std::string id = RunOne();
  executor_.RunAll();  // Both containers start...
  loop_.DropPending();  // ...and skiffd dies before the loop hears of it.
  Open();
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  v1::Task task = Describe(id);
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), HasSubstr("restarted"));
  EXPECT_THAT(runtime_.calls(), Contains("SignalContainer " + id + "-app 15"));
  EXPECT_THAT(runtime_.calls(), Contains("SignalContainer " + id + "-sidecar 15"));
  runtime_.Exit(id + "-app", 143, clock_.Now());
  runtime_.Exit(id + "-sidecar", 143, clock_.Now());
  Settle();
  EXPECT_EQ(Describe(id).last_status(), "STOPPED");
}

// Resync listeners (the service manager's pass, the daemon's readiness) run in the order they
// were added, after each resync has recorded what the runtime ran meanwhile.
TEST_F(TaskManagerTest, ResyncListenersRunInOrderOnceTheMissedExitsAreRecorded) {
  const std::string id = RunOne();
  Settle();
  std::vector<std::string> heard;
  tasks_->AddResyncListener([&] { heard.push_back("first " + Describe(id).desired_status()); });
  tasks_->AddResyncListener([&] { heard.push_back("second"); });
  runtime_.DropEvents(true);  // The stream is down: nobody hears the exit.
  runtime_.Exit(id + "-app", 137, clock_.Now());
  runtime_.DropEvents(false);
  Settle();
  EXPECT_THAT(heard, IsEmpty());
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  EXPECT_THAT(heard, ElementsAre("first STOPPED", "second"));
  // A stream that comes up again without having been lost needs no resync.
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  EXPECT_EQ(heard.size(), 2u);
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamLost});
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  EXPECT_EQ(heard.size(), 4u);
}

TEST_F(TaskManagerTest, AStopInterruptedByARestartIsFinished) {
  const std::string id = RunOne();
  Settle();
  ASSERT_TRUE(Stop(id).ok());
  Settle();
  loop_.DropPending();  // The SIGKILL timer dies with skiffd.
  Open();
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  loop_.AdvanceTime(absl::Seconds(30));
  Settle();
  EXPECT_THAT(runtime_.calls(), Contains("SignalContainer " + id + "-app 9"));
}

TEST_F(TaskManagerTest, ResyncAfterALostStreamFindsExitsThatWereMissed) {
  const std::string id = RunOne();
  Settle();
  ASSERT_TRUE(runtime_.RemoveContainer(id + "-app").ok());  // Gone while nobody listened.
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamLost});
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.containers(0).last_status(), "STOPPED");
  EXPECT_EQ(task.containers(0).exit_code(), 255);
  EXPECT_EQ(task.desired_status(), "STOPPED");
}

TEST_F(TaskManagerTest, ResyncRemovesLabelledOrphansAndLeavesOthersAlone) {
  const std::string id = RunOne();
  Settle();
  // A container skiffd created but never recorded (it died in between), and one that is not ours.
  runtime::ContainerSpec orphan{.id = "0123456789abcdef0123456789abcdef-app", .image = kImage};
  orphan.labels = {{"skiff.task", "0123456789abcdef0123456789abcdef"}};
  ASSERT_TRUE(runtime_.CreateContainer(orphan).ok());
  ASSERT_TRUE(runtime_.StartContainer(orphan.id).ok());
  runtime::ContainerSpec foreign{.id = "someone-elses", .image = kImage};
  ASSERT_TRUE(runtime_.CreateContainer(foreign).ok());
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  EXPECT_FALSE(runtime_.HasContainer(orphan.id));
  EXPECT_TRUE(runtime_.HasContainer("someone-elses"));
  EXPECT_TRUE(runtime_.IsRunning(id + "-app"));  // Known tasks are adopted, not touched.
  EXPECT_EQ(Describe(id).last_status(), "RUNNING");
}

TEST_F(TaskManagerTest, AnExitMissedWhileAwayKeepsItsRealCodeAndTime) {
  const std::string id = RunOne();
  Settle();
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamLost});
  const absl::Time exited = clock_.Now() + absl::Seconds(5);
  runtime_.DropEvents(true);
  runtime_.Exit(id + "-app", 42, exited);
  runtime_.Exit(id + "-sidecar", 0, exited);
  runtime_.DropEvents(false);
  clock_.Advance(absl::Minutes(1));
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.containers(0).exit_code(), 42);
  EXPECT_EQ(task.stop_code(), "EssentialContainerExited");
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_DOUBLE_EQ(task.execution_stopped_at(),
                   absl::ToDoubleSeconds(exited - absl::UnixEpoch()));
}

TEST_F(TaskManagerTest, WhileTheRuntimeIsAwayLaunchesFailFastAndNothingIsStopped) {
  const std::string id = RunOne();
  Settle();
  // The daemon's RuntimeMonitor hears the stream's loss too and says containerd is down.
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamLost});
  runtime_health_.up = false;
  auto refused = Run();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("containerd unavailable"));
  EXPECT_EQ(Describe(id).last_status(), "RUNNING");
  EXPECT_EQ(Describe(id).desired_status(), "RUNNING");
  runtime_health_.up = true;
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  EXPECT_EQ(Describe(id).last_status(), "RUNNING");  // Still running: adopted, not restarted.
  EXPECT_TRUE(Run().ok());
}

TEST_F(TaskManagerTest, RunTaskRejectsBadInputNamingTheField) {
  auto zero = Run(R"({"taskDefinition": "web", "count": 0})");
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zero.status().message(), HasSubstr("count"));
  auto eleven = Run(R"({"taskDefinition": "web", "count": 11})");
  EXPECT_EQ(eleven.status().code(), absl::StatusCode::kInvalidArgument);
  auto missing = Run(R"({"taskDefinition": "nope"})");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  auto bad_override = Run(R"({"taskDefinition": "web",
      "overrides": {"containerOverrides": [{"name": "other"}]}})");
  EXPECT_EQ(bad_override.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_override.status().message(),
              HasSubstr("overrides.containerOverrides[0].name"));
  EXPECT_EQ(model::EcsExceptionName(bad_override.status()), "InvalidParameterException");
  const std::pair<const char*, const char*> kBadOverrides[] = {
      {R"({"cpu": "lots"})", "overrides.cpu"},
      {R"({"memory": "2"})", "overrides.memory"},
      {R"({"containerOverrides": [{"name": "app", "cpu": -1}]})",
       "overrides.containerOverrides[0].cpu"},
      {R"({"containerOverrides": [{"name": "app", "memory": 1}]})",
       "overrides.containerOverrides[0].memory"},
      {R"({"containerOverrides": [{"name": "app", "memoryReservation": 0}]})",
       "overrides.containerOverrides[0].memoryReservation"},
      {R"({"containerOverrides": [{"name": "app", "environment": [{"value": "x"}]}]})",
       "overrides.containerOverrides[0].environment[0].name"},
  };
  for (const auto& [overrides, field] : kBadOverrides) {
    auto bad = Run(absl::StrCat(R"({"taskDefinition": "web", "overrides": )", overrides, "}"));
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << overrides;
    EXPECT_THAT(bad.status().message(), HasSubstr(field)) << overrides;
  }
  EXPECT_THAT(*store_->LoadTasks(), IsEmpty());  // Nothing was persisted for refused requests.
  EXPECT_THAT(runtime_.calls(), IsEmpty());
}

TEST_F(TaskManagerTest, StopOfAnUnknownTaskIsNotFound) {
  absl::Status status = Stop("0123456789abcdef0123456789abcdef");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Stop("not-a-task").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TaskManagerTest, ListTasksFiltersAndPages) {
  Register(R"({"family": "api", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 32}]})");
  auto three = Run(R"({"taskDefinition": "web", "count": 3, "startedBy": "ci"})");
  ASSERT_TRUE(three.ok()) << three.status();
  const std::string api = RunOne(R"({"taskDefinition": "api"})");
  Settle();
  v1::ListTasksRequest request;
  request.set_family("web");
  auto web = tasks_->ListTasks(request);
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(web->task_arns_size(), 3);
  request.Clear();
  request.set_started_by("ci");
  request.set_max_results(2);
  auto page = tasks_->ListTasks(request);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->task_arns_size(), 2);
  ASSERT_TRUE(page->has_next_token());
  request.set_next_token(page->next_token());
  auto rest = tasks_->ListTasks(request);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->task_arns_size(), 1);
  // Stopped tasks only show with desiredStatus STOPPED.
  ASSERT_TRUE(Stop(api).ok());
  request.Clear();
  request.set_family("api");
  EXPECT_EQ(tasks_->ListTasks(request)->task_arns_size(), 0);
  request.set_desired_status("STOPPED");
  EXPECT_EQ(tasks_->ListTasks(request)->task_arns_size(), 1);
}

TEST_F(TaskManagerTest, OverridesAreRecordedOnTheTask) {
  const std::string id = RunOne(R"({"taskDefinition": "web", "group": "g1",
      "overrides": {"cpu": "512", "containerOverrides": [{"name": "app", "command": ["true"]}]}})");
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.group(), "g1");
  EXPECT_EQ(task.cpu(), "512");
  EXPECT_EQ(task.overrides().container_overrides(0).command(0), "true");
}

TEST_F(TaskManagerTest, HostPortsAreTheContainersNetworkBindings) {
  Register(R"({"family": "served", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
       "portMappings": [{"containerPort": 8080}, {"containerPort": 53, "protocol": "udp"}]}]})");
  const v1::Task task = Describe(RunOne(R"({"taskDefinition": "served"})"));
  ASSERT_EQ(task.containers(0).network_bindings_size(), 2);
  EXPECT_EQ(task.containers(0).network_bindings(0).host_port(), 8080);
  EXPECT_EQ(task.containers(0).network_bindings(0).protocol(), "tcp");
  EXPECT_EQ(task.containers(0).network_bindings(1).protocol(), "udp");
}

TEST_F(TaskManagerTest, FindContainersForLogsAndExec) {
  const std::string id = RunOne();
  Settle();
  auto all = tasks_->FindContainers("", id, "");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_TRUE((*all)[0].running);
  EXPECT_THAT((*all)[0].log_path, testing::EndsWith("/tasks/" + id + "/app.log"));
  EXPECT_EQ(tasks_->FindContainers("", id, "nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(tasks_->FindContainers("other", id, "").status().code(), absl::StatusCode::kNotFound);
}

// The ids of the tasks a fresh TaskManager (its own store, loop and runtime) runs first, with
// ids drawn from SeededRandom(seed).
std::vector<std::string> FirstTaskIds(uint64_t seed) {
  fakes::TempDir dir;
  SimulatedClock clock;
  SeededRandom random(seed);
  fakes::ManualEventLoop loop(&clock);
  fakes::ManualExecutor executor;
  fakes::FakeRuntime runtime;
  auto stack = fakes::SchedulerStack::Open(
      {.loop = &loop, .executor = &executor, .runtime = &runtime, .clock = &clock, .random = &random},
      {.state_dir = dir.path() + "/state"});
  EXPECT_TRUE(stack.ok()) << stack.status();
  if (!stack.ok()) return {};
  v1::RegisterTaskDefinitionRequest definition;
  EXPECT_TRUE(model::DecodeMessageText(R"({"family": "web", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 32}]})",
                                       &definition)
                  .ok());
  EXPECT_TRUE((*stack)->registry().Register(definition).ok());
  v1::RunTaskRequest request;
  request.set_task_definition("web");
  request.set_count(3);
  auto response = (*stack)->tasks().RunTask(request);
  EXPECT_TRUE(response.ok()) << response.status();
  std::vector<std::string> ids;
  if (!response.ok()) return ids;
  for (const v1::Task& task : response->tasks()) {
    ids.push_back(task.task_arn().substr(task.task_arn().rfind('/') + 1));
  }
  return ids;
}

TEST(TaskIdTest, TheSameSeedGivesTheSameTaskIds) {
  const std::vector<std::string> first = FirstTaskIds(7);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(FirstTaskIds(7), first);
  EXPECT_NE(FirstTaskIds(8), first);
  for (const std::string& id : first) EXPECT_THAT(id, testing::MatchesRegex("[0-9a-f]{32}"));
  EXPECT_NE(first[0], first[1]);
}

// containerd that has just restarted can answer the first calls Unavailable: the image lookup
// is asked again through the loop's timers (50 ms, then 100 ms), and no thread sleeps.
TEST_F(TaskManagerTest, AnUnavailableImageLookupIsRetriedOnTheLoopsTimers) {
  Register(R"({"family": "solo", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 32}]})");
  runtime_.FailNext("GetImage", absl::UnavailableError("broken pipe"));
  runtime_.FailNext("GetImage", absl::UnavailableError("broken pipe"));
  const absl::Time start = clock_.MonotonicNow();
  const std::string id = RunOne(R"({"taskDefinition": "solo"})");
  Settle();
  EXPECT_EQ(Describe(id).last_status(), "PENDING");
  EXPECT_THAT(runtime_.calls(), ElementsAre(absl::StrCat("GetImage ", kImage)));
  EXPECT_EQ(loop_.next_deadline(), start + absl::Milliseconds(50));

  loop_.AdvanceTime(absl::Milliseconds(50));
  Settle();
  EXPECT_EQ(Describe(id).last_status(), "PENDING");
  EXPECT_EQ(loop_.next_deadline(), start + absl::Milliseconds(150));

  loop_.AdvanceTime(absl::Milliseconds(100));
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "RUNNING");
  EXPECT_THAT(runtime_.calls(),
              ElementsAre(absl::StrCat("GetImage ", kImage), absl::StrCat("GetImage ", kImage),
                          absl::StrCat("GetImage ", kImage), "CreateContainer " + id + "-app",
                          "StartContainer " + id + "-app"));
  EXPECT_EQ(clock_.MonotonicNow() - start, absl::Milliseconds(150));
}

TEST_F(TaskManagerTest, AnImageLookupStillUnavailableAfterTheBackOffFailsTheTask) {
  Register(R"({"family": "solo", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 32}]})");
  for (int i = 0; i < 6; ++i) {
    runtime_.FailNext("GetImage", absl::UnavailableError("containerd is down"));
  }
  const std::string id = RunOne(R"({"taskDefinition": "solo"})");
  Settle();
  // 50 + 100 + 200 + 400 + 800 ms: five more lookups, then the task fails.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Describe(id).last_status(), "PENDING") << i;
    loop_.AdvanceTime(loop_.next_deadline() - clock_.MonotonicNow());
    Settle();
  }
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), HasSubstr("CannotPullContainerError: containerd is down"));
  EXPECT_EQ(runtime_.calls().size(), 6u);
  EXPECT_THAT(runtime_.calls(), Not(Contains(HasSubstr("CreateContainer"))));
}

TEST_F(TaskManagerTest, AStopDuringTheImageLookupsBackOffStopsTheTaskWithoutCreatingIt) {
  Register(R"({"family": "solo", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 32}]})");
  runtime_.FailNext("GetImage", absl::UnavailableError("broken pipe"));
  const std::string id = RunOne(R"({"taskDefinition": "solo"})");
  Settle();
  ASSERT_TRUE(Stop(id, "not now").ok());
  loop_.AdvanceTime(absl::Milliseconds(50));
  Settle();
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "UserInitiated");
  EXPECT_EQ(task.stopped_reason(), "not now");
  EXPECT_THAT(runtime_.calls(), ElementsAre(absl::StrCat("GetImage ", kImage)));
}

}  // namespace
}  // namespace skiff::scheduler
