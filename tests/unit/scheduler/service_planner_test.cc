// ServicePlanner as a table of worlds: each test builds one service (its record, its deployments,
// a view of each task, the time), runs one pass and checks the plan, in the manner of
// Kubernetes' deployment_controller_test.go fixtures. No store, no runtime, no loop: the planner
// is a pure function. Expected numbers are worked out by hand from the rules (README, "Rolling
// deployments and the circuit breaker"; the old ServiceManager::Reconcile at e1799f2) and
// written out as literals, never computed with the planner's own formulas.
#include "skiff/scheduler/service_planner.h"

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/base/random.h"
#include "skiff/scheduler/states.h"
#include "skiff/scheduler/task_launcher.h"
#include "skiff/store/store.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint64_t kSeed = 17;
const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr char kWeb2[] = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2";
constexpr char kWeb3[] = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3";
constexpr char kNew[] = "ecs-svc/1111111111111111111";
constexpr char kOld[] = "ecs-svc/2222222222222222222";

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

// Tasks. A running task started a second after it was created; by default long ago, so it is
// past the readiness window and any grace period.
TaskView Running(const std::string& deployment, absl::Time created = kNow - absl::Hours(1)) {
  TaskView t;
  t.deployment_id = deployment;
  t.stage = TaskStage::kRunning;
  t.created_at = created;
  t.started_at = created + absl::Seconds(1);
  return t;
}
TaskView StartedAt(const std::string& deployment, absl::Time started) {
  TaskView t = Running(deployment, started - absl::Seconds(1));
  return t;
}
TaskView Pending(const std::string& deployment, absl::Time created = kNow - absl::Seconds(5)) {
  TaskView t;
  t.deployment_id = deployment;
  t.stage = TaskStage::kPending;
  t.created_at = created;
  return t;
}
TaskView Checked(TaskView t, HealthStatus health) {
  t.health_checked = true;
  t.health = health;
  return t;
}
TaskView Stopping(TaskView t) {
  t.desired = DesiredStatus::kStopped;
  return t;
}

// The world of one service: its record and its tasks.
class World {
 public:
  World() {
    record_.cluster = "default";
    v1::Service& s = record_.service;
    s.set_service_name("web");
    s.set_status("ACTIVE");
    s.set_task_definition(kWeb3);
  }

  World& Desired(int n) {
    record_.service.set_desired_count(n);
    return *this;
  }
  World& Percent(int min_healthy, int maximum) {
    auto* c = record_.service.mutable_deployment_configuration();
    c->set_minimum_healthy_percent(min_healthy);
    c->set_maximum_percent(maximum);
    return *this;
  }
  World& Breaker(bool rollback) {
    auto* b =
        record_.service.mutable_deployment_configuration()->mutable_deployment_circuit_breaker();
    b->set_enable(true);
    b->set_rollback(rollback);
    return *this;
  }
  World& Grace(int seconds) {
    record_.service.set_health_check_grace_period_seconds(seconds);
    return *this;
  }
  World& Status(const std::string& status) {
    record_.service.set_status(status);
    return *this;
  }
  World& LastCompleted(const std::string& task_definition) {
    record_.last_completed_task_definition = task_definition;
    return *this;
  }
  World& NextLaunchAt(absl::Time at) {
    record_.next_launch_at = Seconds(at);
    return *this;
  }
  // Deployments are added newest first: the first is the PRIMARY.
  World& Deployment(const std::string& id, const std::string& task_definition,
                    const std::string& rollout_state, int failed_tasks = 0,
                    absl::Time created = kNow - absl::Minutes(5)) {
    v1::Deployment* d = record_.service.add_deployments();
    d->set_id(id);
    d->set_status(record_.service.deployments_size() == 1 ? "PRIMARY" : "ACTIVE");
    d->set_task_definition(task_definition);
    d->set_rollout_state(rollout_state);
    d->set_failed_tasks(failed_tasks);
    d->set_created_at(Seconds(created));
    d->set_updated_at(Seconds(created));
    return *this;
  }
  World& Task(const std::string& id, TaskView view) {
    tasks_[id] = std::move(view);
    return *this;
  }
  // `n` tasks "<prefix>-00", ... of `deployment`, running, healthy, ready; the later the number,
  // the newer the task.
  World& RunningTasks(const std::string& prefix, const std::string& deployment, int n) {
    for (int i = 0; i < n; ++i) {
      Task(absl::StrCat(prefix, "-", i < 10 ? "0" : "", i),
           Running(deployment, kNow - absl::Hours(2) + absl::Minutes(i)));
    }
    return *this;
  }

  // The target group whose checks the targets of task `id` fail.
  World& FailingGroup(const std::string& id, const std::string& target_group_arn) {
    failing_groups_[id] = target_group_arn;
    return *this;
  }

  // Task `id` runs with an address (bridge, awsvpc): discovery may publish it.
  World& Addressed(const std::string& id) {
    addressed_[id] = Endpoint{.task_id = id, .address = "10.213.0.9"};
    return *this;
  }

  const store::StoredService& record() const { return record_; }
  const std::map<std::string, TaskView>& tasks() const { return tasks_; }
  const std::map<std::string, Endpoint>& addressed() const { return addressed_; }
  const std::map<std::string, std::string>& failing_groups() const { return failing_groups_; }

 private:
  store::StoredService record_;
  std::map<std::string, TaskView> tasks_;
  std::map<std::string, std::string> failing_groups_;
  std::map<std::string, Endpoint> addressed_;
};

ServicePlan PlanOnce(const World& world, ServicePlannerOptions options = {}, absl::Time now = kNow,
                     bool steady_said = false) {
  SeededRandom random(kSeed);
  ServicePlanner planner(options, &random);
  return planner.Plan({.record = world.record(),
                       .tasks = world.tasks(),
                       .failing_target_groups = &world.failing_groups(),
                       .steady_said = steady_said,
                       .now = now});
}

// A pass on a node with discovery.
ServicePlan PlanWithDiscovery(const World& world, ServicePlannerOptions options = {},
                              absl::Time now = kNow) {
  SeededRandom random(kSeed);
  ServicePlanner planner(options, &random);
  return planner.Plan({.record = world.record(),
                       .tasks = world.tasks(),
                       .failing_target_groups = &world.failing_groups(),
                       .now = now,
                       .addressed = &world.addressed()});
}

// The id the planner's first new deployment gets from SeededRandom(kSeed).
std::string FirstDeploymentId() {
  SeededRandom random(kSeed);
  return absl::StrCat("ecs-svc/", RandomDigits(random, 19));
}

std::vector<std::string> StopIds(const ServicePlan& plan) {
  std::vector<std::string> ids;
  for (const TaskStop& s : plan.stops) ids.push_back(s.task_id);
  return ids;
}
std::vector<std::string> Messages(const ServicePlan& plan) {
  std::vector<std::string> out;
  for (const PlannedEvent& e : plan.events) out.push_back(e.message);
  return out;
}
std::vector<std::string> DeploymentIds(const ServicePlan& plan) {
  std::vector<std::string> ids;
  for (const v1::Deployment& d : *plan.deployments) ids.push_back(d.id());
  return ids;
}
TaskStop ScaleIn(const std::string& id, bool running = true) {
  return {.task_id = id,
          .deployment_id = kNew,
          .cause = TaskStop::Cause::kScaleIn,
          .running = running,
          .reason = absl::StrCat("Scaling activity initiated by (deployment ", kNew, ")")};
}
TaskStop Unhealthy(const std::string& id) {
  return {.task_id = id,
          .deployment_id = kNew,
          .cause = TaskStop::Cause::kUnhealthy,
          .running = true,
          .reason = "Task failed container health checks"};
}
TaskStop Drain(const std::string& id) {
  return {.task_id = id,
          .deployment_id = kOld,
          .cause = TaskStop::Cause::kDrain,
          .running = true,
          .reason = absl::StrCat("Scaling activity initiated by (deployment ", kOld, ")")};
}

// ---------------------------------------------------------------------------------------------
// Scaling the primary deployment.

