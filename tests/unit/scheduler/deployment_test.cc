// Rolling deployments, the circuit breaker and rollback, in simulated time. The simulation
// tests drive random rollouts (seeded; the seed is in every failure message) and check the
// deployment bounds after every event, not only at the end.
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/scheduler/service_fixture.h"

namespace skiff::scheduler {
namespace {

using ::testing::SizeIs;

// How a new revision behaves.
enum class Revision { kGood, kNeverStarts, kTurnsUnhealthy, kCrashesAfterAMinute };

std::string RevisionName(Revision r) {
  switch (r) {
    case Revision::kGood:
      return "good";
    case Revision::kNeverStarts:
      return "never-starts";
    case Revision::kTurnsUnhealthy:
      return "turns-unhealthy";
    case Revision::kCrashesAfterAMinute:
      return "crashes-after-a-minute";
  }
  return "?";
}

class DeploymentTest : public ServiceManagerTest {
 protected:
  void SetUp() override {
    service_options_ = ServiceManagerOptions{};  // The daemon's: tasks count after 500 ms.
    ServiceManagerTest::SetUp();
    runtime_.ScriptExecCommand("/bin/sh -c exit 1", runtime::ExecResult{.exit_code = 1});
  }

  // Registers the next revision of "web" that behaves as `kind`; returns "web:N".
  std::string RegisterRevision(Revision kind) {
    std::string container = R"("name": "app", "memory": 32, "image": "skiff.local/busybox:test")";
    if (kind == Revision::kNeverStarts) {
      container = R"("name": "app", "memory": 32, "image": "skiff.local/missing:1")";
    } else if (kind == Revision::kTurnsUnhealthy) {
      absl::StrAppend(&container, R"(, "healthCheck": {"command": ["CMD-SHELL", "exit 1"],
                                     "interval": 5, "retries": 2})");
    }
    absl::StrAppend(&container, R"(, "environment": [{"name": "REVISION", "value": ")",
                    ++revisions_, R"("}])");
    Register(absl::StrCat(R"({"family": "web", "networkMode": "host", "containerDefinitions": [{)",
                          container, "}]}"));
    kinds_[revisions_ + 1] = kind;  // "web" has revision 1 from the fixture.
    return absl::StrCat("web:", revisions_ + 1);
  }

  static int RevisionOf(const v1::Task& task) {
    const std::string& arn = task.task_definition_arn();
    return std::stoi(arn.substr(arn.rfind(':') + 1));
  }

  struct World {
    int active = 0;   // Desired RUNNING, not STOPPED: what maximumPercent bounds.
    int healthy = 0;  // Of those, RUNNING and (if checked) HEALTHY.
    std::set<std::string> healthy_ids;
    std::map<int, int> running_by_revision;
  };
  World Look() {
    World w;
    tasks_->ForEachTask([&](const store::StoredTask& t) {
      if (t.service != service_ || t.task.desired_status() != "RUNNING" ||
          t.task.last_status() == "STOPPED") {
        return;
      }
      ++w.active;
      if (t.task.last_status() != "RUNNING") return;
      ++w.running_by_revision[RevisionOf(t.task)];
      const bool checked = kinds_[RevisionOf(t.task)] == Revision::kTurnsUnhealthy;
      if (checked ? t.task.health_status() == "HEALTHY" : t.task.health_status() != "UNHEALTHY") {
        ++w.healthy;
        w.healthy_ids.insert(t.id);
      }
    });
    return w;
  }

  // The containers that something outside skiffd ends in this step: stopped tasks honour their
  // SIGTERM after a random delay, and a crashing revision's tasks die after a minute of running.
  // Returns how many healthy tasks died on their own.
  int PlayTheWorld(std::mt19937_64& rng, const std::set<std::string>& healthy) {
    std::vector<std::pair<std::string, uint32_t>> exits;
    const double now = absl::ToDoubleSeconds(clock_.Now() - absl::UnixEpoch());
    tasks_->ForEachTask([&](const store::StoredTask& t) {
      if (t.service != service_ || t.task.last_status() == "STOPPED") return;
      const bool running = t.task.containers(0).last_status() == "RUNNING";
      if (!running) return;
      if (t.task.desired_status() == "STOPPED" && rng() % 3 == 0) {
        exits.emplace_back(t.id, 143);
      } else if (t.task.desired_status() == "RUNNING" &&
                 kinds_[RevisionOf(t.task)] == Revision::kCrashesAfterAMinute &&
                 now - t.task.started_at() >= 60) {
        exits.emplace_back(t.id, 1);
      }
    });
    int crashed_healthy = 0;
    for (const auto& [id, status] : exits) {
      if (status == 1 && healthy.count(id)) ++crashed_healthy;
      runtime_.Exit(id + "-app", status, clock_.Now());
    }
    return crashed_healthy;
  }

  // Steps simulated time for `duration`, checking after every step that the rollout never had
  // more active tasks than the ceiling and that no stop of the scheduler's took the healthy
  // tasks below the floor (tasks that died on their own are not the scheduler's doing).
  void RunChecked(std::mt19937_64& rng, absl::Duration duration, int floor, int ceiling,
                  const std::string& context) {
    for (absl::Duration t; t < duration; t += absl::Milliseconds(500)) {
      const World before = Look();
      const int crashed = PlayTheWorld(rng, before.healthy_ids);
      Advance(absl::Milliseconds(500));
      const World after = Look();
      ASSERT_LE(after.active, ceiling) << context << " at " << t;
      ASSERT_GE(after.healthy + crashed, std::min(floor, before.healthy))
          << context << " at " << t << ": " << before.healthy << " healthy before, "
          << after.healthy << " after, " << crashed << " crashed";
      min_healthy_ = std::min(min_healthy_, after.healthy);
    }
  }

  v1::Deployment Primary() { return Describe(service_).deployments(0); }

  std::string service_ = "web";  // The service Look and PlayTheWorld look at.
  int revisions_ = 0;
  std::map<int, Revision> kinds_{{1, Revision::kGood}};
  int min_healthy_ = 1 << 30;
};

