#include "skiff/scheduler/event_loop.h"

#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "fakes/manual_event_loop.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;

TEST(ThreadEventLoopTest, RunsPostedWorkInOrderOnItsThread) {
  SimulatedClock clock;
  ThreadEventLoop loop(&clock);
  loop.Start();
  std::vector<int> order;  // Touched only on the loop thread until `done`.
  std::thread::id loop_thread;
  absl::Notification done;
  for (int i = 0; i < 100; ++i) loop.Post([&order, i] { order.push_back(i); });
  loop.Post([&] {
    loop_thread = std::this_thread::get_id();
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_EQ(order.size(), 100u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  EXPECT_NE(loop_thread, std::this_thread::get_id());
  loop.Stop();
}

TEST(ThreadEventLoopTest, TimersFireByTheInjectedClockInDeadlineOrder) {
  SimulatedClock clock;
  ThreadEventLoop loop(&clock);
  loop.Start();
  std::vector<int> fired;
  absl::Notification posted;
  loop.PostAfter(absl::Seconds(20), [&] { fired.push_back(20); });
  loop.PostAfter(absl::Seconds(10), [&] { fired.push_back(10); });
  loop.PostAfter(absl::Hours(1), [&] { fired.push_back(3600); });
  clock.Advance(absl::Seconds(30));
  absl::Notification done;
  // Posting wakes the loop, which then finds the two due timers; the third is not due.
  loop.Post([] {});
  loop.Post([&] { done.Notify(); });
  done.WaitForNotification();
  absl::Notification after;
  loop.Post([&] { after.Notify(); });
  after.WaitForNotification();
  EXPECT_THAT(fired, ElementsAre(10, 20));
  loop.Stop();
}

TEST(ThreadEventLoopTest, StopRunsWhatWasPostedAndDropsLaterWork) {
  SimulatedClock clock;
  ThreadEventLoop loop(&clock);
  loop.Start();
  int ran = 0;
  for (int i = 0; i < 10; ++i) loop.Post([&] { ++ran; });
  loop.PostAfter(absl::ZeroDuration(), [&] { ran += 100; });
  loop.Stop();
  EXPECT_GE(ran, 10);
  EXPECT_LE(ran, 110);  // The timer may have fired before Stop; never after it.
  const int at_stop = ran;
  EXPECT_FALSE(loop.Post([&] { ++ran; }));
  EXPECT_EQ(ran, at_stop);
}


// Runs `fn` on the loop thread and waits for it.
template <typename Fn>
void OnLoop(ThreadEventLoop& loop, Fn fn) {
  absl::Notification done;
  ASSERT_TRUE(loop.Post([&] {
    fn();
    done.Notify();
  }));
  done.WaitForNotification();
}

TEST(ThreadEventLoopTest, TheConstructingThreadActsForTheLoopUntilStartAndAfterStop) {
  SimulatedClock clock;
  ThreadEventLoop loop(&clock);
  EXPECT_TRUE(loop.IsLoopThread());  // main loads the state before serving
  loop.Start();
  EXPECT_FALSE(loop.IsLoopThread());
  bool on_loop = false;
  OnLoop(loop, [&] { on_loop = loop.IsLoopThread(); });
  EXPECT_TRUE(on_loop);
  loop.Stop();
  EXPECT_TRUE(loop.IsLoopThread());  // destructors of loop-owned objects run on main
}

TEST(ThreadEventLoopTest, ADisabledTimerNeverRunsAndAnEnabledOneFiresByTheClock) {
  SimulatedClock clock;
  ThreadEventLoop loop(&clock);
  int cancelled_runs = 0;
  int fired_runs = 0;
  // Made before Start, as main does while it loads the state.
  std::unique_ptr<Timer> cancelled = loop.CreateTimer([&] { ++cancelled_runs; });
  std::unique_ptr<Timer> fired = loop.CreateTimer([&] { ++fired_runs; });
  cancelled->Enable(absl::Seconds(10));
  fired->Enable(absl::Seconds(20));
  loop.Start();
  OnLoop(loop, [&] { cancelled->Disable(); });
  clock.Advance(absl::Seconds(30));
  OnLoop(loop, [] {});  // Wakes the loop, which runs the timer that fell due after this work.
  bool enabled = true;
  OnLoop(loop, [&] { enabled = fired->Enabled(); });
  EXPECT_EQ(cancelled_runs, 0);
  EXPECT_EQ(fired_runs, 1);
  EXPECT_FALSE(enabled);
  loop.Stop();
  // Stopped: timers are dropped and cannot be armed again.
  fired->Enable(absl::ZeroDuration());
  EXPECT_FALSE(fired->Enabled());
}

TEST(ThreadEventLoopTest, ACallbackThatCancelsATimerDueAtTheSameInstantWins) {
  SimulatedClock clock;
  ThreadEventLoop loop(&clock);
  int second_runs = 0;
  std::unique_ptr<Timer> second;
  std::unique_ptr<Timer> first = loop.CreateTimer([&] { second.reset(); });
  second = loop.CreateTimer([&] { ++second_runs; });
  first->Enable(absl::Seconds(5));
  second->Enable(absl::Seconds(5));
  loop.Start();
  clock.Advance(absl::Seconds(5));
  OnLoop(loop, [] {});
  OnLoop(loop, [] {});
  loop.Stop();
  EXPECT_EQ(second, nullptr);
  EXPECT_EQ(second_runs, 0);
}

// The same contract on the simulated loop, which shares ThreadEventLoop's TimerQueue.
class ManualTimerTest : public ::testing::Test {
 protected:
  SimulatedClock clock_;
  fakes::ManualEventLoop loop_{&clock_};
};

TEST_F(ManualTimerTest, FiresOnceAtItsDeadline) {
  int runs = 0;
  std::unique_ptr<Timer> timer = loop_.CreateTimer([&] { ++runs; });
  EXPECT_FALSE(timer->Enabled());
  timer->Enable(absl::Seconds(10));
  EXPECT_TRUE(timer->Enabled());
  loop_.AdvanceTime(absl::Seconds(9));
  EXPECT_EQ(runs, 0);
  loop_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(timer->Enabled());
  loop_.AdvanceTime(absl::Hours(1));
  EXPECT_EQ(runs, 1);
}

TEST_F(ManualTimerTest, CancelledBeforeItIsDueItNeverRunsAndTheLoopForgetsIt) {
  int runs = 0;
  std::unique_ptr<Timer> timer = loop_.CreateTimer([&] { ++runs; });
  timer->Enable(absl::Seconds(10));
  EXPECT_EQ(loop_.pending_timers(), 1u);
  timer->Disable();
  EXPECT_FALSE(timer->Enabled());
  EXPECT_EQ(loop_.pending_timers(), 0u);  // Freed at once, not when the deadline passes.
  loop_.AdvanceTime(absl::Minutes(1));
  EXPECT_EQ(runs, 0);
}

TEST_F(ManualTimerTest, CancellingAfterItFiredIsANoOp) {
  int runs = 0;
  std::unique_ptr<Timer> timer = loop_.CreateTimer([&] { ++runs; });
  timer->Enable(absl::Seconds(1));
  loop_.AdvanceTime(absl::Seconds(1));
  timer->Disable();
  timer->Disable();
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(timer->Enabled());
  // Still usable.
  timer->Enable(absl::Seconds(1));
  loop_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(runs, 2);
}

TEST_F(ManualTimerTest, EnableAgainMovesTheDeadlineInsteadOfAddingOne) {
  std::vector<absl::Duration> fired_at;
  const absl::Time start = clock_.MonotonicNow();
  std::unique_ptr<Timer> timer =
      loop_.CreateTimer([&] { fired_at.push_back(clock_.MonotonicNow() - start); });
  timer->Enable(absl::Seconds(10));
  timer->Enable(absl::Seconds(30));  // Later.
  EXPECT_EQ(loop_.pending_timers(), 1u);
  loop_.AdvanceTime(absl::Seconds(20));
  EXPECT_TRUE(fired_at.empty());
  timer->Enable(absl::Seconds(5));  // Sooner, from now.
  loop_.AdvanceTime(absl::Minutes(1));
  EXPECT_THAT(fired_at, ElementsAre(absl::Seconds(25)));
}

TEST_F(ManualTimerTest, EnableWithinKeepsAnEarlierDeadline) {
  std::vector<absl::Duration> fired_at;
  const absl::Time start = clock_.MonotonicNow();
  std::unique_ptr<Timer> timer =
      loop_.CreateTimer([&] { fired_at.push_back(clock_.MonotonicNow() - start); });
  timer->EnableWithin(absl::Seconds(30));
  timer->EnableWithin(absl::Seconds(10));  // Sooner: wins.
  timer->EnableWithin(absl::Seconds(20));  // Later: the 10 s wake-up stays.
  EXPECT_EQ(loop_.pending_timers(), 1u);
  loop_.AdvanceTime(absl::Minutes(1));
  EXPECT_THAT(fired_at, ElementsAre(absl::Seconds(10)));
}

TEST_F(ManualTimerTest, DestroyingAnArmedTimerCancelsItAndFreesItsCallback) {
  auto captured = std::make_shared<int>(0);
  std::weak_ptr<int> watch = captured;
  std::unique_ptr<Timer> timer = loop_.CreateTimer([captured = std::move(captured)] { ++*captured; });
  timer->Enable(absl::Seconds(1));
  timer.reset();
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(loop_.pending_timers(), 0u);
  loop_.AdvanceTime(absl::Seconds(2));  // Nothing left to run, nothing dangling.
}

TEST_F(ManualTimerTest, ACallbackMayReArmOrDestroyItsOwnTimer) {
  int ticks = 0;
  std::unique_ptr<Timer> periodic;
  periodic = loop_.CreateTimer([&] {
    if (++ticks == 3) {
      periodic.reset();  // Destroyed while its callback runs.
      return;
    }
    periodic->Enable(absl::Seconds(1));
  });
  periodic->Enable(absl::Seconds(1));
  loop_.AdvanceTime(absl::Seconds(10));
  EXPECT_EQ(ticks, 3);
  EXPECT_EQ(periodic, nullptr);
  EXPECT_EQ(loop_.pending_timers(), 0u);
}

TEST_F(ManualTimerTest, TimersAndPostAfterRunInDeadlineOrder) {
  std::vector<int> order;
  std::unique_ptr<Timer> timer = loop_.CreateTimer([&] { order.push_back(2); });
  loop_.PostAfter(absl::Seconds(3), [&] { order.push_back(3); });
  timer->Enable(absl::Seconds(2));
  loop_.PostAfter(absl::Seconds(1), [&] { order.push_back(1); });
  loop_.AdvanceTime(absl::Seconds(5));
  EXPECT_THAT(order, ElementsAre(1, 2, 3));
}

TEST_F(ManualTimerTest, DropPendingDisablesTimers) {
  int runs = 0;
  std::unique_ptr<Timer> timer = loop_.CreateTimer([&] { ++runs; });
  timer->Enable(absl::Seconds(1));
  loop_.DropPending();
  EXPECT_FALSE(timer->Enabled());
  loop_.AdvanceTime(absl::Seconds(2));
  EXPECT_EQ(runs, 0);
}

TEST_F(ManualTimerTest, OnlyTheConstructingThreadIsTheLoopThread) {
  EXPECT_TRUE(loop_.IsLoopThread());
  bool other = true;
  std::thread([&] { other = loop_.IsLoopThread(); }).join();
  EXPECT_FALSE(other);
}

TEST_F(ManualTimerTest, UsingATimerOffTheLoopThreadIsCaught) {
  std::unique_ptr<Timer> timer = loop_.CreateTimer([] {});
  // What the check rests on holds in every build: another thread is not the loop's.
  bool on_loop = true;
  std::thread([&] { on_loop = loop_.IsLoopThread(); }).join();
  EXPECT_FALSE(on_loop);
  EXPECT_TRUE(loop_.IsLoopThread());
  // Debug and sanitizer builds stop the program there.
  if (kDebugChecks) {
    EXPECT_DEATH(std::thread([&] { timer->Enable(absl::Seconds(1)); }).join(),
                 "IsLoopThread");
  }
}

}  // namespace
}  // namespace skiff::scheduler
