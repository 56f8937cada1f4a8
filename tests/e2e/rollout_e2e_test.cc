// Rolling deployments end to end: a real skiffd rolls a 4-task service from one revision to the
// next on a private containerd with real runc, inside the bounds of its deploymentConfiguration,
// and the deployment circuit breaker stops a broken revision, with and without rollback.
//
// Every rollout is watched from outside: DescribeServices and ListTasks + DescribeTasks every
// 100 ms, and at every sample the tasks that are RUNNING and meant to run (healthy: there are no
// health checks) must be at least the floor, ceil(desired x minimumHealthyPercent / 100), and
// the tasks meant to run that are not STOPPED must be at most the ceiling,
// floor(desired x maximumPercent / 100). Every wait is bounded.
//
// The bounds are minimumHealthyPercent 100 and maximumPercent 150: a floor of 4 and a ceiling
// of 6 for 4 tasks. Both bind: no old task may stop before a new one runs in its place, and the
// new revision may not start all its 4 tasks at once (4 + 4 > 6). With 50/200 the ceiling (8)
// could never be crossed by a 4-task rollout, so it would test nothing.
//
// The broken revision comes in two kinds: `sh -c "exit 1"` under init, whose tasks reach RUNNING
// for a few ms before they exit (the usual crashing release), and a missing binary without init,
// whose tasks fail in runc and never run. The breaker must hold the floor for both.
#include <algorithm>
#include <climits>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kPoll = absl::Milliseconds(100);
// Starting a few busybox containers on a loaded 2-CPU machine (or under ASan): seconds, with
// room to spare.
constexpr absl::Duration kStartTimeout = absl::Seconds(60);
constexpr char kService[] = "web";
constexpr char kFamily[] = "rollout";
constexpr int kDesired = 4;
constexpr int kMinHealthyPercent = 100;
constexpr int kMaxPercent = 150;
constexpr int kFloor = (kDesired * kMinHealthyPercent + 99) / 100;  // 4
constexpr int kCeiling = kDesired * kMaxPercent / 100;              // 6
// max(3, min(200, ceil(desired / 2))) for 4 tasks.
constexpr int kBreakerThreshold = 3;

enum class BrokenRevision { kExitsAtOnce, kCannotStart };
void PrintTo(BrokenRevision how, std::ostream* out) {
  *out << (how == BrokenRevision::kExitsAtOnce ? "exits at once" : "cannot start");
}

// The revision at the end of a task definition ARN (.../rollout:3), or -1.
int RevisionOf(const std::string& arn) {
  int revision = -1;
  const size_t colon = arn.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(arn.substr(colon + 1), &revision)) return -1;
  return revision;
}

bool Healthy(const v1::Task& t) {
  return t.desired_status() == "RUNNING" && t.last_status() == "RUNNING";
}
bool Active(const v1::Task& t) {
  return t.desired_status() == "RUNNING" && t.last_status() != "STOPPED";
}

// The service and its tasks as one poll saw them.
struct Sample {
  v1::Service service;
  std::vector<v1::Task> tasks;  // Desired RUNNING when listed (described a moment later).
  int healthy = 0;
  int active = 0;

  // RUNNING tasks meant to run, of `revision`.
  int HealthyOf(int revision) const {
    return static_cast<int>(std::count_if(tasks.begin(), tasks.end(), [&](const v1::Task& t) {
      return Healthy(t) && RevisionOf(t.task_definition_arn()) == revision;
    }));
  }
  const v1::Deployment* DeploymentOf(int revision) const {
    for (const v1::Deployment& d : service.deployments()) {
      if (RevisionOf(d.task_definition()) == revision) return &d;
    }
    return nullptr;
  }
  std::string Describe() const {
    std::string out = absl::StrCat("healthy ", healthy, ", active ", active, "; deployments:");
    for (const v1::Deployment& d : service.deployments()) {
      absl::StrAppend(&out, " [", d.status(), " rev ", RevisionOf(d.task_definition()), " ",
                      d.rollout_state(), " running ", d.running_count(), " pending ",
                      d.pending_count(), " failed ", d.failed_tasks(), "]");
    }
    absl::StrAppend(&out, "; tasks:");
    for (const v1::Task& t : tasks) {
      absl::StrAppend(&out, " ", TaskIdOf(t.task_arn()).substr(0, 8), "(rev ",
                      RevisionOf(t.task_definition_arn()), " ", t.last_status(), "/",
                      t.desired_status(), ")");
    }
    return out;
  }
};

