// Services end to end: a real skiffd keeps a service's tasks running on a private containerd with
// real runc. A container killed from outside is replaced, scaling starts and stops tasks, a
// crash loop backs off, a task too big for the node is not placed, and a forced delete drains.
// The CLI's service commands are written elsewhere; these tests use the gRPC API (EcsClient).
// Every wait is bounded: DescribeServices or ListTasks polled every 100 ms up to a deadline.
#include <signal.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

using json = nlohmann::json;

constexpr absl::Duration kPoll = absl::Milliseconds(100);
// Starting a few busybox containers on a loaded 2-CPU machine: seconds, with room to spare.
constexpr absl::Duration kStartTimeout = absl::Seconds(90);

// Polls `done` every 100 ms until it holds or `timeout` passes; returns whether it held.
bool Eventually(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(kPoll);
  }
  return true;
}

std::vector<std::string> Ids(const std::vector<v1::Task>& tasks) {
  std::vector<std::string> ids;
  for (const v1::Task& t : tasks) ids.push_back(TaskIdOf(t.task_arn()));
  std::sort(ids.begin(), ids.end());
  return ids;
}

class ServicesTest : public E2eTest {
 protected:
  ServicesTest() { namespace_prefix_ = "skiff-svc"; }

  // A one-container host-network definition running `script` under an init process, so that
  // SIGTERM stops it at once (a shell or sleep as pid 1 would ignore it).
  void Register(const std::string& family, const std::string& script,
                const json& container_extra = json::object()) {
    json container = {{"name", "app"},
                      {"image", skiff::testing::kTestImageRef},
                      {"memory", 32},
                      {"stopTimeout", 5},
                      {"linuxParameters", {{"initProcessEnabled", true}}},
                      {"command", json::array({"sh", "-c", script})}};
    for (auto& [key, value] : container_extra.items()) {
      if (value.is_null()) {
        container.erase(key);
      } else {
        container[key] = value;
      }
    }
    json definition = {{"family", family},
                       {"networkMode", "host"},
                       {"containerDefinitions", json::array({container})}};
    RegisterTaskDefinition(definition);
  }

  void CreateService(const std::string& name, const std::string& family, int desired) {
    v1::CreateServiceRequest request;
    request.set_service_name(name);
    request.set_task_definition(family);
    request.set_desired_count(desired);
    absl::StatusOr<v1::Service> created = client_->CreateService(request);
    ASSERT_TRUE(created.ok()) << created.status();
    EXPECT_EQ(created->status(), "ACTIVE");
    EXPECT_EQ(created->desired_count(), desired);
  }

  void Scale(const std::string& name, int desired) {
    v1::UpdateServiceRequest request;
    request.set_service(name);
    request.set_desired_count(desired);
    absl::StatusOr<v1::Service> updated = client_->UpdateService(request);
    ASSERT_TRUE(updated.ok()) << updated.status();
    EXPECT_EQ(updated->desired_count(), desired);
  }

  // Waits for `running` tasks RUNNING, nothing pending and one deployment.
  v1::Service WaitSteady(const std::string& name, int running) {
    absl::StatusOr<v1::Service> s = client_->WaitForService(
        name,
        [running](const v1::Service& s) { return IsSteady(s) && s.running_count() == running; },
        absl::StrCat("steady with ", running, " running"), kStartTimeout);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : v1::Service();
  }

  std::vector<v1::Task> Tasks(const std::string& service, const std::string& desired) {
    absl::StatusOr<std::vector<v1::Task>> tasks = client_->ServiceTasks(service, desired);
    EXPECT_TRUE(tasks.ok()) << tasks.status();
    return tasks.ok() ? *tasks : std::vector<v1::Task>();
  }

  // `ctr tasks ls` of skiffd's namespace: container id → pid of its process.
  std::map<std::string, int> CtrTasks() {
    std::string out;
    absl::Status listed = containerd_->Ctr({"-n", ns_, "tasks", "ls"}, &out);
    EXPECT_TRUE(listed.ok()) << listed;
    std::map<std::string, int> pids;
    bool header = true;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      if (std::exchange(header, false)) continue;  // TASK PID STATUS
      std::vector<absl::string_view> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
      int pid = 0;
      if (words.size() >= 2 && absl::SimpleAtoi(words[1], &pid)) pids[std::string(words[0])] = pid;
    }
    return pids;
  }

  // `ctr containers ls -q` of skiffd's namespace.
  std::set<std::string> CtrContainers() {
    std::string out;
    absl::Status listed = containerd_->Ctr({"-n", ns_, "containers", "ls", "-q"}, &out);
    EXPECT_TRUE(listed.ok()) << listed;
    std::set<std::string> ids;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      ids.emplace(line);
    }
    return ids;
  }
};

