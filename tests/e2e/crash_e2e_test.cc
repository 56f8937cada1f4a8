// Crash safety with a real skiffd: SIGKILL at any moment (or at the named crash points of
// SKIFF_CRASH_AT) and a restart must leave every workload as it was: same container processes,
// no task lost or duplicated, the store and skiff's containers matching one to one.
#include <signal.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "skiff/v1/skiff.grpc.pb.h"
#include "skiffd_process.h"
#include "support/containerd_fixture.h"

namespace skiff::e2e {
namespace {

using ::testing::SizeIs;

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_ROOT_AND_CONTAINERD();
    auto containerd = skiff::testing::PrivateContainerd::Start();
    ASSERT_TRUE(containerd.ok()) << containerd.status();
    containerd_ = *std::move(containerd);
    NewSkiffd();
  }

  // A fresh skiffd (own state dir and namespace) on the same containerd.
  void NewSkiffd() {
    auto skiffd = SkiffdProcess::Create();
    ASSERT_TRUE(skiffd.ok()) << skiffd.status();
    skiffd_ = *std::move(skiffd);
    ns_ = containerd_->UniqueNamespace(absl::StrCat("skiff-crash", ++instances_));
  }

  void Start(const std::vector<std::string>& env = {}, bool wait = true) {
    ASSERT_TRUE(skiffd_
                    ->Start({"--containerd-address", containerd_->socket_path(), "--namespace", ns_,
                             "--runc-root", containerd_->runc_root()},
                            env)
                    .ok());
    stub_ = v1::Ecs::NewStub(
        grpc::CreateChannel("unix:" + skiffd_->socket(), grpc::InsecureChannelCredentials()));
    if (!wait) return;
    absl::Status ready = skiffd_->WaitReady();
    ASSERT_TRUE(ready.ok()) << ready;
  }

  void Kill9() {
    absl::StatusOr<int> code = skiffd_->Signal(SIGKILL);
    ASSERT_TRUE(code.ok()) << code.status();
  }

