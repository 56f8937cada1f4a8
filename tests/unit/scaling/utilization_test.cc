// ECS's utilization arithmetic and the stats store, on values: no loop, no clock.
#include "skiff/scaling/utilization.h"

#include "gtest/gtest.h"
#include "skiff/scaling/stats_store.h"

namespace skiff::scaling {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

runtime::ContainerStats Sample(std::string id, absl::Duration at, uint64_t cpu_ns,
                               uint64_t working_set = 0) {
  return {.id = std::move(id), .sampled_at = kT0 + at, .cpu_usage_ns = cpu_ns,
          .memory_working_set_bytes = working_set};
}

TEST(CpuPercentTest, IsCpuTimeOverWallTimeInPercentOfOneCore) {
  // 2.5 s of CPU in 10 s: a quarter of a core.
  EXPECT_DOUBLE_EQ(*CpuPercent(Sample("a", absl::ZeroDuration(), 1'000'000'000),
                               Sample("a", absl::Seconds(10), 3'500'000'000)),
                   25.0);
  // Two full cores.
  EXPECT_DOUBLE_EQ(*CpuPercent(Sample("a", absl::ZeroDuration(), 0),
                               Sample("a", absl::Seconds(1), 2'000'000'000)),
                   200.0);
}

TEST(CpuPercentTest, NoneForSamplesOutOfOrderOrACounterThatWentBack) {
  EXPECT_FALSE(CpuPercent(Sample("a", absl::Seconds(1), 0), Sample("a", absl::Seconds(1), 5)));
  EXPECT_FALSE(CpuPercent(Sample("a", absl::Seconds(0), 9), Sample("a", absl::Seconds(1), 5)));
}

v1::Task TaskWith(std::optional<std::string> cpu, std::optional<std::string> memory) {
  v1::Task task;
  if (cpu) task.set_cpu(*cpu);
  if (memory) task.set_memory(*memory);
  return task;
}

TEST(ReservationOfTest, TaskLevelValuesWin) {
  v1::Task task = TaskWith("0.5 vCPU", "1 GB");
  v1::Container* c = task.add_containers();
  c->set_cpu("128");
  c->set_memory("256");
  const Reservation r = ReservationOf(task);
  EXPECT_EQ(r.cpu_units, 512);
  EXPECT_EQ(r.memory_mib, 1024);
}

TEST(ReservationOfTest, ElseTheSumOfContainersWithMemoryReservationFirst) {
  v1::Task task = TaskWith(std::nullopt, std::nullopt);
  v1::Container* a = task.add_containers();
  a->set_cpu("256");
  a->set_memory("512");
  a->set_memory_reservation("128");
  v1::Container* b = task.add_containers();
  b->set_cpu("128");
  b->set_memory("64");
  const Reservation r = ReservationOf(task);
  EXPECT_EQ(r.cpu_units, 384);
  EXPECT_EQ(r.memory_mib, 192);
}

TEST(ReservationOfTest, NoneWhenAContainerReservesNothing) {
  v1::Task task = TaskWith(std::nullopt, std::nullopt);
  task.add_containers()->set_cpu("256");
  task.add_containers()->set_memory("64");
  const Reservation r = ReservationOf(task);
  EXPECT_FALSE(r.cpu_units);
  EXPECT_FALSE(r.memory_mib);
}

TEST(UtilizationOfTest, CpuUnitsUsedOverCpuUnitsReservedAcrossTasks) {
  // Two tasks of 256 units: one uses a quarter core (256 units), the other an eighth (128).
  const ServiceUtilization u = UtilizationOf({
      {.reservation = {.cpu_units = 256, .memory_mib = 512},
       .usage = {.cpu_cores = 0.25, .memory_mib = 256}},
      {.reservation = {.cpu_units = 256, .memory_mib = 512},
       .usage = {.cpu_cores = 0.125, .memory_mib = 128}},
  });
  EXPECT_EQ(u.tasks, 2);
  EXPECT_DOUBLE_EQ(*u.cpu_percent, 75.0);     // 384 * 100 / 512.
  EXPECT_DOUBLE_EQ(*u.memory_percent, 37.5);  // 384 * 100 / 1024.
}

TEST(UtilizationOfTest, NoCpuReservationMeansNoCpuUtilizationNotZero) {
  const ServiceUtilization u = UtilizationOf({
      {.reservation = {.memory_mib = 100}, .usage = {.cpu_cores = 1.0, .memory_mib = 50}},
  });
  EXPECT_FALSE(u.cpu_percent.has_value());
  EXPECT_DOUBLE_EQ(*u.memory_percent, 50.0);
}

TEST(UtilizationOfTest, TasksNotMeasuredYetCountOnNeitherSide) {
  const ServiceUtilization u = UtilizationOf({
      {.reservation = {.cpu_units = 1024}, .usage = {.cpu_cores = std::nullopt}},
      {.reservation = {.cpu_units = 1024}, .usage = {.cpu_cores = 0.5}},
  });
  EXPECT_DOUBLE_EQ(*u.cpu_percent, 50.0);
  EXPECT_FALSE(UtilizationOf({{.reservation = {.cpu_units = 1024}}}).cpu_percent.has_value());
  EXPECT_FALSE(UtilizationOf({}).cpu_percent.has_value());
}

TEST(StatsStoreTest, KeepsTwoSamplesAndForgetsContainersThatLeft) {
  StatsStore store;
  store.Record({Sample("a", absl::ZeroDuration(), 0), Sample("b", absl::ZeroDuration(), 0)}, kT0);
  ASSERT_NE(store.Find("a"), nullptr);
  EXPECT_FALSE(store.Find("a")->cpu_percent);  // One sample: no rate yet.
  store.Record({Sample("a", absl::Seconds(2), 1'000'000'000)}, kT0 + absl::Seconds(2));
  ASSERT_NE(store.Find("a"), nullptr);
  EXPECT_DOUBLE_EQ(*store.Find("a")->cpu_percent, 50.0);
  EXPECT_EQ(store.Find("b"), nullptr);
  EXPECT_EQ(store.last_round(), kT0 + absl::Seconds(2));
  // A sample no newer than the kept one changes nothing.
  store.Record({Sample("a", absl::Seconds(2), 9'000'000'000)}, kT0 + absl::Seconds(3));
  EXPECT_DOUBLE_EQ(*store.Find("a")->cpu_percent, 50.0);
}

}  // namespace
}  // namespace skiff::scaling