TEST(ServicePlannerScaleTest, ScaleUpFromNothingLaunchesTheDesiredCount) {
  World w;
  w.Desired(3).Deployment(kNew, kWeb3, "COMPLETED");
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 3);
  EXPECT_EQ(plan.launch_deployment_id, kNew);
  EXPECT_EQ(plan.launch_task_definition, kWeb3);
  EXPECT_THAT(plan.stops, IsEmpty());
  EXPECT_EQ(plan.pending_count, 3);
  EXPECT_EQ(plan.running_count, 0);
  ASSERT_TRUE(plan.deployments.has_value());
  EXPECT_EQ((*plan.deployments)[0].pending_count(), 3);
  EXPECT_EQ((*plan.deployments)[0].desired_count(), 3);
  EXPECT_FALSE(plan.steady);
  EXPECT_EQ(plan.wake_at, absl::InfiniteFuture());
}

TEST(ServicePlannerScaleTest, ScaleUpWithOneDeploymentIsNotBoundByMaximumPercent) {
  // maximumPercent bounds a rollout or a replacement, not a plain scale-up.
  World w;
  w.Desired(5).Percent(100, 100).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("a", kNew, 1);
  EXPECT_EQ(PlanOnce(w).launch, 4);
}

TEST(ServicePlannerScaleTest, ScaleDownStopsTheNewestFirst) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("a", kNew, 3);
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);
  EXPECT_THAT(plan.stops, ElementsAre(ScaleIn("a-02"), ScaleIn("a-01")));
  EXPECT_THAT(Messages(plan),
              ElementsAre("(service web) has stopped 2 running tasks: (task a-02) (task a-01)."));
  EXPECT_EQ(plan.running_count, 1);
  EXPECT_EQ((*plan.deployments)[0].running_count(), 1);
}

TEST(ServicePlannerScaleTest, ScaleDownStopsPendingTasksBeforeRunningOnes) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("a", kNew, 2);
  w.Task("p", Pending(kNew));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_THAT(plan.stops, ElementsAre(ScaleIn("p", /*running=*/false)));
  EXPECT_THAT(Messages(plan), IsEmpty());  // No running task stopped.
}

TEST(ServicePlannerScaleTest, ScaleDownStopsNotYetHealthyTasksBeforeHealthyOnes) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("old-healthy", Checked(Running(kNew, kNow - absl::Hours(3)), HealthStatus::kHealthy));
  w.Task("unknown", Checked(Running(kNew, kNow - absl::Hours(2)), HealthStatus::kUnknown));
  w.Task("new-healthy", Checked(Running(kNew, kNow - absl::Hours(1)), HealthStatus::kHealthy));
  EXPECT_THAT(PlanOnce(w).stops, ElementsAre(ScaleIn("unknown")));
}

TEST(ServicePlannerScaleTest, StoppedTaskIsReplacedAtOnce) {
  // The stopping task is still live, but no longer active: its replacement starts now.
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("a", kNew, 1);
  w.Task("exiting", Stopping(Running(kNew)));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 1);
  EXPECT_THAT(plan.stops, IsEmpty());
  EXPECT_FALSE(plan.steady);
}

TEST(ServicePlannerScaleTest, DeletedServiceStopsEverythingThenBecomesInactive) {
  World w;
  w.Desired(2).Status("DRAINING").Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("a", kNew, 2);
  const ServicePlan draining = PlanOnce(w);
  EXPECT_THAT(draining.stops, ElementsAre(ScaleIn("a-01"), ScaleIn("a-00")));
  EXPECT_FALSE(draining.inactive);

  World gone;
  gone.Desired(2).Status("DRAINING").Deployment(kNew, kWeb3, "COMPLETED");
  const ServicePlan plan = PlanOnce(gone);
  EXPECT_TRUE(plan.inactive);
  EXPECT_EQ(plan.launch, 0);
  EXPECT_THAT(Messages(plan), IsEmpty());  // No steady state for a deleted service.
}

TEST(ServicePlannerScaleTest, InactiveServiceIsNotPlanned) {
  World w;
  w.Desired(2).Status("INACTIVE").Deployment(kNew, kWeb3, "COMPLETED");
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);
  EXPECT_FALSE(plan.ChangesRecord());
}

// ---------------------------------------------------------------------------------------------
// Task scale-in protection.

TaskView Protected(TaskView t, absl::Time until) {
  t.scale_in_protected_until_ms = absl::ToUnixMillis(until);
  return t;
}

TEST(ServicePlannerProtectionTest, ScaleInSkipsAProtectedTask) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("a", kNew, 2);
  // The newest would go first; it is protected, so the older one goes.
  w.Task("a-01", Protected(Running(kNew, kNow - absl::Hours(1)), kNow + absl::Minutes(5)));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_THAT(plan.stops, ElementsAre(ScaleIn("a-00")));
  EXPECT_THAT(Messages(plan),
              ElementsAre("(service web) has stopped 1 running tasks: (task a-00)."));
}

TEST(ServicePlannerProtectionTest, TooFewUnprotectedTasksStopThoseAndWaitForTheExpiry) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("a", kNew, 1);
  const absl::Time soon = kNow + absl::Minutes(5);
  const absl::Time later = kNow + absl::Minutes(9);
  w.Task("b", Protected(Running(kNew, kNow - absl::Hours(1)), soon));
  w.Task("c", Protected(Running(kNew, kNow - absl::Minutes(30)), later));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_THAT(plan.stops, ElementsAre(ScaleIn("a-00")));
  // (ReportStatus says what stopped, after ScalePrimary's word on what could not.)
  EXPECT_THAT(Messages(plan),
              ElementsAre("(service web) was unable to scale in due to (reason: 2 tasks under "
                          "protection).",
                          "(service web) has stopped 1 running tasks: (task a-00)."));
  EXPECT_EQ(plan.wake_at, soon);  // The first protection to end lets the scale-in go on.
  EXPECT_FALSE(plan.steady);
}

TEST(ServicePlannerProtectionTest, AnExpiredProtectionNoLongerHoldsTheTask) {
  World w;
  const absl::Time expiry = kNow + absl::Minutes(5);
  w.Desired(0).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("b", Protected(Running(kNew, kNow - absl::Minutes(30)), expiry));
  const ServicePlan first = PlanOnce(w);
  EXPECT_THAT(first.stops, IsEmpty());
  EXPECT_EQ(first.wake_at, expiry);
  // Simulated time: the pass at the wake-up the first one asked for.
  const ServicePlan later = PlanOnce(w, {}, expiry);
  EXPECT_THAT(later.stops, ElementsAre(ScaleIn("b")));
  EXPECT_THAT(Messages(later), Not(Contains(HasSubstr("unable to scale in"))));
}

TEST(ServicePlannerProtectionTest, ProtectionDoesNotHoldBackAScaleOut) {
  World w;
  w.Desired(3).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("b", Protected(Running(kNew, kNow - absl::Minutes(30)), kNow + absl::Hours(1)));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 2);
  EXPECT_THAT(plan.stops, IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// Unhealthy tasks: replacement first, within maximumPercent.

TEST(ServicePlannerUnhealthyTest, ReplacementStartsFirstWhenMaximumPercentLeavesRoom) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("good", Checked(Running(kNew), HealthStatus::kHealthy));
  w.Task("sick", Checked(Running(kNew), HealthStatus::kUnhealthy));
  const ServicePlan plan = PlanOnce(w);  // maximumPercent 200: room for 2 more.
  EXPECT_EQ(plan.launch, 1);
  EXPECT_THAT(plan.stops, IsEmpty());
  EXPECT_THAT(Messages(plan), IsEmpty());
}

TEST(ServicePlannerUnhealthyTest, UnhealthyTaskStopsOnceItsReplacementIsHealthy) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("good", Checked(Running(kNew), HealthStatus::kHealthy));
  w.Task("sick", Checked(Running(kNew), HealthStatus::kUnhealthy));
  w.Task("replacement", Checked(Running(kNew, kNow - absl::Minutes(1)), HealthStatus::kHealthy));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);
  EXPECT_THAT(plan.stops, ElementsAre(Unhealthy("sick")));
  EXPECT_THAT(Messages(plan),
              ElementsAre("(service web) (task sick) failed container health checks.",
                          "(service web) has stopped 1 running tasks: (task sick)."));
  EXPECT_TRUE(plan.events[0].repeat);
  EXPECT_EQ((*plan.deployments)[0].failed_tasks(), 1);
  EXPECT_EQ(plan.running_count, 2);
}

