// Container health checks, as ECS runs them (Docker's semantics): a command run inside the
// running container every `interval` seconds, counted HEALTHY on exit 0; `retries` failures in a
// row make it UNHEALTHY; failures inside `startPeriod` do not count until a check has passed; a
// check that outlives `timeout` is killed (with everything it started) and counts as a failure.
//
// HealthTracker is the rule alone, with no I/O or time of its own. HealthMonitor runs the checks:
// timers on the control loop, the commands through ContainerRuntime::Exec on an executor of its
// own, a small fixed pool, so that hundreds of checking containers neither block the loop nor
// open unbounded processes (each container has at most one check in flight; the next one is
// timed from the end of the last, as Docker does). A check that cannot be run because the
// runtime is away or the container is gone says nothing about health and is not counted.
//
// Thread contract: HealthMonitor is owned by the control loop; every public method runs on the
// loop thread, and so does the listener.
#ifndef SKIFF_SCHEDULER_HEALTH_MONITOR_H_
#define SKIFF_SCHEDULER_HEALTH_MONITOR_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/executor.h"
#include "skiff/scheduler/states.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

// What a check keeps of the command's stdout and stderr together.
inline constexpr size_t kHealthOutputLimit = 4096;

// A container definition's healthCheck with ECS's defaults applied.
struct HealthCheckSpec {
  std::vector<std::string> argv;  // CMD-SHELL: {"/bin/sh", "-c", "..."}.
  absl::Duration interval = absl::Seconds(30);
  absl::Duration timeout = absl::Seconds(5);
  absl::Duration start_period = absl::ZeroDuration();
  int retries = 3;
};

// The spec of a healthCheck; nullopt for ["NONE"] or an empty command (no check runs).
std::optional<HealthCheckSpec> HealthCheckSpecOf(const v1::HealthCheck& check);

// One check's outcome.
struct HealthCheckResult {
  bool passed = false;
  int exit_code = -1;  // -1: timed out, or could not run.
  std::string output;  // stdout then stderr, at most kHealthOutputLimit bytes (and a note).
  absl::Time at;       // When it finished.
};

// What is known of a container's health, for describe calls.
struct HealthReport {
  HealthStatus status = HealthStatus::kUnknown;
  int consecutive_failures = 0;  // Those that count.
  std::optional<HealthCheckResult> last;  // None before the first check.
};

class HealthTracker {
 public:
  // `started_at`: when the container started, which opens the start period. `initial`: the
  // status known before (a container adopted after a restart of skiffd keeps its status).
  HealthTracker(const HealthCheckSpec& spec, absl::Time started_at,
                HealthStatus initial = HealthStatus::kUnknown);

  // Counts a result; true when the status changed.
  bool Record(HealthCheckResult result);
  const HealthReport& report() const { return report_; }

 private:
  absl::Duration start_period_;
  int retries_;
  absl::Time started_at_;
  bool passed_once_ = false;
  HealthReport report_;
};

class HealthMonitor {
 public:
  // A container's status changed (not called for results that leave it as it was).
  using Listener = std::function<void(const std::string& runtime_id, HealthStatus status)>;

  // `executor` runs the checks (its threads bound how many run at once).
  HealthMonitor(EventLoop* loop, Executor* executor, runtime::ContainerRuntime* runtime,
                const Clock* clock);

  void SetListener(Listener listener) {
    SKIFF_DCHECK_ON_LOOP(loop_);
    listener_ = std::move(listener);
  }

  // Checks runtime_id from now on; the first check runs one interval from now. Watching a
  // container again starts over.
  void Watch(const std::string& runtime_id, const HealthCheckSpec& spec,
             HealthStatus initial = HealthStatus::kUnknown);
  // Stops checking; a check in flight is ignored when it ends.
  void Unwatch(const std::string& runtime_id);

  // Null when the container is not watched.
  const HealthReport* Find(const std::string& runtime_id) const;
  size_t watched() const {
    SKIFF_DCHECK_ON_LOOP(loop_);
    return watched_.size();
  }
  // Checks queued or running on the executor.
  int in_flight() const {
    SKIFF_DCHECK_ON_LOOP(loop_);
    return in_flight_;
  }

 private:
  struct Watched {
    HealthCheckSpec spec;
    HealthTracker tracker;
    // Armed while no check is in flight; unwatching (or watching again) destroys it, which
    // cancels the next check.
    std::unique_ptr<Timer> next_check;
  };

  void RunCheck(const std::string& runtime_id);
  // `watch` is the watch that sent the check: expired when the container was unwatched or
  // watched again meanwhile, and then the result is not counted.
  void OnChecked(const std::string& runtime_id, const std::weak_ptr<Watched>& watch,
                 absl::StatusOr<runtime::ExecResult> result);

  EventLoop* loop_;
  Executor* executor_;
  runtime::ContainerRuntime* runtime_;
  const Clock* clock_;
  Listener listener_;
  // Shared only with weak_ptrs of checks in flight.
  std::map<std::string, std::shared_ptr<Watched>> watched_;
  int in_flight_ = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_HEALTH_MONITOR_H_