// What the polls of one rollout saw.
struct RolloutStats {
  int samples = 0;
  int min_healthy = INT_MAX;
  int max_active = 0;
  std::vector<std::string> violations;  // The first few, each with its sample.

  void Print(absl::string_view what) const {
    std::cerr << what << ": " << samples << " samples, min healthy " << min_healthy << " (floor "
              << kFloor << "), max active " << max_active << " (ceiling " << kCeiling << ")\n";
  }
};

class RolloutTest : public E2eTest {
 protected:
  RolloutTest() { namespace_prefix_ = "skiff-roll"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartSkiffd();
    LoadTestImage();
  }

  // The next revision of kFamily: `command` under an init process, so SIGTERM stops `sleep` at
  // once (as pid 1 it would ignore it). Revisions differ by the REVISION variable.
  void Register(int revision, const json& command, bool init = true) {
    json container = {
        {"name", "app"},
        {"image", skiff::testing::kTestImageRef},
        {"memory", 32},
        {"stopTimeout", 5},
        {"linuxParameters", {{"initProcessEnabled", init}}},
        {"environment", json::array({{{"name", "REVISION"}, {"value", std::to_string(revision)}}})},
        {"command", command}};
    json definition = {{"family", kFamily},
                       {"networkMode", "none"},
                       {"containerDefinitions", json::array({container})}};
    RegisterTaskDefinition(definition);
  }
  void RegisterGood(int revision) { Register(revision, json::array({"sleep", "3600"})); }
  // A revision whose tasks never keep running: `sh -c "exit 1"` under init reaches RUNNING for a
  // few ms before it exits; a missing binary without init fails in runc and never runs.
  void RegisterBroken(int revision, BrokenRevision how) {
    if (how == BrokenRevision::kExitsAtOnce) {
      Register(revision, json::array({"sh", "-c", "exit 1"}));
    } else {
      Register(revision, json::array({"/no/such/binary"}), /*init=*/false);
    }
  }

  static v1::DeploymentConfiguration Config(bool breaker, bool rollback) {
    v1::DeploymentConfiguration c;
    c.set_minimum_healthy_percent(kMinHealthyPercent);
    c.set_maximum_percent(kMaxPercent);
    c.mutable_deployment_circuit_breaker()->set_enable(breaker);
    c.mutable_deployment_circuit_breaker()->set_rollback(rollback);
    return c;
  }

  // Creates the service on `revision` and waits until it is steady there.
  void CreateSteady(int revision, const v1::DeploymentConfiguration& config) {
    v1::CreateServiceRequest request;
    request.set_service_name(kService);
    request.set_task_definition(absl::StrCat(kFamily, ":", revision));
    request.set_desired_count(kDesired);
    *request.mutable_deployment_configuration() = config;
    absl::StatusOr<v1::Service> created = client_->CreateService(request);
    ASSERT_TRUE(created.ok()) << created.status();
    absl::StatusOr<v1::Service> steady = client_->WaitForService(
        kService,
        [](const v1::Service& s) {
          return IsSteady(s) && s.running_count() == kDesired &&
                 s.deployments(0).rollout_state() == "COMPLETED";
        },
        "steady", kStartTimeout);
    ASSERT_TRUE(steady.ok()) << steady.status();
  }

  // UpdateService to `revision`; returns the new PRIMARY deployment's id.
  std::string Update(int revision, const v1::DeploymentConfiguration& config) {
    v1::UpdateServiceRequest request;
    request.set_service(kService);
    request.set_task_definition(absl::StrCat(kFamily, ":", revision));
    *request.mutable_deployment_configuration() = config;
    absl::StatusOr<v1::Service> updated = client_->UpdateService(request);
    EXPECT_TRUE(updated.ok()) << updated.status();
    if (!updated.ok() || updated->deployments_size() == 0) return "";
    const v1::Deployment& primary = updated->deployments(0);
    EXPECT_EQ(primary.status(), "PRIMARY");
    EXPECT_EQ(RevisionOf(primary.task_definition()), revision);
    EXPECT_EQ(primary.rollout_state(), "IN_PROGRESS");
    return primary.id();
  }