TEST_F(DeploymentTest, TheBreakerTripsAtExactlyItsThreshold) {
  // ceil(desired / 2), at least 3 and at most 200.
  // maximumPercent leaves room for one extra task, so that failures come one at a time.
  struct Case {
    int desired, max, threshold;
  };
  for (const Case& c : std::vector<Case>{{1, 200, 3}, {7, 115, 4}, {10, 110, 5}}) {
    const int desired = c.desired, threshold = c.threshold;
    SCOPED_TRACE(absl::StrCat("desiredCount ", desired));
    const std::string name = absl::StrCat("web", desired);
    ASSERT_TRUE(Create(absl::StrCat(R"({"serviceName": ")", name,
                                    R"(", "taskDefinition": "web:1", "desiredCount": )", desired,
                                    R"(, "deploymentConfiguration": {"maximumPercent": )", c.max,
                                    R"(, "deploymentCircuitBreaker": {"enable": true,
                                          "rollback": false}}})"))
                    .ok());
    Advance(absl::Seconds(2));
    const std::string broken = RegisterRevision(Revision::kNeverStarts);
    ASSERT_TRUE(Update(absl::StrCat(R"({"service": ")", name, R"(", "taskDefinition": ")", broken,
                                    R"("})"))
                    .ok());
    // Failures come one launch at a time once the back-off spaces them (the first batch may
    // fail together); the rollout fails as the count reaches the threshold, not before.
    for (int step = 0; step < 600; ++step) {
      Advance(absl::Milliseconds(100));
      const v1::Deployment d = Describe(name).deployments(0);
      if (d.rollout_state() == "FAILED") {
        EXPECT_EQ(d.failed_tasks(), threshold);
        break;
      }
      ASSERT_LT(d.failed_tasks(), threshold) << "still IN_PROGRESS at the threshold";
    }
    const v1::Service s = Describe(name);
    EXPECT_EQ(s.deployments(0).rollout_state(), "FAILED");
    EXPECT_THAT(s.deployments(0).rollout_state_reason(),
                testing::StartsWith("ECS deployment circuit breaker: "));
    EXPECT_THAT(s.deployments(0).rollout_state_reason(),
                testing::HasSubstr(absl::StrCat("the threshold is ", threshold)));
    EXPECT_TRUE(HasEvent(Events(name), absl::StrCat("(service ", name, ") (deployment ",
                                                    s.deployments(0).id(),
                                                    ") deployment failed: ")));
  }
}

