// TaskManager, restart policies: a container whose restartPolicy is enabled and that exits is
// started again in place (ECS's "restart individual containers"), when
//   - its task's desired status is RUNNING and the task is not on its way out,
//   - its exit code is not in ignoredExitCodes, and
//   - it ran at least restartAttemptPeriod seconds (default 300) since its last (re)start.
// Otherwise its exit is an exit like any other: an essential one stops the task.
//
// A restart is two trips to the executor: the exited runtime task is deleted (the shim holds
// its exit status until then), then, if the task is still to run, a new one is created and
// started in the same container: same rootfs, the same log file appended to. The container
// stays RUNNING throughout, so nothing that counts exits (StopIfExited, MaybeDeprovision) sees
// it; a stop that comes meanwhile finds it started and not exited, and signals it once it runs.
// Same thread contract as the rest of the class (loop thread only).
#include <string>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "scheduler/task_states.h"
#include "skiff/model/task_definition.h"
#include "skiff/scheduler/task_manager.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {
namespace {

absl::Duration AttemptPeriodOf(const v1::ContainerRestartPolicy& policy) {
  return absl::Seconds(policy.has_restart_attempt_period() ? policy.restart_attempt_period()
                                                           : model::kDefaultRestartAttemptPeriod);
}

double EpochSeconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

}  // namespace

bool TaskManager::RestartOnExit(TaskState& task, size_t index, uint32_t exit_status,
                                absl::Time at) {
  ContainerState& cs = task.containers[index];
  const v1::ContainerRestartPolicy* policy = cs.restart_policy;
  const v1::Task& t = task.record.task;
  // A stop under way (StopTask, a scale-in, an essential container's exit) wins: a container of
  // a task that is to stop is never restarted.
  if (policy == nullptr || cs.restarting || task.launching ||
      DesiredOf(t) != DesiredStatus::kRunning || StageOf(t) >= TaskStage::kDeactivating) {
    return false;
  }
  if (absl::c_linear_search(policy->ignored_exit_codes(), static_cast<int32_t>(exit_status))) {
    return false;
  }
  const absl::Time exited = at > absl::UnixEpoch() ? at : clock_->Now();
  const absl::Duration ran = exited - cs.last_started;
  const std::string& name = t.containers(static_cast<int>(index)).name();
  if (ran < AttemptPeriodOf(*policy)) {
    spdlog::info("task {}: container {} exited with {} after {}, before its restartAttemptPeriod "
                 "of {}: not restarted", task.record.id, name, exit_status,
                 absl::FormatDuration(ran), absl::FormatDuration(AttemptPeriodOf(*policy)));
    return false;
  }
  if (auto oom = oom_.find(cs.runtime_id); oom != oom_.end()) {
    spdlog::info("task {}: container {}: {}", task.record.id, name, oom->second);
    oom_.erase(oom);
  }
  cs.restarting = true;
  ++cs.restart_count;
  if (health_ != nullptr) health_->Unwatch(cs.runtime_id);
  spdlog::info("task {}: container {} exited with {} after {}; restarting it (restart {})",
               task.record.id, name, exit_status, absl::FormatDuration(ran), cs.restart_count);
  Save(task);  // The count first: a crash from here on finds the container exited, or running.
  const std::string id = task.record.id;
  const std::string runtime_id = cs.runtime_id;
  const bool queued = executor_->Run([this, id, index, exit_status, runtime_id] {
    absl::StatusOr<uint32_t> deleted = runtime_->DeleteTask(runtime_id);
    // NotFound: no task left to delete (a resync found it gone), which is what is wanted.
    absl::Status reaped = deleted.ok() || absl::IsNotFound(deleted.status()) ? absl::OkStatus()
                                                                             : deleted.status();
    loop_->Post([this, id, index, exit_status, reaped = std::move(reaped)] {
      OnRestartReaped(id, index, exit_status, reaped);
    });
  });
  if (!queued) {
    --cs.restart_count;
    cs.restarting = false;
    return false;
  }
  return true;
}

