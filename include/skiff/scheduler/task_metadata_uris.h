// TaskMetadataUris: where a container reaches the task metadata endpoint (v4, as ECS serves it at
// ECS_CONTAINER_METADATA_URI_V4). The scheduler puts the URIs in each container's environment
// when it builds the container's spec; the daemon picks the implementation (the api
// component's TaskMetadataEndpoint, which signs the per-container path), so the scheduler
// never links OpenSSL.
//
// Thread contract: const and thread-safe; the scheduler calls it on the loop thread.
#ifndef SKIFF_SCHEDULER_TASK_METADATA_URIS_H_
#define SKIFF_SCHEDULER_TASK_METADATA_URIS_H_

#include <string>

namespace skiff::scheduler {

class TaskMetadataUris {
 public:
  virtual ~TaskMetadataUris() = default;

  // The base URI of the metadata of the container at `index` of the task definition of task
  // `task_id` (32 hex digits), for a task whose containers share the host's network
  // (`host_network`) or have namespaces of their own on the bridge. `version` is 3 or 4:
  // ECS_CONTAINER_METADATA_URI and ECS_CONTAINER_METADATA_URI_V4.
  virtual std::string ContainerUri(const std::string& task_id, int index, bool host_network,
                                   int version) const = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_TASK_METADATA_URIS_H_