  absl::StatusOr<Sample> TakeSample() {
    Sample sample;
    absl::StatusOr<v1::Service> service = client_->DescribeService(kService);
    if (!service.ok()) return service.status();
    sample.service = *std::move(service);
    absl::StatusOr<std::vector<v1::Task>> tasks = client_->ServiceTasks(kService, "RUNNING");
    if (!tasks.ok()) return tasks.status();
    sample.tasks = *std::move(tasks);
    for (const v1::Task& t : sample.tasks) {
      sample.healthy += Healthy(t) ? 1 : 0;
      sample.active += Active(t) ? 1 : 0;
    }
    return sample;
  }

  // Samples every 100 ms until `done` holds (returns that sample) or `timeout` passes; checks
  // the floor and the ceiling at every sample, recording what crosses them in `stats`.
  absl::StatusOr<Sample> SampleUntil(const std::function<bool(const Sample&)>& done,
                                     absl::string_view what, absl::Duration timeout,
                                     RolloutStats& stats) {
    const absl::Time deadline = absl::Now() + timeout;
    absl::StatusOr<Sample> sample = absl::UnknownError("no sample");
    while (true) {
      sample = TakeSample();
      if (!sample.ok()) return sample.status();
      ++stats.samples;
      stats.min_healthy = std::min(stats.min_healthy, sample->healthy);
      stats.max_active = std::max(stats.max_active, sample->active);
      if ((sample->healthy < kFloor || sample->active > kCeiling) && stats.violations.size() < 5) {
        stats.violations.push_back(
            absl::StrCat("sample ", stats.samples, ": ", sample->Describe()));
      }
      if (done(*sample)) return sample;
      if (absl::Now() >= deadline) break;
      absl::SleepFor(kPoll);
    }
    return absl::DeadlineExceededError(
        absl::StrCat("not ", what, " within ", absl::FormatDuration(timeout),
                     "; last: ", sample->Describe(), "; events:\n", EventsText(sample->service)));
  }

  static std::string Violations(const RolloutStats& stats) {
    std::string out;
    for (const std::string& v : stats.violations) absl::StrAppend(&out, "  ", v, "\n");
    return out;
  }

  // Steady on `deployment_id` (of `revision`): one deployment, COMPLETED, kDesired tasks, all of
  // them RUNNING, of that revision and launched by that deployment.
  static bool SteadyOn(const Sample& s, const std::string& deployment_id, int revision) {
    return IsSteady(s.service) && s.service.running_count() == kDesired &&
           s.service.deployments(0).id() == deployment_id &&
           s.service.deployments(0).rollout_state() == "COMPLETED" &&
           static_cast<int>(s.tasks.size()) == kDesired && s.HealthyOf(revision) == kDesired &&
           std::all_of(s.tasks.begin(), s.tasks.end(),
                       [&](const v1::Task& t) { return t.started_by() == deployment_id; });
  }

  // Every task of the service that skiffd still keeps, of `revision`.
  std::vector<v1::Task> TasksOf(int revision) {
    absl::StatusOr<std::vector<v1::Task>> all = client_->AllServiceTasks(kService);
    EXPECT_TRUE(all.ok()) << all.status();
    std::vector<v1::Task> out;
    if (!all.ok()) return out;
    for (v1::Task& t : *all) {
      if (RevisionOf(t.task_definition_arn()) == revision) out.push_back(std::move(t));
    }
    return out;
  }

  // For failure messages: every task of the service and every event, oldest first, in ms
  // after `t0` (skiffd's clock, same host).
  std::string Timeline(absl::Time t0) {
    const double zero = absl::ToDoubleSeconds(t0 - absl::UnixEpoch());
    auto at = [zero](double t) { return t > 0 ? absl::StrCat("+", int((t - zero) * 1000)) : "-"; };
    std::string out = "timeline (ms after the update):\n";
    absl::StatusOr<std::vector<v1::Task>> all = client_->AllServiceTasks(kService);
    if (all.ok()) {
      std::sort(all->begin(), all->end(), [](const v1::Task& a, const v1::Task& b) {
        return a.created_at() < b.created_at();
      });
      for (const v1::Task& t : *all) {
        if (t.created_at() < zero && t.last_status() == "RUNNING") continue;  // Untouched.
        absl::StrAppend(&out, "  task ", TaskIdOf(t.task_arn()).substr(0, 8), " rev ",
                        RevisionOf(t.task_definition_arn()), ": created ", at(t.created_at()),
                        " started ", at(t.started_at()), " stopping ", at(t.stopping_at()),
                        " stopped ", at(t.stopped_at()), " ", t.last_status(), "/",
                        t.desired_status(), " ", t.stop_code(), " (", t.stopped_reason(), ")\n");
      }
    }
    absl::StatusOr<v1::Service> s = client_->DescribeService(kService);
    if (s.ok()) {
      for (int i = s->events_size() - 1; i >= 0; --i) {
        const v1::ServiceEvent& e = s->events(i);
        if (e.created_at() >= zero) {
          absl::StrAppend(&out, "  event ", at(e.created_at()), " ", e.message(), "\n");
        }
      }
    }
    return out;
  }

