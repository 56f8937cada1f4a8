#include "skiff/scheduler/service_manager.h"

namespace skiff::scheduler {

ServiceManager::ServiceManager(EventLoop* loop, TaskManager* tasks, TaskDefinitionRegistry* registry,
                               store::Store* store, const Clock* clock, model::ArnScope scope,
                               ServiceManagerOptions options)
    : loop_(loop),
      tasks_(tasks),
      registry_(registry),
      store_(store),
      clock_(clock),
      scope_(std::move(scope)),
      options_(std::move(options)) {}

absl::Status ServiceManager::Load() { return absl::OkStatus(); }
int ServiceManager::ReconcileNow() { return 0; }
void ServiceManager::MarkAllDirty() {}

}  // namespace skiff::scheduler
