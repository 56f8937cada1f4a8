#include "skiff/scaling/scaling_controller.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "skiff/scaling/schedule.h"
#include "spdlog/spdlog.h"

namespace skiff::scaling {
namespace {

constexpr char kTargetTracking[] = "TargetTrackingScaling";
// The members of ScalingEngineState::extra that the controller owns.
constexpr char kScaleOutCapacity[] = "scale_out_capacity";
constexpr char kScheduleChecked[] = "schedule_checked";

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }
absl::Time FromSeconds(double s) { return absl::UnixEpoch() + absl::Seconds(s); }

nlohmann::json ExtraOf(const ScalingEngineState& state) {
  nlohmann::json extra = nlohmann::json::parse(state.extra, nullptr, /*allow_exceptions=*/false);
  return extra.is_object() ? extra : nlohmann::json::object();
}

AutoscalerState EngineStateOf(const ScalingEngineState& stored) {
  AutoscalerState out{.last_scale_out_at = stored.last_scale_out,
                      .last_scale_in_at = stored.last_scale_in};
  const nlohmann::json extra = ExtraOf(stored);
  if (auto it = extra.find(kScaleOutCapacity); it != extra.end() && it->is_number_integer()) {
    out.last_scale_out_capacity = it->get<int>();
  }
  return out;
}

// When scheduled actions of the target last ran; InfinitePast when never.
absl::Time ScheduleCheckedOf(const ScalingEngineState& stored) {
  const nlohmann::json extra = ExtraOf(stored);
  auto it = extra.find(kScheduleChecked);
  return it != extra.end() && it->is_number() ? FromSeconds(it->get<double>())
                                              : absl::InfinitePast();
}

ScalingEngineState WithEngineState(ScalingEngineState stored, const AutoscalerState& engine) {
  nlohmann::json extra = ExtraOf(stored);
  extra[kScaleOutCapacity] = engine.last_scale_out_capacity;
  stored.last_scale_out = engine.last_scale_out_at;
  stored.last_scale_in = engine.last_scale_in_at;
  stored.extra = extra.dump();
  return stored;
}

ScalingEngineState WithScheduleChecked(ScalingEngineState stored, absl::Time checked) {
  nlohmann::json extra = ExtraOf(stored);
  extra[kScheduleChecked] = Seconds(checked);
  stored.extra = extra.dump();
  return stored;
}

ScalableTarget EngineTargetOf(const ScalableTargetState& state) {
  const aas::SuspendedState& s = state.target.suspended_state();
  return {.resource_id = state.target.resource_id(),
          .min_capacity = state.target.min_capacity(),
          .max_capacity = state.target.max_capacity(),
          .suspended = {.dynamic_scaling_in_suspended = s.dynamic_scaling_in_suspended(),
                        .dynamic_scaling_out_suspended = s.dynamic_scaling_out_suspended(),
                        .scheduled_scaling_suspended = s.scheduled_scaling_suspended()}};
}

std::vector<TargetTrackingPolicy> EnginePoliciesOf(const ScalableTargetState& state) {
  std::vector<TargetTrackingPolicy> out;
  for (const auto& entry : state.policies) {
    const aas::ScalingPolicy& policy = entry.second;
    if (policy.policy_type() != kTargetTracking) continue;
    const aas::TargetTrackingScalingPolicyConfiguration& c =
        policy.target_tracking_scaling_policy_configuration();
    std::optional<MetricKind> kind =
        MetricKindFromName(c.predefined_metric_specification().predefined_metric_type());
    if (!kind) continue;  // The API accepts no other; a damaged row decides nothing.
    out.push_back({.name = policy.policy_name(),
                   .metric = *kind,
                   .target_value = c.target_value(),
                   .scale_out_cooldown = c.has_scale_out_cooldown()
                                             ? absl::Seconds(c.scale_out_cooldown())
                                             : kDefaultCooldown,
                   .scale_in_cooldown = c.has_scale_in_cooldown()
                                            ? absl::Seconds(c.scale_in_cooldown())
                                            : kDefaultCooldown,
                   .disable_scale_in = c.disable_scale_in()});
  }
  return out;
}

// The schedule of `action`, or an error for one the API should not have taken.
absl::StatusOr<Schedule> ScheduleOf(const aas::ScheduledAction& action) {
  ScheduleBounds bounds{.anchor = FromSeconds(action.creation_time())};
  if (action.has_start_time()) bounds.start_time = FromSeconds(action.start_time());
  if (action.has_end_time()) bounds.end_time = FromSeconds(action.end_time());
  return Schedule::Parse(action.schedule(), action.timezone(), bounds);
}

// When `action` fires next after the target's last run (and after it was put: an occurrence
// from before it existed is not one of its own).
std::optional<absl::Time> NextDueOf(const aas::ScheduledAction& action, absl::Time checked) {
  absl::StatusOr<Schedule> schedule = ScheduleOf(action);
  if (!schedule.ok()) return std::nullopt;
  return schedule->NextAfter(std::max(checked, FromSeconds(action.creation_time())));
}

std::vector<std::string> TargetIds(const AutoScalingManager& manager) {
  std::vector<std::string> ids;
  for (const auto& entry : manager.targets()) ids.push_back(entry.first);
  return ids;
}

}  // namespace

