#include "scheduler/task_states.h"

#include <cstdint>
#include <iterator>

#include "gtest/gtest.h"
#include "skiff/base/check.h"
#include "skiff/scheduler/states.h"

namespace skiff::scheduler {
namespace {

constexpr TaskStage kStages[] = {TaskStage::kProvisioning, TaskStage::kPending,
                                 TaskStage::kActivating,   TaskStage::kRunning,
                                 TaskStage::kDeactivating, TaskStage::kStopping,
                                 TaskStage::kDeprovisioning, TaskStage::kStopped};

v1::Task TaskAt(TaskStage stage) {
  v1::Task task;
  task.set_task_arn("arn:aws:ecs:local:000000000000:task/default/0123");
  Advance(task, stage);
  return task;
}

TEST(TaskStatesTest, StagesAreOrderedAsATaskGoesThroughThem) {
  for (size_t i = 0; i + 1 < std::size(kStages); ++i) {
    EXPECT_LT(kStages[i], kStages[i + 1]) << TaskStageName(kStages[i]);
  }
}

TEST(TaskStatesTest, TheRecordKeepsEcsSpelling) {
  v1::Task task = TaskAt(TaskStage::kProvisioning);
  EXPECT_EQ(task.last_status(), "PROVISIONING");
  Advance(task, TaskStage::kDeprovisioning);
  EXPECT_EQ(task.last_status(), "DEPROVISIONING");
  for (TaskStage stage : kStages) {
    EXPECT_EQ(StageOf(TaskAt(stage)), stage) << TaskStageName(stage);
  }
  SetDesired(task, DesiredStatus::kStopped);
  EXPECT_EQ(task.desired_status(), "STOPPED");
  EXPECT_EQ(DesiredOf(task), DesiredStatus::kStopped);
  SetStopCode(task, StopCode::kEssentialContainerExited);
  EXPECT_EQ(task.stop_code(), "EssentialContainerExited");
  EXPECT_EQ(StopCodeOf(task), StopCode::kEssentialContainerExited);
  SetHealth(task, HealthStatus::kUnhealthy);
  EXPECT_EQ(task.health_status(), "UNHEALTHY");
  v1::Container container;
  EXPECT_EQ(HealthOf(container), HealthStatus::kUnknown);
  SetHealth(container, HealthStatus::kHealthy);
  EXPECT_EQ(container.health_status(), "HEALTHY");
  EXPECT_EQ(HealthOf(container), HealthStatus::kHealthy);
}

TEST(TaskStatesTest, AnUnknownLastStatusReadsAsTheEarliestStage) {
  v1::Task task;
  task.set_last_status("HIBERNATING");  // A newer skiffd's, say.
  EXPECT_EQ(StageOf(task), TaskStage::kProvisioning);
  EXPECT_FALSE(IsStopped(task));
  const int64_t before = BackwardTransitions();
  Advance(task, TaskStage::kStopping);
  EXPECT_EQ(task.last_status(), "STOPPING");
  EXPECT_EQ(BackwardTransitions(), before);
}

TEST(TaskStatesTest, AdvancingToTheSameStageIsNoMove) {
  v1::Task task = TaskAt(TaskStage::kStopping);
  const int64_t before = BackwardTransitions();
  Advance(task, TaskStage::kStopping);
  EXPECT_EQ(task.last_status(), "STOPPING");
  EXPECT_EQ(BackwardTransitions(), before);
}

TEST(TaskStatesTest, AMoveBackwardsIsReportedAndIgnored) {
  v1::Task task = TaskAt(TaskStage::kStopping);
  if constexpr (kDebugChecks) {
    EXPECT_DEATH(Advance(task, TaskStage::kRunning), "a state moved backwards");
  } else {
    const int64_t before = BackwardTransitions();
    Advance(task, TaskStage::kRunning);
    EXPECT_EQ(task.last_status(), "STOPPING");
    EXPECT_EQ(BackwardTransitions(), before + 1);
  }
}

TEST(TaskStatesTest, AContainerMovingBackwardsIsReportedToo) {
  v1::Container container;
  container.set_container_arn("arn:aws:ecs:local:000000000000:container/default/0123/app");
  Advance(container, TaskStage::kPending);
  EXPECT_EQ(container.last_status(), "PENDING");
  Advance(container, TaskStage::kStopped);
  EXPECT_EQ(StageOf(container), TaskStage::kStopped);
  if constexpr (kDebugChecks) {
    EXPECT_DEATH(Advance(container, TaskStage::kRunning), "a state moved backwards");
  } else {
    const int64_t before = BackwardTransitions();
    Advance(container, TaskStage::kRunning);
    EXPECT_EQ(container.last_status(), "STOPPED");
    EXPECT_EQ(BackwardTransitions(), before + 1);
  }
}

}  // namespace
}  // namespace skiff::scheduler
