#include "skiff/scheduler/runtime_monitor.h"

#include <algorithm>
#include <utility>

#include "spdlog/spdlog.h"

namespace skiff::scheduler {

RuntimeMonitor::RuntimeMonitor(EventLoop* loop, runtime::ContainerRuntime* runtime,
                               std::string description, absl::AnyInvocable<void()> on_available)
    : loop_(loop),
      runtime_(runtime),
      description_(std::move(description)),
      on_available_(std::move(on_available)) {}

void RuntimeMonitor::Start(absl::Duration first_timeout) {
  Probe(first_timeout, kFirstRetry);
  if (!available_) {
    spdlog::error(
        "cannot reach containerd at {}: {}. Is containerd running (systemctl status containerd) "
        "and is --containerd-address right? Task definitions work meanwhile; skiffd keeps trying.",
        description_, last_error_);
  }
}

void RuntimeMonitor::MarkUnavailable() {
  available_ = false;
  if (!probing_) Probe(kProbeTimeout, kFirstRetry);
}

void RuntimeMonitor::Probe(absl::Duration timeout, absl::Duration next_delay) {
  probing_ = false;
  ++probes_;
  absl::StatusOr<runtime::RuntimeVersion> version = runtime_->Version(timeout);
  if (version.ok()) {
    const bool became_available = !available_;
    available_ = true;
    version_ = *std::move(version);
    if (became_available) {
      spdlog::info("containerd {} (revision {}) reachable at {}", version_.version,
                   version_.revision, description_);
      on_available_();
    }
    return;
  }
  available_ = false;
  last_error_ = std::string(version.status().message());
  if (probes_ > 1) {  // Start() reports the first failure itself.
    spdlog::warn("containerd unreachable: {}; retrying in {}", last_error_,
                 absl::FormatDuration(next_delay));
  }
  probing_ = true;
  loop_->PostAfter(next_delay, [this, next_delay] {
    Probe(kProbeTimeout, std::min(next_delay * 2, kMaxRetry));
  });
}

}  // namespace skiff::scheduler
