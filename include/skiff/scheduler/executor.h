// Executor: where the control loop sends blocking work (runtime calls, file I/O) so that its own
// thread never waits. Work posts its result back to the loop itself.
//
// ThreadPoolExecutor is the production one; unit tests use fakes::ManualExecutor, which runs work
// when the test says so. Run() is safe from any thread.
#ifndef SKIFF_SCHEDULER_EXECUTOR_H_
#define SKIFF_SCHEDULER_EXECUTOR_H_

#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::scheduler {

class Executor {
 public:
  virtual ~Executor() = default;
  // False when the executor is stopping: the work was dropped.
  virtual bool Run(Work work) = 0;
};

class ThreadPoolExecutor final : public Executor {
 public:
  explicit ThreadPoolExecutor(int threads);
  ~ThreadPoolExecutor() override;  // Stops.

  // Finishes the work already queued (or, with finish_queued false, only the work already
  // running, dropping the rest), then joins the threads; later Run() calls return false.
  void Stop(bool finish_queued = true);
  bool Run(Work work) override;

 private:
  void Worker();

  absl::Mutex mu_;
  std::deque<Work> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_EXECUTOR_H_
