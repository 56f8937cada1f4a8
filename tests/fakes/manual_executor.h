// ManualExecutor: an Executor for unit tests that queues work and runs it only when the test
// calls RunAll(), so a test can look at the world between "the loop asked" and "the runtime
// answered". Single-threaded like the tests.
#ifndef SKIFF_TESTS_FAKES_MANUAL_EXECUTOR_H_
#define SKIFF_TESTS_FAKES_MANUAL_EXECUTOR_H_

#include <deque>
#include <utility>

#include "skiff/scheduler/executor.h"

namespace skiff::fakes {

class ManualExecutor final : public scheduler::Executor {
 public:
  bool Run(scheduler::Work work) override {
    queue_.push_back(std::move(work));
    return true;
  }
  // Runs queued work, including work queued meanwhile; returns how many ran.
  int RunAll() {
    int ran = 0;
    while (!queue_.empty()) {
      scheduler::Work work = std::move(queue_.front());
      queue_.pop_front();
      std::move(work)();
      ++ran;
    }
    return ran;
  }
  size_t pending() const { return queue_.size(); }
  // Forgets queued work, as a crash would.
  void DropPending() { queue_.clear(); }

 private:
  std::deque<scheduler::Work> queue_;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_MANUAL_EXECUTOR_H_
