// AutoScalingManager's scheduled actions, and the syntax of their schedules.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "scaling/auto_scaling_errors.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/json_codec.h"
#include "skiff/scaling/auto_scaling_manager.h"

namespace skiff::scaling {
namespace {

absl::Status BadSchedule(const std::string& schedule, absl::string_view why) {
  return Invalid(absl::StrCat("Schedule: ", why, "; got ", model::QuoteValue(schedule)));
}

// The body of "name(body)", or none.
std::optional<std::string> Body(const std::string& schedule, absl::string_view name) {
  absl::string_view s = schedule;
  if (!absl::ConsumePrefix(&s, name) || !absl::ConsumePrefix(&s, "(") ||
      !absl::ConsumeSuffix(&s, ")")) {
    return std::nullopt;
  }
  return std::string(s);
}

absl::Status CheckAt(const std::string& schedule, const std::string& body) {
  absl::Time t;
  std::string error;
  if (body.size() != 19 || !absl::ParseTime("%Y-%m-%dT%H:%M:%S", body, &t, &error)) {
    return BadSchedule(schedule, "at() takes a date and time, at(yyyy-mm-ddThh:mm:ss)");
  }
  return absl::OkStatus();
}

absl::Status CheckRate(const std::string& schedule, const std::string& body) {
  const std::vector<std::string> parts = absl::StrSplit(body, ' ');
  int value = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &value) || value < 1) {
    return BadSchedule(schedule, "rate() takes a positive whole number and a unit, as in "
                                 "rate(5 minutes)");
  }
  static constexpr absl::string_view kUnits[] = {"minute", "hour", "day"};
  for (absl::string_view unit : kUnits) {
    // "1 minute", "5 minutes": the singular for 1 only, as EventBridge wants it.
    if (parts[1] == unit && value == 1) return absl::OkStatus();
    if (parts[1] == absl::StrCat(unit, "s") && value > 1) return absl::OkStatus();
  }
  return BadSchedule(schedule, "rate()'s unit is minute, minutes, hour, hours, day or days "
                               "(singular for 1)");
}

// One cron field: characters that its kind allows (the engine's parser checks the values).
bool CronFieldChars(const std::string& field, absl::string_view extra) {
  return !field.empty() && std::all_of(field.begin(), field.end(), [extra](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '*' || c == ',' ||
           c == '-' || c == '/' || absl::StrContains(extra, c);
  });
}

absl::Status CheckCron(const std::string& schedule, const std::string& body) {
  const std::vector<std::string> fields = absl::StrSplit(body, ' ', absl::SkipEmpty());
  if (fields.size() != 6) {
    return BadSchedule(schedule, "cron() takes 6 fields: minutes hours day-of-month month "
                                 "day-of-week year");
  }
  static constexpr absl::string_view kExtra[] = {"", "", "?LW", "", "?L#", ""};
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!CronFieldChars(fields[i], kExtra[i])) {
      return BadSchedule(schedule, absl::StrCat("cron() field ", i + 1, " (",
                                                model::QuoteValue(fields[i]),
                                                ") is not a cron field"));
    }
  }
  // EventBridge's rule: one of day-of-month and day-of-week is '?'.
  if ((fields[2] == "?") == (fields[4] == "?")) {
    return BadSchedule(schedule, "cron() needs '?' in exactly one of day-of-month and "
                                 "day-of-week");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckScheduleSyntax(const std::string& schedule) {
  if (auto body = Body(schedule, "at")) return CheckAt(schedule, *body);
  if (auto body = Body(schedule, "rate")) return CheckRate(schedule, *body);
  if (auto body = Body(schedule, "cron")) return CheckCron(schedule, *body);
  return BadSchedule(schedule, "must be at(...), rate(...) or cron(...)");
}

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
  SKIFF_RETURN_IF_ERROR(CheckScheduleSyntax(action.schedule()));
  absl::TimeZone zone;
  if (action.has_timezone() && !absl::LoadTimeZone(action.timezone(), &zone)) {
    return Invalid(absl::StrCat("Timezone: not a time zone of the IANA database (such as "
                                "Europe/Paris); got ", model::QuoteValue(action.timezone())));
  }
  if (action.has_start_time() && action.has_end_time() &&
      action.start_time() >= action.end_time()) {
    return Invalid("StartTime: must be before EndTime");
  }
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
  std::vector<const aas::ScheduledAction*> matching;
  for (const auto& [id, state] : targets_) {
    if (request.has_resource_id() && request.resource_id() != id) continue;
    for (const auto& [name, action] : state.scheduled_actions) {
      if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
      matching.push_back(&action);
    }
  }
  aas::DescribeScheduledActionsResponse response;
  SKIFF_RETURN_IF_ERROR(Paginate(
      matching, request.has_max_results(), request.max_results(), 50, request.next_token(),
      [&response](const aas::ScheduledAction* a) { *response.add_scheduled_actions() = *a; },
      [&response](std::string token) { response.set_next_token(std::move(token)); }));
  return response;
}

}  // namespace skiff::scaling
