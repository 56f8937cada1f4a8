// The typed states of a task and of its containers, read from and written to their ECS record
// (v1::Task, v1::Container). The record keeps the strings, since it is what is stored and
// answered; the scheduler's decisions compare the enums of skiff/scheduler/states.h, and these
// functions are the only place where TaskManager and ClusterRegistry turn one into the other.
// Stage order is the enums' order, and a move to an earlier stage is reported as the bug it is.
//
// Private to the scheduler. Plain functions on a record: the thread that owns the record (for
// TaskManager's tasks, the loop thread).
#ifndef SKIFF_SRC_SCHEDULER_TASK_STATES_H_
#define SKIFF_SRC_SCHEDULER_TASK_STATES_H_

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "skiff/scheduler/states.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

// A lastStatus that names no stage (a row written by a newer skiffd, a corrupt one) reads as the
// earliest stage, so that any move from it is forward.
inline TaskStage StageNamed(absl::string_view last_status) {
  return ParseTaskStage(last_status).value_or(TaskStage::kProvisioning);
}

// A task's lastStatus.
inline TaskStage StageOf(const v1::Task& task) { return StageNamed(task.last_status()); }
// A container's lastStatus: PENDING, RUNNING or STOPPED.
inline TaskStage StageOf(const v1::Container& container) {
  return StageNamed(container.last_status());
}

inline bool IsStopped(const v1::Task& task) { return StageOf(task) == TaskStage::kStopped; }

// Moves `status` (a lastStatus of the object `what` names) forward to `to`; staying at the same
// stage does nothing, and an empty or unknown status takes `to`. A move backwards is a bug:
// ReportBackwardTransition logs and counts it (and aborts in debug builds), and it is ignored.
inline void AdvanceStatus(std::string& status, TaskStage to, absl::string_view what_kind,
                          absl::string_view what_arn) {
  const std::optional<TaskStage> from = ParseTaskStage(status);
  if (from && to < *from) {
    ReportBackwardTransition(absl::StrCat(what_kind, " ", what_arn), status, TaskStageName(to));
    return;
  }
  if (!from || to > *from) status = std::string(TaskStageName(to));
}

inline void Advance(v1::Task& task, TaskStage to) {
  AdvanceStatus(*task.mutable_last_status(), to, "task", task.task_arn());
}
inline void Advance(v1::Container& container, TaskStage to) {
  AdvanceStatus(*container.mutable_last_status(), to, "container", container.container_arn());
}

// A task's desiredStatus.
inline DesiredStatus DesiredOf(const v1::Task& task) {
  return ParseDesiredStatus(task.desired_status());
}
inline void SetDesired(v1::Task& task, DesiredStatus status) {
  task.set_desired_status(std::string(DesiredStatusName(status)));
}

// A task's stopCode (kNone for none, or for one the scheduler does not know).
inline StopCode StopCodeOf(const v1::Task& task) { return ParseStopCode(task.stop_code()); }
inline void SetStopCode(v1::Task& task, StopCode code) {
  task.set_stop_code(std::string(StopCodeName(code)));
}

// A container's or a task's healthStatus (kUnknown when it has none).
inline HealthStatus HealthOf(const v1::Container& container) {
  return ParseHealthStatus(container.health_status());
}
inline void SetHealth(v1::Container& container, HealthStatus status) {
  container.set_health_status(std::string(HealthStatusName(status)));
}
inline void SetHealth(v1::Task& task, HealthStatus status) {
  task.set_health_status(std::string(HealthStatusName(status)));
}

}  // namespace skiff::scheduler

#endif  // SKIFF_SRC_SCHEDULER_TASK_STATES_H_