TEST_F(ServicesTest, AContainerKilledFromOutsideIsReplaced) {
  StartSkiffd();
  LoadTestImage();
  Register("web", "exec sleep 3600");
  CreateService("web", "web", 3);
  v1::Service steady = WaitSteady("web", 3);
  EXPECT_TRUE(HasEvent(steady, "(service web) has reached a steady state.")) << EventsText(steady);
  const std::vector<v1::Task> before = Tasks("web", "RUNNING");
  ASSERT_EQ(before.size(), 3u);

  // kill -9 of the container's process, from outside skiffd: its pid as ctr sees it.
  const std::string victim = TaskIdOf(before[1].task_arn());
  const std::map<std::string, int> pids = CtrTasks();
  auto found = pids.find(victim + "-app");
  ASSERT_NE(found, pids.end()) << "no containerd task for " << victim;
  ASSERT_GT(found->second, 1);
  ASSERT_EQ(kill(found->second, SIGKILL), 0);

  // The service notices, starts one replacement and gets back to 3 RUNNING tasks.
  std::vector<v1::Task> running;
  const bool replaced = Eventually(
      [&] {
        running = Tasks("web", "RUNNING");
        const std::vector<std::string> ids = Ids(running);
        return running.size() == 3 && !std::binary_search(ids.begin(), ids.end(), victim) &&
               std::all_of(running.begin(), running.end(),
                           [](const v1::Task& t) { return t.last_status() == "RUNNING"; });
      },
      kStartTimeout);
  ASSERT_TRUE(replaced) << Tasks("web", "RUNNING").size() << " tasks desired RUNNING";
  // Exactly 3 wanted running, the replacement being the only new one.
  std::vector<std::string> old_ids = Ids(before), new_ids = Ids(running), added;
  std::set_difference(new_ids.begin(), new_ids.end(), old_ids.begin(), old_ids.end(),
                      std::back_inserter(added));
  EXPECT_EQ(added.size(), 1u);

  absl::StatusOr<std::vector<v1::Task>> stopped = client_->ServiceTasks("web", "STOPPED");
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_TRUE(Eventually(
      [&] {
        stopped = client_->ServiceTasks("web", "STOPPED");
        return stopped.ok() && stopped->size() == 1 && (*stopped)[0].last_status() == "STOPPED";
      },
      kStartTimeout));
  const v1::Task& killed = (*stopped)[0];
  EXPECT_EQ(TaskIdOf(killed.task_arn()), victim);
  EXPECT_EQ(killed.stop_code(), "EssentialContainerExited");
  ASSERT_EQ(killed.containers_size(), 1);
  EXPECT_EQ(killed.containers(0).exit_code(), 137);  // SIGKILL.

  const v1::Service after = WaitSteady("web", 3);
  EXPECT_TRUE(HasEvent(after, "(service web) has started 1 tasks: (task " + added.front() + ")."))
      << EventsText(after);
  EXPECT_EQ(Tasks("web", "RUNNING").size(), 3u);
}

TEST_F(ServicesTest, ScalesUpAndDown) {
  StartSkiffd();
  LoadTestImage();
  Register("web", "exec sleep 3600");
  CreateService("web", "web", 3);
  WaitSteady("web", 3);

  Scale("web", 5);
  v1::Service five = WaitSteady("web", 5);
  EXPECT_TRUE(HasEvent(five, "(service web) has started 2 tasks: ")) << EventsText(five);
  EXPECT_EQ(Tasks("web", "RUNNING").size(), 5u);

  Scale("web", 1);
  v1::Service one = WaitSteady("web", 1);
  EXPECT_TRUE(HasEvent(one, "(service web) has stopped 4 running tasks: ")) << EventsText(one);
  std::vector<v1::Task> stopped;
  ASSERT_TRUE(Eventually(
      [&] {
        stopped = Tasks("web", "STOPPED");
        return stopped.size() == 4 &&
               std::all_of(stopped.begin(), stopped.end(),
                           [](const v1::Task& t) { return t.last_status() == "STOPPED"; });
      },
      kStartTimeout))
      << stopped.size() << " tasks desired STOPPED";
  for (const v1::Task& t : stopped) {
    EXPECT_EQ(t.stop_code(), "ServiceSchedulerInitiated") << t.task_arn();
    EXPECT_THAT(t.stopped_reason(), ::testing::HasSubstr("Scaling activity initiated by"));
    EXPECT_EQ(t.containers(0).exit_code(), 143) << t.task_arn();  // SIGTERM, through init.
  }
  EXPECT_EQ(Tasks("web", "RUNNING").size(), 1u);
}

