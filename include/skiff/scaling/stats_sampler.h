// StatsSampler: every `interval`, one runtime call (ContainerRuntime::Stats) samples every
// running container of the namespace. The call runs on the executor, never on the loop; its
// round is posted back to the loop into the StatsStore. A round still in flight when the next
// is due makes that one wait (a slow containerd gets no pile of calls); a failed round leaves
// the store as it was (the samples just age) and is logged once per run of failures. Round
// listeners (the autoscaling controller) run on the loop after each round is in the store.
//
// Thread contract: owned by the control loop; constructed, started and destroyed on the loop
// thread (or by main acting for it), after which it must outlive the executor's work and the
// loop's, as the daemon's objects do (both are stopped before it goes).
#ifndef SKIFF_SCALING_STATS_SAMPLER_H_
#define SKIFF_SCALING_STATS_SAMPLER_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/scaling/stats_store.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/executor.h"

namespace skiff::scaling {

class StatsSampler {
 public:
  StatsSampler(scheduler::EventLoop* loop, scheduler::Executor* executor,
               runtime::ContainerRuntime* runtime, const Clock* clock, StatsStore* store,
               absl::Duration interval);

  // Takes the first round now, then one every interval.
  void Start();
  absl::Duration interval() const { return interval_; }
  // Called on the loop after each round that reached the store. Add before Start().
  void AddRoundListener(std::function<void()> listener) {
    round_listeners_.push_back(std::move(listener));
  }

 private:
  void Sample();
  void OnRound(absl::StatusOr<std::vector<runtime::ContainerStats>> round);

  scheduler::EventLoop* const loop_;
  scheduler::Executor* const executor_;
  runtime::ContainerRuntime* const runtime_;
  const Clock* const clock_;
  StatsStore* const store_;
  const absl::Duration interval_;
  std::unique_ptr<scheduler::Timer> timer_;
  bool in_flight_ = false;
  bool failing_ = false;  // The last round failed (and was logged).
  std::vector<std::function<void()>> round_listeners_;
};

}  // namespace skiff::scaling

#endif  // SKIFF_SCALING_STATS_SAMPLER_H_
