// The rows of the ECS API (AWS target prefix AmazonEC2ContainerServiceV20141113, gRPC service
// skiff.v1.Ecs): every operation skiffd serves, bound to the scheduler's objects. Private to the
// api component.
#ifndef SKIFF_SRC_API_ECS_OPERATIONS_H_
#define SKIFF_SRC_API_ECS_OPERATIONS_H_

#include "api/operation_table.h"
#include "skiff/scheduler/cluster_registry.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::api {

// The objects the rows call, on the loop; they outlive the table.
struct EcsBackends {
  scheduler::TaskDefinitionRegistry* task_definitions;
  scheduler::TaskManager* tasks;
  scheduler::ServiceManager* services;
  scheduler::ClusterRegistry* clusters;
};

OperationTable EcsOperations(const EcsBackends& b);

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_ECS_OPERATIONS_H_
