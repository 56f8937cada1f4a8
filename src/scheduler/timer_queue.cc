#include "skiff/scheduler/timer_queue.h"

#include <utility>

#include "skiff/base/check.h"

namespace skiff::scheduler {

// The callback sits behind a shared_ptr so that a callback that destroys its own Timer is not
// destroyed while it runs: the work that PopDue returns holds a reference.
class TimerQueue::TimerImpl final : public Timer {
 public:
  TimerImpl(TimerQueue* queue, TimerCallback callback)
      : queue_(queue), callback_(std::make_shared<TimerCallback>(std::move(callback))) {}

  ~TimerImpl() override {
    SKIFF_DCHECK_ON_LOOP(queue_->loop_);
    absl::MutexLockMaybe lock(queue_->mu_);
    queue_->Disarm(this);
    --queue_->live_timers_;
  }

  void Enable(absl::Duration delay) override {
    SKIFF_DCHECK_ON_LOOP(queue_->loop_);
    absl::MutexLockMaybe lock(queue_->mu_);
    queue_->Disarm(this);
    queue_->Arm(this, delay);
  }

  void EnableWithin(absl::Duration delay) override {
    SKIFF_DCHECK_ON_LOOP(queue_->loop_);
    absl::MutexLockMaybe lock(queue_->mu_);
    if (key_.has_value() && key_->first <= queue_->clock_->MonotonicNow() + delay) return;
    queue_->Disarm(this);
    queue_->Arm(this, delay);
  }

  void Disable() override {
    SKIFF_DCHECK_ON_LOOP(queue_->loop_);
    absl::MutexLockMaybe lock(queue_->mu_);
    queue_->Disarm(this);
  }

  bool Enabled() const override {
    SKIFF_DCHECK_ON_LOOP(queue_->loop_);
    absl::MutexLockMaybe lock(queue_->mu_);
    return key_.has_value();
  }

 private:
  friend class TimerQueue;

  TimerQueue* queue_;
  std::shared_ptr<TimerCallback> callback_;
  std::optional<Key> key_;  // Its entry in the queue while armed; guarded by queue_->mu_.
};

TimerQueue::TimerQueue(const Clock* clock, const EventLoop* loop, absl::Mutex* mu)
    : clock_(clock), loop_(loop), mu_(mu) {}

TimerQueue::~TimerQueue() {
  // A Timer that outlived its loop would touch freed memory when it is destroyed.
  SKIFF_DCHECK(live_timers_ == 0);
}

void TimerQueue::PostAfter(absl::Duration delay, Work work) {
  if (closed_) return;
  entries_.emplace(Key{clock_->MonotonicNow() + delay, next_sequence_++},
                   Entry{.work = std::move(work)});
}

std::unique_ptr<Timer> TimerQueue::CreateTimer(TimerCallback callback) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  absl::MutexLockMaybe lock(mu_);
  ++live_timers_;
  return std::make_unique<TimerImpl>(this, std::move(callback));
}

absl::Time TimerQueue::next_deadline() const {
  return entries_.empty() ? absl::InfiniteFuture() : entries_.begin()->first.first;
}

std::optional<Work> TimerQueue::PopDue(absl::Time now, uint64_t before) {
  // Entries armed at or after `before` may sort ahead of older due ones only by deadline, so
  // look past them rather than stop at the first.
  for (auto it = entries_.begin(); it != entries_.end() && it->first.first <= now; ++it) {
    if (it->first.second >= before) continue;
    Entry entry = std::move(it->second);
    entries_.erase(it);
    if (entry.timer == nullptr) return std::move(entry.work);
    entry.timer->key_.reset();
    return Work([callback = entry.timer->callback_] { (*callback)(); });
  }
  return std::nullopt;
}

std::vector<Work> TimerQueue::Clear(bool close) {
  std::vector<Work> dropped;
  for (auto& [key, entry] : entries_) {
    if (entry.timer != nullptr) {
      entry.timer->key_.reset();
    } else {
      dropped.push_back(std::move(entry.work));
    }
  }
  entries_.clear();
  closed_ = closed_ || close;
  return dropped;
}

void TimerQueue::Arm(TimerImpl* timer, absl::Duration delay) {
  if (closed_) return;
  const Key key{clock_->MonotonicNow() + delay, next_sequence_++};
  entries_.emplace(key, Entry{.timer = timer});
  timer->key_ = key;
}

void TimerQueue::Disarm(TimerImpl* timer) {
  if (!timer->key_.has_value()) return;
  entries_.erase(*timer->key_);
  timer->key_.reset();
}

}  // namespace skiff::scheduler
