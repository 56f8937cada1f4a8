#include "skiff/scheduler/runtime_monitor.h"

#include <algorithm>
#include <utility>

#include "spdlog/spdlog.h"

namespace skiff::scheduler {

RuntimeMonitor::RuntimeMonitor(EventLoop* loop, Executor* executor,
                               runtime::ContainerRuntime* runtime, std::string description,
                               absl::AnyInvocable<void()> on_available)
    : loop_(loop),
      executor_(executor),
      runtime_(runtime),
      description_(std::move(description)),
      on_available_(std::move(on_available)),
      probe_timer_(loop->CreateTimer([this] { SendProbe(); })) {}

void RuntimeMonitor::Start(absl::Duration first_timeout) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  ++probes_;
  Apply(runtime_->Version(first_timeout));
  if (!available_) {
    spdlog::error(
        "cannot reach containerd at {}: {}. Is containerd running (systemctl status containerd) "
        "and is --containerd-address right? Task definitions work meanwhile; skiffd keeps trying.",
        description_, last_error_);
  }
  probe_timer_->Enable(kProbeInterval);
}

void RuntimeMonitor::OnRuntimeEvent(const runtime::RuntimeEvent& event) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  using Kind = runtime::RuntimeEvent::Kind;
  if (event.kind != Kind::kStreamLost && event.kind != Kind::kStreamUp) return;
  ++stream_events_;  // A probe in flight now answers for an earlier moment: ignored.
  if (event.kind == Kind::kStreamUp) {
    failures_ = 0;
    failures_at_next_log_ = 2;
    SetAvailable(true, "its event stream is up");
    return;
  }
  last_error_ = "event stream lost";
  SetAvailable(false, last_error_);
  // containerd may be restarting or gone; the next probe tells, at once.
  if (!probing_) {
    probe_timer_->Disable();
    SendProbe();
  }
}

bool RuntimeMonitor::available() const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  return available_;
}

const runtime::RuntimeVersion& RuntimeMonitor::version() const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  return version_;
}

int RuntimeMonitor::probes() const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  return probes_;
}

void RuntimeMonitor::SendProbe() {
  ++probes_;
  probing_ = true;
  // The work holds no reference to the monitor's state: only the loop touches that.
  const bool queued = executor_->Run(
      [this, loop = loop_, runtime = runtime_, stream_events = stream_events_] {
        absl::StatusOr<runtime::RuntimeVersion> version = runtime->Version(kProbeTimeout);
        loop->Post([this, version = std::move(version), stream_events]() mutable {
          OnProbed(std::move(version), stream_events);
        });
      });
  if (!queued) probing_ = false;  // Shutting down: no more probes.
}

void RuntimeMonitor::OnProbed(absl::StatusOr<runtime::RuntimeVersion> version,
                              uint64_t stream_events) {
  probing_ = false;
  if (stream_events == stream_events_) Apply(std::move(version));
  probe_timer_->Enable(kProbeInterval);
}

void RuntimeMonitor::Apply(absl::StatusOr<runtime::RuntimeVersion> version) {
  if (version.ok()) {
    failures_ = 0;
    failures_at_next_log_ = 2;
    version_ = *std::move(version);
    SetAvailable(true, "it answers");
    return;
  }
  last_error_ = std::string(version.status().message());
  ++failures_;
  if (failures_ >= failures_at_next_log_) {
    spdlog::warn("containerd still unreachable after {} probes: {}", failures_, last_error_);
    failures_at_next_log_ = failures_ < kMaxLogEvery / 2 ? failures_ * 2 : failures_ + kMaxLogEvery;
  }
  SetAvailable(false, last_error_);
}

void RuntimeMonitor::SetAvailable(bool available, const std::string& why) {
  if (available == available_) return;
  available_ = available;
  if (!available) {
    spdlog::warn("containerd at {} unreachable: {}; probing every {}", description_, why,
                 absl::FormatDuration(kProbeInterval));
    return;
  }
  if (version_.version.empty()) {
    spdlog::info("containerd reachable at {}: {}", description_, why);
  } else {
    spdlog::info("containerd {} (revision {}) reachable at {}", version_.version,
                 version_.revision, description_);
  }
  on_available_();
}

}  // namespace skiff::scheduler
