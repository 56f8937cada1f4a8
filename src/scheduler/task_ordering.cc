// TaskManager, within one task: the order in which its containers start (dependsOn) and stop
// (its load balancer targets drain first, then the containers in the reverse order), and what
// their health checks say. Same thread contract as the rest of the class (loop thread only).
#include <csignal>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scheduler/task_states.h"
#include "skiff/runtime/container_spec.h"
#include "skiff/scheduler/container_spec_builder.h"
#include "skiff/scheduler/task_manager.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {

std::vector<TaskManager::ContainerState> TaskManager::ContainersOf(
    const std::string& task_id, const v1::Task& task, const v1::TaskDefinition& definition) {
  std::map<std::string, size_t, std::less<>> index;
  std::vector<ContainerState> out(task.containers_size());
  for (int i = 0; i < task.containers_size(); ++i) {
    const v1::Container& c = task.containers(i);
    index[c.name()] = static_cast<size_t>(i);
    out[i].runtime_id = c.runtime_id().empty() ? RuntimeContainerId(task_id, c.name(), i)
                                               : c.runtime_id();
  }
  for (const v1::ContainerDefinition& d : definition.container_definitions()) {
    auto it = index.find(d.name());
    if (it == index.end()) continue;
    ContainerState& cs = out[it->second];
    cs.essential = !d.has_essential() || d.essential();
    cs.stop_timeout_seconds = d.stop_timeout();
    cs.start_timeout_seconds = d.start_timeout();
    if (d.has_restart_policy() && d.restart_policy().enabled()) {
      cs.restart_policy = &d.restart_policy();
    }
    for (const v1::ContainerDependency& dep : d.depends_on()) {
      if (auto target = index.find(dep.container_name()); target != index.end()) {
        cs.depends_on.push_back({.container = target->second, .condition = dep.condition()});
      }
    }
    if (!d.has_health_check()) continue;
    if (std::optional<HealthCheckSpec> check = HealthCheckSpecOf(d.health_check())) {
      cs.health_check = std::make_unique<const HealthCheckSpec>(*std::move(check));
    }
  }
  return out;
}

bool TaskManager::DependenciesMet(const TaskState& task, size_t index, std::string* never) const {
  const v1::Task& t = task.record.task;
  const std::string& name = t.containers(static_cast<int>(index)).name();
  bool met = true;
  for (const Dependency& d : task.containers[index].depends_on) {
    const ContainerState& dep = task.containers[d.container];
    const v1::Container& c = t.containers(static_cast<int>(d.container));
    const std::string wants = absl::StrCat("container ", name, " depends on ", c.name(),
                                           " with condition ", d.condition);
    if (d.condition == "START") {
      met &= dep.started;
    } else if (d.condition == "COMPLETE") {
      met &= dep.exited;
    } else if (d.condition == "SUCCESS") {
      if (dep.exited && c.exit_code() != 0) {
        *never = absl::StrCat("DependencyError: ", wants, ", but ", c.name(),
                              " exited with code ", c.exit_code());
        return false;
      }
      met &= dep.exited;
    } else if (d.condition == "HEALTHY") {
      if (dep.exited) {
        *never = absl::StrCat("DependencyError: ", wants, ", but ", c.name(),
                              " exited before it was HEALTHY");
        return false;
      }
      met &= HealthOf(c) == HealthStatus::kHealthy;
    }
  }
  return met;
}

void TaskManager::AdvanceDependencies(TaskState& task) {
  v1::Task& t = task.record.task;
  if (task.launching || DesiredOf(t) != DesiredStatus::kRunning) return;
  std::vector<size_t> ready;
  bool waiting = false;
  for (size_t i = 0; i < task.containers.size(); ++i) {
    if (!task.containers[i].waiting) continue;
    std::string never;
    if (DependenciesMet(task, i, &never)) {
      ready.push_back(i);
    } else if (!never.empty()) {
      BeginStop(task, StopCode::kTaskFailedToStart, never);
      return;
    } else {
      waiting = true;
    }
  }
  if (!ready.empty()) {
    StartWaiting(task, std::move(ready));
    return;
  }
  if (waiting || StageOf(t) >= TaskStage::kRunning) {
    Save(task);
    return;
  }
  AdvanceTask(task, TaskStage::kRunning);
  if (!t.has_started_at()) t.set_started_at(Now());
  Save(task);
}

