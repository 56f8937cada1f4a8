#include "skiff/scheduler/cluster_registry.h"

#include "skiff/model/errors.h"

namespace skiff::scheduler {
namespace {

absl::Status NotYet() { return absl::UnimplementedError("not implemented yet"); }

}  // namespace

ClusterRegistry::ClusterRegistry(store::Store* store, TaskManager* tasks, ServiceManager* services,
                                 TaskDefinitionRegistry* task_definitions, const Clock* clock,
                                 model::ArnScope scope, NodeInfo node)
    : store_(store),
      tasks_(tasks),
      services_(services),
      task_definitions_(task_definitions),
      clock_(clock),
      scope_(std::move(scope)),
      node_(std::move(node)) {}

absl::Status ClusterRegistry::Load() { return absl::OkStatus(); }

absl::StatusOr<std::string> ClusterRegistry::Resolve(const std::string& reference) const {
  return model::ParseClusterRef(scope_, reference);
}

absl::StatusOr<v1::CreateClusterResponse> ClusterRegistry::CreateCluster(
    const v1::CreateClusterRequest&) { return NotYet(); }
absl::StatusOr<v1::DescribeClustersResponse> ClusterRegistry::DescribeClusters(
    const v1::DescribeClustersRequest&) { return NotYet(); }
absl::StatusOr<v1::ListClustersResponse> ClusterRegistry::ListClusters(
    const v1::ListClustersRequest&) { return NotYet(); }
absl::StatusOr<v1::DeleteClusterResponse> ClusterRegistry::DeleteCluster(
    const v1::DeleteClusterRequest&) { return NotYet(); }
absl::StatusOr<v1::DescribeContainerInstancesResponse> ClusterRegistry::DescribeContainerInstances(
    const v1::DescribeContainerInstancesRequest&) { return NotYet(); }
absl::StatusOr<v1::TagResourceResponse> ClusterRegistry::TagResource(
    const v1::TagResourceRequest&) { return NotYet(); }
absl::StatusOr<v1::UntagResourceResponse> ClusterRegistry::UntagResource(
    const v1::UntagResourceRequest&) { return NotYet(); }
absl::StatusOr<v1::ListTagsForResourceResponse> ClusterRegistry::ListTagsForResource(
    const v1::ListTagsForResourceRequest&) { return NotYet(); }

}  // namespace skiff::scheduler
