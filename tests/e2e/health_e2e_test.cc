// Container health checks and dependsOn end to end: a real skiffd runs healthCheck commands in
// busybox containers on a private containerd with real runc. A passing check makes a container
// and its task HEALTHY; failures in a row (outside the start period) make it UNHEALTHY, and a
// service replaces such a task (after its grace period) while a standalone task keeps running; a
// hanging check is killed with its whole process tree; a check's output is capped; dependsOn
// holds a container back until its dependency reached the condition, fails the task when it
// never can, and orders the stop. Intervals are 5 s, the minimum a definition may ask for, so
// each test takes 15-40 s. Every wait is bounded: DescribeTasks, DescribeContainerHealth or
// ListTasks polled every 100 ms.
#include <algorithm>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr absl::Duration kPoll = absl::Milliseconds(100);
// Starting a few busybox containers on a loaded 2-CPU machine: seconds, with room to spare.
constexpr absl::Duration kStartTimeout = absl::Seconds(60);
// A task whose containers wait on each other: a dependency's few seconds, plus the starts.
constexpr absl::Duration kDependencyTimeout = absl::Seconds(30);
// The health checks of these tests: the shortest interval a definition may ask for.
constexpr int kInterval = 5;
constexpr int kTimeout = 2;
constexpr int kRetries = 2;
// Timers on a loaded machine: how early or late a check may come and still count as on time.
constexpr absl::Duration kSlack = absl::Seconds(1);

std::chrono::system_clock::time_point Deadline(absl::Duration timeout) {
  return std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout);
}

// A container definition running `script` with sh under an init process, so that SIGTERM stops
// it at once and orphans get reaped. `extra` is merged in (healthCheck, dependsOn, ...).
json Container(const std::string& name, const std::string& script, const json& extra = {}) {
  json c = {{"name", name},
            {"image", skiff::testing::kTestImageRef},
            {"memory", 32},
            {"stopTimeout", 5},
            {"linuxParameters", {{"initProcessEnabled", true}}},
            {"command", json::array({"sh", "-c", script})}};
  for (auto& [key, value] : extra.items()) c[key] = value;
  return c;
}

json HealthCheck(const json& command, int retries = kRetries, int timeout = kTimeout,
                 int start_period = 0) {
  return {{"command", command},
          {"interval", kInterval},
          {"timeout", timeout},
          {"retries", retries},
          {"startPeriod", start_period}};
}

json Shell(const std::string& script) { return json::array({"CMD-SHELL", script}); }

