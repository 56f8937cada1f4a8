#include "skiff/scheduler/states.h"

#include <atomic>
#include <iterator>
#include <string>

#include "skiff/base/check.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {
namespace {

constexpr absl::string_view kTaskStages[] = {"PROVISIONING", "PENDING",        "ACTIVATING",
                                             "RUNNING",      "DEACTIVATING",   "STOPPING",
                                             "DEPROVISIONING", "STOPPED"};
constexpr absl::string_view kDeploymentStatuses[] = {"PRIMARY", "ACTIVE", "INACTIVE"};
constexpr absl::string_view kRolloutStates[] = {"IN_PROGRESS", "COMPLETED", "FAILED"};
constexpr absl::string_view kServiceStatuses[] = {"ACTIVE", "DRAINING", "INACTIVE"};
constexpr absl::string_view kStopCodes[] = {"", "TaskFailedToStart", "EssentialContainerExited",
                                            "UserInitiated", "ServiceSchedulerInitiated"};

std::atomic<int64_t> backward_transitions{0};

template <typename Enum, size_t N>
std::optional<Enum> Parse(const absl::string_view (&names)[N], absl::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == name) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

}  // namespace

absl::string_view TaskStageName(TaskStage stage) {
  return kTaskStages[static_cast<size_t>(stage)];
}
std::optional<TaskStage> ParseTaskStage(absl::string_view name) {
  return Parse<TaskStage>(kTaskStages, name);
}

absl::string_view DesiredStatusName(DesiredStatus status) {
  return status == DesiredStatus::kRunning ? "RUNNING" : "STOPPED";
}
DesiredStatus ParseDesiredStatus(absl::string_view name) {
  return name == "RUNNING" ? DesiredStatus::kRunning : DesiredStatus::kStopped;
}

absl::string_view DeploymentStatusName(DeploymentStatus status) {
  return kDeploymentStatuses[static_cast<size_t>(status)];
}
DeploymentStatus ParseDeploymentStatus(absl::string_view name) {
  return Parse<DeploymentStatus>(kDeploymentStatuses, name).value_or(DeploymentStatus::kInactive);
}

absl::string_view RolloutStateName(RolloutState state) {
  return kRolloutStates[static_cast<size_t>(state)];
}
RolloutState ParseRolloutState(absl::string_view name) {
  return Parse<RolloutState>(kRolloutStates, name).value_or(RolloutState::kInProgress);
}

absl::string_view ServiceStatusName(ServiceStatus status) {
  return kServiceStatuses[static_cast<size_t>(status)];
}
ServiceStatus ParseServiceStatus(absl::string_view name) {
  return Parse<ServiceStatus>(kServiceStatuses, name).value_or(ServiceStatus::kInactive);
}

absl::string_view StopCodeName(StopCode code) {
  return kStopCodes[static_cast<size_t>(code)];
}
StopCode ParseStopCode(absl::string_view name) {
  if (name.empty()) return StopCode::kNone;
  return Parse<StopCode>(kStopCodes, name).value_or(StopCode::kNone);
}

absl::string_view HealthStatusName(HealthStatus status) {
  switch (status) {
    case HealthStatus::kHealthy:
      return "HEALTHY";
    case HealthStatus::kUnhealthy:
      return "UNHEALTHY";
    case HealthStatus::kUnknown:
      break;
  }
  return "UNKNOWN";
}

HealthStatus ParseHealthStatus(absl::string_view name) {
  if (name == "HEALTHY") return HealthStatus::kHealthy;
  if (name == "UNHEALTHY") return HealthStatus::kUnhealthy;
  return HealthStatus::kUnknown;
}

void ReportBackwardTransition(absl::string_view what, absl::string_view from,
                              absl::string_view to) {
  backward_transitions.fetch_add(1, std::memory_order_relaxed);
  // absl::string_view is not std::string_view here, and fmt formats only the latter.
  spdlog::error("{}: state moved backwards from {} to {} (ignored; this is a bug)",
                std::string(what), std::string(from), std::string(to));
  SKIFF_DCHECK(false && "a state moved backwards");
}

int64_t BackwardTransitions() { return backward_transitions.load(std::memory_order_relaxed); }

}  // namespace skiff::scheduler
