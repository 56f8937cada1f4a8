// Crash safety with a real skiffd: SIGKILL at any moment (or at the named crash points of
// SKIFF_CRASH_AT) and a restart must leave every workload as it was: same container processes,
// no task lost or duplicated, the store and skiff's containers matching one to one.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "crash_fixture.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::e2e {
namespace {

using ::testing::SizeIs;

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

  auto notify = NotifySocket::Bind(skiffd_->dir() + "/notify.sock");
  ASSERT_TRUE(notify.ok()) << notify.status();
  Start({"NOTIFY_SOCKET=" + (*notify)->path()}, /*wait=*/false);
  absl::StatusOr<NotifySocket::Message> ready = (*notify)->WaitFor("READY=1", absl::Seconds(30));
  ASSERT_TRUE(ready.ok()) << ready.status() << "\n" << skiffd_->Log();
  // At READY the missed exit is recorded and the replacement decided, without waiting.
  const v1::Task dead = DescribeTask(tasks[0]);
  EXPECT_EQ(dead.desired_status(), "STOPPED");
  ASSERT_EQ(dead.containers_size(), 1);
  EXPECT_EQ(dead.containers(0).exit_code(), 137);
  const std::vector<std::string> now = Tasks("RUNNING");
  ASSERT_THAT(now, SizeIs(1));
  EXPECT_NE(now[0], tasks[0]);

  ASSERT_EQ(kill(skiffd_->pid(), SIGTERM), 0);
  absl::StatusOr<NotifySocket::Message> stopping =
      (*notify)->WaitFor("STOPPING=1", absl::Seconds(30));
  EXPECT_TRUE(stopping.ok()) << stopping.status();
  absl::StatusOr<int> exit = skiffd_->WaitExit();
  ASSERT_TRUE(exit.ok());
  EXPECT_EQ(*exit, 0);
  // SIGTERM leaves containers running.
  EXPECT_THAT(Pids(), SizeIs(1));
  // Without WATCHDOG_USEC there is no watchdog to pet.
  for (const NotifySocket::Message& m : (*notify)->seen()) {
    EXPECT_THAT(m.text, ::testing::Not(::testing::HasSubstr("WATCHDOG=1")));
  }
}

// With WATCHDOG_USEC set, as systemd sets it for WatchdogSec=, the control loop itself sends
// WATCHDOG=1 every half interval, so a loop that stops turning gets skiffd restarted and one
// that turns never does. No WATCHDOG_PID: systemd sets it to the service's pid, which the test
// cannot know before the fork, and sd_watchdog_enabled() accepts its absence.
TEST_F(CrashTest, TheControlLoopPetsTheWatchdogAtHalfItsInterval) {
  constexpr absl::Duration kInterval = absl::Seconds(1);
  constexpr int kPets = 6;
  auto notify = NotifySocket::Bind(skiffd_->dir() + "/notify.sock");
  ASSERT_TRUE(notify.ok()) << notify.status();
  Start({"NOTIFY_SOCKET=" + (*notify)->path(),
         absl::StrCat("WATCHDOG_USEC=", absl::ToInt64Microseconds(kInterval))},
        /*wait=*/false);
  absl::StatusOr<NotifySocket::Message> ready = (*notify)->WaitFor("READY=1", absl::Seconds(30));
  ASSERT_TRUE(ready.ok()) << ready.status() << "\n" << skiffd_->Log();
  EXPECT_THAT(skiffd_->Log(), ::testing::HasSubstr("systemd watchdog: every 500 ms"));

  // Counted from READY on, kPets pets, bounded by what kPets half-intervals take plus slack.
  std::vector<absl::Time> pets;
  const absl::Time deadline = absl::Now() + kPets * kInterval / 2 + absl::Seconds(5);
  while (pets.size() < static_cast<size_t>(kPets) && absl::Now() < deadline) {
    absl::StatusOr<NotifySocket::Message> m = (*notify)->Next(deadline - absl::Now());
    if (!m.ok()) break;
    if (m->text == "WATCHDOG=1") pets.push_back(m->at);
  }
  ASSERT_EQ(pets.size(), static_cast<size_t>(kPets)) << skiffd_->Log();
  absl::Duration longest;
  for (size_t i = 1; i < pets.size(); ++i) longest = std::max(longest, pets[i] - pets[i - 1]);
  const absl::Duration mean = (pets.back() - pets.front()) / (kPets - 1);
  // Half the interval, with room for a loaded machine, and always well inside the interval:
  // systemd kills the service when a whole interval passes without a pet.
  EXPECT_LE(mean, kInterval * 0.6) << "mean gap " << mean;
  EXPECT_LT(longest, kInterval * 0.8) << "longest gap " << longest;

  ASSERT_EQ(kill(skiffd_->pid(), SIGTERM), 0);
  absl::StatusOr<NotifySocket::Message> stopping =
      (*notify)->WaitFor("STOPPING=1", absl::Seconds(30));
  EXPECT_TRUE(stopping.ok()) << stopping.status();
  absl::StatusOr<int> exit = skiffd_->WaitExit();
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_EQ(*exit, 0);
}

