// The `skiff stats` table: docker stats' columns, then services' utilization.
#include "cli/stats.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::cli {
namespace {

using ::testing::HasSubstr;

TEST(HumanBytesTest, BinaryUnitsAsDockerPrintsThem) {
  EXPECT_EQ(HumanBytes(512), "512B");
  EXPECT_EQ(HumanBytes(1536), "1.50KiB");
  EXPECT_EQ(HumanBytes(int64_t{512} << 20), "512.00MiB");
  EXPECT_EQ(HumanBytes(int64_t{3} << 30), "3.00GiB");
}

TEST(RenderStatsTableTest, ContainersThenServices) {
  v1::DescribeStatsResponse response;
  v1::TaskStats* task = response.add_tasks();
  task->set_task_arn("arn:aws:ecs:local:000000000000:task/default/0123abcd");
  v1::ContainerStats* burner = task->add_containers();
  burner->set_container_name("burner");
  burner->set_cpu_percent(24.987);
  burner->set_memory_working_set_bytes(int64_t{1} << 20);
  burner->set_memory_limit_bytes(int64_t{256} << 20);
  burner->set_pids(2);
  burner->set_sampled_at(1700000000);
  v1::ContainerStats* fresh = task->add_containers();
  fresh->set_container_name("fresh");  // Not sampled yet.
  v1::ServiceUtilization* service = response.add_services();
  service->set_service_name("web");
  service->set_running_tasks(1);
  service->set_memory_utilization(12.5);  // No CPU reservation: no CPU utilization.

  const std::string table = RenderStatsTable(response);
  EXPECT_THAT(table, HasSubstr("CONTAINER   TASK       CPU %    MEM USAGE / LIMIT"));
  EXPECT_THAT(table, HasSubstr("burner      0123abcd   24.99%   1.00MiB / 256.00MiB   0.39%   2"));
  EXPECT_THAT(table, HasSubstr("fresh       0123abcd   -"));
  EXPECT_THAT(table, HasSubstr("SERVICE   RUNNING   CPU UTILIZATION   MEMORY UTILIZATION"));
  EXPECT_THAT(table, HasSubstr("web       1         -                 12.50%"));
}

}  // namespace
}  // namespace skiff::cli