TEST(ServicePlannerUnhealthyTest, UnhealthyTaskWaitsWhileItsReplacementIsPending) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("good", Checked(Running(kNew), HealthStatus::kHealthy));
  w.Task("sick", Checked(Running(kNew), HealthStatus::kUnhealthy));
  w.Task("replacement", Pending(kNew));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);
  EXPECT_THAT(plan.stops, IsEmpty());
}

TEST(ServicePlannerUnhealthyTest, WithoutRoomUnderMaximumPercentTheUnhealthyTaskStopsFirst) {
  World w;
  w.Desired(2).Percent(50, 100).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("good", Checked(Running(kNew), HealthStatus::kHealthy));
  w.Task("sick", Checked(Running(kNew), HealthStatus::kUnhealthy));
  const ServicePlan plan = PlanOnce(w);  // Ceiling 2, both run: no room.
  EXPECT_EQ(plan.launch, 0);
  EXPECT_THAT(plan.stops, ElementsAre(Unhealthy("sick")));
  EXPECT_EQ((*plan.deployments)[0].failed_tasks(), 1);
}

TEST(ServicePlannerUnhealthyTest, ReplacementsAreBoundedByMaximumPercent) {
  // Desired 4, maximumPercent 150: ceiling 6, 4 run, 3 of them unhealthy: room for 2 only.
  World w;
  w.Desired(4).Percent(100, 150).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("good", Checked(Running(kNew), HealthStatus::kHealthy));
  w.Task("sick-1", Checked(Running(kNew), HealthStatus::kUnhealthy));
  w.Task("sick-2", Checked(Running(kNew), HealthStatus::kUnhealthy));
  w.Task("sick-3", Checked(Running(kNew), HealthStatus::kUnhealthy));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 2);
  // Two replacements start; the third cannot, so one unhealthy task makes room at once.
  EXPECT_THAT(plan.stops, ElementsAre(Unhealthy("sick-1")));
}

TEST(ServicePlannerUnhealthyTest, UnhealthyTaskInItsGracePeriodIsLeftAlone) {
  World w;
  w.Desired(1).Grace(60).Deployment(kNew, kWeb3, "COMPLETED");
  const absl::Time started = kNow - absl::Seconds(10);
  w.Task("young", Checked(StartedAt(kNew, started), HealthStatus::kUnhealthy));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);
  EXPECT_THAT(plan.stops, IsEmpty());
  EXPECT_EQ(plan.wake_at, started + absl::Seconds(60));
}

// ---------------------------------------------------------------------------------------------
// Rolling deployments: minimumHealthyPercent / maximumPercent x desired count.
//
// First pass: a new PRIMARY deployment with no task yet, `desired` healthy tasks of the old one.
// Then: the first pass's launches run and are ready, its stopped tasks are gone.
// By hand: ceiling = desired x max / 100 rounded down, floor = desired x min / 100 rounded up;
// the new deployment launches up to the ceiling; an old healthy task stops only while the healthy
// tasks stay at or above the floor. 100/150 with one task and 100/100 leave no room either way
// and stay where they are, as on ECS.
struct RollingCase {
  const char* name;
  int min_percent;
  int max_percent;
  int desired;
  int launch_first;  // First pass.
  int stop_first;
  int launch_then;  // Second pass.
  int stop_then;
  bool old_retired_then;
};
// Failures name the case, not its bytes.
void PrintTo(const RollingCase& c, std::ostream* os) { *os << c.name; }

// clang-format off
const RollingCase kRolling[] = {
    // name         min%  max%  desired  first pass:   second pass:
    //                                 launch stop   launch stop  old retired
    {"0_100_d1",      0, 100,   1,      0,   1,       1,   0, true},
    {"0_100_d2",      0, 100,   2,      0,   2,       2,   0, true},
    {"0_100_d3",      0, 100,   3,      0,   3,       3,   0, true},
    {"0_100_d10",     0, 100,  10,      0,  10,      10,   0, true},
    {"50_200_d1",    50, 200,   1,      1,   0,       0,   1, false},
    {"50_200_d2",    50, 200,   2,      2,   1,       0,   1, false},
    {"50_200_d3",    50, 200,   3,      3,   1,       0,   2, false},
    {"50_200_d10",   50, 200,  10,     10,   5,       0,   5, false},
    {"100_150_d1",  100, 150,   1,      0,   0,       0,   0, false},
    {"100_150_d2",  100, 150,   2,      1,   0,       0,   1, false},
    {"100_150_d3",  100, 150,   3,      1,   0,       0,   1, false},
    {"100_150_d10", 100, 150,  10,      5,   0,       0,   5, false},
    {"100_100_d1",  100, 100,   1,      0,   0,       0,   0, false},
    {"100_100_d2",  100, 100,   2,      0,   0,       0,   0, false},
    {"100_100_d3",  100, 100,   3,      0,   0,       0,   0, false},
    {"100_100_d10", 100, 100,  10,      0,   0,       0,   0, false},
};
// clang-format on

class ServicePlannerRollingTest : public ::testing::TestWithParam<RollingCase> {
 protected:
  World Base() const {
    const RollingCase& c = GetParam();
    World w;
    w.Desired(c.desired)
        .Percent(c.min_percent, c.max_percent)
        .Deployment(kNew, kWeb3, "IN_PROGRESS")
        .Deployment(kOld, kWeb2, "COMPLETED");
    return w;
  }
};

void ExpectDrains(const ServicePlan& plan, int n) {
  ASSERT_EQ(plan.stops.size(), static_cast<size_t>(n));
  for (const TaskStop& s : plan.stops) {
    EXPECT_EQ(s.deployment_id, kOld) << s.task_id;
    EXPECT_EQ(s.cause, TaskStop::Cause::kDrain) << s.task_id;
    EXPECT_TRUE(s.running) << s.task_id;
  }
}

TEST_P(ServicePlannerRollingTest, FirstPass) {
  const RollingCase& c = GetParam();
  World w = Base();
  w.RunningTasks("old", kOld, c.desired);
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, c.launch_first);
  if (c.launch_first > 0) {
    EXPECT_EQ(plan.launch_deployment_id, kNew);
  }
  ExpectDrains(plan, c.stop_first);
  EXPECT_FALSE(plan.steady);
  ASSERT_TRUE(plan.deployments.has_value());
  EXPECT_THAT(DeploymentIds(plan), ElementsAre(kNew, kOld));  // Nothing retired yet.
  EXPECT_EQ((*plan.deployments)[0].rollout_state(), "IN_PROGRESS");
}

TEST_P(ServicePlannerRollingTest, SecondPass) {
  const RollingCase& c = GetParam();
  World w = Base();
  w.RunningTasks("old", kOld, c.desired - c.stop_first);
  w.RunningTasks("new", kNew, c.launch_first);
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, c.launch_then);
  ExpectDrains(plan, c.stop_then);
  if (c.old_retired_then) {
    ASSERT_TRUE(plan.deployments.has_value());
    EXPECT_THAT(DeploymentIds(plan), ElementsAre(kNew));
  } else if (plan.deployments.has_value()) {
    EXPECT_THAT(DeploymentIds(plan), ElementsAre(kNew, kOld));
  }
}

INSTANTIATE_TEST_SUITE_P(ServicePlanner, ServicePlannerRollingTest, ::testing::ValuesIn(kRolling),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ServicePlannerRollingWorldTest, OldTasksDrainNewestFirstAndPendingOnesFirstOfAll) {
  World w;
  w.Desired(4)
      .Percent(50, 200)
      .Deployment(kNew, kWeb3, "IN_PROGRESS")
      .Deployment(kOld, kWeb2, "COMPLETED");
  w.RunningTasks("old", kOld, 4);
  w.Task("old-pending", Pending(kOld));
  const ServicePlan plan = PlanOnce(w);
  // Ceiling 8, 5 active: 3 launch (not 4). Floor 2: the pending one and 2 healthy ones go.
  EXPECT_EQ(plan.launch, 3);
  EXPECT_THAT(StopIds(plan), ElementsAre("old-pending", "old-03", "old-02"));
  EXPECT_TRUE(plan.rolling_update);
}

