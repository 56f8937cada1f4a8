#include "skiff/scheduler/task_definition_collector.h"

#include <string>
#include <unordered_set>
#include <vector>

#include "spdlog/spdlog.h"

namespace skiff::scheduler {

TaskDefinitionCollector::TaskDefinitionCollector(EventLoop* loop,
                                                 TaskDefinitionRegistry* registry,
                                                 TaskLauncher* tasks, ServiceManager* services)
    : loop_(loop), registry_(registry), tasks_(tasks), services_(services) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  registry_->AddDeletionListener([this] {
    waiting_ = true;
    Wake();
  });
  tasks_->AddListener([this](const store::StoredTask&) {
    if (waiting_) Wake();
  });
  services_->AddListener([this](const store::StoredService&) {
    if (waiting_) Wake();
  });
}

void TaskDefinitionCollector::Start() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  waiting_ = true;
  Wake();
}

void TaskDefinitionCollector::Wake() {
  if (sweep_posted_) return;
  sweep_posted_ = true;
  loop_->Post([this] {
    sweep_posted_ = false;
    SweepNow();
  });
}

int TaskDefinitionCollector::SweepNow() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  absl::StatusOr<std::vector<std::string>> pending = registry_->DeleteInProgress();
  if (!pending.ok()) {
    // The next change tries again; the revisions wait meanwhile, which is safe.
    spdlog::warn("task definitions to delete: {}", pending.status().ToString());
    return 0;
  }
  waiting_ = !pending->empty();
  if (pending->empty()) return 0;
  std::unordered_set<std::string> used;
  tasks_->ForEachTask([&used](const store::StoredTask& task) {
    if (task.task.last_status() != "STOPPED") used.insert(task.task.task_definition_arn());
  });
  services_->ForEachTaskDefinitionInUse([&used](const std::string& arn) { used.insert(arn); });
  int purged = 0;
  bool kept = false;
  for (const std::string& arn : *pending) {
    if (used.contains(arn)) {
      kept = true;
      continue;
    }
    if (absl::Status s = registry_->Purge(arn); !s.ok()) {
      spdlog::warn("task definition {}: cannot delete it: {}", arn, s.ToString());
      kept = true;
      continue;
    }
    spdlog::info("task definition {}: deleted (DELETE_IN_PROGRESS and unused)", arn);
    ++purged;
  }
  waiting_ = kept;
  return purged;
}

}  // namespace skiff::scheduler
