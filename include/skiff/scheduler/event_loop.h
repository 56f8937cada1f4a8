// EventLoop: the single thread that owns Skiff's domain state. Other threads never touch that
// state; they Post() work to the loop, and work that must wait uses PostAfter() with the injected
// clock, so unit tests drive time by hand (see tests/fakes/manual_event_loop.h).
//
// Post and PostAfter are safe from any thread. The work itself runs on the loop thread, in the
// order posted (timers in deadline order).
#ifndef SKIFF_SCHEDULER_EVENT_LOOP_H_
#define SKIFF_SCHEDULER_EVENT_LOOP_H_

#include <cstdint>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "skiff/base/clock.h"

namespace skiff::scheduler {

using Work = absl::AnyInvocable<void() &&>;

class EventLoop {
 public:
  virtual ~EventLoop() = default;
  // False when the loop is stopping: the work was dropped and will never run.
  virtual bool Post(Work work) = 0;
  virtual void PostAfter(absl::Duration delay, Work work) = 0;
};

// The production loop: one std::thread, a FIFO and a timer heap.
class ThreadEventLoop final : public EventLoop {
 public:
  explicit ThreadEventLoop(const Clock* clock);
  ~ThreadEventLoop() override;  // Stops if still running.

  void Start();
  // Runs the work already posted, drops every timer (due or not), then joins the thread. Work
  // posted after Stop() is dropped (Post returns false).
  void Stop();

  bool Post(Work work) override;
  void PostAfter(absl::Duration delay, Work work) override;

 private:
  struct Timer {
    absl::Time deadline;
    uint64_t sequence;  // Keeps timers with equal deadlines in posting order.
    mutable Work work;
    bool operator>(const Timer& o) const {
      return deadline != o.deadline ? deadline > o.deadline : sequence > o.sequence;
    }
  };

  void Run();

  const Clock* clock_;
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Work> ready_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ = false;  // Touched only by the thread that calls Start/Stop.
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_EVENT_LOOP_H_
