// EventLoop: the single thread that owns Skiff's domain state. Other threads never touch that
// state; they Post() work to the loop. Work that must wait uses a Timer (CreateTimer), which can
// be cancelled, or PostAfter() for fire-and-forget delays; both follow the injected clock, so
// unit tests drive time by hand (see tests/fakes/manual_event_loop.h).
//
// Thread contract: Post and PostAfter are safe from any thread; the work runs on the loop thread,
// in the order posted (timers in deadline order, equal deadlines in the order armed). Timers are
// made, armed, cancelled and destroyed on the loop thread only, and checked to be. Until the loop
// thread starts, the thread that constructed the loop counts as the loop thread ("main may act
// for it": it loads the state before serving), and again once the loop has stopped.
// Loop-owned classes assert their contract with SKIFF_DCHECK_ON_LOOP(loop) at the entry of their
// public methods.
#ifndef SKIFF_SCHEDULER_EVENT_LOOP_H_
#define SKIFF_SCHEDULER_EVENT_LOOP_H_

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "skiff/base/check.h"
#include "skiff/base/clock.h"

namespace skiff::scheduler {

using Work = absl::AnyInvocable<void() &&>;
// A timer's callback; it runs each time the timer fires.
using TimerCallback = absl::AnyInvocable<void()>;

// A callback that the loop runs once, `delay` after Enable(). Made by EventLoop::CreateTimer and
// owned by whoever asked for it, which destroys it before the loop.
//
//  - Enable(d) arms it to fire d from now; on an armed timer it moves the deadline (the old one
//    is forgotten), so one Timer is one pending wake-up, never a pile of them.
//  - EnableWithin(d) arms it to fire d from now unless it is armed to fire sooner already: "wake
//    me by then" from several places, the earliest wins.
//  - Disable() cancels it: the callback does not run for that arming, and the loop forgets the
//    deadline at once. Disabling a timer that is not armed, or that has fired, does nothing.
//  - Destroying a Timer cancels it, like Disable(), and frees its callback.
//  - Enabled() is true from Enable until it fires or is disabled. The callback may re-enable,
//    disable or destroy its own timer.
//
// Thread contract: every method on the loop thread (SKIFF_DCHECK'd); the callback runs there.
// Typical use, a wake-up that a later pass replaces instead of stacking timers with
// generation counters:
//
//   wake_ = loop->CreateTimer([this] { Reconcile(); });   // once, e.g. in the constructor
//   ...
//   wake_->EnableWithin(next_wake_at - clock->Now());      // or Enable(), or Disable()
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void Enable(absl::Duration delay) = 0;
  virtual void EnableWithin(absl::Duration delay) = 0;
  virtual void Disable() = 0;
  virtual bool Enabled() const = 0;
};

class EventLoop {
 public:
  virtual ~EventLoop() = default;
  // False when the loop is stopping: the work was dropped and will never run.
  virtual bool Post(Work work) = 0;
  // Runs `work` once after `delay`; it cannot be cancelled, so work that may become moot (a
  // timeout, a retry, a wake-up) belongs in a Timer.
  virtual void PostAfter(absl::Duration delay, Work work) = 0;
  // A new, disabled timer that runs `callback` on the loop thread when it fires.
  virtual std::unique_ptr<Timer> CreateTimer(TimerCallback callback) = 0;
  // True on the thread that may touch loop-owned state now (see the thread contract above).
  virtual bool IsLoopThread() const = 0;
  // Work posted and not yet picked up (metrics); any thread. 0 where it is not counted.
  virtual size_t QueueDepth() const { return 0; }
};

class TimerQueue;

// The production loop: one std::thread, a FIFO and a timer queue.
class ThreadEventLoop final : public EventLoop {
 public:
  explicit ThreadEventLoop(const Clock* clock);
  ~ThreadEventLoop() override;  // Stops if still running.

  void Start();
  // Runs the work already posted, drops every timer (due or not; Timers read as disabled and
  // cannot be re-armed), then joins the thread. Work posted after Stop() is dropped (Post
  // returns false). The calling thread is the loop thread from then on.
  void Stop();

  bool Post(Work work) override;
  void PostAfter(absl::Duration delay, Work work) override;
  std::unique_ptr<Timer> CreateTimer(TimerCallback callback) override;
  size_t QueueDepth() const override;
  bool IsLoopThread() const override;

 private:
  void Run();
  // Runs the timers due now, one at a time, so that a callback that cancels another timer due
  // at the same instant is obeyed. Timers armed meanwhile wait for the next round.
  void RunDueTimers();

  const Clock* clock_;
  std::thread thread_;
  // The thread that may act for the loop: the constructor's, then the loop's own, then Stop's.
  std::atomic<std::thread::id> owner_;
  mutable absl::Mutex mu_;
  std::vector<Work> ready_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TimerQueue> timers_ ABSL_PT_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool running_ = false;  // Touched only by the thread that calls Start/Stop.
};

}  // namespace skiff::scheduler

// Asserts (debug and sanitizer builds) that the caller is on `loop`'s thread: at the entry of the
// public methods of loop-owned state.
#define SKIFF_DCHECK_ON_LOOP(loop) SKIFF_DCHECK((loop)->IsLoopThread())
// The same for classes whose loop is optional (unit tests may build them without one).
#define SKIFF_DCHECK_ON_LOOP_IF_SET(loop) \
  SKIFF_DCHECK((loop) == nullptr || (loop)->IsLoopThread())

#endif  // SKIFF_SCHEDULER_EVENT_LOOP_H_
