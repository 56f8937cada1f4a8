// RuntimeMonitor: knows whether the container runtime is reachable. Start() probes it once; while
// it is unreachable the monitor probes again with doubling delays (1 s up to 30 s) on the loop's
// timers and logs each failure, then logs once when it answers. Later, task reconciliation asks
// available() before it acts, and a broken event stream calls MarkUnavailable().
//
// Thread contract: lives on the control loop; every method runs on the loop thread. Probes block
// the loop for at most kProbeTimeout.
#ifndef SKIFF_SCHEDULER_RUNTIME_MONITOR_H_
#define SKIFF_SCHEDULER_RUNTIME_MONITOR_H_

#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/scheduler/event_loop.h"

namespace skiff::scheduler {

class RuntimeMonitor {
 public:
  static constexpr absl::Duration kProbeTimeout = absl::Milliseconds(200);
  static constexpr absl::Duration kFirstRetry = absl::Seconds(1);
  static constexpr absl::Duration kMaxRetry = absl::Seconds(30);

  // `description` names the runtime in logs (e.g. its socket path). on_available runs each time
  // the runtime becomes reachable (the daemon reports readiness then).
  RuntimeMonitor(EventLoop* loop, runtime::ContainerRuntime* runtime, std::string description,
                 absl::AnyInvocable<void()> on_available = [] {});

  // Probes now, waiting up to first_timeout (a runtime that is starting may need seconds); if the
  // runtime does not answer, keeps probing in the background.
  void Start(absl::Duration first_timeout = kProbeTimeout);
  // The runtime stopped answering (e.g. its event stream broke): probe again from kFirstRetry.
  void MarkUnavailable();

  bool available() const { return available_; }
  const runtime::RuntimeVersion& version() const { return version_; }
  int probes() const { return probes_; }

 private:
  void Probe(absl::Duration timeout, absl::Duration next_delay);

  EventLoop* loop_;
  runtime::ContainerRuntime* runtime_;
  std::string description_;
  absl::AnyInvocable<void()> on_available_;
  bool available_ = false;
  bool probing_ = false;  // A retry timer is pending.
  runtime::RuntimeVersion version_;
  std::string last_error_;
  int probes_ = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_RUNTIME_MONITOR_H_