const v1::Container* FindContainer(const v1::Task& task, absl::string_view name) {
  for (const v1::Container& c : task.containers()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

const v1::ContainerHealth* FindHealth(const v1::DescribeContainerHealthResponse& health,
                                      absl::string_view name) {
  for (const v1::ContainerHealth& c : health.containers()) {
    if (c.container_name() == name) return &c;
  }
  return nullptr;
}

std::string ContainerStatus(const v1::Task& task, absl::string_view name) {
  const v1::Container* c = FindContainer(task, name);
  return c == nullptr ? "" : c->last_status();
}

std::string ContainerHealthStatus(const v1::Task& task, absl::string_view name) {
  const v1::Container* c = FindContainer(task, name);
  return c == nullptr ? "" : c->health_status();
}

// One line per task and container, for failure messages.
std::string TaskText(const v1::Task& task) {
  std::string out =
      absl::StrCat("task ", TaskIdOf(task.task_arn()), " last ", task.last_status(), " desired ",
                   task.desired_status(), " health ", task.health_status(), " stopCode ",
                   task.stop_code(), " stoppedReason \"", task.stopped_reason(), "\"");
  for (const v1::Container& c : task.containers()) {
    absl::StrAppend(&out, "\n  container ", c.name(), " last ", c.last_status(), " health ",
                    c.health_status(), " exit ",
                    c.has_exit_code() ? absl::StrCat(c.exit_code()) : "none", " reason \"",
                    c.reason(), "\"");
  }
  return out;
}

std::string HealthText(const v1::DescribeContainerHealthResponse& health) {
  std::string out;
  for (const v1::ContainerHealth& c : health.containers()) {
    absl::StrAppend(&out, "  ", c.container_name(), " ", c.health_status(), " failures ",
                    c.consecutive_failures(), " lastExit ", c.last_exit_code(), " lastCheckAt ",
                    absl::SixDigits(c.last_check_at()), " output ", c.last_output().size(),
                    " bytes: \"", c.last_output().substr(0, 80), "\"\n");
  }
  return out;
}

class HealthTest : public E2eTest {
 protected:
  HealthTest() { namespace_prefix_ = "skiff-health"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartSkiffd();
    LoadTestImage();
  }

  void Register(const std::string& family, const json& containers,
                const json& volumes = json::array()) {
    RegisterTaskDefinition({{"family", family},
                            {"networkMode", "host"},
                            {"containerDefinitions", containers},
                            {"volumes", volumes}});
  }

  absl::StatusOr<v1::Task> DescribeTask(const std::string& id) { return client_->DescribeTask(id); }

  // EcsClient::WaitForTask every kPoll. `each` (if set) sees every task described on the way,
  // e.g. to check an invariant.
  absl::StatusOr<v1::Task> WaitForTask(const std::string& id,
                                       const std::function<bool(const v1::Task&)>& done,
                                       absl::string_view what, absl::Duration timeout,
                                       const std::function<void(const v1::Task&)>& each = {}) {
    return client_->WaitForTask(
        id,
        [&](const v1::Task& t) {
          if (each) each(t);
          return done(t);
        },
        what, timeout, kPoll);
  }

  absl::StatusOr<v1::DescribeContainerHealthResponse> DescribeHealth(const std::string& id) {
    grpc::ClientContext context;
    context.set_deadline(Deadline(EcsClient::kCallTimeout));
    v1::DescribeContainerHealthRequest request;
    request.set_task(id);
    v1::DescribeContainerHealthResponse response;
    if (absl::Status s =
            FromGrpc(client_->node().DescribeContainerHealth(&context, request, &response),
                     "DescribeContainerHealth");
        !s.ok()) {
      return s;
    }
    return response;
  }

  // Polls DescribeContainerHealth until `done` holds; DeadlineExceeded with the last answer.
  absl::StatusOr<v1::DescribeContainerHealthResponse> WaitForHealth(
      const std::string& id,
      const std::function<bool(const v1::DescribeContainerHealthResponse&)>& done,
      absl::string_view what, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::StatusOr<v1::DescribeContainerHealthResponse> last = absl::UnknownError("no answer");
    while (true) {
      last = DescribeHealth(id);
      if (last.ok() && done(*last)) return last;
      if (absl::Now() >= deadline) break;
      absl::SleepFor(kPoll);
    }
    return absl::DeadlineExceededError(
        absl::StrCat("task ", id, ": health not ", what, " within ", absl::FormatDuration(timeout),
                     "; last seen:\n", last.ok() ? HealthText(*last) : last.status().ToString()));
  }

  // Node.ExecuteCommand in one container: stdout and stderr together, or the error.
  absl::StatusOr<std::string> Exec(const std::string& id, const std::string& container,
                                   const std::string& command, int* exit_code) {
    grpc::ClientContext context;
    context.set_deadline(Deadline(EcsClient::kCallTimeout));
    v1::ExecuteCommandRequest request;
    request.set_task(id);
    request.set_container(container);
    request.set_command(command);
    request.set_interactive(false);
    std::unique_ptr<grpc::ClientReader<v1::ExecOutput>> reader =
        client_->node().ExecuteCommand(&context, request);
    std::string out;
    *exit_code = -1000;
    v1::ExecOutput chunk;
    while (reader->Read(&chunk)) {
      absl::StrAppend(&out, chunk.stdout(), chunk.stderr());
      if (chunk.has_exit_code()) *exit_code = chunk.exit_code();
    }
    if (absl::Status s = FromGrpc(reader->Finish(), "ExecuteCommand"); !s.ok()) return s;
    return out;
  }

  // The lines of `ps` in the container that mention `text` (ps itself never does).
  absl::StatusOr<std::vector<std::string>> PsLines(const std::string& id,
                                                   const std::string& container,
                                                   absl::string_view text) {
    int exit_code = 0;
    absl::StatusOr<std::string> ps = Exec(id, container, "ps", &exit_code);
    if (!ps.ok()) return ps.status();
    if (exit_code != 0) return absl::InternalError(absl::StrCat("ps exited ", exit_code, *ps));
    std::vector<std::string> lines;
    for (absl::string_view line : absl::StrSplit(*ps, '\n', absl::SkipEmpty())) {
      if (absl::StrContains(line, text)) lines.emplace_back(line);
    }
    return lines;
  }

  // Command lines, seen from the host, of the processes in this containerd's containers that
  // mention `text`: a cross-check of PsLines that does not go through skiffd. Only reads /proc.
  std::vector<std::string> HostContainerProcesses(absl::string_view text) {
    std::vector<std::string> found;
    for (pid_t pid : skiff::testing::ContainerProcessesUnder(containerd_->dir())) {
      absl::StatusOr<std::string> cmdline =
          skiff::testing::ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
      if (!cmdline.ok()) continue;  // Gone meanwhile.
      std::string args = absl::StrJoin(absl::StrSplit(*cmdline, '\0', absl::SkipEmpty()), " ");
      if (absl::StrContains(args, text)) found.push_back(absl::StrCat(pid, ": ", args));
    }
    return found;
  }

  // `ctr tasks ls -q` of skiffd's namespace: the containers that have (had) a process.
  std::set<std::string> CtrTasks() {
    std::string out;
    absl::Status listed = containerd_->Ctr({"-n", ns_, "tasks", "ls", "-q"}, &out);
    EXPECT_TRUE(listed.ok()) << listed;
    std::set<std::string> ids;
    for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) ids.emplace(line);
    return ids;
  }

  // What the container wrote so far (STATE_DIR/tasks/<id>/<container>.log), "" if nothing.
  std::string ContainerLog(const std::string& id, const std::string& container) {
    absl::StatusOr<std::string> log = skiff::testing::ReadFile(
        absl::StrCat(skiffd_->state_dir(), "/tasks/", id, "/", container, ".log"));
    return log.ok() ? *log : "";
  }

  // Waits (bounded) until the container's log has `text`; returns the log then.
  std::string WaitForLog(const std::string& id, const std::string& container,
                         absl::string_view text) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    std::string log = ContainerLog(id, container);
    while (!absl::StrContains(log, text) && absl::Now() < deadline) {
      absl::SleepFor(kPoll);
      log = ContainerLog(id, container);
    }
    return log;
  }

  // skiffd's resident set, from /proc/PID/status; -1 if it cannot be read.
  int64_t SkiffdRssKib() {
    absl::StatusOr<std::string> status =
        skiff::testing::ReadFile(absl::StrCat("/proc/", skiffd_->pid(), "/status"));
    if (!status.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(*status, '\n')) {
      if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
      line = absl::StripAsciiWhitespace(line);
      absl::ConsumeSuffix(&line, " kB");
      int64_t kib = 0;
      if (absl::SimpleAtoi(line, &kib)) return kib;
    }
    return -1;
  }
};