TEST(ServicePlannerRollingWorldTest, UnhealthyOldTasksMayAlwaysDrain) {
  World w;
  w.Desired(2)
      .Percent(100, 100)
      .Deployment(kNew, kWeb3, "IN_PROGRESS")
      .Deployment(kOld, kWeb2, "COMPLETED");
  w.RunningTasks("old", kOld, 1);
  w.Task("old-sick", Checked(Running(kOld), HealthStatus::kUnhealthy));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);  // Ceiling 2, 2 run.
  EXPECT_THAT(plan.stops, ElementsAre(Drain("old-sick")));
}

TEST(ServicePlannerRollingWorldTest, NewTasksInTheirReadinessWindowDoNotCountTowardsTheFloor) {
  World w;
  w.Desired(1)
      .Percent(100, 200)
      .Deployment(kNew, kWeb3, "IN_PROGRESS")
      .Deployment(kOld, kWeb2, "COMPLETED");
  w.RunningTasks("old", kOld, 1);
  const absl::Time started = kNow - absl::Milliseconds(100);
  w.Task("fresh", StartedAt(kNew, started));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_THAT(plan.stops, IsEmpty());
  EXPECT_EQ(plan.wake_at, started + absl::Milliseconds(500));
  // Once the window is over, the old task drains.
  EXPECT_THAT(PlanOnce(w, {}, started + absl::Milliseconds(500)).stops,
              ElementsAre(Drain("old-00")));
}

// ---------------------------------------------------------------------------------------------
// Deployment completion.

TEST(ServicePlannerCompletionTest, CompletesWhenEveryTaskServesAndNoOldDeploymentIsLeft) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "IN_PROGRESS").RunningTasks("new", kNew, 2);
  const ServicePlan plan = PlanOnce(w);
  ASSERT_TRUE(plan.deployments.has_value());
  EXPECT_EQ((*plan.deployments)[0].rollout_state(), "COMPLETED");
  EXPECT_EQ((*plan.deployments)[0].rollout_state_reason(),
            absl::StrCat("ECS deployment ", kNew, " completed."));
  EXPECT_EQ(plan.last_completed_task_definition, kWeb3);
  EXPECT_THAT(plan.history, ElementsAre(HistoryChange{.kind = HistoryChange::Kind::kCompleted,
                                                      .deployment_id = kNew}));
  EXPECT_THAT(Messages(plan), ElementsAre(absl::StrCat("(service web) (deployment ", kNew,
                                                       ") deployment completed."),
                                          "(service web) has reached a steady state."));
  EXPECT_TRUE(plan.steady);
}

TEST(ServicePlannerCompletionTest, DoesNotCompleteWhileAnOldTaskIsStillStopping) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "IN_PROGRESS").Deployment(kOld, kWeb2, "COMPLETED");
  w.RunningTasks("new", kNew, 2).Task("old-stopping", Stopping(Running(kOld)));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ((*plan.deployments)[0].rollout_state(), "IN_PROGRESS");
  EXPECT_THAT(plan.history, IsEmpty());
  EXPECT_FALSE(plan.steady);
  EXPECT_THAT(DeploymentIds(plan), ElementsAre(kNew, kOld));  // Still live.
}

TEST(ServicePlannerCompletionTest, DrainedOldDeploymentIsRetiredAndTheNewOneCompletes) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "IN_PROGRESS").Deployment(kOld, kWeb2, "COMPLETED");
  w.RunningTasks("new", kNew, 2);
  const ServicePlan plan = PlanOnce(w);
  EXPECT_THAT(DeploymentIds(plan), ElementsAre(kNew));
  EXPECT_EQ((*plan.deployments)[0].rollout_state(), "COMPLETED");
  EXPECT_TRUE(plan.steady);
}

TEST(ServicePlannerCompletionTest, SteadyStateIsSaidOnlyOnceForTheSameState) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("new", kNew, 2);
  EXPECT_THAT(Messages(PlanOnce(w)), ElementsAre("(service web) has reached a steady state."));
  const ServicePlan again = PlanOnce(w, {}, kNow, /*steady_said=*/true);
  EXPECT_THAT(Messages(again), IsEmpty());
  EXPECT_TRUE(again.steady);
}

TEST(ServicePlannerCompletionTest, UncheckedTaskInItsReadinessWindowStillCompletes) {
  // The readiness window is for draining against new tasks, not for the completion verdict.
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "IN_PROGRESS");
  w.Task("fresh", StartedAt(kNew, kNow - absl::Milliseconds(100)));
  EXPECT_EQ((*PlanOnce(w).deployments)[0].rollout_state(), "COMPLETED");
}

// ---------------------------------------------------------------------------------------------
// Load balancers: a task serves once its targets pass the target groups' checks; its targets are
// registered once it runs (HEALTHY, when checked); failing targets get it replaced after the
// grace period.

constexpr char kGroup[] =
    "arn:aws:elasticloadbalancing:local:000000000000:targetgroup/web/0123456789abcdef";

// A task of a load-balanced service whose targets are `state` (registered unless kNone).
TaskView Balanced(TaskView t, TargetsHealth state) {
  t.load_balanced = true;
  t.targets_registered = state != TargetsHealth::kNone;
  t.targets = state;
  return t;
}

TEST(ServicePlannerLoadBalancerTest, OnlyTasksWithHealthyTargetsCountTowardsTheFloor) {
  World w;
  w.Desired(2)
      .Percent(100, 200)
      .Deployment(kNew, kWeb3, "IN_PROGRESS")
      .Deployment(kOld, kWeb2, "COMPLETED");
  w.Task("old-00", Balanced(Running(kOld, kNow - absl::Hours(2)), TargetsHealth::kHealthy));
  w.Task("old-01", Balanced(Running(kOld, kNow - absl::Hours(1)), TargetsHealth::kHealthy));
  // Running for an hour, no container checks: without load balancers both would count.
  w.Task("new-00", Balanced(Running(kNew), TargetsHealth::kInitial));
  w.Task("new-01", Balanced(Running(kNew), TargetsHealth::kInitial));
  ServicePlan plan = PlanOnce(w);
  // Ceiling 4, 4 active: nothing launches. Healthy 2 (the old ones), floor 2: none drains.
  EXPECT_EQ(plan.launch, 0);
  EXPECT_THAT(plan.stops, IsEmpty());
  EXPECT_FALSE(plan.steady);

  // One new task's targets pass: healthy 3, floor 2, so one old task (the newest) drains.
  w.Task("new-00", Balanced(Running(kNew), TargetsHealth::kHealthy));
  plan = PlanOnce(w);
  EXPECT_THAT(plan.stops, ElementsAre(Drain("old-01")));

  // Failing targets (in their grace period, so not replaced) count no more than initial ones.
  w.Grace(7200);
  w.Task("new-01", Balanced(Running(kNew), TargetsHealth::kUnhealthy));
  EXPECT_THAT(PlanOnce(w).stops, ElementsAre(Drain("old-01")));

  w.Task("new-01", Balanced(Running(kNew), TargetsHealth::kHealthy));
  EXPECT_THAT(PlanOnce(w).stops, ElementsAre(Drain("old-01"), Drain("old-00")));
}

TEST(ServicePlannerLoadBalancerTest, CompletesOnlyOnceEveryTasksTargetsAreHealthy) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "IN_PROGRESS");
  w.Task("new", Balanced(Running(kNew), TargetsHealth::kInitial));
  ServicePlan plan = PlanOnce(w);
  EXPECT_FALSE(plan.steady);
  EXPECT_THAT(Messages(plan), IsEmpty());
  w.Task("new", Balanced(Running(kNew), TargetsHealth::kHealthy));
  plan = PlanOnce(w);
  EXPECT_TRUE(plan.steady);
  EXPECT_EQ((*plan.deployments)[0].rollout_state(), "COMPLETED");
}

