// TaskLauncher: what the service scheduler needs of the node's tasks: start one for a
// deployment, stop one, follow their changes. TaskManager implements it; ServiceManager reaches
// tasks only through it, so that services can be tested and benchmarked on a fake.
//
// A task that does not fit on the node is not an error but a PlacementFailure with a kind: the
// scheduler decides on the kind, never on the text of a message.
//
// Thread contract: every method on the loop thread; listeners are called there.
#ifndef SKIFF_SCHEDULER_TASK_LAUNCHER_H_
#define SKIFF_SCHEDULER_TASK_LAUNCHER_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "skiff/store/store.h"
#include "skiff/v1/ecs.pb.h"
#include "skiff/v1/skiff.pb.h"

namespace skiff::scheduler {

// Why the node cannot hold a task now. It may later: a task stops, a port comes free.
struct PlacementFailure {
  enum class Kind { kCpu, kMemory, kPorts, kPortsUdp };
  Kind kind;
  // ECS's reason: "RESOURCE:CPU", "RESOURCE:MEMORY", "RESOURCE:PORTS", "RESOURCE:PORTS_UDP".
  absl::string_view Reason() const;
  bool operator==(const PlacementFailure&) const = default;
};

// A task that a service asks for.
struct TaskStart {
  std::string cluster;          // Name of an existing cluster.
  std::string service;          // Service name.
  std::string task_definition;  // ARN of the revision.
  std::string started_by;       // The deployment's id, as ECS sets it.
  std::vector<v1::Tag> tags;
  bool enable_execute_command = false;
  // The digests the deployment's first task established (its service revision's
  // containerImages), for the containers whose versionConsistency is on; empty until then.
  std::vector<v1::ContainerImage> container_images;
};

// The outcome of a start that did not fail: a task id, or why the task was not placed.
struct Placement {
  std::string task_id;                      // Set when placed.
  std::optional<PlacementFailure> failure;  // Set when not.
  bool placed() const { return !failure.has_value(); }
};

class TaskLauncher {
 public:
  using TaskListener = std::function<void(const store::StoredTask&)>;

  virtual ~TaskLauncher() = default;

  // Creates, persists and launches a task. Errors: Unavailable while the runtime cannot be
  // reached (not the service's fault), NotFound when the revision is gone, others as they come.
  virtual absl::StatusOr<Placement> StartTask(const TaskStart& start) = 0;
  // Stops a task for the scheduler (stop code ServiceSchedulerInitiated). Unknown ids are
  // ignored.
  virtual void StopTask(const std::string& task_id, const std::string& reason) = 0;
  // Whether the task's health comes from checks: one of its essential containers has one.
  virtual bool HealthChecked(const std::string& task_id) const = 0;
  // Every task, in id order.
  virtual void ForEachTask(const std::function<void(const store::StoredTask&)>& fn) const = 0;
  // Called with every task as it changes (after it is persisted).
  virtual void AddListener(TaskListener listener) = 0;
  // Called, in the order added, each time a resync with the runtime (at startup, after a lost
  // event stream) has been applied: the exits missed meanwhile are recorded.
  virtual void AddResyncListener(std::function<void()> listener) = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_TASK_LAUNCHER_H_