bool AllRunning(const v1::Task& task) {
  return task.last_status() == "RUNNING" && task.containers_size() > 0 &&
         std::all_of(task.containers().begin(), task.containers().end(),
                     [](const v1::Container& c) { return c.last_status() == "RUNNING"; });
}

TEST_F(HealthTest, APassingCheckMakesTheContainerAndTaskHealthy) {
  // "app" (essential) passes and prints to both streams; "side" (not essential) always fails,
  // once is enough. The task's health comes from its essential containers only.
  Register(
      "pass",
      json::array({Container("app", "exec sleep 3600",
                             {{"healthCheck",
                               HealthCheck(Shell("echo hello-from-check; echo to-stderr >&2"))}}),
                   Container("side", "exec sleep 3600",
                             {{"essential", false},
                              {"healthCheck", HealthCheck(json::array({"CMD", "false"}),
                                                          /*retries=*/1)}})}));
  const std::string id = RunTask("pass");
  ASSERT_FALSE(id.empty());
  absl::StatusOr<v1::Task> running = WaitForTask(id, AllRunning, "RUNNING", kStartTimeout);
  ASSERT_TRUE(running.ok()) << running.status();
  const absl::Time started = absl::Now();
  // No check has run yet: the first comes `interval` seconds after the container started.
  EXPECT_EQ(ContainerHealthStatus(*running, "app"), "UNKNOWN") << TaskText(*running);
  EXPECT_EQ(running->health_status(), "UNKNOWN") << TaskText(*running);

  absl::StatusOr<v1::Task> healthy = WaitForTask(
      id,
      [](const v1::Task& t) {
        return t.health_status() == "HEALTHY" && ContainerHealthStatus(t, "side") == "UNHEALTHY";
      },
      "HEALTHY with side UNHEALTHY", absl::Seconds(kInterval) + absl::Seconds(15));
  ASSERT_TRUE(healthy.ok()) << healthy.status();
  const absl::Duration took = absl::Now() - started;
  EXPECT_GE(took, absl::Seconds(kInterval) - kSlack) << "the first check came too early";
  EXPECT_LE(took, absl::Seconds(kInterval) + 3 * kSlack) << "the first check came too late";
  EXPECT_EQ(ContainerHealthStatus(*healthy, "app"), "HEALTHY") << TaskText(*healthy);
  // A standalone task runs on, whatever its non-essential container's health.
  EXPECT_TRUE(AllRunning(*healthy)) << TaskText(*healthy);
  std::cerr << "first check passed " << absl::FormatDuration(took) << " after RUNNING\n";

  absl::StatusOr<v1::DescribeContainerHealthResponse> health = DescribeHealth(id);
  ASSERT_TRUE(health.ok()) << health.status();
  ASSERT_EQ(health->containers_size(), 2) << HealthText(*health);
  EXPECT_EQ(health->containers(0).container_name(), "app");  // Definition order.
  EXPECT_EQ(health->containers(1).container_name(), "side");
  const v1::ContainerHealth& app = health->containers(0);
  EXPECT_EQ(app.health_status(), "HEALTHY");
  EXPECT_EQ(app.consecutive_failures(), 0);
  EXPECT_EQ(app.last_exit_code(), 0);
  EXPECT_EQ(app.last_output(), "hello-from-check\nto-stderr\n");  // stdout, then stderr.
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  EXPECT_GT(app.last_check_at(), running->started_at() - 1) << HealthText(*health);
  EXPECT_LE(app.last_check_at(), now + 1) << HealthText(*health);
  const v1::ContainerHealth& side = health->containers(1);
  EXPECT_EQ(side.health_status(), "UNHEALTHY");
  EXPECT_GE(side.consecutive_failures(), 1);
  EXPECT_EQ(side.last_exit_code(), 1);
}

