// AutoScalingManager's records in the store (Store::*AutoscalingObject): each object is the AWS
// JSON of its shape (a target, policy, scheduled action or activity), keyed by kind and by its
// resource id, ARN or activity id; the engine's state is a small JSON object of its own.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "skiff/base/status_macros.h"
#include "skiff/model/json_codec.h"
#include "skiff/scaling/auto_scaling_manager.h"
#include "spdlog/spdlog.h"

namespace skiff::scaling {
namespace {

constexpr char kTarget[] = "target";
constexpr char kPolicy[] = "policy";
constexpr char kScheduledAction[] = "scheduled-action";
constexpr char kActivity[] = "activity";
constexpr char kEngine[] = "engine";

// Stored bodies were checked on the way in; this bound only guards against a damaged row.
constexpr model::JsonLimits kStoredLimits{.max_bytes = 1 << 20, .max_depth = 32};

double Seconds(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : absl::ToDoubleSeconds(t - absl::UnixEpoch());
}
absl::Time FromSeconds(double s) {
  return s == 0 ? absl::InfinitePast() : absl::UnixEpoch() + absl::Seconds(s);
}

template <typename Message>
absl::Status Decode(const store::StoredAutoscalingObject& object, Message* out) {
  absl::Status s = model::DecodeMessageText(object.body, out, kStoredLimits);
  if (!s.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored autoscaling ", object.kind, " ", object.key, ": ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AutoScalingManager::PersistTarget(const ScalableTargetState& state) {
  const std::string& id = state.target.resource_id();
  return store_->PutAutoscalingObject(
      {kTarget, id, id, model::EncodeMessageCompact(state.target)});
}

absl::Status AutoScalingManager::PersistPolicy(const aas::ScalingPolicy& policy) {
  return store_->PutAutoscalingObject({kPolicy, policy.policy_arn(), policy.resource_id(),
                                       model::EncodeMessageCompact(policy)});
}

absl::Status AutoScalingManager::PersistScheduledAction(const aas::ScheduledAction& action) {
  return store_->PutAutoscalingObject({kScheduledAction, action.scheduled_action_arn(),
                                       action.resource_id(),
                                       model::EncodeMessageCompact(action)});
}

absl::Status AutoScalingManager::PersistActivity(const aas::ScalingActivity& activity) {
  return store_->PutAutoscalingObject({kActivity, activity.activity_id(), activity.resource_id(),
                                       model::EncodeMessageCompact(activity)});
}

absl::Status AutoScalingManager::PersistEngineState(const std::string& resource_id,
                                                    const ScalingEngineState& state) {
  const nlohmann::ordered_json body = {{"lastScaleOut", Seconds(state.last_scale_out)},
                                       {"lastScaleIn", Seconds(state.last_scale_in)},
                                       {"extra", state.extra}};
  return store_->PutAutoscalingObject({kEngine, resource_id, resource_id, body.dump()});
}

absl::Status AutoScalingManager::LoadObject(const store::StoredAutoscalingObject& object) {
  if (object.kind == kTarget) {
    ScalableTargetState& state = targets_[object.resource];
    SKIFF_RETURN_IF_ERROR(Decode(object, &state.target));
    const std::vector<std::string> parts = absl::StrSplit(object.resource, '/');
    if (parts.size() == 3) state.cluster = parts[1], state.service = parts[2];
    return absl::OkStatus();
  }
  auto it = targets_.find(object.resource);
  if (it == targets_.end()) {
    // Written for a target whose row is gone (a crash between deletes): nothing owns it.
    return store_->DeleteAutoscalingObject(object.kind, object.key);
  }
  ScalableTargetState& state = it->second;
  if (object.kind == kPolicy) {
    aas::ScalingPolicy policy;
    SKIFF_RETURN_IF_ERROR(Decode(object, &policy));
    state.policies[policy.policy_name()] = std::move(policy);
  } else if (object.kind == kScheduledAction) {
    aas::ScheduledAction action;
    SKIFF_RETURN_IF_ERROR(Decode(object, &action));
    state.scheduled_actions[action.scheduled_action_name()] = std::move(action);
  } else if (object.kind == kActivity) {
    SKIFF_RETURN_IF_ERROR(Decode(object, &state.activities.emplace_back()));
  } else if (object.kind == kEngine) {
    absl::StatusOr<nlohmann::ordered_json> body = model::ParseJsonText(object.body, kStoredLimits);
    if (!body.ok() || !body->is_object()) {
      return absl::DataLossError(absl::StrCat("stored autoscaling engine state ", object.key));
    }
    state.engine.last_scale_out = FromSeconds(body->value("lastScaleOut", 0.0));
    state.engine.last_scale_in = FromSeconds(body->value("lastScaleIn", 0.0));
    state.engine.extra = body->value("extra", std::string());
  }
  return absl::OkStatus();
}

absl::Status AutoScalingManager::Load() {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::StoredAutoscalingObject> objects,
                         store_->LoadAutoscalingObjects());
  // Targets first: the other kinds belong to one.
  std::stable_partition(objects.begin(), objects.end(),
                        [](const auto& o) { return o.kind == kTarget; });
  for (const store::StoredAutoscalingObject& object : objects) {
    SKIFF_RETURN_IF_ERROR(LoadObject(object));
  }
  for (auto& [id, state] : targets_) {
    std::stable_sort(state.activities.begin(), state.activities.end(),
                     [](const auto& a, const auto& b) { return a.start_time() > b.start_time(); });
  }
  services_->AddListener([this](const store::StoredService& record) { OnServiceChanged(record); });
  spdlog::info("loaded {} scalable targets from the store", targets_.size());
  return absl::OkStatus();
}

}  // namespace skiff::scaling