TEST_F(DeploymentTest, WithoutRollbackTheFailedRevisionStopsLaunchingAndTheOldTasksServe) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 4,
      "deploymentConfiguration": {"minimumHealthyPercent": 100,
        "deploymentCircuitBreaker": {"enable": true, "rollback": false}}})")
                  .ok());
  Advance(absl::Seconds(2));
  ASSERT_TRUE(Update(absl::StrCat(R"({"service": "web", "taskDefinition": ")",
                                  RegisterRevision(Revision::kNeverStarts), R"("})"))
                  .ok());
  Advance(absl::Seconds(30));
  ASSERT_EQ(Primary().rollout_state(), "FAILED");
  const int launches = Launches();
  const int creates = static_cast<int>(runtime_.calls().size());
  Advance(absl::Minutes(10));
  EXPECT_EQ(Launches(), launches);
  EXPECT_LE(static_cast<int>(runtime_.calls().size()), creates + 4);  // No new containers.
  EXPECT_EQ(Look().running_by_revision[1], 4);  // Nothing of revision 1 was drained.

  // A scale-down still applies to what serves, and a new deployment starts afresh.
  ASSERT_TRUE(Update(R"({"service": "web", "desiredCount": 3})").ok());
  Advance(absl::Seconds(1));
  EXPECT_EQ(Look().active, 3);
  ASSERT_TRUE(Update(R"({"service": "web", "taskDefinition": "web:1"})").ok());
  std::mt19937_64 rng(4);
  RunChecked(rng, absl::Seconds(30), 3, 6, "back to web:1");
  EXPECT_EQ(Primary().rollout_state(), "COMPLETED");
  EXPECT_EQ(Look().running_by_revision[1], 3);
}

