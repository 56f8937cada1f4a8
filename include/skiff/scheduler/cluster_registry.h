// ClusterRegistry: the ECS cluster API on one node. Clusters are logical groups of services and
// tasks, kept in the ClusterDirectory (with its `default` cluster); this class adds their live
// counts from the task and service inventories. The node is the one container instance of every
// cluster (DescribeContainerInstances shows its registered and remaining resources). Also the
// tags of clusters, services and task definitions (TagResource, UntagResource,
// ListTagsForResource).
//
// Thread contract: owned by the control loop; every public method runs on the loop thread,
// checked when it is given the loop.
#ifndef SKIFF_SCHEDULER_CLUSTER_REGISTRY_H_
#define SKIFF_SCHEDULER_CLUSTER_REGISTRY_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "skiff/base/clock.h"
#include "skiff/model/arn.h"
#include "skiff/scheduler/cluster_directory.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/inventory.h"
#include "skiff/scheduler/runtime_health.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/store/store.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

// What DescribeContainerInstances reports about the node besides its resources.
struct NodeInfo {
  std::string agent_version;     // skiffd's version.
  // versionInfo.dockerVersion, e.g. "containerd 1.6.20".
  std::function<std::string()> runtime_version;
  const RuntimeHealth* runtime_health = nullptr;  // agentConnected; null: never connected.
};

class ClusterRegistry {
 public:
  // Every pointer must outlive the registry.
  ClusterRegistry(ClusterDirectory* clusters, const TaskInventory* tasks,
                  ServiceInventory* services, TaskDefinitionRegistry* task_definitions,
                  const Clock* clock, model::ArnScope scope, NodeInfo node,
                  const EventLoop* loop = nullptr);

  absl::StatusOr<v1::CreateClusterResponse> CreateCluster(const v1::CreateClusterRequest& request);
  absl::StatusOr<v1::DescribeClustersResponse> DescribeClusters(
      const v1::DescribeClustersRequest& request);
  absl::StatusOr<v1::ListClustersResponse> ListClusters(const v1::ListClustersRequest& request);
  absl::StatusOr<v1::DeleteClusterResponse> DeleteCluster(const v1::DeleteClusterRequest& request);
  absl::StatusOr<v1::DescribeContainerInstancesResponse> DescribeContainerInstances(
      const v1::DescribeContainerInstancesRequest& request);

  absl::StatusOr<v1::TagResourceResponse> TagResource(const v1::TagResourceRequest& request);
  absl::StatusOr<v1::UntagResourceResponse> UntagResource(const v1::UntagResourceRequest& request);
  absl::StatusOr<v1::ListTagsForResourceResponse> ListTagsForResource(
      const v1::ListTagsForResourceRequest& request);

 private:
  // What a tag operation's resourceArn names.
  struct TaggedResource {
    enum class Kind { kCluster, kService, kTaskDefinition };
    Kind kind = Kind::kCluster;
    std::string cluster;   // kCluster, kService.
    std::string name;      // Service name or task-definition family.
    int revision = 0;      // kTaskDefinition.
  };
  // Tasks of one cluster that should run: RUNNING, and not yet RUNNING.
  struct TaskCounts {
    int running = 0;
    int pending = 0;
    int running_fargate = 0;
    int pending_fargate = 0;
  };
  // Which optional parts of a cluster a response carries (DescribeClusters' include).
  struct ClusterParts {
    bool tags = false;
    bool settings = false;
    bool configurations = false;
    bool statistics = false;
  };

  // The ECS view of a stored cluster with its live counts (all_counts: CountTasks()).
  v1::Cluster View(const store::StoredCluster& record, const ClusterParts& parts,
                   const std::map<std::string, TaskCounts>& all_counts) const;
  // By cluster name, in one pass over the tasks.
  std::map<std::string, TaskCounts> CountTasks() const;
  static TaskCounts CountsOf(const std::map<std::string, TaskCounts>& all,
                             const std::string& cluster);
  v1::ContainerInstance Instance(const store::StoredCluster& record, bool health) const;
  double Now() const;

  // resourceArn of TagResource and friends. `missing` is the ECS exception for a service or
  // task definition that does not exist (it differs by operation).
  absl::StatusOr<TaggedResource> ParseResource(const std::string& arn) const;
  absl::StatusOr<std::vector<v1::Tag>> GetTags(const TaggedResource& resource,
                                               const std::string& arn,
                                               absl::string_view missing) const;
  absl::Status SetTags(const TaggedResource& resource, std::vector<v1::Tag> tags);

  ClusterDirectory* clusters_;
  const TaskInventory* tasks_;
  ServiceInventory* services_;
  TaskDefinitionRegistry* task_definitions_;
  const Clock* clock_;
  model::ArnScope scope_;
  NodeInfo node_;
  const EventLoop* loop_;         // May be null.
  std::string cpu_architecture_;  // ecs.cpu-architecture, from uname.
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_CLUSTER_REGISTRY_H_
