// The answers of the task metadata endpoint (src/api/task_metadata_endpoint.cc) in the shapes
// the ECS agent gives them (v4): a container's metadata, its task's, and container stats in
// Docker's shape (GET /containers/ID/stats), made from a task's record and definition
// (scheduler::TaskDetails) and the last two stats samples of its containers. Private to the api
// component; pure, so any thread may call them on a copy taken on the loop.
#ifndef SKIFF_SRC_API_TASK_METADATA_H_
#define SKIFF_SRC_API_TASK_METADATA_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

#include "nlohmann/json.hpp"
#include "skiff/scaling/stats_store.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::api {

// A task and the stats of its containers (parallel to its containers; nullopt: not sampled,
// as a container that does not run), copied on the loop.
struct TaskSnapshot {
  scheduler::TaskDetails task;
  std::vector<std::optional<scaling::StatsStore::Entry>> stats;
};

// What Docker's stats tell of the host: online_cpus, and the memory limit of a container that
// has none.
struct HostFacts {
  int online_cpus = 1;
  uint64_t memory_bytes = 0;
};

// What a request's path asks for: /v4/TOKEN[/task][/stats] (or /v3/), a trailing '/' allowed.
struct MetadataRoute {
  enum class Kind { kContainer, kTask, kContainerStats, kTaskStats };
  std::string token;
  Kind kind = Kind::kContainer;
};
std::optional<MetadataRoute> ParseMetadataPath(absl::string_view path);

// ${ECS_CONTAINER_METADATA_URI_V4}: the container at `index` of the task's containers.
nlohmann::json ContainerMetadata(const scheduler::TaskDetails& task, int index);
// .../task: the task, with every container's metadata.
nlohmann::json TaskMetadata(const scheduler::TaskDetails& task);
// .../stats: Docker's stats of the container at `index`; null when it has not been sampled.
nlohmann::json ContainerStats(const TaskSnapshot& snapshot, int index, const HostFacts& host);
// .../task/stats: each container's stats by its DockerId.
nlohmann::json TaskStats(const TaskSnapshot& snapshot, const HostFacts& host);

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_TASK_METADATA_H_
