// ManualEventLoop: the EventLoop of unit tests. Nothing runs until the test says so: RunPending()
// runs posted work, AdvanceTime() moves the SimulatedClock and runs the timers that fall due, in
// deadline order. Timers (CreateTimer) share ThreadEventLoop's TimerQueue, so they cancel, re-arm
// and free their callbacks as in production.
//
// Single-threaded: the thread that constructed it is the loop thread (IsLoopThread()), and is the
// test's thread.
#ifndef SKIFF_TESTS_FAKES_MANUAL_EVENT_LOOP_H_
#define SKIFF_TESTS_FAKES_MANUAL_EVENT_LOOP_H_

#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "skiff/base/clock.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/timer_queue.h"

namespace skiff::fakes {

class ManualEventLoop final : public scheduler::EventLoop {
 public:
  explicit ManualEventLoop(SimulatedClock* clock)
      : clock_(clock), owner_(std::this_thread::get_id()), timers_(clock, this, nullptr) {}

  bool Post(scheduler::Work work) override {
    ready_.push_back(std::move(work));
    return true;
  }
  void PostAfter(absl::Duration delay, scheduler::Work work) override {
    timers_.PostAfter(delay, std::move(work));
  }
  std::unique_ptr<scheduler::Timer> CreateTimer(scheduler::TimerCallback callback) override {
    return timers_.CreateTimer(std::move(callback));
  }
  bool IsLoopThread() const override { return std::this_thread::get_id() == owner_; }

  // Runs posted work, including work that it posts, until none is left. Returns how many ran.
  int RunPending() {
    int ran = 0;
    while (!ready_.empty()) {
      scheduler::Work work = std::move(ready_.front());
      ready_.pop_front();
      std::move(work)();
      ++ran;
    }
    return ran;
  }

  // Moves time forward by d, running each timer (and the work it posts) at its deadline.
  void AdvanceTime(absl::Duration d) {
    const absl::Time end = clock_->MonotonicNow() + d;
    RunPending();
    while (timers_.next_deadline() <= end) {
      clock_->Advance(timers_.next_deadline() - clock_->MonotonicNow());
      std::optional<scheduler::Work> work = timers_.PopDue(clock_->MonotonicNow());
      if (work.has_value()) std::move(*work)();
      RunPending();
    }
    clock_->Advance(end - clock_->MonotonicNow());
  }

  // PostAfter work and armed Timers.
  size_t pending_timers() const { return timers_.size(); }
  // Forgets posted work and timers, as a crash would (Timers read as disabled).
  void DropPending() {
    ready_.clear();
    std::vector<scheduler::Work> dropped = timers_.Clear(/*close=*/false);
  }
  // When the next timer is due, or InfiniteFuture.
  absl::Time next_deadline() const { return timers_.next_deadline(); }

 private:
  SimulatedClock* clock_;
  std::thread::id owner_;
  std::deque<scheduler::Work> ready_;
  scheduler::TimerQueue timers_;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_MANUAL_EVENT_LOOP_H_