  // The newest event that contains `text`, or null.
  static const v1::ServiceEvent* FindEvent(const v1::Service& s, absl::string_view text) {
    for (const v1::ServiceEvent& e : s.events()) {
      if (absl::StrContains(e.message(), text)) return &e;
    }
    return nullptr;
  }

  // (a) Revision 1 to 2 by a rolling update, sampled against the floor and the ceiling; then
  // one deployment, COMPLETED, on revision 2, and a new steady-state event.
  void RollFrom1To2() {
    CreateSteady(1, Config(/*breaker=*/false, /*rollback=*/false));
    absl::StatusOr<std::vector<v1::Task>> before = client_->ServiceTasks(kService, "RUNNING");
    ASSERT_TRUE(before.ok()) << before.status();
    ASSERT_EQ(before->size(), static_cast<size_t>(kDesired));
    const absl::Time a_start = absl::Now();
    const std::string rev2 = Update(2, Config(false, false));
    ASSERT_FALSE(rev2.empty());
    RolloutStats a;
    absl::StatusOr<Sample> done = SampleUntil([&](const Sample& s) { return SteadyOn(s, rev2, 2); },
                                              "steady on revision 2", absl::Seconds(60), a);
    a.Print("rollout 1 -> 2");
    std::cerr << "rollout 1 -> 2 took " << absl::FormatDuration(absl::Now() - a_start) << "\n";
    ASSERT_TRUE(done.ok()) << done.status() << "\nbound violations:\n" << Violations(a);
    EXPECT_TRUE(a.violations.empty())
        << "floor " << kFloor << " / ceiling " << kCeiling << " crossed:\n"
        << Violations(a) << Timeline(a_start);
    // The rollout really was watched in the middle: the new revision went above 4 active.
    EXPECT_GT(a.max_active, kDesired) << "no sample saw old and new tasks together";
    EXPECT_GE(a.samples, 3);
    const v1::Service& after_a = done->service;
    ASSERT_EQ(after_a.deployments_size(), 1);
    EXPECT_EQ(after_a.deployments(0).status(), "PRIMARY");
    EXPECT_EQ(after_a.deployments(0).failed_tasks(), 0);
    EXPECT_EQ(RevisionOf(after_a.task_definition()), 2);
    const v1::ServiceEvent* completed =
        FindEvent(after_a, absl::StrCat("(deployment ", rev2, ") deployment completed."));
    EXPECT_NE(completed, nullptr) << EventsText(after_a);
    const v1::ServiceEvent* steady =
        FindEvent(after_a, absl::StrCat("(service ", kService, ") has reached a steady state."));
    ASSERT_NE(steady, nullptr) << EventsText(after_a);
    EXPECT_GE(steady->created_at(), absl::ToDoubleSeconds(a_start - absl::UnixEpoch()))
        << "the newest steady-state event is older than the update:\n"
        << EventsText(after_a);
    // Every revision-1 task was stopped by the scheduler, none of them died.
    std::vector<v1::Task> rev1_tasks = TasksOf(1);
    EXPECT_EQ(rev1_tasks.size(), static_cast<size_t>(kDesired));
    for (const v1::Task& t : rev1_tasks) {
      EXPECT_EQ(t.desired_status(), "STOPPED") << t.task_arn();
      EXPECT_EQ(t.stop_code(), "ServiceSchedulerInitiated") << t.task_arn();
    }
    EXPECT_EQ(TasksOf(2).size(), static_cast<size_t>(kDesired)) << "a revision-2 task was replaced";
  }
};

// (a) Revision 1 to 2 within the floor and the ceiling.
TEST_F(RolloutTest, RollsFromOneRevisionToTheNextWithinTheBounds) {
  RegisterGood(1);
  RegisterGood(2);
  RollFrom1To2();
}

class BreakerTest : public RolloutTest, public ::testing::WithParamInterface<BrokenRevision> {};