void TaskManager::StartWaiting(TaskState& task, std::vector<size_t> indices) {
  std::vector<std::string> ids;
  for (size_t i : indices) {
    task.containers[i].waiting = false;
    task.containers[i].start_timer.reset();
    ids.push_back(task.containers[i].runtime_id);
  }
  task.launching = true;
  const std::string task_id = task.record.id;
  const bool queued = executor_->Run([this, task_id, indices = std::move(indices),
                                      ids = std::move(ids)] {
    std::vector<absl::StatusOr<uint32_t>> pids;
    for (const std::string& id : ids) {
      pids.push_back(runtime_->StartContainer(id));
      if (!pids.back().ok()) break;
    }
    loop_->Post([this, task_id, indices, pids = std::move(pids)] {
      TaskState* task = Find(task_id);
      if (task == nullptr) return;
      task->launching = false;
      absl::Status failed;
      for (size_t k = 0; k < pids.size(); ++k) {
        if (pids[k].ok()) {
          OnContainerStarted(*task, indices[k]);
        } else {
          failed = pids[k].status();
        }
      }
      v1::Task& t = task->record.task;
      if (!failed.ok()) {
        spdlog::warn("task {} failed to start: {}", task_id, failed.ToString());
        BeginStop(*task, StopCode::kTaskFailedToStart,
                  absl::StrCat("CannotStartContainerError: ", failed.message()));
      } else if (DesiredOf(t) == DesiredStatus::kStopped) {
        BeginStop(*task, StopCodeOf(t), t.stopped_reason());
      } else if (!StopIfExited(*task)) {
        AdvanceDependencies(*task);
      }
    });
  });
  if (!queued) task.launching = false;
}

void TaskManager::OnStartTimeout(const std::string& task_id, size_t index) {
  TaskState* task = Find(task_id);
  if (task == nullptr || !task->containers[index].waiting ||
      DesiredOf(task->record.task) != DesiredStatus::kRunning) {
    return;
  }
  const v1::Task& t = task->record.task;
  std::vector<std::string> pending;
  for (const Dependency& d : task->containers[index].depends_on) {
    pending.push_back(absl::StrCat(t.containers(static_cast<int>(d.container)).name(), " (",
                                   d.condition, ")"));
  }
  BeginStop(*task, StopCode::kTaskFailedToStart,
            absl::StrCat("DependencyError: container ", t.containers(static_cast<int>(index)).name(),
                         " was still waiting for ", absl::StrJoin(pending, ", "),
                         " after its startTimeout of ",
                         task->containers[index].start_timeout_seconds, " s"));
}

bool TaskManager::DrainsFirst(const TaskState& task) const {
  if (options_.targets == nullptr || task.record.service.empty()) return false;
  // Targets are registered once a task runs: one that never ran has none.
  const TaskStage stage = StageOf(task.record.task);
  return stage == TaskStage::kRunning || stage == TaskStage::kDeactivating;
}

void TaskManager::StartDrain(const TaskState& task) {
  // Every service task asks: the registry knows which have targets, and answers at once for a
  // task without (as for a service without load balancers).
  const std::string id = task.record.id;
  options_.targets->DrainTask(id, [this, alive = std::weak_ptr<bool>(alive_), id] {
    if (!alive.expired()) OnDrained(id);
  });
}

void TaskManager::OnDrained(const std::string& task_id) {
  TaskState* task = Find(task_id);
  if (task == nullptr || StageOf(task->record.task) != TaskStage::kDeactivating) return;
  AdvanceTask(*task, TaskStage::kStopping);
  Save(*task);
  SignalNextStopWave(*task);
  MaybeDeprovision(*task);
}

