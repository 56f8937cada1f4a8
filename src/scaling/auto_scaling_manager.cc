// AutoScalingManager: scalable targets, loading, and what the decision engine calls. Policies
// are in scaling_policies.cc, scheduled actions in scheduled_actions.cc, the store's records in
// auto_scaling_records.cc.
#include "skiff/scaling/auto_scaling_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "scaling/auto_scaling_errors.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/json_codec.h"
#include "spdlog/spdlog.h"

namespace skiff::scaling {
namespace {

// The role AWS makes for ECS service autoscaling (its service-linked role), shown when
// RegisterScalableTarget names none.
std::string DefaultRoleArn(const model::ArnScope& scope) {
  return absl::StrCat("arn:", scope.partition, ":iam::", scope.account,
                      ":role/aws-service-role/ecs.application-autoscaling.amazonaws.com/"
                      "AWSServiceRoleForApplicationAutoScaling_ECSService");
}

// A SuspendedState with every member that `update` has taken from it, the rest from `current`.
aas::SuspendedState MergeSuspended(const aas::SuspendedState& current,
                                   const aas::SuspendedState& update) {
  aas::SuspendedState out = current;
  if (update.has_dynamic_scaling_in_suspended()) {
    out.set_dynamic_scaling_in_suspended(update.dynamic_scaling_in_suspended());
  }
  if (update.has_dynamic_scaling_out_suspended()) {
    out.set_dynamic_scaling_out_suspended(update.dynamic_scaling_out_suspended());
  }
  if (update.has_scheduled_scaling_suspended()) {
    out.set_scheduled_scaling_suspended(update.scheduled_scaling_suspended());
  }
  return out;
}

}  // namespace

AutoScalingManager::AutoScalingManager(AutoScalingManagerOptions options, store::Store* store,
                                       scheduler::ScalableServices* services, const Clock* clock,
                                       RandomSource* random)
    : options_(std::move(options)),
      store_(store),
      services_(services),
      clock_(clock),
      random_(random) {}

double AutoScalingManager::Now() const {
  return absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch());
}

std::string AutoScalingManager::Arn(absl::string_view kind, const std::string& resource_id,
                                    absl::string_view name_kind, const std::string& name) {
  // arn:aws:autoscaling:REGION:ACCOUNT:scalingPolicy:UUID:resource/ecs/service/C/S:policyName/N
  return absl::StrCat("arn:", options_.scope.partition, ":autoscaling:", options_.scope.region,
                      ":", options_.scope.account, ":", kind, ":", RandomUuid(*random_),
                      ":resource/", kEcsNamespace, "/", resource_id, ":", name_kind, "/", name);
}

void AutoScalingManager::Changed(const std::string& resource_id) {
  for (const auto& listener : change_listeners_) listener(resource_id);
}

const ScalableTargetState* AutoScalingManager::Find(const std::string& resource_id) const {
  auto it = targets_.find(resource_id);
  return it == targets_.end() ? nullptr : &it->second;
}

absl::StatusOr<ScalableTargetState*> AutoScalingManager::Named(
    const std::string& service_namespace, const std::string& resource_id,
    const std::string& dimension) {
  if (service_namespace != kEcsNamespace) {
    return Invalid(absl::StrCat("ServiceNamespace: a Skiff node scales ECS services only "
                                "(ecs); got ", model::QuoteValue(service_namespace)));
  }
  if (dimension != kEcsDesiredCount) {
    return Invalid(absl::StrCat("ScalableDimension: must be ", kEcsDesiredCount,
                                " for ServiceNamespace ecs; got ", model::QuoteValue(dimension)));
  }
  const std::vector<std::string> parts = absl::StrSplit(resource_id, '/');
  if (parts.size() != 3 || parts[0] != "service" || parts[1].empty() || parts[2].empty()) {
    return Invalid(absl::StrCat("ResourceId: must be service/CLUSTER/SERVICE; got ",
                                model::QuoteValue(resource_id)));
  }
  auto it = targets_.find(resource_id);
  return it == targets_.end() ? nullptr : &it->second;
}

absl::StatusOr<ScalableTargetState*> AutoScalingManager::Registered(
    const std::string& service_namespace, const std::string& resource_id,
    const std::string& dimension) {
  SKIFF_ASSIGN_OR_RETURN(ScalableTargetState * target,
                         Named(service_namespace, resource_id, dimension));
  if (target == nullptr) return TargetNotFound(resource_id);
  return target;
}