INSTANTIATE_TEST_SUITE_P(BrokenRevisions, BreakerTest,
                         ::testing::Values(BrokenRevision::kExitsAtOnce,
                                           BrokenRevision::kCannotStart),
                         [](const ::testing::TestParamInfo<BrokenRevision>& info) {
                           return info.param == BrokenRevision::kExitsAtOnce ? "ExitsAtOnce"
                                                                             : "CannotStart";
                         });

// (b) After (a), a broken revision 3 trips the circuit breaker, which rolls back to revision 2
// (the last deployment that completed) by itself, all within the floor.
TEST_P(BreakerTest, RollsABrokenRevisionBackToTheLastCompletedOne) {
  RegisterGood(1);
  RegisterGood(2);
  RegisterBroken(3, GetParam());
  ASSERT_NO_FATAL_FAILURE(RollFrom1To2());
  absl::StatusOr<v1::Service> rolled = client_->DescribeService(kService);
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  const std::string rev2 = rolled->deployments(0).id();

  // The broken revision with the breaker and rollback.
  const absl::Time b_start = absl::Now();
  const std::string rev3 = Update(3, Config(/*breaker=*/true, /*rollback=*/true));
  ASSERT_FALSE(rev3.empty());
  RolloutStats b;
  bool saw_failed = false;
  std::string failed_reason;
  absl::StatusOr<Sample> done = SampleUntil(
      [&](const Sample& s) {
        for (const v1::Deployment& d : s.service.deployments()) {
          if (d.id() == rev3 && d.rollout_state() == "FAILED" && !saw_failed) {
            saw_failed = true;
            failed_reason = d.rollout_state_reason();
          }
        }
        return s.service.deployments(0).id() != rev3 &&
               SteadyOn(s, s.service.deployments(0).id(), 2);
      },
      "rolled back and steady on revision 2", absl::Seconds(90), b);
  b.Print("broken revision 3 and rollback");
  std::cerr << "breaker and rollback took " << absl::FormatDuration(absl::Now() - b_start)
            << (saw_failed ? "; a sample saw the FAILED deployment" : "") << "\n";
  ASSERT_TRUE(done.ok()) << done.status() << "\nbound violations:\n" << Violations(b);
  EXPECT_TRUE(b.violations.empty())
      << "floor " << kFloor << " / ceiling " << kCeiling << " crossed:\n"
      << Violations(b) << Timeline(b_start);
  const v1::Service& after_b = done->service;
  const std::string rollback = after_b.deployments(0).id();
  EXPECT_NE(rollback, rev2) << "the rollback is a new deployment";
  EXPECT_EQ(RevisionOf(after_b.task_definition()), 2);
  const v1::ServiceEvent* failed = FindEvent(
      after_b,
      absl::StrCat("(service ", kService, ") (deployment ", rev3, ") deployment failed: "));
  ASSERT_NE(failed, nullptr) << EventsText(after_b);
  EXPECT_THAT(failed->message(), HasSubstr(absl::StrCat("the threshold is ", kBreakerThreshold)));
  if (saw_failed) {
    EXPECT_THAT(failed_reason, StartsWith("ECS deployment circuit breaker: "));
  }
  const v1::ServiceEvent* rolling_back =
      FindEvent(after_b, absl::StrCat("(service ", kService, ") (deployment ", rollback,
                                      ") rolling back to ", kFamily, ":2, "));
  ASSERT_NE(rolling_back, nullptr) << EventsText(after_b);
  // The rollback started by itself, right when the breaker tripped.
  EXPECT_GE(rolling_back->created_at(), failed->created_at());
  EXPECT_LE(rolling_back->created_at() - failed->created_at(), 1.0);
  // The broken revision launched at least the threshold's worth of tasks, and not many more:
  // no more than can be in flight when the third failure is counted. All of them stopped, none
  // launched after the breaker tripped.
  const std::vector<v1::Task> rev3_tasks = TasksOf(3);
  EXPECT_GE(rev3_tasks.size(), static_cast<size_t>(kBreakerThreshold));
  EXPECT_LE(rev3_tasks.size(), static_cast<size_t>(kBreakerThreshold + kCeiling));
  for (const v1::Task& t : rev3_tasks) {
    EXPECT_EQ(t.desired_status(), "STOPPED") << t.task_arn();
    EXPECT_LE(t.created_at(), failed->created_at()) << "launched after the breaker tripped";
  }
  std::cerr << "revision 3 launched " << rev3_tasks.size() << " tasks before the breaker tripped\n";
}

