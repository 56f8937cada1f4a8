// Task scale-in protection (ECS UpdateTaskProtection / GetTaskProtection): TaskManager keeps
// when a task's protection ends on its record (StoredTask::protected_until_ms, persisted with the
// task), and ServicePlanner's scale-in leaves the task alone until then. Same thread contract as
// the rest of the class (loop thread only).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "scheduler/task_states.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::scheduler {
namespace {

using model::kClientException;
using model::kInvalidParameterException;

// ECS's bounds: 1 to 2,880 minutes (48 hours), 120 when not given; at most 10 tasks an update
// and 100 a get.
constexpr int kMinProtectionMinutes = 1;
constexpr int kMaxProtectionMinutes = 2880;
constexpr int kDefaultProtectionMinutes = 120;
constexpr int kMaxTasksPerUpdate = 10;
constexpr int kMaxTasksPerGet = 100;

absl::Status InvalidParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, kInvalidParameterException, message);
}

absl::Status CheckTasks(const google::protobuf::RepeatedPtrField<std::string>& tasks, int max) {
  if (tasks.empty() || tasks.size() > max) {
    return InvalidParameter(absl::StrCat("tasks: between 1 and ", max, " tasks"));
  }
  return absl::OkStatus();
}

}  // namespace

v1::ProtectedTask TaskManager::ProtectionOf(const TaskState& task) const {
  v1::ProtectedTask out;
  out.set_task_arn(TaskArnOf(task));
  const int64_t until = task.record.protected_until_ms;
  const bool on = until > 0 && clock_->Now() < absl::FromUnixMillis(until);
  out.set_protection_enabled(on);
  if (on) out.set_expiration_date(static_cast<double>(until) / 1000.0);
  return out;
}

// The task a reference of `field` names in `cluster`, or the failure ECS answers with: MISSING
// for a task it does not know (or of another cluster), TASK_NOT_VALID for one that belongs to
// no service (protection is for services' tasks) or has stopped.
TaskManager::TaskState* TaskManager::ProtectableTask(const std::string& cluster,
                                                     const std::string& ref,
                                                     v1::Failure* failure) {
  absl::StatusOr<std::string> id = model::ParseTaskRef(scope_, ref, "tasks");
  TaskState* task = id.ok() ? Find(*id) : nullptr;
  failure->set_arn(id.ok() ? model::TaskArn(scope_, cluster, *id) : ref);
  if (task == nullptr || task->record.cluster != cluster) {
    failure->set_reason("MISSING");
    failure->set_detail(task == nullptr
                            ? "The task was not found."
                            : absl::StrCat("The task belongs to cluster ", task->record.cluster,
                                           ", not ", cluster, "."));
    return nullptr;
  }
  if (task->record.service.empty()) {
    failure->set_reason("TASK_NOT_VALID");
    failure->set_detail("Task protection is only supported for tasks of a service.");
    return nullptr;
  }
  if (ParseTaskStage(task->record.task.last_status()) == TaskStage::kStopped) {
    failure->set_reason("TASK_NOT_VALID");
    failure->set_detail("The task has stopped.");
    return nullptr;
  }
  return task;
}

absl::StatusOr<v1::UpdateTaskProtectionResponse> TaskManager::UpdateTaskProtection(
    const v1::UpdateTaskProtectionRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  SKIFF_RETURN_IF_ERROR(CheckTasks(request.tasks(), kMaxTasksPerUpdate));
  const bool enable = request.protection_enabled();
  int minutes = kDefaultProtectionMinutes;
  if (request.has_expires_in_minutes()) {
    minutes = request.expires_in_minutes();
    if (minutes < kMinProtectionMinutes || minutes > kMaxProtectionMinutes) {
      return InvalidParameter(absl::StrCat("expiresInMinutes: must be between ",
                                           kMinProtectionMinutes, " and ", kMaxProtectionMinutes,
                                           "; got ", minutes));
    }
  }
  const int64_t until =
      enable ? absl::ToUnixMillis(clock_->Now() + absl::Minutes(minutes)) : int64_t{0};
  v1::UpdateTaskProtectionResponse response;
  for (const std::string& ref : request.tasks()) {
    v1::Failure failure;
    TaskState* task = ProtectableTask(cluster, ref, &failure);
    if (task == nullptr) {
      *response.add_failures() = std::move(failure);
      continue;
    }
    task->record.protected_until_ms = until;
    Save(*task);  // Persisted, and the task's service hears of it (a scale-in may go on).
    *response.add_protected_tasks() = ProtectionOf(*task);
  }
  return response;
}

absl::StatusOr<v1::GetTaskProtectionResponse> TaskManager::GetTaskProtection(
    const v1::GetTaskProtectionRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  SKIFF_RETURN_IF_ERROR(CheckTasks(request.tasks(), kMaxTasksPerGet));
  v1::GetTaskProtectionResponse response;
  for (const std::string& ref : request.tasks()) {
    v1::Failure failure;
    const TaskState* task = ProtectableTask(cluster, ref, &failure);
    if (task == nullptr) {
      *response.add_failures() = std::move(failure);
      continue;
    }
    *response.add_protected_tasks() = ProtectionOf(*task);
  }
  return response;
}

}  // namespace skiff::scheduler
