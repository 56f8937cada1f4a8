#include "skiff/scheduler/event_loop.h"

#include <utility>

namespace skiff::scheduler {

ThreadEventLoop::ThreadEventLoop(const Clock* clock) : clock_(clock) {}

ThreadEventLoop::~ThreadEventLoop() { Stop(); }

void ThreadEventLoop::Start() {
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void ThreadEventLoop::Stop() {
  if (!running_) return;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    timers_ = {};  // A retry or timeout due now has nothing left to do in a stopping daemon.
  }
  thread_.join();
  running_ = false;
}

bool ThreadEventLoop::Post(Work work) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  ready_.push_back(std::move(work));
  return true;
}

void ThreadEventLoop::PostAfter(absl::Duration delay, Work work) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  timers_.push(Timer{clock_->MonotonicNow() + delay, next_sequence_++, std::move(work)});
}

void ThreadEventLoop::Run() {
  std::vector<Work> batch;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // Wake for new work, for Stop(), when the earliest timer is due, or when a timer earlier
      // than the one we sleep for is posted.
      const absl::Time wake = timers_.empty() ? absl::InfiniteFuture() : timers_.top().deadline;
      auto has_work = [this, wake]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !ready_.empty() || stopping_ ||
               (!timers_.empty() && (timers_.top().deadline < wake ||
                                     timers_.top().deadline <= clock_->MonotonicNow()));
      };
      // Sleep for the clock's remaining time, not until a wall-clock instant, so a simulated
      // clock never makes the loop spin.
      mu_.AwaitWithTimeout(absl::Condition(&has_work),
                           timers_.empty() ? absl::InfiniteDuration() : wake - clock_->MonotonicNow());
      while (!timers_.empty() && timers_.top().deadline <= clock_->MonotonicNow()) {
        ready_.push_back(std::move(timers_.top().work));
        timers_.pop();
      }
      if (ready_.empty() && stopping_) return;
      batch.swap(ready_);
    }
    for (Work& work : batch) std::move(work)();
    batch.clear();
  }
}

}  // namespace skiff::scheduler