// (c) The breaker without rollback: the broken revision fails, launches nothing more, and the
// revision-2 tasks keep serving untouched.
TEST_P(BreakerTest, WithoutRollbackLeavesTheOldTasksServing) {
  RegisterGood(1);
  RegisterGood(2);
  RegisterBroken(3, GetParam());
  const v1::DeploymentConfiguration config = Config(/*breaker=*/true, /*rollback=*/false);
  CreateSteady(2, config);
  absl::StatusOr<std::vector<v1::Task>> before = client_->ServiceTasks(kService, "RUNNING");
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->size(), static_cast<size_t>(kDesired));
  std::set<std::string> serving;
  for (const v1::Task& t : *before) serving.insert(t.task_arn());

  const absl::Time start = absl::Now();
  const std::string rev3 = Update(3, config);
  ASSERT_FALSE(rev3.empty());
  RolloutStats c;
  absl::StatusOr<Sample> failed = SampleUntil(
      [&](const Sample& s) { return s.service.deployments(0).rollout_state() == "FAILED"; },
      "FAILED", absl::Seconds(60), c);
  ASSERT_TRUE(failed.ok()) << failed.status() << "\nbound violations:\n" << Violations(c);
  std::cerr << "revision 3 FAILED after " << absl::FormatDuration(absl::Now() - start) << "\n";
  const v1::Deployment& primary = failed->service.deployments(0);
  EXPECT_EQ(primary.id(), rev3);
  EXPECT_EQ(primary.status(), "PRIMARY");
  EXPECT_THAT(primary.rollout_state_reason(), StartsWith("ECS deployment circuit breaker: "));
  EXPECT_GE(primary.failed_tasks(), kBreakerThreshold);
  const std::set<std::string> launched_at_failure = [&] {
    std::set<std::string> arns;
    for (const v1::Task& t : TasksOf(3)) arns.insert(t.task_arn());
    return arns;
  }();

  // Some seconds later (more than the back-off's next steps, 2 s and 4 s): still FAILED, the same
  // four revision-2 tasks serving, nothing more of revision 3.
  const absl::Time later = absl::Now() + absl::Seconds(6);
  absl::StatusOr<Sample> end = SampleUntil([&](const Sample&) { return absl::Now() >= later; },
                                           "6 s later", absl::Seconds(30), c);
  c.Print("broken revision 3 without rollback");
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_TRUE(c.violations.empty())
      << "floor " << kFloor << " / ceiling " << kCeiling << " crossed:\n"
      << Violations(c) << Timeline(start);
  const v1::Service& s = end->service;
  ASSERT_EQ(s.deployments_size(), 2) << end->Describe();
  EXPECT_EQ(s.deployments(0).id(), rev3);
  EXPECT_EQ(s.deployments(0).rollout_state(), "FAILED");
  EXPECT_EQ(s.deployments(0).running_count(), 0);
  EXPECT_EQ(s.deployments(0).pending_count(), 0);
  EXPECT_EQ(RevisionOf(s.deployments(1).task_definition()), 2);
  EXPECT_EQ(s.deployments(1).running_count(), kDesired);
  EXPECT_EQ(s.running_count(), kDesired);
  EXPECT_EQ(end->HealthyOf(2), kDesired) << end->Describe();
  std::set<std::string> still;
  for (const v1::Task& t : end->tasks) still.insert(t.task_arn());
  EXPECT_EQ(still, serving) << "the revision-2 tasks changed: " << end->Describe();

  const v1::ServiceEvent* failed_event = FindEvent(
      s, absl::StrCat("(service ", kService, ") (deployment ", rev3, ") deployment failed: "));
  ASSERT_NE(failed_event, nullptr) << EventsText(s);
  EXPECT_FALSE(HasEvent(s, "rolling back to")) << EventsText(s);
  const std::vector<v1::Task> rev3_tasks = TasksOf(3);
  std::set<std::string> rev3_arns;
  for (const v1::Task& t : rev3_tasks) {
    rev3_arns.insert(t.task_arn());
    EXPECT_EQ(t.desired_status(), "STOPPED") << t.task_arn();
    EXPECT_LE(t.created_at(), failed_event->created_at()) << "launched after FAILED";
  }
  EXPECT_EQ(rev3_arns, launched_at_failure) << "revision 3 launched again after FAILED";
  std::cerr << "revision 3 launched " << rev3_tasks.size() << " tasks in all\n";
}

}  // namespace
}  // namespace skiff::e2e
