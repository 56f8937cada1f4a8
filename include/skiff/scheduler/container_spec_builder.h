// From ECS to runtime: the ContainerSpec of one container of a task, resolved from its task
// definition, the task's overrides and where the task keeps its files. Pure except for reading
// environmentFiles (local files named by the definition) and creating volume directories under
// the state dir, both through the paths given in TaskFiles.
//
// Thread contract: free functions; the control loop calls them while launching a task.
#ifndef SKIFF_SCHEDULER_CONTAINER_SPEC_BUILDER_H_
#define SKIFF_SCHEDULER_CONTAINER_SPEC_BUILDER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "skiff/runtime/container_spec.h"
#include "skiff/scheduler/task_metadata_uris.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

// Where one task's files live and what it is called in containerd.
struct TaskContext {
  std::string task_id;       // 32 hex digits.
  std::string task_arn;
  std::string cluster;       // Cluster name.
  std::string service_name;  // "" for a standalone task.
  std::string task_dir;      // STATE_DIR/tasks/<task-id>: logs, task-scoped volumes.
  std::string volumes_dir;   // STATE_DIR/volumes: shared named volumes.
  // Where environmentFiles of type s3 are read: arn:aws:s3:::BUCKET/KEY is DIR/BUCKET/KEY.
  // "": none (skiffd --environment-files-dir unset).
  std::string environment_files_dir;
  // Containers with a network get ECS_CONTAINER_METADATA_URI_V4 and ECS_CONTAINER_METADATA_URI
  // from it; none when null.
  const TaskMetadataUris* metadata = nullptr;
};

// The runtime's name for the container at `index` of a task's definition:
// "<task-id>-<container-name>" when that is a containerd identifier (at most 76 characters,
// letters and digits in runs joined by single '.', '_' or '-'), else "<task-id>.<index>": ECS
// allows names such as "-", "app_" or "a--b" and up to 255 characters, which containerd
// refuses. Either way the task id comes first, up to the first '-' or '.', and the container is
// found from it (the record keeps each container's id; its label skiff.container has the name).
std::string RuntimeContainerId(const std::string& task_id, const std::string& container_name,
                               int index);

// "KEY=value" into env, replacing an earlier entry with the same key in place.
void SetEnv(const std::string& key, const std::string& value, std::vector<std::string>* env);

// The log file of a container of a task: <task_dir>/<container-name>.log.
std::string ContainerLogPath(const TaskContext& task, const std::string& container_name);

// The spec for container `container_name` of `definition` (which must contain it) with the
// task's `overrides` applied (command, environment, cpu, memory per container; task cpu and
// memory), and the task metadata endpoint's variables, which win over the definition's.
// InvalidArgument naming the field for what cannot run on this host: unsafe paths, reserved
// label prefixes, unreadable environmentFiles.
// FailedPrecondition for an s3 environment file that cannot be had, its message ECS's whole
// stoppedReason ("ResourceInitializationError: failed to download env files: ...").
absl::StatusOr<runtime::ContainerSpec> BuildContainerSpec(const v1::TaskDefinition& definition,
                                                          const std::string& container_name,
                                                          const v1::TaskOverride& overrides,
                                                          const TaskContext& task);

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_CONTAINER_SPEC_BUILDER_H_
