// The sampler and the reporter in simulated time: a manual loop, a manual executor and the fake
// runtime scripted with samples; tasks come from an in-memory inventory.
#include "skiff/scaling/stats_sampler.h"

#include <map>

#include "fakes/fake_runtime.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "gtest/gtest.h"
#include "skiff/scaling/stats_reporter.h"

namespace skiff::scaling {
namespace {

class FakeInventory final : public scheduler::TaskInventory {
 public:
  void ForEachTask(const std::function<void(const store::StoredTask&)>& fn) const override {
    for (const auto& [id, task] : tasks) fn(task);
  }
  const scheduler::Resources& capacity() const override { return none_; }
  const scheduler::Resources& reserved() const override { return none_; }

  std::map<std::string, store::StoredTask> tasks;

 private:
  scheduler::Resources none_;
};

constexpr char kTaskA[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr char kTaskB[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

store::StoredTask ServiceTask(const std::string& id, const std::string& status) {
  store::StoredTask t{.id = id, .cluster = "default", .service = "web"};
  t.task.set_last_status(status);
  t.task.set_cpu("256");
  t.task.set_memory("512");
  v1::Container* c = t.task.add_containers();
  c->set_name("app");
  c->set_last_status(status);
  return t;
}

class StatsSamplerTest : public ::testing::Test {
 protected:
  void Round(absl::Duration step) {
    loop_.AdvanceTime(step);
    executor_.RunAll();
    loop_.RunPending();
  }
  void Script(const std::string& task, uint64_t cpu_ns, uint64_t working_set) {
    runtime_.ScriptStats({.id = task + "-app", .sampled_at = clock_.Now(),
                          .cpu_usage_ns = cpu_ns, .memory_working_set_bytes = working_set});
  }

  SimulatedClock clock_;
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  fakes::FakeRuntime runtime_;
  StatsStore store_;
  StatsSampler sampler_{&loop_, &executor_, &runtime_, &clock_, &store_, absl::Seconds(10)};
  FakeInventory inventory_;
  StatsReporter reporter_{&inventory_, &store_, model::ArnScope{}, absl::Seconds(10)};
};

TEST_F(StatsSamplerTest, SamplesOnTheExecutorEveryIntervalIntoTheStore) {
  Script(kTaskA, 0, 100 << 20);
  sampler_.Start();
  EXPECT_EQ(runtime_.stats_calls(), 0);  // Not on the loop: queued on the executor.
  executor_.RunAll();
  EXPECT_EQ(runtime_.stats_calls(), 1);
  EXPECT_EQ(store_.Find(std::string(kTaskA) + "-app"), nullptr);  // Posted, not yet run.
  loop_.RunPending();
  ASSERT_NE(store_.Find(std::string(kTaskA) + "-app"), nullptr);

  loop_.AdvanceTime(absl::Seconds(10));
  Script(kTaskA, 5'000'000'000, 100 << 20);  // Half a core over 10 s.
  executor_.RunAll();
  loop_.RunPending();
  EXPECT_EQ(runtime_.stats_calls(), 2);
  EXPECT_DOUBLE_EQ(*store_.Find(std::string(kTaskA) + "-app")->cpu_percent, 50.0);
}

TEST_F(StatsSamplerTest, ARoundInFlightHoldsBackTheNextAndAFailedOneKeepsTheStore) {
  Script(kTaskA, 0, 0);
  sampler_.Start();
  loop_.AdvanceTime(absl::Seconds(30));  // Three rounds due while the first is queued.
  EXPECT_EQ(executor_.RunAll(), 1);
  loop_.RunPending();
  runtime_.FailNext("Stats", absl::UnavailableError("containerd is down"));
  Round(absl::Seconds(10));
  EXPECT_EQ(runtime_.stats_calls(), 2);
  EXPECT_NE(store_.Find(std::string(kTaskA) + "-app"), nullptr);
}

TEST_F(StatsSamplerTest, ReportsTasksAndTheServiceUtilization) {
  inventory_.tasks[kTaskA] = ServiceTask(kTaskA, "RUNNING");
  inventory_.tasks[kTaskB] = ServiceTask(kTaskB, "RUNNING");
  Script(kTaskA, 0, 256 << 20);
  Script(kTaskB, 0, 128 << 20);
  sampler_.Start();
  executor_.RunAll();
  loop_.RunPending();
  loop_.AdvanceTime(absl::Seconds(10));
  Script(kTaskA, 2'500'000'000, 256 << 20);  // A quarter core: 256 units, all it reserves.
  Script(kTaskB, 1'250'000'000, 128 << 20);  // An eighth: half of its 256.
  executor_.RunAll();
  loop_.RunPending();

  absl::StatusOr<v1::DescribeStatsResponse> stats = reporter_.DescribeStats({});
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->tasks_size(), 2);
  EXPECT_DOUBLE_EQ(stats->tasks(0).cpu_percent(), 25.0);
  EXPECT_EQ(stats->tasks(0).containers(0).memory_working_set_bytes(), 256 << 20);
  ASSERT_EQ(stats->services_size(), 1);
  EXPECT_EQ(stats->services(0).service_name(), "web");
  EXPECT_DOUBLE_EQ(stats->services(0).cpu_utilization(), 75.0);
  EXPECT_DOUBLE_EQ(stats->services(0).memory_utilization(), 37.5);  // 384 of 1024 MiB.
  EXPECT_EQ(stats->services(0).running_tasks(), 2);
  EXPECT_DOUBLE_EQ(stats->interval_seconds(), 10);

  v1::DescribeStatsRequest one;
  one.add_tasks(kTaskB);
  stats = reporter_.DescribeStats(one);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->tasks_size(), 1);
  EXPECT_DOUBLE_EQ(stats->tasks(0).cpu_percent(), 12.5);
  // The service's utilization still counts all of its running tasks.
  EXPECT_DOUBLE_EQ(stats->services(0).cpu_utilization(), 75.0);
}

TEST_F(StatsSamplerTest, StoppedTasksAreNotReportedAndUnknownTasksAreNotFound) {
  inventory_.tasks[kTaskA] = ServiceTask(kTaskA, "STOPPED");
  absl::StatusOr<v1::DescribeStatsResponse> stats = reporter_.DescribeStats({});
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->tasks_size(), 0);
  EXPECT_FALSE(stats->has_sampled_at());
  v1::DescribeStatsRequest unknown;
  unknown.add_tasks(kTaskB);
  EXPECT_EQ(reporter_.DescribeStats(unknown).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace skiff::scaling