absl::StatusOr<v1::TaskDefinition> DescribeTaskDefinition(v1::Ecs::Stub& stub,
                                                          const std::string& ref) {
  v1::DescribeTaskDefinitionRequest request;
  request.set_task_definition(ref);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::DescribeTaskDefinitionResponse response;
  grpc::Status s = stub.DescribeTaskDefinition(&context, request, &response);
  if (!s.ok()) return absl::NotFoundError(s.error_message());
  return response.task_definition();
}

// An acknowledged write is durable: the store commits (synchronous=FULL) before the API
// answers, so a SIGKILL straight after the answer, with no pause at all, loses nothing. Each kind
// of write is followed at once by kill -9 and a restart, for a few rounds.
TEST_F(CrashTest, AnAcknowledgedWriteSurvivesAnImmediateKill9) {
  Start();
  Setup();
  auto restart = [this] {
    Kill9();
    Start();
  };
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    const std::string service = absl::StrCat("svc", round);

    absl::StatusOr<int> revision = RegisterSleeper(absl::StrCat("round", round));
    ASSERT_TRUE(revision.ok()) << revision.status();
    const std::string definition = absl::StrCat(kFamily, ":", *revision);
    ASSERT_NO_FATAL_FAILURE(restart());
    absl::StatusOr<v1::TaskDefinition> registered = DescribeTaskDefinition(*stub_, definition);
    ASSERT_TRUE(registered.ok()) << "RegisterTaskDefinition lost: " << registered.status();
    ASSERT_EQ(registered->container_definitions_size(), 1);
    ASSERT_EQ(registered->container_definitions(0).environment_size(), 1);
    EXPECT_EQ(registered->container_definitions(0).environment(0).value(),
              absl::StrCat("round", round));

    grpc::Status s = CreateService(service, 1, definition);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_NO_FATAL_FAILURE(restart());
    absl::StatusOr<v1::Service> created = DescribeService(service);
    ASSERT_TRUE(created.ok()) << "CreateService lost: " << created.status();
    EXPECT_EQ(created->status(), "ACTIVE");
    EXPECT_EQ(created->desired_count(), 1);
    EXPECT_THAT(created->task_definition(), ::testing::EndsWith(definition));

    s = UpdateService(service, /*desired_count=*/3);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_NO_FATAL_FAILURE(restart());
    absl::StatusOr<v1::Service> scaled = DescribeService(service);
    ASSERT_TRUE(scaled.ok()) << scaled.status();
    EXPECT_EQ(scaled->desired_count(), 3) << "UpdateService(desiredCount) lost";

    s = UpdateService(service, std::nullopt, "sleeper:1");
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_NO_FATAL_FAILURE(restart());
    absl::StatusOr<v1::Service> rolled = DescribeService(service);
    ASSERT_TRUE(rolled.ok()) << rolled.status();
    EXPECT_THAT(rolled->task_definition(), ::testing::EndsWith("sleeper:1"))
        << "UpdateService(taskDefinition) lost";
    EXPECT_EQ(rolled->desired_count(), 3);

    v1::RunTaskRequest run;
    run.set_task_definition("sleeper:1");
    v1::RunTaskResponse ran;
    {
      grpc::ClientContext context;
      s = stub_->RunTask(&context, run, &ran);
    }
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(ran.tasks_size(), 1);
    const std::string task = ran.tasks(0).task_arn().substr(ran.tasks(0).task_arn().rfind('/') + 1);
    ASSERT_NO_FATAL_FAILURE(restart());
    EXPECT_EQ(DescribeTask(task).task_arn(), ran.tasks(0).task_arn()) << "RunTask lost";

    v1::StopTaskRequest stop;
    stop.set_task(task);
    {
      grpc::ClientContext context;
      v1::StopTaskResponse stopped;
      s = stub_->StopTask(&context, stop, &stopped);
    }
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_NO_FATAL_FAILURE(restart());
    EXPECT_EQ(DescribeTask(task).desired_status(), "STOPPED") << "StopTask lost";

    v1::DeregisterTaskDefinitionRequest deregister;
    deregister.set_task_definition(definition);
    {
      grpc::ClientContext context;
      v1::DeregisterTaskDefinitionResponse deregistered;
      s = stub_->DeregisterTaskDefinition(&context, deregister, &deregistered);
    }
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_NO_FATAL_FAILURE(restart());
    absl::StatusOr<v1::TaskDefinition> inactive = DescribeTaskDefinition(*stub_, definition);
    ASSERT_TRUE(inactive.ok()) << inactive.status();
    EXPECT_EQ(inactive->status(), "INACTIVE") << "DeregisterTaskDefinition lost";

    v1::DeleteServiceRequest remove;
    remove.set_service(service);
    remove.set_force(true);
    {
      grpc::ClientContext context;
      v1::DeleteServiceResponse removed;
      s = stub_->DeleteService(&context, remove, &removed);
    }
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_NO_FATAL_FAILURE(restart());
    absl::StatusOr<v1::Service> deleted = DescribeService(service);
    if (deleted.ok()) {
      EXPECT_THAT(deleted->status(), ::testing::AnyOf("DRAINING", "INACTIVE"))
          << "DeleteService lost";
    } else {
      EXPECT_EQ(deleted.status().code(), absl::StatusCode::kNotFound) << deleted.status();
    }
  }
  // Every service is deleted and the one-off tasks stopped: nothing may keep running, and
  // whatever the kills interrupted is accounted for.
  for (int i = 0; i < 100 && !Tasks("RUNNING").empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_THAT(Tasks("RUNNING"), ::testing::IsEmpty());
  ExpectStoreMatchesContainerd();
}

