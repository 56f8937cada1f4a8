#include "skiff/api/watch_hub.h"

#include "gtest/gtest.h"

namespace skiff::api {
namespace {

v1::Task TaskOf(const std::string& cluster, const std::string& arn, const std::string& status) {
  v1::Task task;
  task.set_cluster_arn(cluster);
  task.set_task_arn(arn);
  task.set_last_status(status);
  return task;
}

TEST(WatchHubTest, DeliversTheWatchedTasksOfTheClusterInOrder) {
  WatchHub hub;
  auto one = hub.Subscribe("c1", {"t1"});
  auto all = hub.Subscribe("c1", {});
  hub.Publish(TaskOf("c1", "t1", "PENDING"));
  hub.Publish(TaskOf("c1", "t2", "PENDING"));
  hub.Publish(TaskOf("c2", "t1", "PENDING"));  // Another cluster.
  hub.Publish(TaskOf("c1", "t1", "RUNNING"));

  EXPECT_EQ(one->Next(absl::ZeroDuration())->last_status(), "PENDING");
  EXPECT_EQ(one->Next(absl::ZeroDuration())->last_status(), "RUNNING");
  EXPECT_FALSE(one->Next(absl::ZeroDuration()).has_value());

  EXPECT_EQ(all->Next(absl::ZeroDuration())->task_arn(), "t1");
  EXPECT_EQ(all->Next(absl::ZeroDuration())->task_arn(), "t2");
  EXPECT_EQ(all->Next(absl::ZeroDuration())->last_status(), "RUNNING");
  EXPECT_FALSE(all->Next(absl::ZeroDuration()).has_value());
}

TEST(WatchHubTest, AnUnsubscribedWatcherGetsNothingMore) {
  WatchHub hub;
  auto sub = hub.Subscribe("c1", {});
  hub.Unsubscribe(sub);
  hub.Publish(TaskOf("c1", "t1", "PENDING"));
  EXPECT_FALSE(sub->Next(absl::ZeroDuration()).has_value());
}

TEST(WatchHubTest, ASlowWatcherIsToldItFellBehind) {
  WatchHub hub;
  auto sub = hub.Subscribe("c1", {});
  for (int i = 0; i < 10001; ++i) hub.Publish(TaskOf("c1", "t1", "PENDING"));
  EXPECT_TRUE(sub->overflowed());
}

}  // namespace
}  // namespace skiff::api
