// TaskDefinitionCollector: the second step of DeleteTaskDefinitions. It removes a
// DELETE_IN_PROGRESS revision for good (TaskDefinitionRegistry::Purge) once no task that is not
// STOPPED runs it and no ACTIVE or DRAINING service may launch it (its deployments and its
// rollback target).
//
// Only a few things can free a revision: a task that changes (it stops), a service that changes
// (a deployment ends, the service is deleted), a new deletion, and a restart of skiffd (the
// revisions stay DELETE_IN_PROGRESS in the store). Each of these posts a sweep to the loop unless
// one is posted already, so a burst of changes is one sweep; task and service changes post it
// only while some revision is known to wait. A sweep reads the DELETE_IN_PROGRESS revisions from
// the store's status index and the tasks and services from memory.
//
// Thread contract: owned by the control loop; constructed, started and destroyed there (main may
// act for it before the loop starts); the listeners and the sweep run there. Every pointer must
// outlive it, and the loop must drop or run its posted sweep before it goes.
#ifndef SKIFF_SCHEDULER_TASK_DEFINITION_COLLECTOR_H_
#define SKIFF_SCHEDULER_TASK_DEFINITION_COLLECTOR_H_

#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/scheduler/task_launcher.h"

namespace skiff::scheduler {

class TaskDefinitionCollector {
 public:
  // Subscribes to the registry's deletions and to the tasks' and services' changes.
  TaskDefinitionCollector(EventLoop* loop, TaskDefinitionRegistry* registry, TaskLauncher* tasks,
                          ServiceManager* services);

  TaskDefinitionCollector(const TaskDefinitionCollector&) = delete;
  TaskDefinitionCollector& operator=(const TaskDefinitionCollector&) = delete;

  // Arms the first sweep, for the revisions left DELETE_IN_PROGRESS by an earlier run. Call
  // once the tasks and services are loaded.
  void Start();

  // One sweep now: purges every DELETE_IN_PROGRESS revision that nothing uses. Returns how many
  // it purged. The posted sweep calls it; tests may too.
  int SweepNow();

 private:
  void Wake();

  EventLoop* const loop_;
  TaskDefinitionRegistry* const registry_;
  TaskLauncher* const tasks_;
  ServiceManager* const services_;
  bool sweep_posted_ = false;
  // Some revision was DELETE_IN_PROGRESS and in use at the last sweep, or a deletion came since:
  // task and service changes may free it.
  bool waiting_ = false;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_TASK_DEFINITION_COLLECTOR_H_
