#include "skiff/scheduler/runtime_monitor.h"

#include "fakes/fake_runtime.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "gtest/gtest.h"

namespace skiff::scheduler {
namespace {

using Kind = runtime::RuntimeEvent::Kind;

const runtime::RuntimeVersion kVersion{"1.6.20", "abc"};

class RuntimeMonitorTest : public ::testing::Test {
 protected:
  // One probe interval: the timer sends the probe, the executor runs it, the loop takes the
  // answer.
  void Tick() {
    loop_.AdvanceTime(RuntimeMonitor::kProbeInterval);
    executor_.RunAll();
    loop_.RunPending();
  }

  SimulatedClock clock_;
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  fakes::FakeRuntime runtime_;
  int became_available_ = 0;
  RuntimeMonitor monitor_{&loop_, &executor_, &runtime_, "/run/containerd/containerd.sock",
                          [this] { ++became_available_; }};
};

TEST_F(RuntimeMonitorTest, TheFirstProbeAnswersAtStart) {
  runtime_.ScriptVersion(kVersion);
  monitor_.Start();
  EXPECT_TRUE(monitor_.available());
  EXPECT_EQ(monitor_.version().version, "1.6.20");
  EXPECT_EQ(became_available_, 1);
  EXPECT_EQ(loop_.pending_timers(), 1u);  // The next probe.
}

TEST_F(RuntimeMonitorTest, ProbesRunOnTheExecutorAndPostTheirAnswerBack) {
  runtime_.ScriptVersion(kVersion);
  monitor_.Start();
  EXPECT_EQ(runtime_.version_calls(), 1);
  loop_.AdvanceTime(RuntimeMonitor::kProbeInterval);
  // The loop only sent the probe: containerd has not been called on the loop thread.
  EXPECT_EQ(runtime_.version_calls(), 1);
  EXPECT_EQ(executor_.pending(), 1u);
  executor_.RunAll();
  EXPECT_EQ(runtime_.version_calls(), 2);
  EXPECT_EQ(loop_.RunPending(), 1);
  EXPECT_EQ(monitor_.probes(), 2);
}

TEST_F(RuntimeMonitorTest, OneProbeInFlightAtMostHowEverSlowTheRuntime) {
  runtime_.ScriptVersion(kVersion);
  monitor_.Start();
  loop_.AdvanceTime(absl::Minutes(1));  // The executor never answers meanwhile.
  EXPECT_EQ(executor_.pending(), 1u);
  EXPECT_EQ(loop_.pending_timers(), 0u);
  executor_.RunAll();
  loop_.RunPending();
  EXPECT_EQ(loop_.pending_timers(), 1u);  // The next one, an interval after this answer.
}

TEST_F(RuntimeMonitorTest, UnavailableWithinAProbeIntervalOfTheRuntimeStopping) {
  // The fake answers its script in order and repeats the last answer.
  runtime_.ScriptVersion(kVersion);
  runtime_.ScriptVersion(kVersion);
  runtime_.ScriptVersion(absl::UnavailableError("containerd socket does not exist"));
  monitor_.Start();
  Tick();
  EXPECT_TRUE(monitor_.available());
  Tick();
  EXPECT_FALSE(monitor_.available());
}

TEST_F(RuntimeMonitorTest, AvailableWithinAProbeIntervalOfTheRuntimeComingBack) {
  for (int i = 0; i < 101; ++i) runtime_.ScriptVersion(absl::UnavailableError("refused"));
  runtime_.ScriptVersion(kVersion);
  monitor_.Start();
  EXPECT_FALSE(monitor_.available());
  for (int i = 0; i < 100; ++i) Tick();  // Down for a while: still probing every interval.
  EXPECT_EQ(runtime_.version_calls(), 101);
  EXPECT_FALSE(monitor_.available());
  EXPECT_EQ(became_available_, 0);
  Tick();
  EXPECT_TRUE(monitor_.available());
  EXPECT_EQ(became_available_, 1);
}

TEST_F(RuntimeMonitorTest, ALostEventStreamMeansUnavailableAtOnceAndProbesAtOnce) {
  runtime_.ScriptVersion(kVersion);
  runtime_.ScriptVersion(absl::UnavailableError("gone"));
  monitor_.Start();
  monitor_.OnRuntimeEvent({.kind = Kind::kStreamLost});
  EXPECT_FALSE(monitor_.available());
  EXPECT_EQ(executor_.pending(), 1u);  // Sent now, not at the next tick.
  EXPECT_EQ(loop_.pending_timers(), 0u);
  executor_.RunAll();
  loop_.RunPending();
  EXPECT_FALSE(monitor_.available());
  EXPECT_EQ(loop_.pending_timers(), 1u);
}

TEST_F(RuntimeMonitorTest, AProbeSentBeforeTheStreamWasLostCannotUndoTheLoss) {
  runtime_.ScriptVersion(kVersion);
  monitor_.Start();
  loop_.AdvanceTime(RuntimeMonitor::kProbeInterval);  // A probe is sent...
  executor_.RunAll();                                 // ...and containerd answers it...
  monitor_.OnRuntimeEvent({.kind = Kind::kStreamLost});  // ...just before it stops.
  loop_.RunPending();
  EXPECT_FALSE(monitor_.available());
}

TEST_F(RuntimeMonitorTest, TheStreamComingUpMeansAvailable) {
  runtime_.ScriptVersion(absl::UnavailableError("connection refused"));
  monitor_.Start();
  monitor_.OnRuntimeEvent({.kind = Kind::kStreamUp});
  EXPECT_TRUE(monitor_.available());
  EXPECT_EQ(became_available_, 1);
  monitor_.OnRuntimeEvent({.kind = Kind::kExit, .container_id = "c1"});  // Not about health.
  EXPECT_TRUE(monitor_.available());
}

TEST_F(RuntimeMonitorTest, DestroyingTheMonitorCancelsItsNextProbe) {
  runtime_.ScriptVersion(kVersion);
  {
    RuntimeMonitor monitor(&loop_, &executor_, &runtime_, "sock");
    monitor.Start();
    EXPECT_EQ(loop_.pending_timers(), 1u);  // Its next probe.
  }
  loop_.AdvanceTime(absl::Minutes(1));
  EXPECT_EQ(executor_.pending(), 0u);
}

}  // namespace
}  // namespace skiff::scheduler