absl::StatusOr<ScalableTargetState> AutoScalingManager::MakeTarget(
    const aas::RegisterScalableTargetRequest& request, const ScalableTargetState* existing) {
  const std::vector<std::string> parts = absl::StrSplit(request.resource_id(), '/');
  absl::StatusOr<scheduler::ScalableServiceView> service =
      services_->ScalableService(parts[1], parts[2]);
  if (!service.ok() || service->status != "ACTIVE") {
    return Invalid(absl::StrCat("ResourceId: ECS service doesn't exist: ",
                                request.resource_id()));
  }
  ScalableTargetState out;
  if (existing != nullptr) {
    out = *existing;
  } else {
    if (!request.has_min_capacity()) {
      return Invalid("MinCapacity: required when registering a new scalable target");
    }
    if (!request.has_max_capacity()) {
      return Invalid("MaxCapacity: required when registering a new scalable target");
    }
    out.cluster = parts[1];
    out.service = parts[2];
    aas::ScalableTarget& t = out.target;
    t.set_service_namespace(kEcsNamespace);
    t.set_resource_id(request.resource_id());
    t.set_scalable_dimension(kEcsDesiredCount);
    t.set_creation_time(Now());
    t.set_role_arn(DefaultRoleArn(options_.scope));
    t.set_scalable_target_arn(absl::StrCat(
        "arn:", options_.scope.partition, ":application-autoscaling:", options_.scope.region, ":",
        options_.scope.account, ":scalable-target/", RandomHex(*random_, 36)));
    t.mutable_suspended_state()->set_dynamic_scaling_in_suspended(false);
    t.mutable_suspended_state()->set_dynamic_scaling_out_suspended(false);
    t.mutable_suspended_state()->set_scheduled_scaling_suspended(false);
  }
  aas::ScalableTarget& t = out.target;
  if (request.has_min_capacity()) t.set_min_capacity(request.min_capacity());
  if (request.has_max_capacity()) t.set_max_capacity(request.max_capacity());
  if (request.has_role_arn()) t.set_role_arn(request.role_arn());
  if (request.has_suspended_state()) {
    *t.mutable_suspended_state() = MergeSuspended(t.suspended_state(), request.suspended_state());
  }
  if (t.min_capacity() < 0) {
    return Invalid(absl::StrCat("MinCapacity: must not be negative; got ", t.min_capacity()));
  }
  if (t.max_capacity() < 0) {
    return Invalid(absl::StrCat("MaxCapacity: must not be negative; got ", t.max_capacity()));
  }
  if (t.min_capacity() > t.max_capacity()) {
    return Invalid(absl::StrCat("MinCapacity: must not be greater than MaxCapacity (",
                                t.min_capacity(), " > ", t.max_capacity(), ")"));
  }
  return out;
}

absl::StatusOr<aas::RegisterScalableTargetResponse> AutoScalingManager::RegisterScalableTarget(
    const aas::RegisterScalableTargetRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  SKIFF_ASSIGN_OR_RETURN(ScalableTargetState * existing,
                         Named(request.service_namespace(), request.resource_id(),
                               request.scalable_dimension()));
  SKIFF_ASSIGN_OR_RETURN(ScalableTargetState next, MakeTarget(request, existing));
  SKIFF_RETURN_IF_ERROR(PersistTarget(next));
  const std::string id = request.resource_id();
  aas::RegisterScalableTargetResponse response;
  response.set_scalable_target_arn(next.target.scalable_target_arn());
  targets_[id] = std::move(next);
  Changed(id);
  return response;
}

void AutoScalingManager::Deregister(const std::string& resource_id) {
  absl::Status deleted = store_->DeleteAutoscalingObjectsOf(resource_id);
  if (!deleted.ok()) {
    spdlog::error("store: scalable target {}: {}", resource_id, deleted.ToString());
  }
  targets_.erase(resource_id);
  Changed(resource_id);
}

absl::StatusOr<aas::DeregisterScalableTargetResponse>
AutoScalingManager::DeregisterScalableTarget(const aas::DeregisterScalableTargetRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  SKIFF_ASSIGN_OR_RETURN(ScalableTargetState * target,
                         Registered(request.service_namespace(), request.resource_id(),
                                    request.scalable_dimension()));
  // Its policies and scheduled actions go with it, as on AWS.
  Deregister(target->target.resource_id());
  return aas::DeregisterScalableTargetResponse();
}

absl::StatusOr<aas::DescribeScalableTargetsResponse> AutoScalingManager::DescribeScalableTargets(
    const aas::DescribeScalableTargetsRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  if (request.service_namespace() != kEcsNamespace) {
    return Invalid(absl::StrCat("ServiceNamespace: a Skiff node scales ECS services only "
                                "(ecs); got ", model::QuoteValue(request.service_namespace())));
  }
  if (request.resource_ids_size() > 50) {
    return Invalid("ResourceIds: at most 50 resource ids");
  }
  std::vector<const aas::ScalableTarget*> matching;
  for (const auto& [id, state] : targets_) {
    if (request.has_scalable_dimension() && request.scalable_dimension() != kEcsDesiredCount) {
      break;
    }
    if (!request.resource_ids().empty() &&
        std::find(request.resource_ids().begin(), request.resource_ids().end(), id) ==
            request.resource_ids().end()) {
      continue;
    }
    matching.push_back(&state.target);
  }
  aas::DescribeScalableTargetsResponse response;
  SKIFF_RETURN_IF_ERROR(Paginate(
      matching, request.has_max_results(), request.max_results(), 50, request.next_token(),
      [&response](const aas::ScalableTarget* t) { *response.add_scalable_targets() = *t; },
      [&response](std::string token) { response.set_next_token(std::move(token)); }));
  return response;
}

