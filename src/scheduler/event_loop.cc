#include "skiff/scheduler/event_loop.h"

#include <optional>
#include <utility>

#include "skiff/scheduler/timer_queue.h"

namespace skiff::scheduler {

ThreadEventLoop::ThreadEventLoop(const Clock* clock)
    : clock_(clock),
      owner_(std::this_thread::get_id()),
      timers_(std::make_unique<TimerQueue>(clock, this, &mu_)) {}

ThreadEventLoop::~ThreadEventLoop() { Stop(); }

void ThreadEventLoop::Start() {
  running_ = true;
  // No thread may act for the loop until its own thread says so, first thing.
  owner_ = std::thread::id();
  thread_ = std::thread([this] {
    owner_ = std::this_thread::get_id();
    Run();
  });
}

void ThreadEventLoop::Stop() {
  if (!running_) return;
  std::vector<Work> dropped;  // Destroyed outside the lock.
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    // A retry or timeout due now has nothing left to do in a stopping daemon.
    dropped = timers_->Clear(/*close=*/true);
  }
  thread_.join();
  running_ = false;
  owner_ = std::this_thread::get_id();
}

bool ThreadEventLoop::Post(Work work) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  ready_.push_back(std::move(work));
  return true;
}

size_t ThreadEventLoop::QueueDepth() const {
  absl::MutexLock lock(&mu_);
  return ready_.size();
}

void ThreadEventLoop::PostAfter(absl::Duration delay, Work work) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  timers_->PostAfter(delay, std::move(work));
}

std::unique_ptr<Timer> ThreadEventLoop::CreateTimer(TimerCallback callback) {
  return timers_->CreateTimer(std::move(callback));
}

bool ThreadEventLoop::IsLoopThread() const { return owner_.load() == std::this_thread::get_id(); }

void ThreadEventLoop::Run() {
  std::vector<Work> batch;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      // Wake for new work, for Stop(), when the earliest timer is due, or when a timer earlier
      // than the one we sleep for is posted from another thread.
      const absl::Time wake = timers_->next_deadline();
      auto has_work = [this, wake]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        const absl::Time next = timers_->next_deadline();
        return !ready_.empty() || stopping_ || next < wake || next <= clock_->MonotonicNow();
      };
      // Sleep for the clock's remaining time, not until a wall-clock instant, so a simulated
      // clock never makes the loop spin.
      mu_.AwaitWithTimeout(absl::Condition(&has_work), wake == absl::InfiniteFuture()
                                                           ? absl::InfiniteDuration()
                                                           : wake - clock_->MonotonicNow());
      if (ready_.empty() && stopping_) return;
      batch.swap(ready_);
    }
    for (Work& work : batch) std::move(work)();
    batch.clear();
    RunDueTimers();
  }
}

void ThreadEventLoop::RunDueTimers() {
  const absl::Time now = clock_->MonotonicNow();
  uint64_t armed_before = 0;
  {
    absl::MutexLock lock(&mu_);
    armed_before = timers_->next_sequence();
  }
  while (true) {
    std::optional<Work> work;
    {
      absl::MutexLock lock(&mu_);
      work = timers_->PopDue(now, armed_before);
    }
    if (!work.has_value()) return;
    std::move(*work)();
  }
}

}  // namespace skiff::scheduler