TEST(ServicePlannerLoadBalancerTest, RegistersTasksThatRunOnceAndCheckedOnesOnceHealthy) {
  World w;
  w.Desired(6).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("a-runs", Balanced(Running(kNew), TargetsHealth::kNone));
  w.Task("b-pending", Balanced(Pending(kNew), TargetsHealth::kNone));
  w.Task("c-checked-unknown",
         Balanced(Checked(Running(kNew), HealthStatus::kUnknown), TargetsHealth::kNone));
  w.Task("d-checked-healthy",
         Balanced(Checked(Running(kNew), HealthStatus::kHealthy), TargetsHealth::kNone));
  w.Task("e-registered", Balanced(Running(kNew), TargetsHealth::kInitial));
  w.Task("f-stopping", Stopping(Balanced(Running(kNew), TargetsHealth::kNone)));
  w.Task("g-no-balancer", Running(kNew));
  EXPECT_THAT(PlanOnce(w).register_targets, ElementsAre("a-runs", "d-checked-healthy"));
}

TEST(ServicePlannerLoadBalancerTest, ATaskStoppedInThePassIsNotRegistered) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("old", Balanced(Running(kNew, kNow - absl::Hours(2)), TargetsHealth::kHealthy));
  w.Task("newest", Balanced(Running(kNew), TargetsHealth::kNone));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_THAT(plan.stops, ElementsAre(ScaleIn("newest")));
  EXPECT_THAT(plan.register_targets, IsEmpty());
}

TEST(ServicePlannerLoadBalancerTest, FailingTargetsInTheGracePeriodAreLeftAlone) {
  World w;
  w.Desired(1).Grace(60).Deployment(kNew, kWeb3, "COMPLETED");
  const absl::Time started = kNow - absl::Seconds(10);
  w.Task("young", Balanced(StartedAt(kNew, started), TargetsHealth::kUnhealthy));
  ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);
  EXPECT_THAT(plan.stops, IsEmpty());
  EXPECT_THAT(Messages(plan), IsEmpty());
  EXPECT_EQ(plan.wake_at, started + absl::Seconds(60));
  // Once the grace period is over its replacement starts (maximumPercent 200 leaves room).
  plan = PlanOnce(w, {}, started + absl::Seconds(60));
  EXPECT_EQ(plan.launch, 1);
  EXPECT_THAT(plan.stops, IsEmpty());
}

TEST(ServicePlannerLoadBalancerTest, FailingTargetsGetTheTaskReplacedWithECSsWords) {
  World w;
  w.Desired(2).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("good", Balanced(Running(kNew), TargetsHealth::kHealthy));
  w.Task("sick", Balanced(Running(kNew), TargetsHealth::kUnhealthy)).FailingGroup("sick", kGroup);
  ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 1);  // The replacement first.
  EXPECT_THAT(plan.stops, IsEmpty());

  w.Task("replacement", Balanced(Running(kNew, kNow - absl::Minutes(1)), TargetsHealth::kHealthy));
  plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);
  const std::string reason = absl::StrCat("Task failed ELB health checks in (target-group ",
                                          kGroup, ")");
  EXPECT_THAT(plan.stops, ElementsAre(TaskStop{.task_id = "sick",
                                               .deployment_id = kNew,
                                               .cause = TaskStop::Cause::kUnhealthy,
                                               .running = true,
                                               .reason = reason}));
  EXPECT_THAT(Messages(plan),
              ElementsAre(absl::StrCat("(service web) (task sick) failed ELB health checks in "
                                       "(target-group ",
                                       kGroup, ")"),
                          "(service web) has stopped 1 running tasks: (task sick)."));
  EXPECT_TRUE(plan.events[0].repeat);
  EXPECT_EQ((*plan.deployments)[0].failed_tasks(), 1);
}

TEST(ServicePlannerLoadBalancerTest, AtTheCeilingATaskWithFailingTargetsStopsFirst) {
  World w;
  w.Desired(2).Percent(50, 100).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("good", Balanced(Running(kNew), TargetsHealth::kHealthy));
  w.Task("sick", Balanced(Running(kNew), TargetsHealth::kUnhealthy));
  const ServicePlan plan = PlanOnce(w);  // Ceiling 2, both run: no room.
  EXPECT_EQ(plan.launch, 0);
  EXPECT_THAT(StopIds(plan), ElementsAre("sick"));
  EXPECT_EQ(plan.stops[0].cause, TaskStop::Cause::kUnhealthy);
}

TEST(ServicePlannerLoadBalancerTest, FailingContainerChecksAreNamedBeforeFailingTargets) {
  World w;
  w.Desired(1).Percent(0, 100).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("sick", Balanced(Checked(Running(kNew), HealthStatus::kUnhealthy),
                          TargetsHealth::kUnhealthy));
  const ServicePlan plan = PlanOnce(w);
  ASSERT_THAT(plan.stops, ElementsAre(Unhealthy("sick")));
}

// ---------------------------------------------------------------------------------------------
// The circuit breaker: max(3, min(200, ceil(desired / 2))) failed tasks fail the deployment.

struct BreakerCase {
  const char* name;
  int desired;
  int failed;
  int threshold;  // By hand.
  bool fails;
};
// Failures name the case, not its bytes.
void PrintTo(const BreakerCase& c, std::ostream* os) { *os << c.name; }

// clang-format off
const BreakerCase kBreaker[] = {
    {"d1_f2", 1, 2, 3, false},         {"d1_f3", 1, 3, 3, true},
    {"d6_f2", 6, 2, 3, false},         {"d6_f3", 6, 3, 3, true},
    {"d7_f3", 7, 3, 4, false},         {"d7_f4", 7, 4, 4, true},
    {"d10_f4", 10, 4, 5, false},       {"d10_f5", 10, 5, 5, true},
    {"d399_f199", 399, 199, 200, false}, {"d399_f200", 399, 200, 200, true},
    {"d401_f199", 401, 199, 200, false}, {"d401_f200", 401, 200, 200, true},
};
// clang-format on

class ServicePlannerBreakerTest : public ::testing::TestWithParam<BreakerCase> {};

TEST_P(ServicePlannerBreakerTest, FailsExactlyAtTheThreshold) {
  const BreakerCase& c = GetParam();
  World w;
  w.Desired(c.desired).Breaker(/*rollback=*/false).Deployment(kNew, kWeb3, "IN_PROGRESS", c.failed);
  const ServicePlan plan = PlanOnce(w);
  if (!c.fails) {
    EXPECT_THAT(plan.history, IsEmpty());
    EXPECT_EQ(plan.launch, c.desired);
    return;
  }
  const std::string why = absl::StrCat("circuit breaker: tasks failed to start or keep running (",
                                       c.failed, " failed; the threshold is ", c.threshold, ").");
  EXPECT_EQ(plan.launch, 0);  // Nothing more launches for a failed deployment.
  ASSERT_TRUE(plan.deployments.has_value());
  EXPECT_EQ((*plan.deployments)[0].rollout_state(), "FAILED");
  EXPECT_EQ((*plan.deployments)[0].rollout_state_reason(), absl::StrCat("ECS deployment ", why));
  EXPECT_THAT(plan.history, ElementsAre(HistoryChange{.kind = HistoryChange::Kind::kFailed,
                                                      .deployment_id = kNew,
                                                      .why = why,
                                                      .rolling_back = false}));
  EXPECT_THAT(plan.events,
              ElementsAre(PlannedEvent{.message = absl::StrCat("(service web) (deployment ", kNew,
                                                               ") deployment failed: ", why),
                                       .repeat = true}));
}

INSTANTIATE_TEST_SUITE_P(ServicePlanner, ServicePlannerBreakerTest, ::testing::ValuesIn(kBreaker),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ServicePlannerBreakerWorldTest, DisabledBreakerNeverFails) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "IN_PROGRESS", /*failed_tasks=*/100);
  const ServicePlan plan = PlanOnce(w);
  EXPECT_THAT(plan.history, IsEmpty());
  EXPECT_EQ(plan.launch, 1);
}

