// TimerQueue: the timers of one EventLoop implementation, in deadline order (equal deadlines in
// the order they were armed): the one-shot work of PostAfter and the entries of the Timers that
// CreateTimer hands out. It is the part that ThreadEventLoop and the tests' ManualEventLoop share,
// so that a Timer behaves alike on both; it runs nothing itself: the loop pops what falls due and
// runs it.
//
// Owned by its loop, which destroys it after every Timer it made (SKIFF_DCHECK'd).
// Thread contract: the loop calls every method with `mu` held (ThreadEventLoop's mutex; null for
// a single-threaded loop); the Timers lock `mu` themselves, and their methods must run on the
// loop thread (SKIFF_DCHECK_ON_LOOP).
#ifndef SKIFF_SCHEDULER_TIMER_QUEUE_H_
#define SKIFF_SCHEDULER_TIMER_QUEUE_H_

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::scheduler {

class TimerQueue {
 public:
  // `loop` is the loop that owns the queue (for the thread checks of its Timers).
  TimerQueue(const Clock* clock, const EventLoop* loop, absl::Mutex* mu);
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // One-shot work, `delay` from now. Dropped once the queue is closed.
  void PostAfter(absl::Duration delay, Work work);
  // A disabled Timer whose entries live in this queue.
  std::unique_ptr<Timer> CreateTimer(TimerCallback callback);

  // The earliest deadline, or InfiniteFuture.
  absl::Time next_deadline() const;
  // Entries pending: PostAfter work and armed Timers.
  size_t size() const { return entries_.size(); }
  // The sequence number the next arming gets; PopDue(now, before) skips what is armed later.
  uint64_t next_sequence() const { return next_sequence_; }

  // Removes the earliest entry due at `now` (and armed before sequence `before`) and returns its
  // work; nullopt when none is. A Timer's entry comes back as work that runs its callback; the
  // Timer reads as disabled from here on.
  std::optional<Work> PopDue(absl::Time now,
                             uint64_t before = std::numeric_limits<uint64_t>::max());

  // Drops every entry (Timers read as disabled). With `close`, later arming is ignored too: the
  // loop is stopping. Returns the dropped PostAfter work for the caller to destroy outside its
  // lock (what it captured may own Timers).
  [[nodiscard]] std::vector<Work> Clear(bool close);

 private:
  class TimerImpl;
  using Key = std::pair<absl::Time, uint64_t>;  // Deadline, then the order armed.
  struct Entry {
    Work work;                  // PostAfter's work, or
    TimerImpl* timer = nullptr;  // the Timer armed for this deadline.
  };

  // For TimerImpl, with mu_ held.
  void Arm(TimerImpl* timer, absl::Duration delay);
  void Disarm(TimerImpl* timer);

  const Clock* clock_;
  const EventLoop* loop_;
  absl::Mutex* mu_;
  std::map<Key, Entry> entries_;
  uint64_t next_sequence_ = 0;
  bool closed_ = false;
  int live_timers_ = 0;  // Timers made and not yet destroyed.
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_TIMER_QUEUE_H_