TEST_F(ServicesTest, ACrashLoopBacksOff) {
  StartSkiffd();
  LoadTestImage();
  Register("crash", "exit 1");
  const absl::Time start = absl::Now();
  CreateService("crash", "crash", 1);
  // Launches come at once, then after the first failure again at once, then 1 s, 2 s, 4 s,
  // 8 s, 16 s apart (plus the launch itself): about 6 in 30 s. Without back-off, 30 s of
  // half-second launches would be dozens.
  absl::SleepFor(absl::Seconds(30) - (absl::Now() - start));
  absl::StatusOr<std::vector<v1::Task>> launched = client_->AllServiceTasks("crash");
  ASSERT_TRUE(launched.ok()) << launched.status();
  std::string times;
  std::vector<double> created;
  for (const v1::Task& t : *launched) created.push_back(t.created_at());
  std::sort(created.begin(), created.end());
  for (double c : created) absl::StrAppend(&times, " ", absl::SixDigits(c - created.front()));
  EXPECT_GE(launched->size(), 3u) << "launched at (s):" << times;
  EXPECT_LE(launched->size(), 10u) << "launched at (s):" << times;
  for (const v1::Task& t : *launched) {
    if (t.last_status() != "STOPPED") continue;
    EXPECT_EQ(t.stop_code(), "EssentialContainerExited") << t.task_arn();
    EXPECT_EQ(t.containers(0).exit_code(), 1) << t.task_arn();
  }
  absl::StatusOr<v1::Service> s = client_->DescribeService("crash");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(HasEvent(*s, "(service crash) is unable to consistently start tasks successfully."))
      << EventsText(*s);
  EXPECT_GE(s->deployments(0).failed_tasks(), 3);
  std::cerr << "crash loop: " << launched->size() << " launches in 30 s, at (s):" << times
            << "\n";

  // Stop the loop (teardown would too, but skiffd should end it cleanly).
  ASSERT_TRUE(client_->DeleteService("crash", /*force=*/true).ok());
  EXPECT_TRUE(client_
                  ->WaitForService(
                      "crash", [](const v1::Service& s) { return s.status() == "INACTIVE"; },
                      "INACTIVE", kStartTimeout)
                  .ok());
}

TEST_F(ServicesTest, ATaskBiggerThanTheNodeIsNotPlaced) {
  StartSkiffd();
  LoadTestImage();
  // 100 TB reserved: no node has that.
  Register("huge", "exec sleep 3600", {{"memory", nullptr}, {"memoryReservation", 100000000}});
  CreateService("huge", "huge", 1);
  absl::StatusOr<v1::Service> s = client_->WaitForService(
      "huge",
      [](const v1::Service& s) {
        return HasEvent(s,
                        "(service huge) was unable to place a task because no container instance "
                        "met all of its requirements.");
      },
      "unable to place", kStartTimeout);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(HasEvent(*s, "has insufficient memory available")) << EventsText(*s);
  EXPECT_EQ(s->running_count(), 0);
  EXPECT_EQ(s->pending_count(), 0);
  absl::StatusOr<std::vector<v1::Task>> tasks = client_->AllServiceTasks("huge");
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  EXPECT_TRUE(tasks->empty());
  EXPECT_TRUE(CtrContainers().empty());
}

TEST_F(ServicesTest, ForcedDeleteDrainsTheService) {
  // Stopped tasks keep their containers for --task-retention (1 minute at least), as ECS keeps
  // stopped tasks visible; the shortest retention lets the test see them go.
  StartSkiffd({"--task-retention", "1m"});
  LoadTestImage();
  Register("web", "exec sleep 3600");
  CreateService("web", "web", 3);
  WaitSteady("web", 3);
  const std::vector<v1::Task> tasks = Tasks("web", "RUNNING");
  ASSERT_EQ(tasks.size(), 3u);
  for (const v1::Task& t : tasks) {
    EXPECT_EQ(CtrTasks().count(TaskIdOf(t.task_arn()) + "-app"), 1u);
  }

  // Without force a service above 0 cannot go.
  absl::StatusOr<v1::Service> refused = client_->DeleteService("web", /*force=*/false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << refused.status();

  absl::StatusOr<v1::Service> deleted = client_->DeleteService("web", /*force=*/true);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->status(), "DRAINING");
  EXPECT_EQ(deleted->desired_count(), 0);
  absl::StatusOr<v1::Service> inactive = client_->WaitForService(
      "web", [](const v1::Service& s) { return s.status() == "INACTIVE"; }, "INACTIVE",
      kStartTimeout);
  ASSERT_TRUE(inactive.ok()) << inactive.status();
  EXPECT_EQ(inactive->running_count(), 0);

  // Every task STOPPED by the scheduler, and no process left in containerd.
  std::vector<v1::Task> stopped = Tasks("web", "STOPPED");
  EXPECT_EQ(Ids(stopped), Ids(tasks));
  for (const v1::Task& t : stopped) {
    EXPECT_EQ(t.last_status(), "STOPPED") << t.task_arn();
    EXPECT_EQ(t.stop_code(), "ServiceSchedulerInitiated") << t.task_arn();
  }
  EXPECT_TRUE(Tasks("web", "RUNNING").empty());
  EXPECT_TRUE(CtrTasks().empty());
  // The name is free again, and the service is no longer listed.
  v1::ListServicesRequest list;
  v1::ListServicesResponse listed;
  grpc::ClientContext context;
  ASSERT_TRUE(FromGrpc(client_->ecs().ListServices(&context, list, &listed), "ListServices").ok());
  EXPECT_EQ(listed.service_arns_size(), 0);

  // The containers go when the stopped tasks' retention ends.
  std::set<std::string> left;
  EXPECT_TRUE(Eventually(
      [&] {
        left = CtrContainers();
        return left.empty();
      },
      absl::Minutes(1) + kStartTimeout))
      << left.size() << " containers left, e.g. " << (left.empty() ? "" : *left.begin());
}

}  // namespace
}  // namespace skiff::e2e
