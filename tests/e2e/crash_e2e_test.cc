// Crash safety with a real skiffd: SIGKILL at any moment (or at the named crash points of
// SKIFF_CRASH_AT) and a restart must leave every workload as it was: same container processes,
// no task lost or duplicated, the store and skiff's containers matching one to one.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iterator>

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

  // SIGKILLs the process of the task's container from outside and waits (bounded) until
  // containerd no longer reports it running.
  void KillContainer(const std::string& task_id) {
    const int pid = Pids()[task_id + "-app"];
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    for (int i = 0; i < 50 && Pids().count(task_id + "-app"); ++i) {
      absl::SleepFor(absl::Milliseconds(100));
    }
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
  KillContainer(tasks[0]);
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

// The test owns NOTIFY_SOCKET, as systemd would: READY=1 comes only once the state is reconciled
// (an exit missed while skiffd was down is already recorded and replaced), STOPPING=1 on SIGTERM.
TEST_F(CrashTest, ReadyIsSentOnlyAfterTheStateIsReconciled) {
  Start();
  Setup();
  ASSERT_TRUE(CreateService("web", 1).ok());
  WaitStable("web");
  const std::vector<std::string> tasks = Tasks("RUNNING");
  ASSERT_THAT(tasks, SizeIs(1));
  Kill9();
  KillContainer(tasks[0]);

  const std::string path = skiffd_->dir() + "/notify.sock";
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  timeval timeout{.tv_sec = 30, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  auto next_message = [fd] {
    char buffer[4096];
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
  };
  Start({"NOTIFY_SOCKET=" + path}, /*wait=*/false);
  std::string message;
  for (int i = 0; i < 10 && !absl::StrContains(message, "READY=1"); ++i) message = next_message();
  ASSERT_THAT(message, ::testing::HasSubstr("READY=1")) << skiffd_->Log();
  // At READY the missed exit is recorded and the replacement decided, without waiting.
  const v1::Task dead = DescribeTask(tasks[0]);
  EXPECT_EQ(dead.desired_status(), "STOPPED");
  ASSERT_EQ(dead.containers_size(), 1);
  EXPECT_EQ(dead.containers(0).exit_code(), 137);
  const std::vector<std::string> now = Tasks("RUNNING");
  ASSERT_THAT(now, SizeIs(1));
  EXPECT_NE(now[0], tasks[0]);

  ASSERT_EQ(kill(skiffd_->pid(), SIGTERM), 0);
  for (int i = 0; i < 10 && !absl::StrContains(message, "STOPPING=1"); ++i) {
    message = next_message();
  }
  EXPECT_THAT(message, ::testing::HasSubstr("STOPPING=1"));
  close(fd);
  absl::StatusOr<int> exit = skiffd_->WaitExit();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(*exit, 0);
  // SIGTERM leaves containers running.
  EXPECT_THAT(Pids(), SizeIs(1));
}

TEST_F(CrashTest, ContainerdRestartsNeitherStopNorReplaceAnything) {
  Start();
  Setup();
  ASSERT_TRUE(CreateService("web", 2).ok());
  WaitStable("web");
  const std::map<std::string, int> before = Pids();
  const std::vector<std::string> tasks = Tasks("RUNNING", "web");
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE(absl::StrCat("restart ", round));
    ASSERT_TRUE(containerd_->Restart().ok());
    // skiffd notices by itself; a RunTask works again within seconds (bounded).
    grpc::Status ran;
    v1::RunTaskResponse response;
    for (int i = 0; i < 100; ++i) {
      v1::RunTaskRequest run;
      run.set_task_definition("sleeper:1");
      grpc::ClientContext context;
      ran = stub_->RunTask(&context, run, &response);
      if (ran.ok() || ran.error_code() != grpc::StatusCode::UNAVAILABLE) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    ASSERT_TRUE(ran.ok()) << ran.error_message();
    // And it runs (before the next restart, which would otherwise cut its launch short).
    const std::string arn = response.tasks(0).task_arn();
    const std::string id = arn.substr(arn.rfind('/') + 1);
    std::string status;
    for (int i = 0; i < 100 && status != "RUNNING"; ++i) {
      status = DescribeTask(id).last_status();
      if (status != "RUNNING") absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_EQ(status, "RUNNING") << DescribeTask(id).stopped_reason();
  }
  WaitStable("web");
  EXPECT_EQ(Tasks("RUNNING", "web"), tasks) << "no service task may be replaced";
  for (const std::string& id : Tasks("STOPPED")) {
    const v1::Task t = DescribeTask(id);
    ADD_FAILURE() << "task " << id << " stopped: " << t.stop_code() << " " << t.stopped_reason()
                  << " exit " << t.containers(0).exit_code() << " group " << t.group();
  }
  for (const auto& [container, pid] : before) EXPECT_EQ(Pids()[container], pid) << container;
}

// /proc/PID/stat utime + stime, in seconds.
double CpuSeconds(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::vector<std::string> f = absl::StrSplit(text.substr(paren + 2), ' ');
  double utime = 0, stime = 0;
  if (f.size() < 13 || !absl::SimpleAtod(f[11], &utime) || !absl::SimpleAtod(f[12], &stime)) {
    return -1;
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

TEST_F(CrashTest, AContainerdOutageIsServedFromTheStoreAndResyncedAfter) {
  Start();
  Setup();
  ASSERT_TRUE(CreateService("web", 2).ok());
  WaitStable("web");
  const std::map<std::string, int> before = Pids();
  ASSERT_TRUE(containerd_->Pause().ok());
  const double cpu_before = CpuSeconds(skiffd_->pid());
  const absl::Time outage_end = absl::Now() + absl::Seconds(30);
  bool refused_clearly = false;
  while (absl::Now() < outage_end) {
    // Reads keep being served from what skiffd knows.
    absl::StatusOr<v1::Service> s = DescribeService("web");
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(s->desired_count(), 2);
    v1::RunTaskRequest run;
    run.set_task_definition("sleeper:1");
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RunTaskResponse response;
    grpc::Status ran = stub_->RunTask(&context, run, &response);
    EXPECT_FALSE(ran.ok());
    if (ran.error_code() == grpc::StatusCode::UNAVAILABLE &&
        absl::StrContains(ran.error_message(), "containerd unavailable")) {
      refused_clearly = true;
    }
    absl::SleepFor(absl::Seconds(1));
  }
  const double cpu = CpuSeconds(skiffd_->pid()) - cpu_before;
  EXPECT_TRUE(refused_clearly);
  EXPECT_LT(cpu, 3.0) << "skiffd used " << cpu << " s of CPU in a 30 s outage";
  ASSERT_TRUE(containerd_->Resume().ok());
  WaitStable("web");
  EXPECT_TRUE(Tasks("STOPPED").empty()) << "the outage must not stop anything";
  for (const auto& [container, pid] : before) EXPECT_EQ(Pids()[container], pid) << container;
}

}  // namespace
}  // namespace skiff::e2e