TEST(ServicePlannerBreakerWorldTest, CompletedDeploymentIsNotJudged) {
  World w;
  w.Desired(1).Breaker(true).LastCompleted(kWeb2).Deployment(kNew, kWeb3, "COMPLETED", 10);
  EXPECT_THAT(PlanOnce(w).history, IsEmpty());
}

TEST(ServicePlannerBreakerWorldTest, FailedWithoutRollbackTheOldTasksKeepServing) {
  World w;
  w.Desired(2).Breaker(/*rollback=*/false).LastCompleted(kWeb2);
  w.Deployment(kNew, kWeb3, "IN_PROGRESS", 3).Deployment(kOld, kWeb2, "COMPLETED");
  w.RunningTasks("old", kOld, 3);  // One more than desired (scaled in meanwhile).
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);
  EXPECT_EQ(plan.history[0].kind, HistoryChange::Kind::kFailed);
  // Only what is beyond the desired count goes: one of three, the newest.
  EXPECT_THAT(plan.stops, ElementsAre(Drain("old-02")));
}

// ---------------------------------------------------------------------------------------------
// Rollback to the last COMPLETED deployment.

TEST(ServicePlannerRollbackTest, BreakerRollsBackToTheLastCompletedTaskDefinition) {
  World w;
  w.Desired(2).Breaker(/*rollback=*/true).LastCompleted(kWeb2);
  w.Deployment(kNew, kWeb3, "IN_PROGRESS", 3).Deployment(kOld, kWeb2, "COMPLETED");
  w.RunningTasks("old", kOld, 2);
  const ServicePlan plan = PlanOnce(w);
  const std::string rollback_id = FirstDeploymentId();
  const std::string why =
      "circuit breaker: tasks failed to start or keep running (3 failed; the threshold is 3).";

  // The rollback deployment launches its tasks (ceiling 4, 2 run); the floor (2) keeps both old.
  EXPECT_EQ(plan.launch, 2);
  EXPECT_EQ(plan.launch_deployment_id, rollback_id);
  EXPECT_EQ(plan.launch_task_definition, kWeb2);
  EXPECT_THAT(plan.stops, IsEmpty());
  EXPECT_EQ(plan.task_definition, kWeb2);
  EXPECT_TRUE(plan.reset_launch_backoff);
  // The failed deployment has no task left and is retired at once.
  EXPECT_THAT(DeploymentIds(plan), ElementsAre(rollback_id, kOld));
  const v1::Deployment& next = (*plan.deployments)[0];
  EXPECT_EQ(next.status(), "PRIMARY");
  EXPECT_EQ(next.rollout_state(), "IN_PROGRESS");
  EXPECT_EQ(
      next.rollout_state_reason(),
      absl::StrCat("ECS deployment ", rollback_id, " in progress: rolling back from ", kNew, "."));
  EXPECT_EQ(next.desired_count(), 2);
  EXPECT_EQ(next.pending_count(), 2);
  EXPECT_THAT(plan.history, ElementsAre(HistoryChange{.kind = HistoryChange::Kind::kFailed,
                                                      .deployment_id = kNew,
                                                      .why = why,
                                                      .rolling_back = true},
                                        HistoryChange{.kind = HistoryChange::Kind::kStarted,
                                                      .deployment_id = rollback_id,
                                                      .rollback_of = kNew}));
  EXPECT_THAT(
      Messages(plan),
      ElementsAre(absl::StrCat("(service web) (deployment ", kNew, ") deployment failed: ", why),
                  absl::StrCat("(service web) (deployment ", rollback_id,
                               ") rolling back to web:2, the task definition of the last "
                               "deployment that completed, after deployment ",
                               kNew, " failed.")));
  EXPECT_EQ(plan.launch_events_at, 2u);  // "has started" comes after both.
}

TEST(ServicePlannerRollbackTest, FailedDeploymentWithTasksStaysAndDrainsBehindTheRollback) {
  World w;
  w.Desired(1).Breaker(/*rollback=*/true).LastCompleted(kWeb2);
  w.Deployment(kNew, kWeb3, "IN_PROGRESS", 3);
  w.Task("new-sick", Checked(Running(kNew), HealthStatus::kUnhealthy));
  const ServicePlan plan = PlanOnce(w);
  const std::string rollback_id = FirstDeploymentId();
  ASSERT_THAT(DeploymentIds(plan), ElementsAre(rollback_id, kNew));
  EXPECT_EQ((*plan.deployments)[1].status(), "ACTIVE");
  EXPECT_EQ((*plan.deployments)[1].rollout_state(), "FAILED");
  EXPECT_EQ(plan.launch, 1);
  // Its unhealthy task is not "replaced" (no failed-health-check event): it drains.
  EXPECT_THAT(plan.stops,
              ElementsAre(TaskStop{.task_id = "new-sick",
                                   .deployment_id = kNew,
                                   .cause = TaskStop::Cause::kDrain,
                                   .running = true,
                                   .reason = absl::StrCat(
                                       "Scaling activity initiated by (deployment ", kNew, ")")}));
}

TEST(ServicePlannerRollbackTest, TheRollbackLaunchesAtOnceWhateverTheFailedLaunchesBackedOff) {
  World w;
  w.Desired(2).Breaker(/*rollback=*/true).LastCompleted(kWeb2);
  w.NextLaunchAt(kNow + absl::Minutes(4));
  w.Deployment(kNew, kWeb3, "IN_PROGRESS", 3).Deployment(kOld, kWeb2, "COMPLETED");
  w.RunningTasks("old", kOld, 2);
  const ServicePlan plan = PlanOnce(w);
  // The back-off belonged to the failed revision; the rollback starts afresh in this pass.
  EXPECT_TRUE(plan.reset_launch_backoff);
  EXPECT_EQ(plan.launch, 2);
  EXPECT_EQ(plan.launch_deployment_id, FirstDeploymentId());
  EXPECT_EQ(plan.wake_at, absl::InfiniteFuture());
}

TEST(ServicePlannerRollbackTest, NoRollbackWhenTheLastCompletedIsTheFailedRevision) {
  World w;
  w.Desired(1).Breaker(/*rollback=*/true).LastCompleted(kWeb3);
  w.Deployment(kNew, kWeb3, "IN_PROGRESS", 3);
  const ServicePlan plan = PlanOnce(w);
  ASSERT_EQ(plan.history.size(), 1u);
  EXPECT_EQ(plan.history[0].kind, HistoryChange::Kind::kFailed);
  EXPECT_FALSE(plan.history[0].rolling_back);
  EXPECT_THAT(DeploymentIds(plan), ElementsAre(kNew));
  EXPECT_FALSE(plan.task_definition.has_value());
  EXPECT_EQ(plan.launch, 0);
}

TEST(ServicePlannerRollbackTest, NoRollbackBeforeAnyDeploymentCompleted) {
  World w;
  w.Desired(1).Breaker(/*rollback=*/true);
  w.Deployment(kNew, kWeb3, "IN_PROGRESS", 3);
  const ServicePlan plan = PlanOnce(w);
  ASSERT_EQ(plan.history.size(), 1u);
  EXPECT_FALSE(plan.history[0].rolling_back);
  EXPECT_FALSE(plan.reset_launch_backoff);
}

// ---------------------------------------------------------------------------------------------
// The progress deadline.

TEST(ServicePlannerDeadlineTest, WakesAtTheDeadlineBeforeIt) {
  ServicePlannerOptions options;
  options.progress_deadline = absl::Minutes(30);
  World w;
  const absl::Time created = kNow - absl::Minutes(29);
  w.Desired(1).Deployment(kNew, kWeb3, "IN_PROGRESS", 0, created);
  const ServicePlan plan = PlanOnce(w, options);
  EXPECT_THAT(plan.history, IsEmpty());
  EXPECT_EQ(plan.wake_at, created + absl::Minutes(30));
}

