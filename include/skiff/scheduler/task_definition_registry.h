// TaskDefinitionRegistry: the ECS task-definition operations (register, describe, list, list
// families, deregister, delete) over the store. Revisions count up per family and are never
// reused, not even once deleted; deregistration only marks a revision INACTIVE.
//
// Deletion has two steps, as on ECS: DeleteTaskDefinitions moves INACTIVE revisions to
// DELETE_IN_PROGRESS (still described and listed, refused to new tasks and services: see
// ResolveForNewUse), and Purge removes such a revision for good once nothing uses it. What
// "uses" means is the TaskDefinitionCollector's business (task_definition_collector.h), which
// hears of new deletions through AddDeletionListener.
//
// Thread contract: owned by the control loop; every method runs on the loop thread (it uses the
// store, which has one owner), checked when it is given the loop. Errors carry the ECS exception
// name (model/errors.h).
#ifndef SKIFF_SCHEDULER_TASK_DEFINITION_REGISTRY_H_
#define SKIFF_SCHEDULER_TASK_DEFINITION_REGISTRY_H_

#include <functional>
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
  // 1 to 10 revisions (family:revision or ARN). Each INACTIVE or DELETE_IN_PROGRESS one is
  // answered DELETE_IN_PROGRESS; the others (no revision named, no such revision, ACTIVE) are
  // failures with a reason and a detail. An empty or longer list is a ClientException.
  absl::StatusOr<v1::DeleteTaskDefinitionsResponse> Delete(
      const v1::DeleteTaskDefinitionsRequest& request);

  // Called on the loop after Delete moved at least one revision to DELETE_IN_PROGRESS.
  void AddDeletionListener(std::function<void()> listener) {
    deletion_listeners_.push_back(std::move(listener));
  }
  // The ARNs of the revisions that are DELETE_IN_PROGRESS, in family and revision order.
  absl::StatusOr<std::vector<std::string>> DeleteInProgress();
  // Removes a DELETE_IN_PROGRESS revision (by ARN) for good; the caller has checked that
  // nothing uses it. FailedPrecondition when it is in another status, NotFound when it is gone.
  absl::Status Purge(const std::string& arn);

  // The definition a reference names ("web", "web:3", or an ARN); without a revision the latest
  // ACTIVE one. For later callers such as RunTask and CreateService.
  absl::StatusOr<store::StoredTaskDefinition> Resolve(absl::string_view reference,
                                                      absl::string_view field);
  // Resolve for something new made of the revision (RunTask, CreateService, UpdateService to
  // it): a DELETE_IN_PROGRESS revision is a ClientException naming `field`. What already runs
  // it (a service's own deployments and replacements) uses Resolve.
  absl::StatusOr<store::StoredTaskDefinition> ResolveForNewUse(absl::string_view reference,
                                                               absl::string_view field);
  // The check of ResolveForNewUse, on a revision resolved already.
  static absl::Status CheckNewUse(const v1::TaskDefinition& definition, absl::string_view field);

  // The tags of one revision, for the cluster registry's tag operations. NotFound (with no ECS
  // exception name: the caller picks the one of its operation) when the revision does not exist.
  absl::StatusOr<std::vector<v1::Tag>> Tags(const std::string& family, int revision);
  absl::Status SetTags(const std::string& family, int revision, const std::vector<v1::Tag>& tags);

 private:
  // One reference of a Delete: into the response's taskDefinitions or failures.
  absl::Status DeleteOne(const std::string& reference, v1::DeleteTaskDefinitionsResponse* out);

  store::Store* store_;
  const Clock* clock_;
  model::ArnScope scope_;
  const EventLoop* loop_;  // May be null.
  std::vector<std::function<void()>> deletion_listeners_;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_TASK_DEFINITION_REGISTRY_H_
