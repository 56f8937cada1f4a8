// RuntimeMonitor: knows whether the container runtime is reachable, and is the node's one source
// of truth for it (RuntimeHealth). Two signals feed it, the latest wins:
//  - a probe (ContainerRuntime::Version) every kProbeInterval, up or down, run on an executor of
//    its own so that a slow runtime never blocks the loop and the probe never queues behind
//    other runtime calls; the result is posted back to the loop;
//  - the runtime's event stream: stream lost means down at once, stream up means up.
// A probe sent before the latest stream event is ignored, so a stale "up" cannot undo a "lost".
// containerd stopping is seen at once (stream lost) or within kProbeInterval + kProbeTimeout;
// containerd coming back within kProbeInterval + the time it takes to answer.
//
// Unreachable is logged once, then again at doubling intervals (up to every 30 s); reachable
// again is logged once, and each time calls on_available (the daemon reports readiness then).
//
// Thread contract: owned by the control loop. Start() runs on the thread that acts for the loop
// before it starts (main), blocking for the first probe; every other method on the loop thread
// (checked).
#ifndef SKIFF_SCHEDULER_RUNTIME_MONITOR_H_
#define SKIFF_SCHEDULER_RUNTIME_MONITOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/executor.h"
#include "skiff/scheduler/runtime_health.h"

namespace skiff::scheduler {

class RuntimeMonitor final : public RuntimeHealth {
 public:
  static constexpr absl::Duration kProbeInterval = absl::Seconds(1);
  static constexpr absl::Duration kProbeTimeout = absl::Milliseconds(500);
  // While unreachable, failed probes are logged at counts 1, 2, 4, 8, 16, then every 30th.
  static constexpr int kMaxLogEvery = 30;

  // `executor` runs the probes (one thread is enough: one probe is in flight at most).
  // `description` names the runtime in logs (e.g. its socket path). on_available runs each time
  // the runtime becomes reachable.
  RuntimeMonitor(EventLoop* loop, Executor* executor, runtime::ContainerRuntime* runtime,
                 std::string description, absl::AnyInvocable<void()> on_available = [] {});

  // Probes now on the calling thread, waiting up to first_timeout (a runtime that is starting
  // may need seconds), then every kProbeInterval on the executor.
  void Start(absl::Duration first_timeout = kProbeTimeout);
  // From the runtime's event stream (posted to the loop): kStreamLost and kStreamUp.
  void OnRuntimeEvent(const runtime::RuntimeEvent& event);

  bool available() const override;
  const runtime::RuntimeVersion& version() const;
  int probes() const;

 private:
  void SendProbe();
  // `stream_events` is stream_events_ when the probe was sent.
  void OnProbed(absl::StatusOr<runtime::RuntimeVersion> version, uint64_t stream_events);
  void Apply(absl::StatusOr<runtime::RuntimeVersion> version);
  void SetAvailable(bool available, const std::string& why);

  EventLoop* const loop_;
  Executor* const executor_;
  runtime::ContainerRuntime* const runtime_;
  const std::string description_;
  absl::AnyInvocable<void()> on_available_;
  std::unique_ptr<Timer> probe_timer_;  // Armed while no probe is in flight.
  bool available_ = false;
  bool probing_ = false;  // A probe is on the executor.
  uint64_t stream_events_ = 0;  // Stream up/lost events seen, to tell stale probes.
  runtime::RuntimeVersion version_;
  std::string last_error_;
  int probes_ = 0;
  int failures_ = 0;              // Probes failed in a row.
  int failures_at_next_log_ = 2;  // Start() or the loss logs the first.
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_RUNTIME_MONITOR_H_
