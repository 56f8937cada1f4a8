// AutoScalingManager's scheduled actions; their schedules are checked by the engine's parser.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "scaling/auto_scaling_errors.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/json_codec.h"
#include "skiff/scaling/auto_scaling_manager.h"
#include "skiff/scaling/schedule.h"

namespace skiff::scaling {
namespace {

// The schedule's own check (the engine's parser, so that what is accepted is what fires), its
// message under the member's name.
// The time zone and StartTime/EndTime are checked before, with messages of their own.
absl::Status CheckSchedule(const aas::ScheduledAction& action) {
  absl::StatusOr<Schedule> schedule = Schedule::Parse(action.schedule(), action.timezone());
  if (schedule.ok()) return absl::OkStatus();
  return Invalid(absl::StrCat("Schedule: ", schedule.status().message()));
}

}  // namespace

absl::StatusOr<aas::ScheduledAction> AutoScalingManager::MakeScheduledAction(
    const aas::PutScheduledActionRequest& request, const ScalableTargetState& target) {
  aas::ScheduledAction action;
  auto existing = target.scheduled_actions.find(request.scheduled_action_name());
  if (existing != target.scheduled_actions.end()) {
    action = existing->second;  // An update changes what the request gives.
  } else {
    if (!request.has_schedule()) {
      return Invalid("Schedule: required when creating a scheduled action");
    }
    action.set_scheduled_action_name(request.scheduled_action_name());
    action.set_scheduled_action_arn(Arn("scheduledAction", request.resource_id(),
                                        "scheduledActionName", request.scheduled_action_name()));
    action.set_service_namespace(kEcsNamespace);
    action.set_resource_id(request.resource_id());
    action.set_scalable_dimension(kEcsDesiredCount);
    action.set_creation_time(Now());
  }
  if (request.has_schedule()) action.set_schedule(request.schedule());
  if (request.has_timezone()) action.set_timezone(request.timezone());
  if (request.has_start_time()) action.set_start_time(request.start_time());
  if (request.has_end_time()) action.set_end_time(request.end_time());
  if (request.has_scalable_target_action()) {
    *action.mutable_scalable_target_action() = request.scalable_target_action();
  }
  absl::TimeZone zone;
  if (action.has_timezone() && !absl::LoadTimeZone(action.timezone(), &zone)) {
    return Invalid(absl::StrCat("Timezone: not a time zone of the IANA database (such as "
                                "Europe/Paris); got ", model::QuoteValue(action.timezone())));
  }
  if (action.has_start_time() && action.has_end_time() &&
      action.start_time() >= action.end_time()) {
    return Invalid("StartTime: must be before EndTime");
  }
  SKIFF_RETURN_IF_ERROR(CheckSchedule(action));
  const aas::ScalableTargetAction& bounds = action.scalable_target_action();
  if (!bounds.has_min_capacity() && !bounds.has_max_capacity()) {
    return Invalid("ScalableTargetAction: needs MinCapacity, MaxCapacity or both");
  }
  if ((bounds.has_min_capacity() && bounds.min_capacity() < 0) ||
      (bounds.has_max_capacity() && bounds.max_capacity() < 0)) {
    return Invalid("ScalableTargetAction: capacities must not be negative");
  }
  if (bounds.has_min_capacity() && bounds.has_max_capacity() &&
      bounds.min_capacity() > bounds.max_capacity()) {
    return Invalid(absl::StrCat("ScalableTargetAction.MinCapacity: must not be greater than "
                                "MaxCapacity (", bounds.min_capacity(), " > ",
                                bounds.max_capacity(), ")"));
  }
  return action;
}

absl::StatusOr<aas::PutScheduledActionResponse> AutoScalingManager::PutScheduledAction(
    const aas::PutScheduledActionRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  if (request.scheduled_action_name().size() > 256) {
    return Invalid("ScheduledActionName: at most 256 characters");
  }
  SKIFF_ASSIGN_OR_RETURN(ScalableTargetState * target,
                         Registered(request.service_namespace(), request.resource_id(),
                                    request.scalable_dimension()));
  SKIFF_ASSIGN_OR_RETURN(aas::ScheduledAction action, MakeScheduledAction(request, *target));
  SKIFF_RETURN_IF_ERROR(PersistScheduledAction(action));
  target->scheduled_actions[request.scheduled_action_name()] = std::move(action);
  Changed(request.resource_id());
  return aas::PutScheduledActionResponse();
}

absl::StatusOr<aas::DeleteScheduledActionResponse> AutoScalingManager::DeleteScheduledAction(
    const aas::DeleteScheduledActionRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  SKIFF_ASSIGN_OR_RETURN(ScalableTargetState * target,
                         Named(request.service_namespace(), request.resource_id(),
                               request.scalable_dimension()));
  const absl::Status missing = ObjectNotFound(absl::StrCat(
      "No scheduled action found for service namespace: ecs, resource ID: ",
      request.resource_id(), ", scalable dimension: ", kEcsDesiredCount,
      ", scheduled action name: ", request.scheduled_action_name()));
  if (target == nullptr) return missing;
  auto it = target->scheduled_actions.find(request.scheduled_action_name());
  if (it == target->scheduled_actions.end()) return missing;
  SKIFF_RETURN_IF_ERROR(
      store_->DeleteAutoscalingObject("scheduled-action", it->second.scheduled_action_arn()));
  target->scheduled_actions.erase(it);
  Changed(request.resource_id());
  return aas::DeleteScheduledActionResponse();
}

absl::StatusOr<aas::DescribeScheduledActionsResponse>
AutoScalingManager::DescribeScheduledActions(const aas::DescribeScheduledActionsRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  if (request.service_namespace() != kEcsNamespace) {
    return Invalid(absl::StrCat("ServiceNamespace: a Skiff node scales ECS services only "
                                "(ecs); got ", model::QuoteValue(request.service_namespace())));
  }
  const auto& names = request.scheduled_action_names();
  if (names.size() > 50) return Invalid("ScheduledActionNames: at most 50 names");
  const std::vector<const aas::ScheduledAction*> matching = MembersNamed(
      targets_, ResourceIdOf(request), names, &ScalableTargetState::scheduled_actions);
  aas::DescribeScheduledActionsResponse response;
  SKIFF_RETURN_IF_ERROR(Paginate(
      matching, request.has_max_results(), request.max_results(), 50, request.next_token(),
      [&response](const aas::ScheduledAction* a) { *response.add_scheduled_actions() = *a; },
      [&response](std::string token) { response.set_next_token(std::move(token)); }));
  return response;
}

}  // namespace skiff::scaling