TEST_F(DeploymentTest, RollbackGoesToTheLastCompletedRevision) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 2,
      "deploymentConfiguration": {
        "deploymentCircuitBreaker": {"enable": true, "rollback": true}}})")
                  .ok());
  Advance(absl::Seconds(2));
  const std::string good = RegisterRevision(Revision::kGood);  // web:2
  ASSERT_TRUE(Update(absl::StrCat(R"({"service": "web", "taskDefinition": ")", good, R"("})")).ok());
  std::mt19937_64 rng(1);
  RunChecked(rng, absl::Seconds(20), 2, 4, "to web:2");
  ASSERT_EQ(Describe().deployments_size(), 1);
  ASSERT_EQ(Primary().rollout_state(), "COMPLETED");

  const std::string broken = RegisterRevision(Revision::kNeverStarts);  // web:3
  ASSERT_TRUE(
      Update(absl::StrCat(R"({"service": "web", "taskDefinition": ")", broken, R"("})")).ok());
  RunChecked(rng, absl::Seconds(60), 2, 4, "to broken web:3");
  const v1::Service s = Describe();
  ASSERT_EQ(s.deployments_size(), 1) << s.DebugString();
  EXPECT_THAT(s.deployments(0).task_definition(), testing::EndsWith("task-definition/web:2"));
  EXPECT_EQ(s.deployments(0).rollout_state(), "COMPLETED");
  EXPECT_THAT(s.task_definition(), testing::EndsWith("task-definition/web:2"));
  EXPECT_TRUE(HasEvent(Events(), "rolling back to web:2"));
  EXPECT_EQ(Look().running_by_revision[2], 2);

  // The history, newest first: the rollback, the failed deployment, web:2, the first one.
  auto list = services_->ListServiceDeployments(
      Parse<v1::ListServiceDeploymentsRequest>(R"({"service": "web"})"));
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->service_deployments_size(), 4);
  std::vector<std::string> statuses;
  for (const auto& d : list->service_deployments()) statuses.push_back(d.status());
  EXPECT_THAT(statuses, testing::ElementsAre("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", "SUCCESSFUL",
                                             "SUCCESSFUL"));
  EXPECT_THAT(list->service_deployments(0).service_deployment_arn(),
              testing::StartsWith("arn:aws:ecs:local:000000000000:service-deployment/default/web/"));
  v1::DescribeServiceDeploymentsRequest describe;
  describe.add_service_deployment_arns(list->service_deployments(1).service_deployment_arn());
  describe.add_service_deployment_arns(
      "arn:aws:ecs:local:000000000000:service-deployment/default/web/1");
  auto described = services_->DescribeServiceDeployments(describe);
  ASSERT_TRUE(described.ok()) << described.status();
  ASSERT_EQ(described->service_deployments_size(), 1);
  ASSERT_EQ(described->failures_size(), 1);
  EXPECT_EQ(described->failures(0).reason(), "MISSING");
  const v1::ServiceDeployment& failed = described->service_deployments(0);
  EXPECT_EQ(failed.deployment_circuit_breaker().status(), "TRIGGERED");
  EXPECT_EQ(failed.deployment_circuit_breaker().threshold(), 3);
  EXPECT_GE(failed.deployment_circuit_breaker().failure_count(), 3);
  EXPECT_THAT(failed.status_reason(), testing::HasSubstr("circuit breaker"));
  EXPECT_EQ(failed.rollback().service_revision_arn(),
            list->service_deployments(0).target_service_revision_arn());
  ASSERT_EQ(failed.source_service_revisions_size(), 1);
  EXPECT_EQ(failed.source_service_revisions(0).arn(),
            list->service_deployments(2).target_service_revision_arn());

  v1::DescribeServiceRevisionsRequest revisions;
  revisions.add_service_revision_arns(failed.target_service_revision().arn());
  revisions.add_service_revision_arns(failed.rollback().service_revision_arn());
  auto revs = services_->DescribeServiceRevisions(revisions);
  ASSERT_TRUE(revs.ok()) << revs.status();
  ASSERT_EQ(revs->service_revisions_size(), 2);
  EXPECT_THAT(revs->service_revisions(0).task_definition(), testing::EndsWith("web:3"));
  EXPECT_THAT(revs->service_revisions(1).task_definition(), testing::EndsWith("web:2"));

  // Filters, and the history survives a restart.
  Open();
  auto failed_only = services_->ListServiceDeployments(Parse<v1::ListServiceDeploymentsRequest>(
      R"({"service": "web", "status": ["ROLLBACK_SUCCESSFUL"]})"));
  ASSERT_TRUE(failed_only.ok()) << failed_only.status();
  ASSERT_EQ(failed_only->service_deployments_size(), 1);
  EXPECT_EQ(failed_only->service_deployments(0).service_deployment_arn(),
            failed.service_deployment_arn());
}