TEST(ServicePlannerDeadlineTest, FailsTheDeploymentAtTheDeadline) {
  ServicePlannerOptions options;
  options.progress_deadline = absl::Minutes(30);
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "IN_PROGRESS", 0, kNow - absl::Minutes(30));
  const ServicePlan plan = PlanOnce(w, options);
  const std::string why =
      "progress deadline: the deployment did not complete within the progress deadline of 30m.";
  EXPECT_THAT(plan.history,
              ElementsAre(HistoryChange{
                  .kind = HistoryChange::Kind::kFailed, .deployment_id = kNew, .why = why}));
  EXPECT_THAT(Messages(plan), ElementsAre(absl::StrCat("(service web) (deployment ", kNew,
                                                       ") deployment failed: ", why)));
  EXPECT_EQ((*plan.deployments)[0].rollout_state(), "FAILED");
  EXPECT_EQ(plan.launch, 0);
}

TEST(ServicePlannerDeadlineTest, NoDeadlineByDefault) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "IN_PROGRESS", 0, kNow - absl::Hours(24 * 365));
  const ServicePlan plan = PlanOnce(w);
  EXPECT_THAT(plan.history, IsEmpty());
  EXPECT_EQ(plan.launch, 1);
}

// ---------------------------------------------------------------------------------------------
// Launch back-off.

TEST(ServicePlannerBackoffTest, NoLaunchBeforeNextLaunchAt) {
  World w;
  w.Desired(2).NextLaunchAt(kNow + absl::Seconds(4)).Deployment(kNew, kWeb3, "IN_PROGRESS");
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 0);
  EXPECT_EQ(plan.wake_at, kNow + absl::Seconds(4));
}

TEST(ServicePlannerBackoffTest, LaunchesAtNextLaunchAt) {
  World w;
  w.Desired(2).NextLaunchAt(kNow).Deployment(kNew, kWeb3, "IN_PROGRESS");
  const ServicePlan plan = PlanOnce(w);
  EXPECT_EQ(plan.launch, 2);
  EXPECT_EQ(plan.wake_at, absl::InfiniteFuture());
}

TEST(ServicePlannerBackoffTest, BackOffDoesNotHoldAScaleDown) {
  World w;
  w.Desired(1).NextLaunchAt(kNow + absl::Minutes(1)).Deployment(kNew, kWeb3, "COMPLETED");
  w.RunningTasks("a", kNew, 2);
  EXPECT_THAT(PlanOnce(w).stops, ElementsAre(ScaleIn("a-01")));
}

// ---------------------------------------------------------------------------------------------
// The standalone functions.

class ServicePlannerFunctionsTest : public ::testing::Test {
 protected:
  ServicePlannerFunctionsTest() : planner_(ServicePlannerOptions{}, &random_) {
    w_.Desired(1).Deployment(kNew, kWeb3, "IN_PROGRESS").Deployment(kOld, kWeb2, "COMPLETED");
  }
  SeededRandom random_{kSeed};
  ServicePlanner planner_;
  World w_;
};

TEST_F(ServicePlannerFunctionsTest, JudgeStopTaskFailedToStartIsALaunchFailure) {
  const StopVerdict v =
      planner_.JudgeStop(w_.record(), Pending(kNew), StopCode::kTaskFailedToStart, kNow);
  EXPECT_TRUE(v.launch_failure);
  EXPECT_FALSE(v.breaker_failure);
}

TEST_F(ServicePlannerFunctionsTest, JudgeStopEssentialExitBeforeMinHealthyRuntimeIsALaunchFailure) {
  const TaskView t = StartedAt(kOld, kNow - absl::Seconds(9));  // min_healthy_runtime is 10 s.
  const StopVerdict v =
      planner_.JudgeStop(w_.record(), t, StopCode::kEssentialContainerExited, kNow);
  EXPECT_TRUE(v.launch_failure);
  EXPECT_FALSE(v.breaker_failure);
  // Never started at all: a failed launch too.
  EXPECT_TRUE(
      planner_.JudgeStop(w_.record(), Pending(kNew), StopCode::kEssentialContainerExited, kNow)
          .launch_failure);
}

TEST_F(ServicePlannerFunctionsTest, JudgeStopCrashAfterAGoodStartCountsWhileInProgress) {
  const TaskView t = StartedAt(kNew, kNow - absl::Seconds(10));
  const StopVerdict v =
      planner_.JudgeStop(w_.record(), t, StopCode::kEssentialContainerExited, kNow);
  EXPECT_FALSE(v.launch_failure);
  EXPECT_TRUE(v.breaker_failure);
}

TEST_F(ServicePlannerFunctionsTest, JudgeStopCrashAfterAGoodStartOfACompletedDeploymentIsNeither) {
  const TaskView t = StartedAt(kOld, kNow - absl::Minutes(10));
  const StopVerdict v =
      planner_.JudgeStop(w_.record(), t, StopCode::kEssentialContainerExited, kNow);
  EXPECT_FALSE(v.launch_failure);
  EXPECT_FALSE(v.breaker_failure);
}

TEST_F(ServicePlannerFunctionsTest, JudgeStopUserOrSchedulerInitiatedIsNeither) {
  const TaskView young = StartedAt(kNew, kNow - absl::Seconds(1));
  for (StopCode code : {StopCode::kUserInitiated, StopCode::kServiceSchedulerInitiated}) {
    const StopVerdict v = planner_.JudgeStop(w_.record(), young, code, kNow);
    EXPECT_FALSE(v.launch_failure) << StopCodeName(code);
    EXPECT_FALSE(v.breaker_failure) << StopCodeName(code);
  }
}

TEST_F(ServicePlannerFunctionsTest, NextLaunchAtDoublesUpToTheCap) {
  // Base 1 s, cap 5 min: the first failure retries at once.
  EXPECT_EQ(planner_.NextLaunchAt(0, kNow), kNow);
  EXPECT_EQ(planner_.NextLaunchAt(1, kNow), kNow);
  EXPECT_EQ(planner_.NextLaunchAt(2, kNow), kNow + absl::Seconds(1));
  EXPECT_EQ(planner_.NextLaunchAt(3, kNow), kNow + absl::Seconds(2));
  EXPECT_EQ(planner_.NextLaunchAt(4, kNow), kNow + absl::Seconds(4));
  EXPECT_EQ(planner_.NextLaunchAt(5, kNow), kNow + absl::Seconds(8));
  EXPECT_EQ(planner_.NextLaunchAt(10, kNow), kNow + absl::Seconds(256));
  EXPECT_EQ(planner_.NextLaunchAt(11, kNow), kNow + absl::Minutes(5));  // 512 s, capped.
  EXPECT_EQ(planner_.NextLaunchAt(1000, kNow), kNow + absl::Minutes(5));
}

TEST_F(ServicePlannerFunctionsTest, UnstableEventFromTheThirdFailure) {
  EXPECT_EQ(planner_.UnstableEvent("web", 2), std::nullopt);
  const PlannedEvent unstable{
      .message =
          "(service web) is unable to consistently start tasks successfully. For more "
          "information, see the Troubleshooting section of the Amazon ECS Developer "
          "Guide."};
  EXPECT_EQ(planner_.UnstableEvent("web", 3), unstable);
  EXPECT_EQ(planner_.UnstableEvent("web", 4), unstable);
}

TEST_F(ServicePlannerFunctionsTest, LaunchFailedWithAnErrorRetriesLater) {
  const LaunchFailurePlan p = planner_.LaunchFailed(
      "web", "0123abcd", std::nullopt, absl::InvalidArgumentError("no such image"), kNow);
  EXPECT_EQ(p.event,
            (PlannedEvent{.message = "(service web) failed to launch a task: no such image"}));
  EXPECT_EQ(p.retry_at, kNow + absl::Seconds(30));
  EXPECT_FALSE(p.wait_for_capacity);
}

TEST_F(ServicePlannerFunctionsTest, LaunchFailedUnavailableIsNobodysFault) {
  const LaunchFailurePlan p = planner_.LaunchFailed(
      "web", "0123abcd", std::nullopt, absl::UnavailableError("containerd is down"), kNow);
  EXPECT_EQ(p.event, std::nullopt);
  EXPECT_EQ(p.retry_at, absl::InfiniteFuture());
  EXPECT_FALSE(p.wait_for_capacity);
}

TEST(ServicePlannerStartedTasksEventTest, ListsTheTasks) {
  EXPECT_EQ(StartedTasksEvent("web", {"a", "b"}),
            "(service web) has started 2 tasks: (task a) (task b).");
}

