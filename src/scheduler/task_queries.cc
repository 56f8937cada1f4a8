// The read side of TaskManager and StopTask: request checks and answers from the in-memory
// tasks. Same thread contract as the rest of the class (loop thread only).
#include <filesystem>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "scheduler/task_states.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/pagination.h"
#include "skiff/scheduler/container_spec_builder.h"
#include "skiff/scheduler/task_manager.h"
#include "skiff/v1/skiff.pb.h"

namespace skiff::scheduler {
namespace {

using model::kClientException;
using model::kInvalidParameterException;

absl::Status InvalidParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, kInvalidParameterException, message);
}

absl::Status TaskNotFound(absl::string_view reference) {
  return model::EcsError(absl::StatusCode::kNotFound, kInvalidParameterException,
                         absl::StrCat("The referenced task was not found: ", reference));
}

}  // namespace

absl::StatusOr<v1::StopTaskResponse> TaskManager::StopTask(const v1::StopTaskRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  absl::StatusOr<std::string> id = model::ParseTaskRef(scope_, request.task(), "task");
  if (!id.ok()) return model::WithEcsException(id.status(), kInvalidParameterException);
  TaskState* task = Find(*id);
  if (task == nullptr || task->record.cluster != cluster) {
    return TaskNotFound(request.task());
  }
  if (request.has_reason() && request.reason().size() > 255) {
    return InvalidParameter("reason: at most 255 characters");
  }
  BeginStop(*task, StopCode::kUserInitiated,
            request.has_reason() ? request.reason() : std::string("Task stopped by user"));
  v1::StopTaskResponse response;
  *response.mutable_task() = FullTask(*task);
  return response;
}

absl::StatusOr<v1::DescribeTasksResponse> TaskManager::DescribeTasks(
    const v1::DescribeTasksRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  if (request.tasks().empty() || request.tasks().size() > 100) {
    return InvalidParameter("tasks: between 1 and 100 tasks");
  }
  v1::DescribeTasksResponse response;
  for (const std::string& ref : request.tasks()) {
    absl::StatusOr<std::string> id = model::ParseTaskRef(scope_, ref, "tasks");
    TaskState* task = id.ok() ? Find(*id) : nullptr;
    if (task == nullptr || task->record.cluster != cluster) {
      v1::Failure* failure = response.add_failures();
      failure->set_arn(id.ok() ? model::TaskArn(scope_, cluster, *id) : ref);
      failure->set_reason("MISSING");
      continue;
    }
    v1::Task* out = response.add_tasks();
    *out = FullTask(*task);
    if (!absl::c_linear_search(request.include(), "TAGS")) out->clear_tags();
  }
  return response;
}

absl::StatusOr<v1::ListTasksResponse> TaskManager::ListTasks(const v1::ListTasksRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  const std::string desired = request.has_desired_status()
                                  ? request.desired_status()
                                  : std::string(DesiredStatusName(DesiredStatus::kRunning));
  if (request.has_family() && request.has_service_name()) {
    return InvalidParameter("family and serviceName cannot both be given");
  }
  // Ordered by creation, as ECS users read them.
  std::vector<std::pair<double, std::string>> matching;
  for (const auto& [id, task] : tasks_) {
    const v1::Task& t = task.record.task;
    if (task.record.cluster != cluster || t.desired_status() != desired) continue;
    if (request.has_family() && task.definition->family() != request.family()) continue;
    if (request.has_started_by() && t.started_by() != request.started_by()) continue;
    if (request.has_service_name() && task.record.service != request.service_name()) continue;
    matching.emplace_back(t.created_at(), TaskArnOf(task));
  }
  absl::c_sort(matching);
  std::vector<std::string> arns;
  for (auto& [created, arn] : matching) arns.push_back(std::move(arn));
  absl::StatusOr<model::Page> page = model::Paginate(
      std::move(arns), request.has_max_results() ? std::optional<int>(request.max_results())
                                                 : std::nullopt,
      request.has_next_token() ? std::optional<std::string>(request.next_token()) : std::nullopt);
  if (!page.ok()) return model::WithEcsException(page.status(), kInvalidParameterException);
  v1::ListTasksResponse response;
  for (std::string& arn : page->items) response.add_task_arns(std::move(arn));
  if (page->next_token) response.set_next_token(*page->next_token);
  return response;
}

absl::StatusOr<TaskDetails> TaskManager::ViewTask(const std::string& task_id) const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  const auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return absl::NotFoundError(absl::StrCat("no task ", task_id));
  TaskDetails view{.record = FullRecord(it->second), .definition = it->second.definition};
  for (const ContainerState& c : it->second.containers) {
    view.restart_counts.push_back(c.restart_count);
  }
  return view;
}

absl::StatusOr<std::vector<ContainerLocation>> TaskManager::FindContainers(
    const std::string& cluster_ref, const std::string& task_ref, const std::string& container) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(cluster_ref));
  absl::StatusOr<std::string> id = model::ParseTaskRef(scope_, task_ref, "task");
  if (!id.ok()) return model::WithEcsException(id.status(), kInvalidParameterException);
  TaskState* task = Find(*id);
  if (task == nullptr || task->record.cluster != cluster) {
    return TaskNotFound(task_ref);
  }
  const TaskContext context{.task_dir = TaskDir(*id)};
  std::vector<ContainerLocation> out;
  for (size_t i = 0; i < task->containers.size(); ++i) {
    const v1::Container& c = task->record.task.containers(static_cast<int>(i));
    if (!container.empty() && c.name() != container) continue;
    out.push_back({.task_id = *id,
                   .name = c.name(),
                   .runtime_id = task->containers[i].runtime_id,
                   .log_path = ContainerLogPath(context, c.name()),
                   .running = task->containers[i].started && !task->containers[i].exited,
                   .restart_count = task->containers[i].restart_count});
  }
  if (out.empty()) {
    return model::EcsError(absl::StatusCode::kNotFound, kInvalidParameterException,
                           absl::StrCat("container: task ", *id, " has no container ",
                                        model::QuoteValue(container)));
  }
  return out;
}

absl::StatusOr<std::vector<v1::ContainerHealth>> TaskManager::ContainerHealth(
    const std::string& cluster, const std::string& task_ref) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_ASSIGN_OR_RETURN(std::vector<ContainerLocation> containers,
                         FindContainers(cluster, task_ref, ""));
  const TaskState& task = *Find(containers.front().task_id);
  std::vector<v1::ContainerHealth> out;
  for (size_t i = 0; i < task.containers.size(); ++i) {
    if (!task.containers[i].health_check) continue;
    const v1::Container& c = task.record.task.containers(static_cast<int>(i));
    v1::ContainerHealth& h = out.emplace_back();
    h.set_container_name(c.name());
    h.set_health_status(std::string(HealthStatusName(HealthOf(c))));
    const HealthReport* report =
        health_ == nullptr ? nullptr : health_->Find(task.containers[i].runtime_id);
    if (report == nullptr) continue;  // Not running (or not yet): the stored status only.
    h.set_consecutive_failures(report->consecutive_failures);
    if (report->last) {
      h.set_last_check_at(absl::ToDoubleSeconds(report->last->at - absl::UnixEpoch()));
      h.set_last_exit_code(report->last->exit_code);
      h.set_last_output(report->last->output);
    }
  }
  return out;
}

bool TaskManager::HealthChecked(const std::string& task_id) const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return false;
  return absl::c_any_of(it->second.containers, [](const ContainerState& cs) {
    return cs.essential && cs.health_check != nullptr;
  });
}

}  // namespace skiff::scheduler
