// TaskDefinitionRegistry: the ECS task-definition operations (register, describe, list, list
// families, deregister) over the store. Revisions count up per family and are never reused;
// deregistration only marks a revision INACTIVE.
//
// Thread contract: owned by the control loop; every method runs on the loop thread (it uses the
// store, which has one owner), checked when it is given the loop. Errors carry the ECS exception name (model/errors.h).
#ifndef SKIFF_SCHEDULER_TASK_DEFINITION_REGISTRY_H_
#define SKIFF_SCHEDULER_TASK_DEFINITION_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "skiff/base/clock.h"
#include "skiff/model/arn.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/store/store.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

class TaskDefinitionRegistry {
 public:
  // `loop`: the loop that owns it, for the thread checks; null in tests that have none.
  TaskDefinitionRegistry(store::Store* store, const Clock* clock, model::ArnScope scope,
                         const EventLoop* loop = nullptr);

  absl::StatusOr<v1::RegisterTaskDefinitionResponse> Register(
      const v1::RegisterTaskDefinitionRequest& request);
  absl::StatusOr<v1::DescribeTaskDefinitionResponse> Describe(
      const v1::DescribeTaskDefinitionRequest& request);
  absl::StatusOr<v1::ListTaskDefinitionsResponse> List(
      const v1::ListTaskDefinitionsRequest& request);
  absl::StatusOr<v1::ListTaskDefinitionFamiliesResponse> ListFamilies(
      const v1::ListTaskDefinitionFamiliesRequest& request);
  absl::StatusOr<v1::DeregisterTaskDefinitionResponse> Deregister(
      const v1::DeregisterTaskDefinitionRequest& request);

  // The definition a reference names ("web", "web:3", or an ARN); without a revision the latest
  // ACTIVE one. For later callers such as RunTask and CreateService.
  absl::StatusOr<store::StoredTaskDefinition> Resolve(absl::string_view reference,
                                                      absl::string_view field);

  // The tags of one revision, for the cluster registry's tag operations. NotFound (with no ECS
  // exception name: the caller picks the one of its operation) when the revision does not exist.
  absl::StatusOr<std::vector<v1::Tag>> Tags(const std::string& family, int revision);
  absl::Status SetTags(const std::string& family, int revision, const std::vector<v1::Tag>& tags);

 private:
  store::Store* store_;
  const Clock* clock_;
  model::ArnScope scope_;
  const EventLoop* loop_;  // May be null.
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_TASK_DEFINITION_REGISTRY_H_