TEST_F(HealthTest, FailuresInTheStartPeriodDoNotCount) {
  // "slow" fails every check, but its first two (at 5 s and 10 s) fall in its 12 s start
  // period; "fast" passes at once. Both are essential: the task is UNKNOWN while one of them
  // is, then UNHEALTHY.
  constexpr int kStartPeriod = 12;
  Register("slow",
           json::array({Container("slow", "exec sleep 3600",
                                  {{"healthCheck", HealthCheck(json::array({"CMD", "false"}), 1,
                                                               kTimeout, kStartPeriod)}}),
                        Container("fast", "exec sleep 3600",
                                  {{"healthCheck", HealthCheck(json::array({"CMD", "true"}))}})}));
  const std::string id = RunTask("slow");
  ASSERT_FALSE(id.empty());
  absl::StatusOr<v1::Task> running = WaitForTask(id, AllRunning, "RUNNING", kStartTimeout);
  ASSERT_TRUE(running.ok()) << running.status();
  const absl::Time started = absl::Now();

  absl::StatusOr<v1::DescribeContainerHealthResponse> early = WaitForHealth(
      id,
      [](const v1::DescribeContainerHealthResponse& h) {
        const v1::ContainerHealth* slow = FindHealth(h, "slow");
        const v1::ContainerHealth* fast = FindHealth(h, "fast");
        return slow != nullptr && slow->has_last_check_at() && fast != nullptr &&
               fast->health_status() == "HEALTHY";
      },
      "checked once", absl::Seconds(kInterval) + absl::Seconds(10));
  ASSERT_TRUE(early.ok()) << early.status();
  const v1::ContainerHealth* slow = FindHealth(*early, "slow");
  EXPECT_EQ(slow->health_status(), "UNKNOWN") << HealthText(*early);
  EXPECT_EQ(slow->consecutive_failures(), 0) << HealthText(*early);
  EXPECT_EQ(slow->last_exit_code(), 1) << HealthText(*early);
  if (absl::Now() - started < absl::Seconds(kStartPeriod) - kSlack) {
    absl::StatusOr<v1::Task> task = DescribeTask(id);
    ASSERT_TRUE(task.ok()) << task.status();
    EXPECT_EQ(task->health_status(), "UNKNOWN")
        << "one essential container is UNKNOWN; " << TaskText(*task);
  }

  absl::StatusOr<v1::Task> unhealthy = WaitForTask(
      id, [](const v1::Task& t) { return t.health_status() == "UNHEALTHY"; }, "UNHEALTHY",
      absl::Seconds(kStartPeriod + kInterval + kTimeout) + absl::Seconds(10));
  ASSERT_TRUE(unhealthy.ok()) << unhealthy.status();
  EXPECT_GE(absl::Now() - started, absl::Seconds(kStartPeriod) - kSlack)
      << "a failure inside the start period counted";
  EXPECT_EQ(ContainerHealthStatus(*unhealthy, "slow"), "UNHEALTHY") << TaskText(*unhealthy);
  EXPECT_EQ(ContainerHealthStatus(*unhealthy, "fast"), "HEALTHY") << TaskText(*unhealthy);
}

