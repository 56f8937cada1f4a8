// ServiceManager as ScalableServices (scalable_services.h): what Application Auto Scaling reads
// of a service, and the desired count it sets as an input of the planner. Same thread contract
// as the rest of the class (loop thread only).
#include "absl/strings/str_cat.h"
#include "skiff/model/errors.h"
#include "skiff/scheduler/service_manager.h"

namespace skiff::scheduler {
namespace {

constexpr int kMaxDesiredCount = 5000;  // As UpdateService's desiredCount (service_queries.cc).

}  // namespace

absl::StatusOr<ScalableServiceView> ServiceManager::ScalableService(const std::string& cluster,
                                                                    const std::string& name) {
  ServiceState* state = Find(Key{cluster, name});
  if (state == nullptr || !Live(state->record.service)) {
    return absl::NotFoundError(absl::StrCat("no service ", name, " in cluster ", cluster));
  }
  const v1::Service& s = state->record.service;
  ScalableServiceView view{.cluster = cluster,
                           .service = name,
                           .service_arn = s.service_arn(),
                           .status = s.status(),
                           .desired_count = s.desired_count(),
                           .running_count = s.running_count(),
                           .pending_count = s.pending_count()};
  const std::string& revision =
      s.deployments_size() > 0 ? s.deployments(0).task_definition() : s.task_definition();
  absl::StatusOr<store::StoredTaskDefinition> definition =
      registry_->Resolve(revision, "taskDefinition");
  if (!definition.ok()) return definition.status();
  view.task_definition = std::move(definition->definition);
  for (const v1::LoadBalancer& lb : s.load_balancers()) {
    if (lb.has_target_group_arn()) view.target_group_arns.push_back(lb.target_group_arn());
  }
  return view;
}

absl::Status ServiceManager::SetDesiredCountForScaling(const std::string& cluster,
                                                       const std::string& name, int count,
                                                       const std::string& cause) {
  const Key key{cluster, name};
  ServiceState* state = Find(key);
  if (state == nullptr || !Live(state->record.service)) {
    return absl::NotFoundError(absl::StrCat("no service ", name, " in cluster ", cluster));
  }
  v1::Service& s = state->record.service;
  if (s.status() != "ACTIVE") {
    return absl::FailedPreconditionError(
        absl::StrCat("service ", name, " is ", s.status(), ", not ACTIVE"));
  }
  if (count < 0 || count > kMaxDesiredCount) {
    return absl::InvalidArgumentError(
        absl::StrCat("desired count must be between 0 and ", kMaxDesiredCount, "; got ", count));
  }
  const int before = s.desired_count();
  if (count == before) return absl::OkStatus();
  s.set_desired_count(count);
  // The PRIMARY deployment follows, as for UpdateService without a new revision: no new
  // deployment starts.
  if (s.deployments_size() > 0) s.mutable_deployments(0)->set_desired_count(count);
  AddEvent(*state, absl::StrCat("(service ", name, ") has updated its desired count from ",
                                before, " to ", count, ": ", cause),
           /*repeat=*/true);
  Save(*state);
  MarkDirty(key);
  return absl::OkStatus();
}

}  // namespace skiff::scheduler