ScalingController::ScalingController(ScalingControllerOptions options,
                                     scheduler::EventLoop* loop, AutoScalingManager* manager,
                                     scheduler::ScalableServices* services,
                                     ScalingMetrics* metrics, const Clock* clock)
    : options_(options),
      loop_(loop),
      manager_(manager),
      services_(services),
      metrics_(metrics),
      clock_(clock) {}

ScalingController::~ScalingController() = default;

void ScalingController::Start() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  schedule_timer_ = loop_->CreateTimer([this] { RunScheduledActions(); });
  manager_->AddChangeListener([this](const std::string& id) { OnTargetChanged(id); });
  ArmScheduleTimer();
}

void ScalingController::OnTargetChanged(const std::string& resource_id) {
  // A deregistered target's history goes with it: registered again, it starts afresh.
  if (manager_->Find(resource_id) == nullptr) {
    engines_.erase(resource_id);
    failing_.erase(resource_id);
  }
  if (schedule_timer_ != nullptr) ArmScheduleTimer();
}

void ScalingController::OnStatsRound() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  for (auto it = engines_.begin(); it != engines_.end();) {
    it = manager_->Find(it->first) == nullptr ? engines_.erase(it) : std::next(it);
  }
  std::erase_if(failing_, [this](const auto& entry) {
    return manager_->Find(entry.first) == nullptr;
  });
  // By id: applying a decision may change the manager's map (a service listener).
  for (const std::string& id : TargetIds(*manager_)) {
    if (const ScalableTargetState* target = manager_->Find(id)) Evaluate(*target);
  }
}

void ScalingController::Evaluate(const ScalableTargetState& target) {
  absl::StatusOr<scheduler::ScalableServiceView> service =
      services_->ScalableService(target.cluster, target.service);
  // A deleted service (DRAINING) loses its target; until then it is not scaled.
  if (!service.ok() || service->status != "ACTIVE") return;
  const absl::Time now = clock_->Now();
  const ServiceUtilization utilization = metrics_->UtilizationOf(target.cluster, target.service);
  Sample sample{.at = now,
                .desired_count = service->desired_count,
                .running_count = service->running_count,
                .metrics = {.cpu_utilization = utilization.cpu_percent,
                            .memory_utilization = utilization.memory_percent}};
  if (!service->target_group_arns.empty()) {
    sample.metrics.requests_per_target = metrics_->RequestsPerTarget(service->target_group_arns);
  }
  const std::string& id = target.target.resource_id();
  auto engine = engines_.find(id);
  if (engine == engines_.end()) {
    const AutoscalerOptions options{.scale_out_tolerance = options_.scale_out_tolerance,
                                    .max_sample_gap = 3 * options_.stats_interval};
    engine = engines_.emplace(id, Autoscaler(options)).first;
  }
  std::optional<ScalingDecision> decision =
      engine->second.Evaluate(EngineTargetOf(target), EnginePoliciesOf(target),
                              EngineStateOf(target.engine), sample);
  if (decision) Apply(target, *decision, now);
}

bool ScalingController::Apply(const ScalableTargetState& target, const ScalingDecision& decision,
                              absl::Time now) {
  // Copies: the calls below may change the manager's records that `target` refers to.
  const std::string id = target.target.resource_id();
  const ScalingEngineState stored = target.engine;
  const int count = decision.new_desired_count;
  const absl::Status set =
      services_->SetDesiredCountForScaling(target.cluster, target.service, count, decision.cause);
  ActivityRecord record{.resource_id = id,
                        .description = decision.description,
                        .cause = decision.cause,
                        .start_time = now,
                        .end_time = now};
  bool repeated = false;
  if (set.ok()) {
    failing_.erase(id);
    record.status_message = absl::StrCat("Successfully set desired count to ", count,
                                         ". Change successfully fulfilled by ecs.");
    spdlog::info("autoscaling {}: {} ({})", id, decision.description, decision.cause);
  } else {
    // The engine decides again on the next sample: the state it would start is not kept.
    record.status_code = "Failed";
    record.status_message =
        absl::StrCat("Failed to set desired count to ", count, ". Reason: ", set.message());
    auto [it, first] = failing_.try_emplace(id, record.status_message);
    repeated = !first && it->second == record.status_message;
    it->second = record.status_message;
    if (!repeated) spdlog::warn("autoscaling {}: {}", id, record.status_message);
  }
  if (!repeated) {
    if (absl::StatusOr<aas::ScalingActivity> a = manager_->RecordActivity(record); !a.ok()) {
      spdlog::error("autoscaling {}: cannot record the activity: {}", id,
                    a.status().ToString());
    }
  }
  if (!set.ok()) return false;
  if (decision.state_after != EngineStateOf(stored)) {
    absl::Status saved =
        manager_->SaveEngineState(id, WithEngineState(stored, decision.state_after));
    if (!saved.ok()) spdlog::error("autoscaling {}: {}", id, saved.ToString());
  }
  return true;
}