void TaskManager::SignalNextStopWave(TaskState& task) {
  if (StageOf(task.record.task) < TaskStage::kStopping) return;  // Its targets drain first.
  const auto running = [](const ContainerState& cs) { return cs.started && !cs.exited; };
  std::vector<std::string> ids;
  for (size_t i = 0; i < task.containers.size(); ++i) {
    ContainerState& cs = task.containers[i];
    if (!running(cs) || cs.signalled) continue;
    // A container others depend on outlives them, as it started before them.
    const bool needed = absl::c_any_of(task.containers, [&](const ContainerState& other) {
      return running(other) &&
             absl::c_any_of(other.depends_on, [&](const Dependency& d) { return d.container == i; });
    });
    if (needed) continue;
    cs.signalled = true;
    ids.push_back(cs.runtime_id);
    const int timeout = cs.stop_timeout_seconds > 0
                            ? cs.stop_timeout_seconds
                            : static_cast<int>(absl::ToInt64Seconds(options_.default_stop_timeout));
    if (cs.kill_timer == nullptr) {
      cs.kill_timer = loop_->CreateTimer([this, id = task.record.id, i] { OnStopTimeout(id, i); });
    }
    cs.kill_timer->Enable(absl::Seconds(timeout));
  }
  SignalContainers(ids, SIGTERM);
}

void TaskManager::SignalContainers(const std::vector<std::string>& runtime_ids, int signal) {
  if (runtime_ids.empty()) return;
  executor_->Run([this, runtime_ids, signal] {
    for (const std::string& id : runtime_ids) {
      absl::Status s = runtime_->SignalContainer(id, signal);
      // NotFound: it exited meanwhile; its exit event is on the way.
      if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
        spdlog::warn("signal {} to {}: {}", signal, id, s.ToString());
      }
    }
  });
}

void TaskManager::OnStopTimeout(const std::string& task_id, size_t index) {
  // The timer belongs to the container: a later stop re-arms it and an exit or the task's
  // removal cancels it, so it fires only for the stop under way.
  TaskState* task = Find(task_id);
  if (task == nullptr || IsStopped(task->record.task)) return;
  const ContainerState& cs = task->containers[index];
  if (cs.exited) return;
  spdlog::info("task {}: container {} outlived its stop timeout; sending SIGKILL", task_id,
               task->record.task.containers(static_cast<int>(index)).name());
  SignalContainers({cs.runtime_id}, SIGKILL);
}

void TaskManager::WatchHealth(const TaskState& task, size_t index) {
  const ContainerState& cs = task.containers[index];
  if (health_ == nullptr || !cs.health_check || !cs.started || cs.exited) return;
  health_->Watch(cs.runtime_id, *cs.health_check,
                 HealthOf(task.record.task.containers(static_cast<int>(index))));
}

void TaskManager::OnHealthChanged(const std::string& runtime_id, HealthStatus status) {
  auto [task, index] = FindContainer(runtime_id);
  if (task == nullptr || IsStopped(task->record.task)) return;
  v1::Task& t = task->record.task;
  SetHealth(*t.mutable_containers(static_cast<int>(index)), status);
  // As ECS: from the essential containers that have a check; UNKNOWN when none has.
  bool any = false, unknown = false, unhealthy = false;
  for (size_t i = 0; i < task->containers.size(); ++i) {
    const ContainerState& cs = task->containers[i];
    if (!cs.essential || !cs.health_check) continue;
    any = true;
    const HealthStatus h = HealthOf(t.containers(static_cast<int>(i)));
    unhealthy |= h == HealthStatus::kUnhealthy;
    unknown |= h == HealthStatus::kUnknown;
  }
  SetHealth(t, !any || (unknown && !unhealthy) ? HealthStatus::kUnknown
               : unhealthy                     ? HealthStatus::kUnhealthy
                                               : HealthStatus::kHealthy);
  spdlog::info("task {}: container {} is {}", task->record.id,
               t.containers(static_cast<int>(index)).name(),
               std::string(HealthStatusName(status)));
  AdvanceDependencies(*task);  // Saves.
}
}  // namespace skiff::scheduler
