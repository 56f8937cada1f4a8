// ServiceManager and health checks: unhealthy tasks replaced, the grace period, and the healthy
// floor of a rollout, in simulated time.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "unit/scheduler/service_fixture.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;

// Family "checked": one essential container whose check runs every 5 s, one failure is enough.
constexpr char kChecked[] = R"({"family": "checked", "networkMode": "host",
    "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
      "healthCheck": {"command": ["CMD-SHELL", "test -f /ok"], "interval": 5, "retries": 1}}]})";

class ServiceHealthTest : public ServiceManagerTest {
 protected:
  void SetUp() override {
    ServiceManagerTest::SetUp();
    Register(kChecked);
  }
  std::string Health(const std::string& task_id) {
    std::string out;
    tasks_->ForEachTask([&](const store::StoredTask& t) {
      if (t.id == task_id) out = t.task.health_status();
    });
    return out;
  }
  std::string StoppedReason(const std::string& task_id) {
    std::string out;
    tasks_->ForEachTask([&](const store::StoredTask& t) {
      if (t.id == task_id) out = t.task.stopped_reason();
    });
    return out;
  }
  void Fail(const std::string& task_id) {
    runtime_.ScriptExec(task_id + "-app", runtime::ExecResult{.exit_code = 1});
  }
};

TEST_F(ServiceHealthTest, AnUnhealthyTaskIsReplacedBeforeItStops) {
  ASSERT_TRUE(
      Create(R"({"serviceName": "web", "taskDefinition": "checked", "desiredCount": 2})").ok());
  Settle();
  EXPECT_NE(Describe().deployments(0).rollout_state(), "COMPLETED");  // Not healthy yet.
  Advance(absl::Seconds(5));
  std::vector<std::string> first = TaskIds();
  ASSERT_THAT(first, SizeIs(2));
  EXPECT_EQ(Health(first[0]), "HEALTHY");
  EXPECT_EQ(Describe().deployments(0).rollout_state(), "COMPLETED");

  const std::string sick = first[0];
  Fail(sick);
  Advance(absl::Seconds(5));
  EXPECT_EQ(Health(sick), "UNHEALTHY");
  // maximumPercent 200 leaves room: the replacement starts while the unhealthy task still runs.
  EXPECT_THAT(TaskIds(), SizeIs(3));
  EXPECT_THAT(TaskIds(), testing::Contains(sick));
  EXPECT_FALSE(HasEvent(Events(), "failed container health checks"));

  Advance(absl::Seconds(5));  // The replacement passes its first check.
  EXPECT_THAT(TaskIds(), SizeIs(2));
  EXPECT_THAT(TaskIds(), testing::Not(testing::Contains(sick)));
  EXPECT_TRUE(HasEvent(Events(), absl::StrCat("(service web) (task ", sick,
                                              ") failed container health checks.")));
  EXPECT_EQ(StoppedReason(sick), "Task failed container health checks");
  Kill(sick, 143);  // It honours the SIGTERM.
  Advance(absl::Seconds(1));
  const v1::Service s = Describe();
  EXPECT_EQ(s.running_count(), 2);
  EXPECT_EQ(s.events(0).message(), "(service web) has reached a steady state.");
}

TEST_F(ServiceHealthTest, AtTheCeilingTheUnhealthyTaskStopsFirst) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "checked", "desiredCount": 2,
      "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 50}})")
                  .ok());
  Advance(absl::Seconds(5));
  const std::string sick = TaskIds()[0];
  Fail(sick);
  for (int i = 0; i < 20; ++i) {
    Advance(absl::Milliseconds(500));
    ASSERT_LE(TaskIds().size(), 2u) << "the ceiling of 100% was passed at step " << i;
  }
  EXPECT_THAT(TaskIds(), testing::Not(testing::Contains(sick)));
  EXPECT_THAT(TaskIds(), SizeIs(2));
  EXPECT_TRUE(HasEvent(Events(), "failed container health checks."));
}

TEST_F(ServiceHealthTest, TheGracePeriodDelaysActingOnAFailure) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "checked", "desiredCount": 1,
      "healthCheckGracePeriodSeconds": 30})")
                  .ok());
  Settle();
  const std::string sick = TaskIds()[0];
  Fail(sick);
  Advance(absl::Seconds(29));
  EXPECT_EQ(Health(sick), "UNHEALTHY");
  EXPECT_THAT(TaskIds(), ElementsAre(sick));  // Still within its grace period.
  Advance(absl::Seconds(2));
  EXPECT_THAT(TaskIds(), SizeIs(2));  // The replacement, then the unhealthy one goes.
  Advance(absl::Seconds(5));
  EXPECT_THAT(TaskIds(), testing::Not(testing::Contains(sick)));
}

TEST_F(ServiceHealthTest, AReplacementThatFailsTooEndsTheWaitForIt) {
  Register(R"({"family": "checked", "networkMode": "host",
      "containerDefinitions": [{"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
        "healthCheck": {"command": ["CMD", "false"], "interval": 5, "retries": 1}}]})");
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "checked", "desiredCount": 1,
      "healthCheckGracePeriodSeconds": 20})")
                  .ok());
  Settle();
  const std::string first = TaskIds()[0];
  Fail(first);
  Advance(absl::Seconds(21));
  ASSERT_THAT(TaskIds(), SizeIs(2));  // Its replacement runs beside it.
  const std::string second = TaskIds()[0] == first ? TaskIds()[1] : TaskIds()[0];
  Fail(second);
  Advance(absl::Seconds(5));  // The replacement fails its first check too.
  EXPECT_THAT(TaskIds(), ElementsAre(second));
  EXPECT_EQ(StoppedReason(first), "Task failed container health checks");
}

TEST_F(ServiceHealthTest, ARolloutKeepsTheOldTasksUntilTheNewOnesAreHealthy) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "web", "desiredCount": 2})").ok());
  Settle();
  const std::vector<std::string> old = TaskIds();
  ASSERT_TRUE(Update(R"({"service": "web", "taskDefinition": "checked"})").ok());
  Settle();
  EXPECT_THAT(TaskIds(), SizeIs(4));  // 200%: both new tasks start at once.
  Advance(absl::Seconds(4));
  // The new tasks run but have not passed a check: the 100% floor keeps both old ones.
  for (const std::string& id : old) EXPECT_THAT(TaskIds(), testing::Contains(id));
  Advance(absl::Seconds(1));
  EXPECT_THAT(TaskIds(), SizeIs(2));
  for (const std::string& id : old) EXPECT_THAT(TaskIds(), testing::Not(testing::Contains(id)));
}

}  // namespace
}  // namespace skiff::scheduler