std::optional<absl::Time> ScalingController::NextDue(const ScalableTargetState& target) const {
  std::optional<absl::Time> earliest;
  const absl::Time checked = ScheduleCheckedOf(target.engine);
  for (const auto& entry : target.scheduled_actions) {
    std::optional<absl::Time> due = NextDueOf(entry.second, checked);
    if (due && (!earliest || *due < *earliest)) earliest = due;
  }
  return earliest;
}

void ScalingController::ArmScheduleTimer() {
  next_run_ = absl::InfiniteFuture();
  for (const auto& entry : manager_->targets()) {
    std::optional<absl::Time> due = NextDue(entry.second);
    if (due) next_run_ = std::min(next_run_, *due);
  }
  if (next_run_ == absl::InfiniteFuture()) {
    schedule_timer_->Disable();
    return;
  }
  const absl::Duration wait = next_run_ - clock_->Now();
  schedule_timer_->Enable(std::clamp(wait, absl::ZeroDuration(), options_.max_schedule_sleep));
}

void ScalingController::RunScheduledActions() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  const absl::Time now = clock_->Now();
  for (const std::string& id : TargetIds(*manager_)) RunScheduledActionsOf(id, now);
  ArmScheduleTimer();
}

void ScalingController::RunScheduledActionsOf(const std::string& resource_id, absl::Time now) {
  const ScalableTargetState* target = manager_->Find(resource_id);
  if (target == nullptr) return;
  const absl::Time checked = ScheduleCheckedOf(target->engine);
  std::vector<std::pair<absl::Time, std::string>> due;
  for (const auto& [name, action] : target->scheduled_actions) {
    std::optional<absl::Time> at = NextDueOf(action, checked);
    if (at && *at <= now) due.emplace_back(*at, name);
  }
  if (due.empty()) return;
  std::sort(due.begin(), due.end());  // The earliest first: the latest bounds win.
  for (const auto& entry : due) {
    if (!RunScheduledAction(resource_id, entry.second, now)) break;
  }
  // Persisted: after a restart, these occurrences are not run again.
  target = manager_->Find(resource_id);
  if (target == nullptr) return;
  absl::Status saved =
      manager_->SaveEngineState(resource_id, WithScheduleChecked(target->engine, now));
  if (!saved.ok()) spdlog::error("autoscaling {}: {}", resource_id, saved.ToString());
}

// False when the target is gone.
bool ScalingController::RunScheduledAction(const std::string& resource_id,
                                           const std::string& name, absl::Time now) {
  const ScalableTargetState* target = manager_->Find(resource_id);
  if (target == nullptr) return false;
  // AWS skips the action while ScheduledScalingSuspended: nothing is recorded or retried.
  if (target->target.suspended_state().scheduled_scaling_suspended()) return true;
  const aas::ScalableTargetAction& bounds =
      target->scheduled_actions.at(name).scalable_target_action();
  ScheduledActionInput input{.name = name};
  if (bounds.has_min_capacity()) input.min_capacity = bounds.min_capacity();
  if (bounds.has_max_capacity()) input.max_capacity = bounds.max_capacity();
  absl::StatusOr<scheduler::ScalableServiceView> service =
      services_->ScalableService(target->cluster, target->service);
  const int desired = service.ok() ? service->desired_count : 0;
  absl::StatusOr<ScheduledActionOutcome> outcome = ApplyScheduledAction(
      EngineTargetOf(*target), input, desired, EngineStateOf(target->engine));
  ActivityRecord record{.resource_id = resource_id, .start_time = now, .end_time = now};
  bool bounds_set = false;
  if (!outcome.ok()) {
    record.description = absl::StrCat("Scheduled action ", name, " could not be applied");
    record.cause = absl::StrCat("scheduled action name ", name, " was triggered");
    record.status_code = "Failed";
    record.status_message = std::string(outcome.status().message());
  } else {
    record.description = outcome->description;
    record.cause = outcome->cause;
    absl::Status set =
        manager_->SetCapacityBounds(resource_id, outcome->min_capacity, outcome->max_capacity);
    bounds_set = set.ok();
    record.status_code = set.ok() ? "Successful" : "Failed";
    record.status_message = set.ok() ? "Successfully set min and max capacity."
                                     : std::string(set.message());
  }
  if (absl::StatusOr<aas::ScalingActivity> a = manager_->RecordActivity(record); !a.ok()) {
    spdlog::error("autoscaling {}: cannot record the activity: {}", resource_id,
                  a.status().ToString());
  }
  target = manager_->Find(resource_id);
  if (target == nullptr) return false;
  if (bounds_set && outcome->desired_change && service.ok() && service->status == "ACTIVE") {
    Apply(*target, *outcome->desired_change, now);
  }
  return true;
}

}  // namespace skiff::scaling