  void Setup(int revisions = 1) {
    absl::StatusOr<std::string> tarball = skiff::testing::TestImageTarball();
    ASSERT_TRUE(tarball.ok()) << tarball.status();
    skiff::testing::CommandResult loaded = skiffd_->Skiff({"load-image", "--input", *tarball});
    ASSERT_EQ(loaded.exit_code, 0) << loaded.stderr_text;
    for (int i = 0; i < revisions; ++i) {
      v1::RegisterTaskDefinitionRequest request;
      request.set_family("sleeper");
      request.set_network_mode("none");
      v1::ContainerDefinition* c = request.add_container_definitions();
      c->set_name("app");
      c->set_image(skiff::testing::kTestImageRef);
      c->set_memory(16);
      c->add_command("sleep");
      c->add_command(absl::StrCat(3600 + i));
      c->set_stop_timeout(1);
      grpc::ClientContext context;
      v1::RegisterTaskDefinitionResponse response;
      grpc::Status s = stub_->RegisterTaskDefinition(&context, request, &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }

  grpc::Status CreateService(const std::string& name, int count) {
    v1::CreateServiceRequest request;
    request.set_service_name(name);
    request.set_task_definition("sleeper:1");
    request.set_desired_count(count);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CreateServiceResponse response;
    return stub_->CreateService(&context, request, &response);
  }

  absl::StatusOr<v1::Service> DescribeService(const std::string& name) {
    v1::DescribeServicesRequest request;
    request.add_services(name);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::DescribeServicesResponse response;
    grpc::Status s = stub_->DescribeServices(&context, request, &response);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    if (response.services().empty()) return absl::NotFoundError(name);
    return response.services(0);
  }

  // Bounded: polls every 100 ms until one deployment runs exactly the desired count.
  void WaitStable(const std::string& name, absl::Duration timeout = absl::Seconds(60)) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string last;
    while (absl::Now() < deadline) {
      absl::StatusOr<v1::Service> s = DescribeService(name);
      if (s.ok()) {
        last = absl::StrCat("running ", s->running_count(), " pending ", s->pending_count(),
                            " desired ", s->desired_count(), " deployments ",
                            s->deployments_size());
        if (s->deployments_size() == 1 && s->running_count() == s->desired_count() &&
            s->pending_count() == 0) {
          return;
        }
      } else {
        last = s.status().ToString();
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "service " << name << " not stable: " << last << "\n" << skiffd_->Log();
  }

  // Task ids of the cluster by desired status.
  std::vector<std::string> Tasks(const std::string& desired, const std::string& service = "") {
    v1::ListTasksRequest request;
    request.set_desired_status(desired);
    if (!service.empty()) request.set_service_name(service);
    grpc::ClientContext context;
    v1::ListTasksResponse response;
    grpc::Status s = stub_->ListTasks(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const std::string& arn : response.task_arns()) ids.push_back(arn.substr(arn.rfind('/') + 1));
    return ids;
  }

  v1::Task DescribeTask(const std::string& id) {
    v1::DescribeTasksRequest request;
    request.add_tasks(id);
    grpc::ClientContext context;
    v1::DescribeTasksResponse response;
    grpc::Status s = stub_->DescribeTasks(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response.tasks().empty() ? v1::Task() : response.tasks(0);
  }

  // Container id → pid of the running tasks in skiffd's namespace, from ctr.
  std::map<std::string, int> Pids() {
    std::string out;
    EXPECT_TRUE(containerd_->Ctr({"-n", ns_, "tasks", "ls"}, &out).ok());
    std::map<std::string, int> pids;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      int pid = 0;
      if (f.size() >= 3 && f[2] == "RUNNING" && absl::SimpleAtoi(f[1], &pid)) pids[f[0]] = pid;
    }
    return pids;
  }

  std::set<std::string> Lines(const std::vector<std::string>& args) {
    std::string out;
    EXPECT_TRUE(containerd_->Ctr(args, &out).ok());
    std::set<std::string> lines;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      lines.emplace(line);
    }
    return lines;
  }

  // The store and containerd agree: every running task has its container, every container of
  // the namespace belongs to a task the store knows (a task that failed before its container was
  // created has none), and each container has exactly one active snapshot.
  void ExpectStoreMatchesContainerd() {
    std::set<std::string> running, known;
    for (const std::string& id : Tasks("RUNNING")) running.insert(id + "-app");
    known = running;
    for (const std::string& id : Tasks("STOPPED")) known.insert(id + "-app");
    // Orphans are removed asynchronously after the resync; allow it a moment (bounded).
    std::set<std::string> containers;
    auto agree = [&] {
      return std::includes(known.begin(), known.end(), containers.begin(), containers.end()) &&
             std::includes(containers.begin(), containers.end(), running.begin(), running.end());
    };
    for (int i = 0; i < 50; ++i) {
      containers = Lines({"-n", ns_, "containers", "ls", "-q"});
      if (agree()) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_TRUE(agree()) << "containers: " << absl::StrJoin(containers, " ")
                         << "\nstore: " << absl::StrJoin(known, " ");
    std::string snapshots;
    ASSERT_TRUE(containerd_->Ctr({"-n", ns_, "snapshots", "ls"}, &snapshots).ok());
    int active = 0;
    for (absl::string_view line : absl::StrSplit(snapshots, '\n', absl::SkipEmpty())) {
      active += absl::StrContains(line, "Active");
    }
    EXPECT_EQ(active, static_cast<int>(containers.size())) << snapshots;
  }

  std::unique_ptr<skiff::testing::PrivateContainerd> containerd_;
  std::unique_ptr<SkiffdProcess> skiffd_;
  std::unique_ptr<v1::Ecs::Stub> stub_;
  std::string ns_;
  int instances_ = 0;
};

TEST_F(CrashTest, KillNineLeavesEveryTaskRunningWithTheSamePid) {
  Start();
  Setup();
  ASSERT_TRUE(CreateService("web", 3).ok());
  ASSERT_TRUE(CreateService("worker", 3).ok());
  WaitStable("web");
  WaitStable("worker");
  const std::map<std::string, int> before = Pids();
  ASSERT_THAT(before, SizeIs(6));
  const std::vector<std::string> tasks = Tasks("RUNNING");

  Kill9();
  const absl::Time restarted = absl::Now();
  Start();
  const absl::Duration back = absl::Now() - restarted;
  WaitStable("web");
  WaitStable("worker");
  EXPECT_LT(back, absl::Seconds(10)) << "API back after " << back;
  EXPECT_EQ(Pids(), before) << "no container may be restarted";
  EXPECT_EQ(Tasks("RUNNING"), tasks);
  EXPECT_TRUE(Tasks("STOPPED").empty());
  ExpectStoreMatchesContainerd();
}

TEST_F(CrashTest, AContainerKilledWhileSkiffdIsDownIsRecordedAndReplacedOnce) {
  Start();
  Setup();
  ASSERT_TRUE(CreateService("web", 2).ok());
  WaitStable("web");
  const std::vector<std::string> tasks = Tasks("RUNNING");
  ASSERT_THAT(tasks, SizeIs(2));
  Kill9();
  const int pid = Pids()[tasks[0] + "-app"];
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  for (int i = 0; i < 50 && Pids().count(tasks[0] + "-app"); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  Start();
  WaitStable("web");
  const v1::Task dead = DescribeTask(tasks[0]);
  EXPECT_EQ(dead.desired_status(), "STOPPED");
  EXPECT_EQ(dead.stop_code(), "EssentialContainerExited");
  ASSERT_EQ(dead.containers_size(), 1);
  EXPECT_EQ(dead.containers(0).exit_code(), 137);  // The real code, not "unknown".
  const std::vector<std::string> running = Tasks("RUNNING");
  ASSERT_THAT(running, SizeIs(2));
  EXPECT_THAT(running, ::testing::Contains(tasks[1]));
  EXPECT_THAT(Tasks("STOPPED"), SizeIs(1));  // Exactly one replacement, no extra attempts.
  ExpectStoreMatchesContainerd();
}

TEST_F(CrashTest, ATaskDeletedBehindSkiffdsBackIsStoppedAndReplaced) {
  Start();
  Setup();
  ASSERT_TRUE(CreateService("web", 1).ok());
  WaitStable("web");
  const std::vector<std::string> tasks = Tasks("RUNNING");
  ASSERT_THAT(tasks, SizeIs(1));
  Kill9();
  const std::string container = tasks[0] + "-app";
  ASSERT_TRUE(containerd_->Ctr({"-n", ns_, "tasks", "kill", "-s", "SIGKILL", container}).ok());
  for (int i = 0; i < 50 && Pids().count(container); ++i) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_TRUE(containerd_->Ctr({"-n", ns_, "tasks", "rm", container}).ok());
  ASSERT_TRUE(containerd_->Ctr({"-n", ns_, "containers", "rm", container}).ok());
  Start();
  WaitStable("web");
  const v1::Task gone = DescribeTask(tasks[0]);
  EXPECT_EQ(gone.desired_status(), "STOPPED");
  EXPECT_EQ(gone.containers(0).exit_code(), 255);  // Unknown: the container vanished.
  EXPECT_THAT(Tasks("RUNNING"), SizeIs(1));
  EXPECT_NE(Tasks("RUNNING")[0], tasks[0]);
}

TEST_F(CrashTest, EveryCrashPointRecoversToOneTaskPerContainer) {
  for (const std::string point : {"task-persisted", "container-created", "container-started"}) {
    SCOPED_TRACE(point);
    if (point != "task-persisted") NewSkiffd();
    Start({absl::StrCat("SKIFF_CRASH_AT=", point)});
    Setup();
    CreateService("web", 1).ok();  // The daemon may die before or after it answers.
    absl::StatusOr<int> exit = skiffd_->WaitExit(absl::Seconds(30));
    ASSERT_TRUE(exit.ok()) << exit.status() << "\n" << skiffd_->Log();
    EXPECT_EQ(*exit, 128 + SIGKILL);
    EXPECT_THAT(skiffd_->Log(), ::testing::HasSubstr("crash point " + point));
    Start();
    absl::StatusOr<v1::Service> service = DescribeService("web");
    if (service.ok()) {
      WaitStable("web");
      EXPECT_THAT(Tasks("RUNNING"), SizeIs(1));
    }
    ExpectStoreMatchesContainerd();
    Kill9();
  }
}

TEST_F(CrashTest, ACrashInTheMiddleOfARollingUpdateFinishesItAfterRestart) {
  Start({"SKIFF_CRASH_AT=rolling-update"});
  Setup(/*revisions=*/2);
  ASSERT_TRUE(CreateService("web", 2).ok());
  WaitStable("web");
  v1::UpdateServiceRequest update;
  update.set_service("web");
  update.set_task_definition("sleeper:2");
  grpc::ClientContext context;
  v1::UpdateServiceResponse response;
  stub_->UpdateService(&context, update, &response);  // May or may not answer before the crash.
  absl::StatusOr<int> exit = skiffd_->WaitExit(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  Start();
  WaitStable("web");
  for (const std::string& id : Tasks("RUNNING")) {
    EXPECT_THAT(DescribeTask(id).task_definition_arn(), ::testing::EndsWith("sleeper:2"));
  }
  EXPECT_THAT(Tasks("RUNNING"), SizeIs(2));
  ExpectStoreMatchesContainerd();
}

TEST_F(CrashTest, ACrashInsideAStoreTransactionLeavesAStoreThatOpens) {
  Start({"SKIFF_CRASH_AT=store-transaction"}, /*wait=*/false);
  absl::StatusOr<int> exit = skiffd_->WaitExit(absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 128 + SIGKILL);
  Start();
  Setup();
  ASSERT_TRUE(CreateService("web", 1).ok());
  WaitStable("web");
}

}  // namespace
}  // namespace skiff::e2e
