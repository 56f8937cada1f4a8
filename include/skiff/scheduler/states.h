// The states of tasks, deployments and services as the scheduler reasons about them: ordered
// enums, so that "later than" is a comparison and a move backwards is caught. ECS spells them as
// strings; the strings appear only where the ECS protos are read or filled (the *Name and Parse*
// functions below), never in scheduling decisions.
//
// Plain values and pure functions: any thread.
#ifndef SKIFF_SCHEDULER_STATES_H_
#define SKIFF_SCHEDULER_STATES_H_

#include <cstdint>
#include <optional>

#include "absl/strings/string_view.h"

namespace skiff::scheduler {

// A task's lastStatus, in the order a task goes through them. States only move forward.
enum class TaskStage : uint8_t {
  kProvisioning,
  kPending,
  kActivating,
  kRunning,
  kDeactivating,
  kStopping,
  kDeprovisioning,
  kStopped,
};
absl::string_view TaskStageName(TaskStage stage);
// nullopt for a string that is no stage (a row written by a newer skiffd, a corrupt one).
std::optional<TaskStage> ParseTaskStage(absl::string_view name);

// A task's desiredStatus: RUNNING until something decides it stops.
enum class DesiredStatus : uint8_t { kRunning, kStopped };
absl::string_view DesiredStatusName(DesiredStatus status);
DesiredStatus ParseDesiredStatus(absl::string_view name);  // kStopped for anything but RUNNING.

// A deployment's status: the newest is PRIMARY, older ones still draining are ACTIVE.
enum class DeploymentStatus : uint8_t { kPrimary, kActive, kInactive };
absl::string_view DeploymentStatusName(DeploymentStatus status);
DeploymentStatus ParseDeploymentStatus(absl::string_view name);  // kInactive for others.

// A deployment's rolloutState.
enum class RolloutState : uint8_t { kInProgress, kCompleted, kFailed };
absl::string_view RolloutStateName(RolloutState state);
RolloutState ParseRolloutState(absl::string_view name);  // kInProgress for others.

// A service's status: ACTIVE, DRAINING once deleted while tasks still stop, then INACTIVE.
enum class ServiceStatus : uint8_t { kActive, kDraining, kInactive };
absl::string_view ServiceStatusName(ServiceStatus status);
ServiceStatus ParseServiceStatus(absl::string_view name);  // kInactive for others.

// A task's or a container's healthStatus.
enum class HealthStatus : uint8_t { kUnknown, kHealthy, kUnhealthy };
// "UNKNOWN", "HEALTHY", "UNHEALTHY", as ECS spells them.
absl::string_view HealthStatusName(HealthStatus status);
HealthStatus ParseHealthStatus(absl::string_view name);  // kUnknown for anything else.

// Why a task stopped (its stopCode), as far as the scheduler acts on it.
enum class StopCode : uint8_t {
  kNone,  // Not stopping, or a code the scheduler does not act on.
  kTaskFailedToStart,
  kEssentialContainerExited,
  kUserInitiated,
  kServiceSchedulerInitiated,
};
absl::string_view StopCodeName(StopCode code);  // "" for kNone.
StopCode ParseStopCode(absl::string_view name);  // kNone for others.

// Counts moves backwards (a bug: states only move forward), logs each, and aborts in debug and
// sanitizer builds. `what` names the object ("task 0123...").
void ReportBackwardTransition(absl::string_view what, absl::string_view from,
                              absl::string_view to);
// How many backward moves were reported in this process (for tests and /metrics).
int64_t BackwardTransitions();

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_STATES_H_