TEST_F(DeploymentTest, DeploymentHistoryRefusesBadInputNamingTheField) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 1})").ok());
  auto unknown = services_->ListServiceDeployments(
      Parse<v1::ListServiceDeploymentsRequest>(R"({"service": "nope"})"));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  auto none = services_->DescribeServiceDeployments(v1::DescribeServiceDeploymentsRequest());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(none.status().message()), testing::HasSubstr("serviceDeploymentArns"));
  auto page = services_->ListServiceDeployments(
      Parse<v1::ListServiceDeploymentsRequest>(R"({"service": "web", "nextToken": "junk"})"));
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  // A superseded deployment is STOPPED, the newest IN_PROGRESS until it completes.
  ASSERT_TRUE(Update(absl::StrCat(R"({"service": "web", "taskDefinition": ")",
                                  RegisterRevision(Revision::kGood), R"("})"))
                  .ok());
  ASSERT_TRUE(Update(R"({"service": "web", "forceNewDeployment": true})").ok());
  auto list = services_->ListServiceDeployments(
      Parse<v1::ListServiceDeploymentsRequest>(R"({"service": "web"})"));
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->service_deployments_size(), 3);
  EXPECT_EQ(list->service_deployments(0).status(), "IN_PROGRESS");
  EXPECT_EQ(list->service_deployments(1).status(), "STOPPED");
  EXPECT_THAT(list->service_deployments(1).status_reason(), testing::HasSubstr("Superseded"));
}

TEST_F(DeploymentTest, ASupersededRolloutRollsBackPastTheUnfinishedOne) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 3,
      "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 200,
        "deploymentCircuitBreaker": {"enable": true, "rollback": true}}})")
                  .ok());
  Advance(absl::Seconds(2));
  // web:2 is healthy-checked and never passes: it cannot complete before web:3 supersedes it.
  const std::string slow = RegisterRevision(Revision::kTurnsUnhealthy);
  ASSERT_TRUE(Update(absl::StrCat(R"({"service": "web", "taskDefinition": ")", slow, R"("})")).ok());
  Advance(absl::Seconds(2));
  const std::string broken = RegisterRevision(Revision::kNeverStarts);
  ASSERT_TRUE(
      Update(absl::StrCat(R"({"service": "web", "taskDefinition": ")", broken, R"("})")).ok());
  EXPECT_THAT(Describe().deployments(0).task_definition(), testing::EndsWith("web:3"));
  std::mt19937_64 rng(2);
  RunChecked(rng, absl::Minutes(2), 3, 6, "superseded");
  const v1::Service s = Describe();
  ASSERT_EQ(s.deployments_size(), 1) << s.DebugString();
  EXPECT_THAT(s.deployments(0).task_definition(), testing::EndsWith("task-definition/web:1"));
  EXPECT_EQ(s.deployments(0).rollout_state(), "COMPLETED");
  EXPECT_EQ(Look().running_by_revision[1], 3);
}

TEST_F(DeploymentTest, DesiredCountChangesDuringARolloutAreHonoured) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 2})").ok());
  Advance(absl::Seconds(1));
  ASSERT_TRUE(Update(absl::StrCat(R"({"service": "web", "taskDefinition": ")",
                                  RegisterRevision(Revision::kGood), R"(", "desiredCount": 5})"))
                  .ok());
  Advance(absl::Milliseconds(500));
  ASSERT_TRUE(Update(R"({"service": "web", "desiredCount": 3})").ok());
  std::mt19937_64 rng(3);
  RunChecked(rng, absl::Seconds(30), 3, 6, "5 then 3");
  EXPECT_EQ(Describe().deployments_size(), 1);
  EXPECT_EQ(Look().running_by_revision[2], 3);
  EXPECT_EQ(Look().running_by_revision[1], 0);
}

TEST_F(DeploymentTest, TheProgressDeadlineFailsAStuckRollout) {
  // A skiffd with a deadline (Open builds every manager afresh, listeners included).
  service_options_.planner.progress_deadline = absl::Minutes(2);
  Open();
  // 100/100 with one task cannot move: neither a start above nor a stop below is allowed.
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 1,
      "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 100}})")
                  .ok());
  Advance(absl::Seconds(2));
  ASSERT_TRUE(Update(absl::StrCat(R"({"service": "web", "taskDefinition": ")",
                                  RegisterRevision(Revision::kGood), R"("})"))
                  .ok());
  Advance(absl::Seconds(119));
  EXPECT_EQ(Primary().rollout_state(), "IN_PROGRESS");
  Advance(absl::Seconds(1));
  EXPECT_EQ(Primary().rollout_state(), "FAILED");
  EXPECT_THAT(Primary().rollout_state_reason(), testing::HasSubstr("progress deadline of 2m"));
  EXPECT_EQ(Look().running_by_revision[1], 1);
}

