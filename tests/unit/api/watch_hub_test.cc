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

v1::Service ServiceOf(const std::string& cluster, const std::string& arn, int running) {
  v1::Service service;
  service.set_cluster_arn(cluster);
  service.set_service_arn(arn);
  service.set_running_count(running);
  return service;
}

WatchFilter Tasks(const std::string& cluster, std::set<std::string> tasks) {
  return {.cluster_arn = cluster, .task_arns = std::move(tasks)};
}

WatchFilter Services(const std::string& cluster, std::set<std::string> services) {
  return {.cluster_arn = cluster, .service_arns = std::move(services)};
}

TEST(WatchHubTest, DeliversTheWatchedTasksOfTheClusterInOrder) {
  WatchHub hub;
  auto one = hub.Subscribe(Tasks("c1", {"t1"}));
  auto all = hub.Subscribe(Tasks("c1", {}));
  hub.Publish(TaskOf("c1", "t1", "PENDING"));
  hub.Publish(TaskOf("c1", "t2", "PENDING"));
  hub.Publish(TaskOf("c2", "t1", "PENDING"));  // Another cluster.
  hub.Publish(TaskOf("c1", "t1", "RUNNING"));

  EXPECT_EQ(one->Next(absl::ZeroDuration())->task().last_status(), "PENDING");
  EXPECT_EQ(one->Next(absl::ZeroDuration())->task().last_status(), "RUNNING");
  EXPECT_FALSE(one->Next(absl::ZeroDuration()).has_value());

  EXPECT_EQ(all->Next(absl::ZeroDuration())->task().task_arn(), "t1");
  EXPECT_EQ(all->Next(absl::ZeroDuration())->task().task_arn(), "t2");
  EXPECT_EQ(all->Next(absl::ZeroDuration())->task().last_status(), "RUNNING");
  EXPECT_FALSE(all->Next(absl::ZeroDuration()).has_value());
}

TEST(WatchHubTest, DeliversOnlyTheNamedServicesOfTheCluster) {
  WatchHub hub;
  auto web = hub.Subscribe(Services("c1", {"s/web"}));
  hub.Publish(ServiceOf("c1", "s/web", 1));
  hub.Publish(ServiceOf("c1", "s/worker", 1));  // Not named.
  hub.Publish(ServiceOf("c2", "s/web", 1));     // Another cluster.
  hub.Publish(ServiceOf("c1", "s/web", 2));

  std::optional<v1::WatchEvent> first = web->Next(absl::ZeroDuration());
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(first->has_service());
  EXPECT_FALSE(first->has_task());
  EXPECT_EQ(first->service().running_count(), 1);
  EXPECT_EQ(web->Next(absl::ZeroDuration())->service().running_count(), 2);
  EXPECT_FALSE(web->Next(absl::ZeroDuration()).has_value());
}

TEST(WatchHubTest, AServiceWatcherGetsNoTasksAndATaskWatcherNoServices) {
  WatchHub hub;
  auto services = hub.Subscribe(Services("c1", {"s/web"}));
  auto every_task = hub.Subscribe(Tasks("c1", {}));
  hub.Publish(TaskOf("c1", "t1", "RUNNING"));
  hub.Publish(ServiceOf("c1", "s/web", 1));

  EXPECT_TRUE(services->Next(absl::ZeroDuration())->has_service());
  EXPECT_FALSE(services->Next(absl::ZeroDuration()).has_value());
  EXPECT_TRUE(every_task->Next(absl::ZeroDuration())->has_task());
  EXPECT_FALSE(every_task->Next(absl::ZeroDuration()).has_value());
}

TEST(WatchHubTest, AWatcherOfTasksAndServicesGetsBothInPublishOrder) {
  WatchHub hub;
  WatchFilter both{.cluster_arn = "c1", .task_arns = {"t1"}, .service_arns = {"s/web"}};
  auto sub = hub.Subscribe(both);
  hub.Publish(ServiceOf("c1", "s/web", 0));
  hub.Publish(TaskOf("c1", "t2", "RUNNING"));  // Not named.
  hub.Publish(TaskOf("c1", "t1", "RUNNING"));
  hub.Publish(ServiceOf("c1", "s/web", 1));

  EXPECT_EQ(sub->Next(absl::ZeroDuration())->service().running_count(), 0);
  EXPECT_EQ(sub->Next(absl::ZeroDuration())->task().task_arn(), "t1");
  EXPECT_EQ(sub->Next(absl::ZeroDuration())->service().running_count(), 1);
  EXPECT_FALSE(sub->Next(absl::ZeroDuration()).has_value());
}

TEST(WatchHubTest, AnUnsubscribedWatcherGetsNothingMore) {
  WatchHub hub;
  auto sub = hub.Subscribe(Tasks("c1", {}));
  auto services = hub.Subscribe(Services("c1", {"s/web"}));
  hub.Unsubscribe(sub);
  hub.Unsubscribe(services);
  hub.Publish(TaskOf("c1", "t1", "PENDING"));
  hub.Publish(ServiceOf("c1", "s/web", 1));
  EXPECT_FALSE(sub->Next(absl::ZeroDuration()).has_value());
  EXPECT_FALSE(services->Next(absl::ZeroDuration()).has_value());
}

TEST(WatchHubTest, ASlowWatcherIsToldItFellBehind) {
  WatchHub hub;
  auto sub = hub.Subscribe(Tasks("c1", {}));
  for (int i = 0; i < 10001; ++i) hub.Publish(TaskOf("c1", "t1", "PENDING"));
  EXPECT_TRUE(sub->overflowed());
}

TEST(WatchHubTest, ASlowServiceWatcherIsToldItFellBehind) {
  WatchHub hub;
  auto sub = hub.Subscribe(Services("c1", {"s/web"}));
  for (int i = 0; i < 10000; ++i) hub.Publish(ServiceOf("c1", "s/web", 1));
  EXPECT_FALSE(sub->overflowed());
  hub.Publish(ServiceOf("c1", "s/web", 1));
  EXPECT_TRUE(sub->overflowed());
}

}  // namespace
}  // namespace skiff::api