TEST_F(HealthTest, AServiceReplacesATaskWhoseCheckStartsFailing) {
  Register("web",
           json::array({Container("app", "touch /tmp/ok; exec sleep 3600",
                                  {{"healthCheck", HealthCheck(Shell("test -f /tmp/ok"))}})}));
  v1::CreateServiceRequest create;
  create.set_service_name("web");
  create.set_task_definition("web");
  create.set_desired_count(1);
  absl::StatusOr<v1::Service> created = client_->CreateService(create);
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<std::vector<v1::Task>> tasks;
  absl::StatusOr<v1::Service> steady = client_->WaitForService(
      "web", [](const v1::Service& s) { return IsSteady(s) && s.running_count() == 1; },
      "steady with 1 running", kStartTimeout);
  ASSERT_TRUE(steady.ok()) << steady.status();
  tasks = client_->ServiceTasks("web", "RUNNING");
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), 1u);
  const std::string old_id = TaskIdOf((*tasks)[0].task_arn());

  absl::StatusOr<v1::Task> healthy = WaitForTask(
      old_id, [](const v1::Task& t) { return t.health_status() == "HEALTHY"; }, "HEALTHY",
      absl::Seconds(kInterval) + absl::Seconds(15));
  ASSERT_TRUE(healthy.ok()) << healthy.status();

  int exit_code = 0;
  absl::StatusOr<std::string> removed = Exec(old_id, "app", "rm /tmp/ok", &exit_code);
  ASSERT_TRUE(removed.ok()) << removed.status();
  ASSERT_EQ(exit_code, 0) << *removed;
  const absl::Time broken = absl::Now();

  // Every state of the old task on the way: UNHEALTHY may last only as long as the stop takes.
  std::optional<absl::Time> unhealthy_at;
  absl::StatusOr<v1::Task> stopped = WaitForTask(
      old_id, [](const v1::Task& t) { return t.last_status() == "STOPPED"; }, "STOPPED",
      absl::Seconds(kRetries * (kInterval + kTimeout)) + absl::Seconds(25),
      [&](const v1::Task& t) {
        if (!unhealthy_at && t.health_status() == "UNHEALTHY") unhealthy_at = absl::Now();
      });
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  const absl::Time stopped_seen = absl::Now();
  ASSERT_TRUE(unhealthy_at.has_value()) << "never seen UNHEALTHY: " << TaskText(*stopped);
  // Two failures in a row are needed, a check interval apart; one alone must not do it.
  EXPECT_GE(*unhealthy_at - broken, absl::Seconds((kRetries - 1) * kInterval) - kSlack);
  EXPECT_LE(*unhealthy_at - broken, absl::Seconds(kRetries * (kInterval + kTimeout)) + kSlack * 3);
  EXPECT_EQ(stopped->stop_code(), "ServiceSchedulerInitiated") << TaskText(*stopped);
  EXPECT_THAT(stopped->stopped_reason(), HasSubstr("health checks")) << TaskText(*stopped);

  // A new task of the service runs in its place.
  std::string new_id;
  const absl::Time deadline = absl::Now() + kStartTimeout;
  while (new_id.empty() && absl::Now() < deadline) {
    tasks = client_->ServiceTasks("web", "RUNNING");
    if (tasks.ok()) {
      for (const v1::Task& t : *tasks) {
        if (TaskIdOf(t.task_arn()) != old_id && t.last_status() == "RUNNING") {
          new_id = TaskIdOf(t.task_arn());
        }
      }
    }
    if (new_id.empty()) absl::SleepFor(kPoll);
  }
  ASSERT_FALSE(new_id.empty()) << "no replacement RUNNING within "
                               << absl::FormatDuration(kStartTimeout);
  const absl::Time replaced = absl::Now();
  absl::StatusOr<v1::Service> service = client_->DescribeService("web");
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_TRUE(HasEvent(
      *service, absl::StrCat("(service web) (task ", old_id, ") failed container health checks.")))
      << EventsText(*service);
  std::cerr << "check broken -> UNHEALTHY " << absl::FormatDuration(*unhealthy_at - broken)
            << ", -> old task STOPPED (seen) " << absl::FormatDuration(stopped_seen - broken)
            << ", -> replacement RUNNING " << absl::FormatDuration(replaced - broken) << "\n";
}

TEST_F(HealthTest, AHangingCheckIsKilledWithItsProcessesAndCountsAsAFailure) {
  Register(
      "hang",
      json::array({Container("app", "exec sleep 3600",
                             {{"healthCheck", HealthCheck(Shell("sleep 1000 & sleep 1000"))}})}));
  const std::string id = RunTask("hang");
  ASSERT_FALSE(id.empty());
  absl::StatusOr<v1::Task> running = WaitForTask(id, AllRunning, "RUNNING", kStartTimeout);
  ASSERT_TRUE(running.ok()) << running.status();
  const absl::Time running_at = absl::Now();

  // Right after a check timed out (the next one is `interval` away), none of its processes
  // may be left: neither the shell, nor the sleep in front, nor the one it put in background.
  auto expect_no_leftovers = [&](absl::string_view when) {
    std::vector<std::string> left;
    const absl::Time deadline = absl::Now() + absl::Seconds(2);
    do {
      absl::StatusOr<std::vector<std::string>> ps = PsLines(id, "app", "sleep 1000");
      ASSERT_TRUE(ps.ok()) << ps.status();
      left = *ps;
      if (left.empty()) left = HostContainerProcesses("sleep 1000");
      if (!left.empty()) absl::SleepFor(absl::Milliseconds(200));
    } while (!left.empty() && absl::Now() < deadline);
    EXPECT_THAT(left, ::testing::IsEmpty()) << when << ": processes of a killed check remain";
  };
  // A check ends at its timeout, and the next one starts `interval` after that end.
  absl::Time previous_end = running_at;
  for (int failures = 1; failures <= kRetries; ++failures) {
    absl::StatusOr<v1::DescribeContainerHealthResponse> health = WaitForHealth(
        id,
        [failures](const v1::DescribeContainerHealthResponse& h) {
          const v1::ContainerHealth* app = FindHealth(h, "app");
          return app != nullptr && app->consecutive_failures() >= failures &&
                 app->last_exit_code() == -1;
        },
        absl::StrCat(failures, " timed-out checks"),
        absl::Seconds(kInterval + kTimeout) + absl::Seconds(10));
    ASSERT_TRUE(health.ok()) << health.status();
    const absl::Time ended = absl::Now();
    EXPECT_GE(ended - previous_end, absl::Seconds(kInterval + kTimeout) - kSlack)
        << "check " << failures << " ended too soon after the previous one (or the start)";
    previous_end = ended;
    expect_no_leftovers(absl::StrCat("after ", failures, " checks"));
  }

  absl::StatusOr<v1::Task> unhealthy = WaitForTask(
      id, [](const v1::Task& t) { return t.health_status() == "UNHEALTHY"; }, "UNHEALTHY",
      absl::Seconds(5));
  ASSERT_TRUE(unhealthy.ok()) << unhealthy.status();
  EXPECT_EQ(ContainerHealthStatus(*unhealthy, "app"), "UNHEALTHY");

  // A standalone task is not stopped for its health: it still runs a whole check later.
  absl::StatusOr<v1::DescribeContainerHealthResponse> third = WaitForHealth(
      id,
      [](const v1::DescribeContainerHealthResponse& h) {
        const v1::ContainerHealth* app = FindHealth(h, "app");
        return app != nullptr && app->consecutive_failures() >= kRetries + 1;
      },
      "one check past UNHEALTHY", absl::Seconds(kInterval + kTimeout) + absl::Seconds(10));
  EXPECT_TRUE(third.ok()) << third.status();
  absl::StatusOr<v1::Task> later = DescribeTask(id);
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_TRUE(AllRunning(*later)) << TaskText(*later);
  EXPECT_EQ(later->desired_status(), "RUNNING") << TaskText(*later);
  EXPECT_EQ(later->health_status(), "UNHEALTHY") << TaskText(*later);
}

