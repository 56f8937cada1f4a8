#include "skiff/scheduler/health_monitor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {

std::optional<HealthCheckSpec> HealthCheckSpecOf(const v1::HealthCheck& check) {
  if (check.command_size() < 2) return std::nullopt;
  HealthCheckSpec spec;
  const std::string& kind = check.command(0);
  if (kind == "CMD") {
    spec.argv.assign(check.command().begin() + 1, check.command().end());
  } else if (kind == "CMD-SHELL") {
    // As Docker: the words after CMD-SHELL form one script for the container's shell.
    spec.argv = {"/bin/sh", "-c",
                 absl::StrJoin(check.command().begin() + 1, check.command().end(), " ")};
  } else {
    return std::nullopt;  // NONE: the image's check, if any, is turned off.
  }
  if (check.has_interval()) spec.interval = absl::Seconds(check.interval());
  if (check.has_timeout()) spec.timeout = absl::Seconds(check.timeout());
  if (check.has_retries()) spec.retries = check.retries();
  if (check.has_start_period()) spec.start_period = absl::Seconds(check.start_period());
  return spec;
}

HealthTracker::HealthTracker(const HealthCheckSpec& spec, absl::Time started_at,
                             HealthStatus initial)
    : start_period_(spec.start_period),
      retries_(std::max(1, spec.retries)),
      started_at_(started_at),
      passed_once_(initial == HealthStatus::kHealthy) {
  report_.status = initial;
}

bool HealthTracker::Record(HealthCheckResult result) {
  const HealthStatus before = report_.status;
  if (result.passed) {
    passed_once_ = true;
    report_.consecutive_failures = 0;
    report_.status = HealthStatus::kHealthy;
  } else if (passed_once_ || result.at >= started_at_ + start_period_) {
    // Inside the start period a failure is the container still starting up, until a check
    // has passed once: from then on every failure counts.
    if (++report_.consecutive_failures >= retries_) report_.status = HealthStatus::kUnhealthy;
  }
  report_.last = std::move(result);
  return report_.status != before;
}

HealthMonitor::HealthMonitor(EventLoop* loop, Executor* executor,
                             runtime::ContainerRuntime* runtime, const Clock* clock)
    : loop_(loop), executor_(executor), runtime_(runtime), clock_(clock) {}

void HealthMonitor::Watch(const std::string& runtime_id, const HealthCheckSpec& spec,
                          HealthStatus initial) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  // Replacing an earlier watch destroys its timer: its pending check never runs, and a check
  // of it in flight finds its weak_ptr expired.
  auto watch = std::make_shared<Watched>(
      Watched{.spec = spec,
              .tracker = HealthTracker(spec, clock_->Now(), initial),
              .next_check = loop_->CreateTimer([this, runtime_id] { RunCheck(runtime_id); })});
  watch->next_check->Enable(spec.interval);
  watched_.insert_or_assign(runtime_id, std::move(watch));
}

void HealthMonitor::Unwatch(const std::string& runtime_id) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  watched_.erase(runtime_id);
}

const HealthReport* HealthMonitor::Find(const std::string& runtime_id) const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  auto it = watched_.find(runtime_id);
  return it == watched_.end() ? nullptr : &it->second->tracker.report();
}

void HealthMonitor::RunCheck(const std::string& runtime_id) {
  auto it = watched_.find(runtime_id);
  if (it == watched_.end()) return;  // Cannot happen: the timer dies with its watch.
  ++in_flight_;
  const bool queued = executor_->Run(
      [this, runtime_id, watch = std::weak_ptr<Watched>(it->second), argv = it->second->spec.argv,
       timeout = it->second->spec.timeout] {
        absl::StatusOr<runtime::ExecResult> result =
            runtime_->Exec(runtime_id, argv, timeout, kHealthOutputLimit);
        loop_->Post([this, runtime_id, watch, result = std::move(result)]() mutable {
          OnChecked(runtime_id, watch, std::move(result));
        });
      });
  if (!queued) --in_flight_;  // Shutting down: no more checks.
}

void HealthMonitor::OnChecked(const std::string& runtime_id, const std::weak_ptr<Watched>& watch,
                              absl::StatusOr<runtime::ExecResult> exec) {
  --in_flight_;
  const std::shared_ptr<Watched> current = watch.lock();
  if (current == nullptr) return;  // Unwatched or watched again while the check ran.
  Watched& w = *current;
  const absl::StatusCode code = exec.status().code();
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kNotFound ||
      code == absl::StatusCode::kFailedPrecondition) {
    // containerd is away, or the container's process is gone (its exit event is on the way):
    // nothing was learned about the container's health.
    spdlog::debug("health check of {} not run: {}", runtime_id, exec.status().ToString());
    w.next_check->Enable(w.spec.interval);
    return;
  }
  HealthCheckResult result{.at = clock_->Now()};
  if (exec.ok()) {
    result.exit_code = exec->exit_code;
    result.passed = exec->exit_code == 0;
    result.output = std::move(exec->stdout_data);
    result.output += exec->stderr_data;
  } else if (code == absl::StatusCode::kDeadlineExceeded) {
    result.output = absl::StrCat("health check timed out after ",
                                 absl::FormatDuration(w.spec.timeout), " and was killed");
  } else {
    result.output = absl::StrCat("health check could not run: ", exec.status().message());
  }
  if (result.output.size() > kHealthOutputLimit) {
    result.output.resize(kHealthOutputLimit);
    result.output += "\n[skiff: output truncated]";
  }
  const bool changed = w.tracker.Record(std::move(result));
  const HealthStatus status = w.tracker.report().status;
  w.next_check->Enable(w.spec.interval);
  // May Unwatch: `current` keeps w alive, and it is not used after.
  if (changed && listener_) listener_(runtime_id, status);
}

}  // namespace skiff::scheduler
