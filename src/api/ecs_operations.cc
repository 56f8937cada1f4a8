#include "api/ecs_operations.h"

#include <vector>

namespace skiff::api {

OperationTable EcsOperations(const EcsBackends& b) {
  using scheduler::ClusterRegistry;
  using scheduler::ServiceManager;
  using scheduler::TaskDefinitionRegistry;
  using scheduler::TaskManager;
  auto* definitions = b.task_definitions;
  auto* tasks = b.tasks;
  auto* services = b.services;
  auto* clusters = b.clusters;
  return OperationTable(std::vector<Operation>{
      Row("RegisterTaskDefinition", definitions, &TaskDefinitionRegistry::Register),
      Row("DescribeTaskDefinition", definitions, &TaskDefinitionRegistry::Describe),
      Row("ListTaskDefinitions", definitions, &TaskDefinitionRegistry::List),
      Row("ListTaskDefinitionFamilies", definitions, &TaskDefinitionRegistry::ListFamilies),
      Row("DeregisterTaskDefinition", definitions, &TaskDefinitionRegistry::Deregister),
      Row("DeleteTaskDefinitions", definitions, &TaskDefinitionRegistry::Delete),
      Row("RunTask", tasks, &TaskManager::RunTask),
      Row("StopTask", tasks, &TaskManager::StopTask),
      Row("DescribeTasks", tasks, &TaskManager::DescribeTasks),
      Row("ListTasks", tasks, &TaskManager::ListTasks),
      Row("UpdateTaskProtection", tasks, &TaskManager::UpdateTaskProtection),
      Row("GetTaskProtection", tasks, &TaskManager::GetTaskProtection),
      Row("CreateService", services, &ServiceManager::CreateService),
      Row("UpdateService", services, &ServiceManager::UpdateService),
      Row("DeleteService", services, &ServiceManager::DeleteService),
      Row("DescribeServices", services, &ServiceManager::DescribeServices),
      Row("ListServices", services, &ServiceManager::ListServices),
      Row("ListServiceDeployments", services, &ServiceManager::ListServiceDeployments),
      Row("DescribeServiceDeployments", services, &ServiceManager::DescribeServiceDeployments),
      Row("DescribeServiceRevisions", services, &ServiceManager::DescribeServiceRevisions),
      Row("CreateCluster", clusters, &ClusterRegistry::CreateCluster),
      Row("DescribeClusters", clusters, &ClusterRegistry::DescribeClusters),
      Row("ListClusters", clusters, &ClusterRegistry::ListClusters),
      Row("DeleteCluster", clusters, &ClusterRegistry::DeleteCluster),
      Row("DescribeContainerInstances", clusters, &ClusterRegistry::DescribeContainerInstances),
      Row("TagResource", clusters, &ClusterRegistry::TagResource),
      Row("UntagResource", clusters, &ClusterRegistry::UntagResource),
      Row("ListTagsForResource", clusters, &ClusterRegistry::ListTagsForResource),
  });
}

}  // namespace skiff::api