TEST_F(HealthTest, AChecksOutputIsCappedAndDoesNotGrowSkiffd) {
  // 20 MB per check, 4 checks: skiffd must read and drop, not keep it.
  Register("chatty",
           json::array({Container("app", "exec sleep 3600",
                                  {{"healthCheck", HealthCheck(Shell("yes | head -c 20000000"),
                                                               kRetries, /*timeout=*/10)}})}));
  const std::string id = RunTask("chatty");
  ASSERT_FALSE(id.empty());
  absl::StatusOr<v1::Task> running = WaitForTask(id, AllRunning, "RUNNING", kStartTimeout);
  ASSERT_TRUE(running.ok()) << running.status();
  int64_t baseline = 0;
  for (int i = 0; i < 5; ++i) {
    baseline = std::max(baseline, SkiffdRssKib());
    absl::SleepFor(kPoll);
  }
  ASSERT_GT(baseline, 0);

  std::set<double> checks;
  int64_t peak = baseline;
  v1::DescribeContainerHealthResponse last;
  const absl::Time deadline = absl::Now() + absl::Seconds(4 * (kInterval + 3) + 10);
  while (checks.size() < 4 && absl::Now() < deadline) {
    peak = std::max(peak, SkiffdRssKib());
    absl::StatusOr<v1::DescribeContainerHealthResponse> health = DescribeHealth(id);
    ASSERT_TRUE(health.ok()) << health.status();
    const v1::ContainerHealth* app = FindHealth(*health, "app");
    if (app != nullptr && app->has_last_check_at()) checks.insert(app->last_check_at());
    last = *std::move(health);
    absl::SleepFor(kPoll);
  }
  peak = std::max(peak, SkiffdRssKib());
  ASSERT_GE(checks.size(), 4u) << HealthText(last);
  std::cerr << "skiffd VmRSS: " << baseline << " KiB before, " << peak << " KiB at most over "
            << checks.size() << " checks of 20 MB output\n";
  EXPECT_LE(peak - baseline, 30 * 1024) << "KiB of growth";

  const v1::ContainerHealth* app = FindHealth(last, "app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->last_exit_code(), 0) << HealthText(last);
  EXPECT_EQ(app->health_status(), "HEALTHY") << HealthText(last);
  EXPECT_LE(app->last_output().size(), 4096u + 64u) << "4 KiB and a short truncation marker";
  EXPECT_GE(app->last_output().size(), 2048u) << "the output's start is kept";
  EXPECT_TRUE(absl::StartsWith(app->last_output(), "y\ny\ny\n")) << HealthText(last);
}

TEST_F(HealthTest, AnAppWaitsForItsInitContainerToSucceed) {
  const json shared = json::array({{{"sourceVolume", "shared"}, {"containerPath", "/shared"}}});
  Register("init-ok",
           json::array({Container("init", "sleep 2; echo done > /shared/init-done; exit 0",
                                  {{"essential", false}, {"mountPoints", shared}}),
                        Container("app",
                                  "if test -f /shared/init-done; then echo app-after-init; "
                                  "else echo app-before-init; fi; exec sleep 3600",
                                  {{"mountPoints", shared},
                                   {"dependsOn", json::array({{{"containerName", "init"},
                                                               {"condition", "SUCCESS"}}})}})}),
           json::array({{{"name", "shared"}}}));
  const std::string id = RunTask("init-ok");
  ASSERT_FALSE(id.empty());
  // The first state seen that breaks the order, and how many polls saw one.
  std::string violation;
  int violations = 0;
  absl::StatusOr<v1::Task> ready = WaitForTask(
      id,
      [](const v1::Task& t) {
        const v1::Container* init = FindContainer(t, "init");
        return t.last_status() == "RUNNING" && init != nullptr &&
               init->last_status() == "STOPPED" && ContainerStatus(t, "app") == "RUNNING";
      },
      "RUNNING with init done", kDependencyTimeout,
      [&](const v1::Task& t) {
        if (ContainerStatus(t, "app") == "RUNNING" && ContainerStatus(t, "init") != "STOPPED") {
          if (violations++ == 0) violation = TaskText(t);
        }
      });
  EXPECT_EQ(violations, 0) << "app RUNNING while init was not done, first: " << violation;
  ASSERT_TRUE(ready.ok()) << ready.status();
  const v1::Container* init = FindContainer(*ready, "init");
  ASSERT_TRUE(init->has_exit_code()) << TaskText(*ready);
  EXPECT_EQ(init->exit_code(), 0);
  // What the app saw when it started.
  EXPECT_THAT(WaitForLog(id, "app", "app-"), HasSubstr("app-after-init"));
  EXPECT_EQ(ready->desired_status(), "RUNNING");
}

TEST_F(HealthTest, AFailedInitContainerStopsTheTaskBeforeTheAppStarts) {
  Register("init-fails",
           json::array({Container("init", "sleep 1; exit 1", {{"essential", false}}),
                        Container("app", "echo app-ran; exec sleep 3600",
                                  {{"dependsOn", json::array({{{"containerName", "init"},
                                                               {"condition", "SUCCESS"}}})}})}));
  const std::string id = RunTask("init-fails");
  ASSERT_FALSE(id.empty());
  bool app_had_process = false;
  absl::StatusOr<v1::Task> stopped = WaitForTask(
      id, [](const v1::Task& t) { return t.last_status() == "STOPPED"; }, "STOPPED",
      kDependencyTimeout,
      [&](const v1::Task&) {
        app_had_process = app_had_process || CtrTasks().count(id + "-app") > 0;
      });
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->stop_code(), "TaskFailedToStart") << TaskText(*stopped);
  EXPECT_THAT(stopped->stopped_reason(), HasSubstr("init")) << TaskText(*stopped);
  const v1::Container* init = FindContainer(*stopped, "init");
  ASSERT_NE(init, nullptr);
  EXPECT_EQ(init->last_status(), "STOPPED");
  EXPECT_TRUE(init->has_exit_code() && init->exit_code() == 1) << TaskText(*stopped);
  const v1::Container* app = FindContainer(*stopped, "app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->last_status(), "STOPPED");
  EXPECT_FALSE(app->has_exit_code()) << "the app never ran: " << TaskText(*stopped);
  EXPECT_FALSE(app_had_process) << "containerd had a task for the app";
  EXPECT_EQ(CtrTasks().count(id + "-app"), 0u);
  EXPECT_THAT(ContainerLog(id, "app"), ::testing::Not(HasSubstr("app-ran")));
}

TEST_F(HealthTest, AnAppWaitsForAHealthySidecarAndStopsBeforeIt) {
  // The sidecar's check leaves a mark on the shared volume, so the app can tell whether a check
  // had passed when it started. On SIGTERM each says, through the volume, who went first.
  const json shared = json::array({{{"sourceVolume", "shared"}, {"containerPath", "/shared"}}});
  Register(
      "sidecar",
      json::array({Container("sidecar",
                             "trap 'if test -f /shared/app-stopped; then echo sidecar-after-app; "
                             "else echo sidecar-before-app; fi; exit 0' TERM; sleep 3600 & wait",
                             {{"mountPoints", shared},
                              {"healthCheck", HealthCheck(Shell("touch /shared/checked"))}}),
                   Container("app",
                             "if test -f /shared/checked; then echo app-after-healthy; "
                             "else echo app-before-healthy; fi; "
                             "trap 'touch /shared/app-stopped; exit 0' TERM; sleep 3600 & wait",
                             {{"mountPoints", shared},
                              {"dependsOn", json::array({{{"containerName", "sidecar"},
                                                          {"condition", "HEALTHY"}}})}})}),
      json::array({{{"name", "shared"}}}));
  const absl::Time run_at = absl::Now();
  const std::string id = RunTask("sidecar");
  ASSERT_FALSE(id.empty());
  // The first state seen that breaks the order, and how many polls saw one.
  std::string violation;
  int violations = 0;
  absl::StatusOr<v1::Task> ready = WaitForTask(
      id,
      [](const v1::Task& t) {
        return AllRunning(t) && ContainerHealthStatus(t, "sidecar") == "HEALTHY";
      },
      "RUNNING with sidecar HEALTHY", kDependencyTimeout + absl::Seconds(kInterval),
      [&](const v1::Task& t) {
        if (ContainerStatus(t, "app") == "RUNNING" &&
            ContainerHealthStatus(t, "sidecar") != "HEALTHY") {
          if (violations++ == 0) violation = TaskText(t);
        }
      });
  EXPECT_EQ(violations, 0) << "app RUNNING before the sidecar was HEALTHY, first: " << violation;
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_GE(absl::Now() - run_at, absl::Seconds(kInterval) - kSlack);
  EXPECT_THAT(WaitForLog(id, "app", "app-"), HasSubstr("app-after-healthy"));
  EXPECT_EQ(ready->health_status(), "HEALTHY") << TaskText(*ready);

  // Stop: the app (which depends on the sidecar) first, then the sidecar.
  grpc::ClientContext context;
  context.set_deadline(Deadline(EcsClient::kCallTimeout));
  v1::StopTaskRequest stop;
  stop.set_task(id);
  v1::StopTaskResponse response;
  ASSERT_TRUE(FromGrpc(client_->ecs().StopTask(&context, stop, &response), "StopTask").ok());
  absl::StatusOr<v1::Task> stopped = WaitForTask(
      id, [](const v1::Task& t) { return t.last_status() == "STOPPED"; }, "STOPPED",
      absl::Seconds(30));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->stop_code(), "UserInitiated") << TaskText(*stopped);
  EXPECT_THAT(WaitForLog(id, "sidecar", "sidecar-"), HasSubstr("sidecar-after-app"));
  for (const char* name : {"app", "sidecar"}) {
    const v1::Container* c = FindContainer(*stopped, name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_TRUE(c->has_exit_code() && c->exit_code() == 0) << TaskText(*stopped);
  }
}

TEST_F(HealthTest, AServiceWaitsOutItsGracePeriodBeforeReplacingAnUnhealthyTask) {
  constexpr int kGrace = 20;
  Register("graceful",
           json::array({Container("app", "exec sleep 3600",
                                  {{"healthCheck", HealthCheck(json::array({"CMD", "false"}),
                                                               /*retries=*/1)}})}));
  v1::CreateServiceRequest create;
  create.set_service_name("graceful");
  create.set_task_definition("graceful");
  create.set_desired_count(1);
  create.set_health_check_grace_period_seconds(kGrace);
  absl::StatusOr<v1::Service> created = client_->CreateService(create);
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<v1::Service> steady = client_->WaitForService(
      "graceful", [](const v1::Service& s) { return IsSteady(s) && s.running_count() == 1; },
      "steady with 1 running", kStartTimeout);
  ASSERT_TRUE(steady.ok()) << steady.status();
  absl::StatusOr<std::vector<v1::Task>> tasks = client_->ServiceTasks("graceful", "RUNNING");
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), 1u);
  const std::string id = TaskIdOf((*tasks)[0].task_arn());
  const absl::Time started = absl::UnixEpoch() + absl::Seconds((*tasks)[0].started_at());

  // UNHEALTHY after the first check, yet left alone until the grace period is over.
  std::optional<absl::Time> unhealthy_at;
  std::optional<absl::Time> stopping_at;
  absl::StatusOr<v1::Task> stopped = WaitForTask(
      id, [](const v1::Task& t) { return t.last_status() == "STOPPED"; }, "STOPPED",
      absl::Seconds(kGrace + 25),
      [&](const v1::Task& t) {
        if (!unhealthy_at && t.health_status() == "UNHEALTHY") unhealthy_at = absl::Now();
        if (!stopping_at && t.desired_status() == "STOPPED") stopping_at = absl::Now();
      });
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  ASSERT_TRUE(unhealthy_at.has_value()) << TaskText(*stopped);
  ASSERT_TRUE(stopping_at.has_value()) << TaskText(*stopped);
  EXPECT_LE(*unhealthy_at - started, absl::Seconds(kInterval + kTimeout) + kSlack * 3);
  EXPECT_GE(*stopping_at - started, absl::Seconds(kGrace) - kSlack)
      << "replaced before the grace period ended";
  EXPECT_LE(*stopping_at - started, absl::Seconds(kGrace + kInterval + kTimeout) + kSlack * 3);
  EXPECT_EQ(stopped->stop_code(), "ServiceSchedulerInitiated") << TaskText(*stopped);
  absl::StatusOr<v1::Service> service = client_->DescribeService("graceful");
  ASSERT_TRUE(service.ok()) << service.status();
  EXPECT_TRUE(HasEvent(
      *service, absl::StrCat("(service graceful) (task ", id, ") failed container health checks.")))
      << EventsText(*service);
  std::cerr << "UNHEALTHY " << absl::FormatDuration(*unhealthy_at - started)
            << " after start, stopped by the service "
            << absl::FormatDuration(*stopping_at - started) << " after (grace " << kGrace
            << " s)\n";
}

}  // namespace
}  // namespace skiff::e2e
