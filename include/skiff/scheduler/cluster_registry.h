// ClusterRegistry: clusters as ECS has them on one node: logical groups of services and tasks,
// with a `default` cluster that always exists. The node is the one container instance of every
// cluster (DescribeContainerInstances shows its registered and remaining resources). Also the
// tags of clusters, services and task definitions (TagResource, UntagResource,
// ListTagsForResource).
//
// Thread contract: owned by the control loop; every public method runs on the loop thread.
#ifndef SKIFF_SCHEDULER_CLUSTER_REGISTRY_H_
#define SKIFF_SCHEDULER_CLUSTER_REGISTRY_H_

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "skiff/base/clock.h"
#include "skiff/model/arn.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/scheduler/task_manager.h"
#include "skiff/store/store.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

// What DescribeContainerInstances reports about the node besides its resources.
struct NodeInfo {
  std::string agent_version;     // skiffd's version.
  std::function<std::string()> runtime_version;  // versionInfo.dockerVersion, e.g. "containerd 1.6.20".
  std::function<bool()> runtime_connected;       // agentConnected.
};

class ClusterRegistry {
 public:
  ClusterRegistry(store::Store* store, TaskManager* tasks, ServiceManager* services,
                  TaskDefinitionRegistry* task_definitions, const Clock* clock,
                  model::ArnScope scope, NodeInfo node);

  // Loads the stored clusters and creates `default` when it is missing. Call once, before the
  // loop serves requests.
  absl::Status Load();

  // The name of an existing ACTIVE cluster from a name, ARN or "" (default); the ECS error
  // (ClusterNotFoundException, InvalidParameterException) otherwise. TaskManager and
  // ServiceManager use it as their ClusterResolver.
  absl::StatusOr<std::string> Resolve(const std::string& reference) const;

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
  store::Store* store_;
  TaskManager* tasks_;
  ServiceManager* services_;
  TaskDefinitionRegistry* task_definitions_;
  const Clock* clock_;
  model::ArnScope scope_;
  NodeInfo node_;
  std::map<std::string, v1::Cluster> clusters_;  // By name.
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_CLUSTER_REGISTRY_H_