void TaskManager::OnRestartReaped(const std::string& task_id, size_t index, uint32_t exit_status,
                                  const absl::Status& reaped) {
  TaskState* task = Find(task_id);
  if (task == nullptr || !task->containers[index].restarting) return;
  if (!reaped.ok()) {
    AbandonRestart(*task, index, exit_status,
                   absl::StrCat("CannotStartContainerError: restart: ", reaped.message()));
    return;
  }
  if (DesiredOf(task->record.task) != DesiredStatus::kRunning) {
    AbandonRestart(*task, index, exit_status, "");  // The task stops meanwhile.
    return;
  }
  const std::string runtime_id = task->containers[index].runtime_id;
  const bool queued = executor_->Run([this, task_id, index, exit_status, runtime_id] {
    absl::StatusOr<uint32_t> pid = runtime_->StartContainer(runtime_id);
    loop_->Post([this, task_id, index, exit_status, pid = std::move(pid)] {
      OnRestarted(task_id, index, exit_status, pid);
    });
  });
  if (!queued) AbandonRestart(*task, index, exit_status, "");
}

void TaskManager::OnRestarted(const std::string& task_id, size_t index, uint32_t exit_status,
                              const absl::StatusOr<uint32_t>& pid) {
  TaskState* task = Find(task_id);
  if (task == nullptr) return;
  ContainerState& cs = task->containers[index];
  if (!cs.restarting) return;
  if (!pid.ok()) {
    AbandonRestart(*task, index, exit_status,
                   absl::StrCat("CannotStartContainerError: restart: ", pid.status().message()));
    return;
  }
  cs.restarting = false;
  if (cs.exited) return;  // The new process's exit came first, and was recorded.
  cs.last_started = clock_->Now();
  Save(*task);
  if (DesiredOf(task->record.task) == DesiredStatus::kStopped) {
    // A stop came while it restarted: it is signalled now that it runs again.
    cs.signalled = false;
    SignalNextStopWave(*task);
    return;
  }
  WatchHealth(*task, index);  // Checks resume, from the status it had.
}

void TaskManager::AbandonRestart(TaskState& task, size_t index, uint32_t exit_status,
                                 const std::string& reason) {
  ContainerState& cs = task.containers[index];
  if (!reason.empty()) {
    spdlog::warn("task {}: {}", task.record.id, reason);
    task.record.task.mutable_containers(static_cast<int>(index))->set_reason(reason);
  }
  // Still marked restarting while the exit is recorded, so that it is not restarted again.
  OnContainerExit(task, index, exit_status, clock_->Now());
  cs.restarting = false;
}

void TaskManager::LoadRestarts(TaskState& task) {
  const v1::Task& t = task.record.task;
  for (const v1::ContainerRestarts::Entry& e : task.record.restarts.containers()) {
    for (size_t i = 0; i < task.containers.size(); ++i) {
      if (t.containers(static_cast<int>(i)).name() != e.container_name()) continue;
      task.containers[i].restart_count = e.restart_count();
      task.containers[i].last_started = absl::UnixEpoch() + absl::Seconds(e.last_started_at());
    }
  }
  task.record.restarts.Clear();  // The containers' states hold it; records are made again.
}

v1::ContainerRestarts TaskManager::RestartsOf(const TaskState& task) const {
  v1::ContainerRestarts out;
  for (size_t i = 0; i < task.containers.size(); ++i) {
    const ContainerState& cs = task.containers[i];
    if (cs.restart_policy == nullptr && cs.restart_count == 0) continue;
    v1::ContainerRestarts::Entry* e = out.add_containers();
    e->set_container_name(task.record.task.containers(static_cast<int>(i)).name());
    e->set_restart_count(cs.restart_count);
    if (cs.last_started != absl::InfinitePast()) {
      e->set_last_started_at(EpochSeconds(cs.last_started));
    }
  }
  return out;
}

}  // namespace skiff::scheduler