// Each placement failure kind: its ECS reason and the event a service says.
struct PlacementCase {
  const char* name;
  PlacementFailure::Kind kind;
  const char* reason;
  const char* why;
};
// Failures name the case, not its bytes.
void PrintTo(const PlacementCase& c, std::ostream* os) { *os << c.name; }

const PlacementCase kPlacement[] = {
    {"Cpu", PlacementFailure::Kind::kCpu, "RESOURCE:CPU", "has insufficient CPU units available"},
    {"Memory", PlacementFailure::Kind::kMemory, "RESOURCE:MEMORY",
     "has insufficient memory available"},
    {"Ports", PlacementFailure::Kind::kPorts, "RESOURCE:PORTS",
     "is already using a port required by your task"},
    {"PortsUdp", PlacementFailure::Kind::kPortsUdp, "RESOURCE:PORTS_UDP",
     "is already using a port required by your task"},
};

class ServicePlannerPlacementTest : public ::testing::TestWithParam<PlacementCase> {};

TEST_P(ServicePlannerPlacementTest, ReasonAndEvent) {
  const PlacementCase& c = GetParam();
  const PlacementFailure failure{.kind = c.kind};
  EXPECT_EQ(failure.Reason(), c.reason);
  SeededRandom random(kSeed);
  ServicePlanner planner({}, &random);
  const LaunchFailurePlan p =
      planner.LaunchFailed("web", "0123abcd", failure, absl::OkStatus(), kNow);
  EXPECT_EQ(p.event,
            (PlannedEvent{.message = absl::StrCat(
                              "(service web) was unable to place a task because no container "
                              "instance met all of its requirements. The closest matching "
                              "(container-instance 0123abcd) ",
                              c.why,
                              ". For more information, see the Troubleshooting section of the "
                              "Amazon ECS Developer Guide.")}));
  EXPECT_TRUE(p.wait_for_capacity);
  EXPECT_EQ(p.retry_at, kNow + absl::Seconds(30));
}

INSTANTIATE_TEST_SUITE_P(ServicePlanner, ServicePlannerPlacementTest,
                         ::testing::ValuesIn(kPlacement),
                         [](const auto& info) { return std::string(info.param.name); });

// A deployment id reads and compares as its string, whichever copy holds it; copies of one
// share the string.
TEST(DeploymentIdTest, ComparesAsItsStringAndCopiesShareIt) {
  const DeploymentId id{std::string(kNew)};
  const DeploymentId copy = id;
  EXPECT_EQ(&copy.str(), &id.str());
  EXPECT_EQ(id.holders(), 2);
  EXPECT_TRUE(copy == DeploymentId(kNew));  // Another copy of the same id.
  EXPECT_TRUE(id == std::string(kNew));
  EXPECT_TRUE(std::string(kNew) == id);
  EXPECT_FALSE(id == kOld);
  EXPECT_EQ(DeploymentId().str(), "");
  EXPECT_EQ(DeploymentId().holders(), 0);
}

// ---------------------------------------------------------------------------------------------
// Discovery: the tasks that can be found by name are those that run and stay, with an address,
// ready (HEALTHY when checked, else running for ready_after), not failing their target groups.

TEST(ServicePlannerDiscoveryTest, WithoutDiscoveryNothingIsPublished) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("t", kNew, 1);
  EXPECT_FALSE(PlanOnce(w).discoverable.has_value());
}

TEST(ServicePlannerDiscoveryTest, RunningTasksWithAnAddressAreDiscoverableInIdOrder) {
  World w;
  w.Desired(3).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("t", kNew, 3);
  w.Addressed("t-02").Addressed("t-00");  // t-01 runs in host mode: no address.
  const ServicePlan plan = PlanWithDiscovery(w);
  ASSERT_TRUE(plan.discoverable.has_value());
  EXPECT_THAT(*plan.discoverable, ElementsAre("t-00", "t-02"));
}

TEST(ServicePlannerDiscoveryTest, AServiceWithNoReadyTaskPublishesAnEmptySet) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "IN_PROGRESS");
  w.Task("p", Pending(kNew)).Addressed("p");
  const ServicePlan plan = PlanWithDiscovery(w);
  ASSERT_TRUE(plan.discoverable.has_value());
  EXPECT_THAT(*plan.discoverable, IsEmpty());
}

TEST(ServicePlannerDiscoveryTest, ATaskWithoutChecksIsFoundOnceReadyAndThePassWakesForIt) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "IN_PROGRESS");
  w.Task("t", StartedAt(kNew, kNow - absl::Milliseconds(200))).Addressed("t");
  const ServicePlannerOptions options{.ready_after = absl::Milliseconds(500)};
  ServicePlan plan = PlanWithDiscovery(w, options);
  EXPECT_THAT(*plan.discoverable, IsEmpty());
  EXPECT_EQ(plan.wake_at, kNow + absl::Milliseconds(300));
  plan = PlanWithDiscovery(w, options, kNow + absl::Milliseconds(300));
  EXPECT_THAT(*plan.discoverable, ElementsAre("t"));
}

TEST(ServicePlannerDiscoveryTest, ATaskWithChecksIsFoundOnlyWhileHealthy) {
  World w;
  w.Desired(3).Deployment(kNew, kWeb3, "COMPLETED");
  w.Task("healthy", Checked(Running(kNew), HealthStatus::kHealthy)).Addressed("healthy");
  w.Task("unknown", Checked(StartedAt(kNew, kNow), HealthStatus::kUnknown)).Addressed("unknown");
  w.Task("sick", Checked(Running(kNew), HealthStatus::kUnhealthy)).Addressed("sick");
  // A passed check is proof enough: no readiness window for a task with checks.
  const ServicePlan plan = PlanWithDiscovery(w, {.ready_after = absl::Hours(2)});
  EXPECT_THAT(*plan.discoverable, ElementsAre("healthy"));
}

TEST(ServicePlannerDiscoveryTest, StoppingAndStoppedByThisPassAreNotFound) {
  World w;
  w.Desired(1).Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("t", kNew, 2);
  w.Task("going", Stopping(Running(kNew)));
  w.Addressed("t-00").Addressed("t-01").Addressed("going");
  const ServicePlan plan = PlanWithDiscovery(w);
  // Scale-in stops the newer of the two.
  EXPECT_THAT(StopIds(plan), ElementsAre("t-01"));
  EXPECT_THAT(*plan.discoverable, ElementsAre("t-00"));
}

TEST(ServicePlannerDiscoveryTest, OldDeploymentsTasksAreFoundUntilTheyDrain) {
  World w;
  w.Desired(1).Percent(100, 200).Deployment(kNew, kWeb3, "IN_PROGRESS");
  w.Deployment(kOld, kWeb2, "COMPLETED").RunningTasks("old", kOld, 1);
  w.Task("new", Pending(kNew)).Addressed("old-00");
  EXPECT_THAT(*PlanWithDiscovery(w).discoverable, ElementsAre("old-00"));
}

TEST(ServicePlannerDiscoveryTest, TasksFailingTheirTargetGroupsAreNotFound) {
  World w;
  w.Desired(3).Deployment(kNew, kWeb3, "COMPLETED").Grace(3600 * 24);
  w.Task("ok", Balanced(Running(kNew), TargetsHealth::kHealthy)).Addressed("ok");
  w.Task("first", Balanced(Running(kNew), TargetsHealth::kInitial)).Addressed("first");
  w.Task("failing", Balanced(Running(kNew), TargetsHealth::kUnhealthy)).Addressed("failing");
  EXPECT_THAT(*PlanWithDiscovery(w).discoverable, ElementsAre("first", "ok"));
}

TEST(ServicePlannerDiscoveryTest, ADeletedServiceIsNotPublished) {
  World w;
  w.Desired(0).Status("DRAINING").Deployment(kNew, kWeb3, "COMPLETED").RunningTasks("t", kNew, 1);
  w.Addressed("t-00");
  EXPECT_FALSE(PlanWithDiscovery(w).discoverable.has_value());
}

}  // namespace
}  // namespace skiff::scheduler