// ContainerdRuntime mounts a new container's image read-only for a moment to read its users; a
// skiffd killed meanwhile leaves the mount (and so the snapshot pinned). The next skiffd takes
// it off before it creates anything. The leftover here is a read-only tmpfs at the same place.
TEST_F(CrashTest, AnImageMountLeftByAKilledSkiffdIsRemovedAtStart) {
  const std::string work_dir = skiffd_->state_dir() + "/runtime";
  const std::string leftover = work_dir + "/accounts-0123456789abcdef";
  const std::string exec_dir = work_dir + "/exec-0123456789abcdef";
  for (const std::string& dir : {skiffd_->state_dir(), work_dir, leftover, exec_dir}) {
    ASSERT_EQ(mkdir(dir.c_str(), 0700), 0) << dir << ": " << strerror(errno);
  }
  ASSERT_EQ(mount("tmpfs", leftover.c_str(), "tmpfs", MS_RDONLY, "size=1m"), 0) << strerror(errno);
  ASSERT_THAT(SkiffdProcess::MountsUnder(skiffd_->state_dir()), ::testing::ElementsAre(leftover));
  Start();
  EXPECT_THAT(SkiffdProcess::MountsUnder(skiffd_->state_dir()), ::testing::IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(leftover));
  EXPECT_FALSE(std::filesystem::exists(exec_dir));
  EXPECT_THAT(skiffd_->Log(), ::testing::HasSubstr("removed 2 leftovers of an earlier skiffd"));
  // And containers are still created there.
  Setup();
  ASSERT_TRUE(CreateService("web", 1).ok());
  WaitStable("web");
  ExpectStoreMatchesContainerd();
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
