#include "skiff/scheduler/runtime_monitor.h"

#include "fakes/fake_runtime.h"
#include "fakes/manual_event_loop.h"
#include "gtest/gtest.h"

namespace skiff::scheduler {
namespace {

const runtime::RuntimeVersion kVersion{"1.6.20", "abc"};

class RuntimeMonitorTest : public ::testing::Test {
 protected:
  SimulatedClock clock_;
  fakes::ManualEventLoop loop_{&clock_};
  fakes::FakeRuntime runtime_;
  int became_available_ = 0;
  RuntimeMonitor monitor_{&loop_, &runtime_, "/run/containerd/containerd.sock",
                          [this] { ++became_available_; }};
};

TEST_F(RuntimeMonitorTest, ReachableAtOnceMeansNoRetries) {
  runtime_.ScriptVersion(kVersion);
  monitor_.Start();
  EXPECT_TRUE(monitor_.available());
  EXPECT_EQ(monitor_.version().version, "1.6.20");
  EXPECT_EQ(loop_.pending_timers(), 0u);
}

TEST_F(RuntimeMonitorTest, RetriesWithDoublingDelaysUpToTheCap) {
  runtime_.ScriptVersion(absl::UnavailableError("connection refused"));
  const absl::Time start = clock_.Now();
  monitor_.Start();
  EXPECT_FALSE(monitor_.available());
  // Probes at 0, 1, 3, 7, 15, 31, then every 30 s.
  std::vector<absl::Duration> at;
  for (int i = 0; i < 8; ++i) {
    at.push_back(loop_.next_deadline() - start);
    loop_.AdvanceTime(loop_.next_deadline() - clock_.Now());
  }
  EXPECT_EQ(at, (std::vector<absl::Duration>{
                    absl::Seconds(1), absl::Seconds(3), absl::Seconds(7), absl::Seconds(15),
                    absl::Seconds(31), absl::Seconds(61), absl::Seconds(91), absl::Seconds(121)}));
  EXPECT_EQ(runtime_.version_calls(), 9);
  EXPECT_EQ(loop_.pending_timers(), 1u);  // Never more than one probe pending: no hot loop.
}

TEST_F(RuntimeMonitorTest, StopsProbingOnceTheRuntimeAnswers) {
  runtime_.ScriptVersion(absl::UnavailableError("down"));
  runtime_.ScriptVersion(absl::UnavailableError("down"));
  runtime_.ScriptVersion(kVersion);
  monitor_.Start();
  loop_.AdvanceTime(absl::Minutes(10));
  EXPECT_TRUE(monitor_.available());
  EXPECT_EQ(runtime_.version_calls(), 3);
  EXPECT_EQ(loop_.pending_timers(), 0u);
  EXPECT_EQ(became_available_, 1);
}

TEST_F(RuntimeMonitorTest, MarkUnavailableStartsOverWithoutDoubleProbing) {
  runtime_.ScriptVersion(kVersion);
  monitor_.Start();
  runtime_.ScriptVersion(absl::UnavailableError("gone"));
  runtime_.ScriptVersion(absl::UnavailableError("gone"));
  monitor_.MarkUnavailable();  // Probes the (still answering) first script entry...
  EXPECT_TRUE(monitor_.available());
  monitor_.MarkUnavailable();  // ...then the failing ones.
  EXPECT_FALSE(monitor_.available());
  monitor_.MarkUnavailable();  // A retry is pending: no second probe chain.
  EXPECT_EQ(loop_.pending_timers(), 1u);
}

}  // namespace
}  // namespace skiff::scheduler
