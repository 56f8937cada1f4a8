#include "skiff/scheduler/event_loop.h"

#include <vector>

#include "absl/synchronization/notification.h"
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

}  // namespace
}  // namespace skiff::scheduler