// Many rollouts with random timing of the world (when stopped containers really exit), over
// min 0/50/100, max 100/150/200, 1/2/3/10 tasks and four kinds of new revision; the bounds are
// checked after every step. Each seed picks one combination.
TEST_F(DeploymentTest, RandomRolloutsKeepTheFloorAndTheCeilingAtEveryStep) {
  const int mins[] = {0, 50, 100};
  const int maxes[] = {100, 150, 200};
  const int counts[] = {1, 2, 3, 10};
  const Revision kinds[] = {Revision::kGood, Revision::kNeverStarts, Revision::kTurnsUnhealthy,
                            Revision::kCrashesAfterAMinute};
  for (uint64_t seed = 1; seed <= 48; ++seed) {
    std::mt19937_64 rng(seed);
    const int min = mins[rng() % 3], max = maxes[rng() % 3], desired = counts[rng() % 4];
    const Revision kind = kinds[rng() % 4];
    const bool rollback = rng() % 2 == 0;
    const std::string context =
        absl::StrCat("seed ", seed, ": ", desired, " tasks, min ", min, " max ", max, ", ",
                     RevisionName(kind), rollback ? ", rollback" : ", no rollback");
    SCOPED_TRACE(context);
    service_ = absl::StrCat("s", seed);
    const int floor = (desired * min + 99) / 100, ceiling = desired * max / 100;
    ASSERT_TRUE(Create(absl::StrCat(R"({"serviceName": ")", service_, R"(",
        "taskDefinition": "web:1", "desiredCount": )", desired, R"(, "deploymentConfiguration": {"minimumHealthyPercent": )",
                                    min, R"(, "maximumPercent": )", max,
                                    R"(, "deploymentCircuitBreaker": {"enable": true,
        "rollback": )", rollback ? "true" : "false", "}}}"))
                    .ok());
    RunChecked(rng, absl::Seconds(3), 0, ceiling, context);
    ASSERT_EQ(Primary().rollout_state(), "COMPLETED");
    const std::string next = RegisterRevision(kind);
    ASSERT_TRUE(Update(absl::StrCat(R"({"service": ")", service_, R"(", "taskDefinition": ")",
                                    next, R"("})"))
                    .ok());
    RunChecked(rng, absl::Minutes(3), floor, ceiling, context);
    if (HasFatalFailure()) return;

    const bool can_move = ceiling > desired || floor < desired;
    const v1::Service s = Describe(service_);
    if (kind == Revision::kGood && can_move) {
      EXPECT_EQ(s.deployments_size(), 1);
      EXPECT_EQ(s.deployments(0).rollout_state(), "COMPLETED");
      EXPECT_EQ(Look().running_by_revision[revisions_ + 1], desired);
    }
    if ((kind == Revision::kNeverStarts || kind == Revision::kTurnsUnhealthy) && can_move) {
      // The breaker trips; with rollback the service ends whole on revision 1 again.
      EXPECT_TRUE(HasEvent(Events(service_), "deployment failed: ")) << s.DebugString();
      if (rollback) {
        EXPECT_EQ(s.deployments_size(), 1) << s.DebugString();
        EXPECT_EQ(Look().running_by_revision[1], desired);
      }
    }
    // Next seed: a service of its own; this one goes, with all its tasks.
    ASSERT_TRUE(services_
                    ->DeleteService(Parse<v1::DeleteServiceRequest>(
                        absl::StrCat(R"({"service": ")", service_, R"(", "force": true})")))
                    .ok());
    for (int i = 0; i < 200 && Describe(service_).status() != "INACTIVE"; ++i) {
      PlayTheWorld(rng, {});
      Advance(absl::Milliseconds(500));
    }
    ASSERT_EQ(Describe(service_).status(), "INACTIVE");
  }
}

}  // namespace
}  // namespace skiff::scheduler