void AutoScalingManager::OnServiceChanged(const store::StoredService& record) {
  // DeleteService makes a service DRAINING: AWS deregisters its scalable target then.
  if (record.service.status() == "ACTIVE") return;
  const std::string id =
      absl::StrCat("service/", record.cluster, "/", record.service.service_name());
  if (targets_.contains(id)) {
    spdlog::info("scalable target {} deregistered: its service was deleted", id);
    Deregister(id);
  }
}

absl::StatusOr<aas::ScalingActivity> AutoScalingManager::RecordActivity(
    const ActivityRecord& record) {
  auto it = targets_.find(record.resource_id);
  if (it == targets_.end()) {
    return absl::NotFoundError(absl::StrCat("no scalable target ", record.resource_id));
  }
  ScalableTargetState& target = it->second;
  aas::ScalingActivity a;
  a.set_activity_id(RandomUuid(*random_));
  a.set_service_namespace(kEcsNamespace);
  a.set_resource_id(record.resource_id);
  a.set_scalable_dimension(kEcsDesiredCount);
  a.set_description(record.description);
  a.set_cause(record.cause);
  a.set_start_time(absl::ToDoubleSeconds(record.start_time - absl::UnixEpoch()));
  if (record.end_time) a.set_end_time(absl::ToDoubleSeconds(*record.end_time - absl::UnixEpoch()));
  a.set_status_code(record.status_code);
  if (!record.status_message.empty()) a.set_status_message(record.status_message);
  if (!record.details.empty()) a.set_details(record.details);
  SKIFF_RETURN_IF_ERROR(PersistActivity(a));
  target.activities.push_front(a);
  while (target.activities.size() > options_.max_activities_per_target) {
    absl::Status dropped =
        store_->DeleteAutoscalingObject("activity", target.activities.back().activity_id());
    if (!dropped.ok()) spdlog::error("store: scaling activity: {}", dropped.ToString());
    target.activities.pop_back();
  }
  return a;
}

absl::Status AutoScalingManager::SetCapacityBounds(const std::string& resource_id,
                                                   int min_capacity, int max_capacity) {
  auto it = targets_.find(resource_id);
  if (it == targets_.end()) {
    return absl::NotFoundError(absl::StrCat("no scalable target ", resource_id));
  }
  if (min_capacity < 0 || min_capacity > max_capacity) {
    return absl::InvalidArgumentError(absl::StrCat("min capacity ", min_capacity,
                                                   " and max capacity ", max_capacity,
                                                   " are not a range"));
  }
  ScalableTargetState next = it->second;
  next.target.set_min_capacity(min_capacity);
  next.target.set_max_capacity(max_capacity);
  SKIFF_RETURN_IF_ERROR(PersistTarget(next));
  it->second = std::move(next);
  Changed(resource_id);
  return absl::OkStatus();
}

absl::Status AutoScalingManager::SaveEngineState(const std::string& resource_id,
                                                 const ScalingEngineState& state) {
  auto it = targets_.find(resource_id);
  if (it == targets_.end()) {
    return absl::NotFoundError(absl::StrCat("no scalable target ", resource_id));
  }
  SKIFF_RETURN_IF_ERROR(PersistEngineState(resource_id, state));
  it->second.engine = state;
  return absl::OkStatus();
}

absl::StatusOr<aas::DescribeScalingActivitiesResponse>
AutoScalingManager::DescribeScalingActivities(
    const aas::DescribeScalingActivitiesRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  if (request.service_namespace() != kEcsNamespace) {
    return Invalid(absl::StrCat("ServiceNamespace: a Skiff node scales ECS services only "
                                "(ecs); got ", model::QuoteValue(request.service_namespace())));
  }
  std::vector<const aas::ScalingActivity*> matching;
  for (const auto& [id, state] : targets_) {
    if (request.has_resource_id() && request.resource_id() != id) continue;
    for (const aas::ScalingActivity& a : state.activities) {
      if (!request.include_not_scaled_activities() && a.not_scaled_reasons_size() > 0) continue;
      matching.push_back(&a);
    }
  }
  std::stable_sort(matching.begin(), matching.end(), [](const auto* a, const auto* b) {
    return a->start_time() > b->start_time();
  });
  aas::DescribeScalingActivitiesResponse response;
  SKIFF_RETURN_IF_ERROR(Paginate(
      matching, request.has_max_results(), request.max_results(), 50, request.next_token(),
      [&response](const aas::ScalingActivity* a) { *response.add_scaling_activities() = *a; },
      [&response](std::string token) { response.set_next_token(std::move(token)); }));
  return response;
}

}  // namespace skiff::scaling
