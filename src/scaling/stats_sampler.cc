#include "skiff/scaling/stats_sampler.h"

#include <utility>
#include <vector>

#include "spdlog/spdlog.h"

namespace skiff::scaling {

StatsSampler::StatsSampler(scheduler::EventLoop* loop, scheduler::Executor* executor,
                           runtime::ContainerRuntime* runtime, const Clock* clock,
                           StatsStore* store, absl::Duration interval)
    : loop_(loop),
      executor_(executor),
      runtime_(runtime),
      clock_(clock),
      store_(store),
      interval_(interval) {}

void StatsSampler::Start() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  timer_ = loop_->CreateTimer([this] { Sample(); });
  Sample();
}

void StatsSampler::Sample() {
  timer_->Enable(interval_);
  if (in_flight_) return;  // The next due round takes its turn.
  in_flight_ = true;
  const bool queued = executor_->Run([this] {
    absl::StatusOr<std::vector<runtime::ContainerStats>> round = runtime_->Stats({});
    loop_->Post([this, round = std::move(round)]() mutable { OnRound(std::move(round)); });
  });
  if (!queued) in_flight_ = false;  // Stopping.
}

void StatsSampler::OnRound(absl::StatusOr<std::vector<runtime::ContainerStats>> round) {
  in_flight_ = false;
  if (!round.ok()) {
    if (!failing_) spdlog::warn("container stats: {}", round.status().ToString());
    failing_ = true;
    return;
  }
  if (failing_) spdlog::info("container stats: sampling again");
  failing_ = false;
  store_->Record(*round, clock_->Now());
  for (const auto& listener : round_listeners_) listener();
}

}  // namespace skiff::scaling
