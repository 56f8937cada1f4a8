// ManualEventLoop: the EventLoop of unit tests. Nothing runs until the test says so: RunPending()
// runs posted work, AdvanceTime() moves the SimulatedClock and runs the timers that fall due, in
// deadline order. Single-threaded: the test thread is the loop thread.
#ifndef SKIFF_TESTS_FAKES_MANUAL_EVENT_LOOP_H_
#define SKIFF_TESTS_FAKES_MANUAL_EVENT_LOOP_H_

#include <cstdint>
#include <deque>
#include <map>
#include <utility>

#include "skiff/base/clock.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::fakes {

class ManualEventLoop final : public scheduler::EventLoop {
 public:
  explicit ManualEventLoop(SimulatedClock* clock) : clock_(clock) {}

  bool Post(scheduler::Work work) override {
    ready_.push_back(std::move(work));
    return true;
  }
  void PostAfter(absl::Duration delay, scheduler::Work work) override {
    timers_.emplace(std::make_pair(clock_->MonotonicNow() + delay, sequence_++), std::move(work));
  }

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
    while (!timers_.empty() && timers_.begin()->first.first <= end) {
      auto node = timers_.extract(timers_.begin());
      clock_->Advance(node.key().first - clock_->MonotonicNow());
      std::move(node.mapped())();
      RunPending();
    }
    clock_->Advance(end - clock_->MonotonicNow());
  }

  size_t pending_timers() const { return timers_.size(); }
  // Forgets posted work and timers, as a crash would.
  void DropPending() {
    ready_.clear();
    timers_.clear();
  }
  // When the next timer is due, or InfiniteFuture.
  absl::Time next_deadline() const {
    return timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first.first;
  }

 private:
  SimulatedClock* clock_;
  std::deque<scheduler::Work> ready_;
  std::map<std::pair<absl::Time, uint64_t>, scheduler::Work> timers_;
  uint64_t sequence_ = 0;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_MANUAL_EVENT_LOOP_H_
