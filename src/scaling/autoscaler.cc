#include "skiff/scaling/autoscaler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace skiff::scaling {
namespace {

// A scale-out needs this many samples above target in a row; a scale-in at least as many below.
constexpr size_t kSamplesToAlarm = 3;
// ECS's AlarmLow: scale-in needs the metric this fraction of the target or less.
constexpr double kScaleInThreshold = 0.9;
// Floating point noise below which running × metric / target counts as a whole number.
constexpr double kEpsilon = 1e-9;

// ceil(running × value / target), saturating instead of overflowing on absurd metrics.
int ProportionalCapacity(int running, double value, double target) {
  const double wanted = std::ceil(static_cast<double>(running) * value / target - kEpsilon);
  if (!(wanted < static_cast<double>(std::numeric_limits<int>::max()))) {
    return std::numeric_limits<int>::max();
  }
  return std::max(0, static_cast<int>(wanted));
}

// 82.5, 50, 45 and 33.33: what a person writes, not what %f prints.
std::string FormatNumber(double value) {
  std::string text = absl::StrFormat("%.2f", value);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string DesiredCountDescription(int count) {
  return absl::StrCat("Setting desired count to ", count, ".");
}

ScalingDecision MakeDecision(const Sample& sample, int new_count, DecisionTrigger trigger,
                             std::string source, std::string cause,
                             const AutoscalerState& state_after) {
  ScalingDecision decision;
  decision.previous_desired_count = sample.desired_count;
  decision.new_desired_count = new_count;
  decision.trigger = trigger;
  decision.source = std::move(source);
  decision.description = DesiredCountDescription(new_count);
  decision.cause = std::move(cause);
  decision.state_after = state_after;
  return decision;
}

// Rule 1: a desired count outside [min, max] goes back to the nearest bound.
std::optional<ScalingDecision> BoundsDecision(const ScalableTarget& target,
                                              const AutoscalerState& state,
                                              const Sample& sample) {
  const int desired = sample.desired_count;
  if (desired < target.min_capacity && !target.suspended.dynamic_scaling_out_suspended) {
    return MakeDecision(sample, target.min_capacity, DecisionTrigger::kCapacityBounds, "",
                        absl::StrCat("desired count ", desired, " was below the minimum capacity ",
                                     target.min_capacity),
                        state);
  }
  if (desired > target.max_capacity && !target.suspended.dynamic_scaling_in_suspended) {
    return MakeDecision(sample, target.max_capacity, DecisionTrigger::kCapacityBounds, "",
                        absl::StrCat("desired count ", desired, " was above the maximum capacity ",
                                     target.max_capacity),
                        state);
  }
  return std::nullopt;
}

absl::Duration LongestScaleInWindow(const std::vector<TargetTrackingPolicy>& policies) {
  absl::Duration longest = absl::ZeroDuration();
  for (const TargetTrackingPolicy& policy : policies) {
    if (!policy.disable_scale_in) longest = std::max(longest, policy.scale_in_cooldown);
  }
  return longest;
}

std::string MonitorName(const ScalableTarget& target, absl::string_view side,
                        const TargetTrackingPolicy& policy) {
  return absl::StrCat("TargetTracking-", target.resource_id, "-", side, "-", policy.name);
}

}  // namespace

absl::string_view MetricKindName(MetricKind kind) {
  switch (kind) {
    case MetricKind::kEcsServiceAverageCpuUtilization:
      return "ECSServiceAverageCPUUtilization";
    case MetricKind::kEcsServiceAverageMemoryUtilization:
      return "ECSServiceAverageMemoryUtilization";
    case MetricKind::kAlbRequestCountPerTarget:
      return "ALBRequestCountPerTarget";
  }
  return "";
}

std::optional<MetricKind> MetricKindFromName(absl::string_view name) {
  for (MetricKind kind : {MetricKind::kEcsServiceAverageCpuUtilization,
                          MetricKind::kEcsServiceAverageMemoryUtilization,
                          MetricKind::kAlbRequestCountPerTarget}) {
    if (MetricKindName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::optional<double> ValueOf(const MetricValues& values, MetricKind kind) {
  switch (kind) {
    case MetricKind::kEcsServiceAverageCpuUtilization:
      return values.cpu_utilization;
    case MetricKind::kEcsServiceAverageMemoryUtilization:
      return values.memory_utilization;
    case MetricKind::kAlbRequestCountPerTarget:
      return values.requests_per_target;
  }
  return std::nullopt;
}

std::optional<ScalingDecision> Autoscaler::Evaluate(
    const ScalableTarget& target, const std::vector<TargetTrackingPolicy>& policies,
    const AutoscalerState& state, const Sample& sample) {
  if (!history_.empty() && sample.at <= history_.back().at) return std::nullopt;
  Record(sample, LongestScaleInWindow(policies));
  if (std::optional<ScalingDecision> bounds = BoundsDecision(target, state, sample)) {
    return bounds;
  }
  if (!target.suspended.dynamic_scaling_out_suspended) {
    if (std::optional<ScalingDecision> out = ScaleOut(target, policies, state, sample)) {
      return out;
    }
  }
  // A policy above its target blocks scale-in even when it cannot scale out (cooldown, max,
  // suspended): its metric says the service is not too big.
  if (target.suspended.dynamic_scaling_in_suspended) return std::nullopt;
  for (const TargetTrackingPolicy& policy : policies) {
    if (HighOnLastThree(policy).has_value()) return std::nullopt;
  }
  return ScaleIn(target, policies, state, sample);
}

void Autoscaler::Record(const Sample& sample, absl::Duration longest_window) {
  if (!history_.empty() && sample.at - history_.back().at > options_.max_sample_gap) {
    history_.clear();
  }
  if (history_.empty()) observing_since_ = sample.at;
  history_.push_back(Observation{sample.at, sample.metrics});
  while (history_.size() > kSamplesToAlarm && history_.front().at < sample.at - longest_window) {
    history_.pop_front();
  }
}

std::optional<double> Autoscaler::HighOnLastThree(const TargetTrackingPolicy& policy) const {
  // The API refuses a target <= 0; should one get here, it decides nothing rather than divide.
  if (history_.size() < kSamplesToAlarm || !(policy.target_value > 0)) return std::nullopt;
  const double threshold = policy.target_value * (1 + options_.scale_out_tolerance);
  for (size_t i = history_.size() - kSamplesToAlarm; i < history_.size(); ++i) {
    const std::optional<double> value = ValueOf(history_[i].metrics, policy.metric);
    if (!value.has_value() || !(*value > threshold)) return std::nullopt;
  }
  return ValueOf(history_.back().metrics, policy.metric);
}

std::optional<double> Autoscaler::LowThroughWindow(const TargetTrackingPolicy& policy,
                                                   absl::Time now) const {
  const absl::Duration window = policy.scale_in_cooldown;
  if (history_.size() < kSamplesToAlarm || now - observing_since_ < window ||
      !(policy.target_value > 0)) {
    return std::nullopt;
  }
  const double threshold = kScaleInThreshold * policy.target_value;
  size_t examined = 0;
  for (auto it = history_.rbegin(); it != history_.rend(); ++it, ++examined) {
    if (examined >= kSamplesToAlarm && it->at < now - window) break;
    const std::optional<double> value = ValueOf(it->metrics, policy.metric);
    if (!value.has_value() || !(*value < threshold)) return std::nullopt;
  }
  return ValueOf(history_.back().metrics, policy.metric);
}

std::optional<ScalingDecision> Autoscaler::ScaleOut(
    const ScalableTarget& target, const std::vector<TargetTrackingPolicy>& policies,
    const AutoscalerState& state, const Sample& sample) const {
  const TargetTrackingPolicy* winner = nullptr;
  int best = sample.desired_count;
  double winner_value = 0;
  for (const TargetTrackingPolicy& policy : policies) {
    const std::optional<double> value = HighOnLastThree(policy);
    if (!value.has_value()) continue;
    const int proportional =
        ProportionalCapacity(sample.running_count, *value, policy.target_value);
    const int capacity =
        std::min(target.max_capacity, std::max(proportional, sample.running_count + 1));
    const bool in_cooldown = sample.at - state.last_scale_out_at < policy.scale_out_cooldown;
    if (in_cooldown && capacity <= state.last_scale_out_capacity) continue;
    if (capacity > best) {
      best = capacity;
      winner = &policy;
      winner_value = *value;
    }
  }
  if (winner == nullptr) return std::nullopt;
  AutoscalerState after = state;
  after.last_scale_out_at = sample.at;
  after.last_scale_out_capacity = best;
  std::string cause = absl::StrCat(
      "monitor ", MonitorName(target, "High", *winner), " in state ALARM triggered policy ",
      winner->name, " (", MetricKindName(winner->metric), " ", FormatNumber(winner_value),
      " above target ", FormatNumber(winner->target_value), " on the last ", kSamplesToAlarm,
      " samples)");
  return MakeDecision(sample, best, DecisionTrigger::kPolicyScaleOut, winner->name,
                      std::move(cause), after);
}

std::optional<ScalingDecision> Autoscaler::ScaleIn(
    const ScalableTarget& target, const std::vector<TargetTrackingPolicy>& policies,
    const AutoscalerState& state, const Sample& sample) const {
  const TargetTrackingPolicy* winner = nullptr;
  int best = -1;
  double winner_value = 0;
  for (const TargetTrackingPolicy& policy : policies) {
    if (policy.disable_scale_in) continue;
    if (sample.at - state.last_scale_in_at < policy.scale_in_cooldown) return std::nullopt;
    const std::optional<double> value = LowThroughWindow(policy, sample.at);
    if (!value.has_value()) return std::nullopt;  // Every policy must agree.
    const int capacity = std::max(
        target.min_capacity,
        ProportionalCapacity(sample.running_count, *value, policy.target_value));
    if (capacity > best) {
      best = capacity;
      winner = &policy;
      winner_value = *value;
    }
  }
  if (winner == nullptr || best >= sample.desired_count) return std::nullopt;
  AutoscalerState after = state;
  after.last_scale_in_at = sample.at;
  std::string cause = absl::StrCat(
      "monitor ", MonitorName(target, "Low", *winner), " in state ALARM triggered policy ",
      winner->name, " (", MetricKindName(winner->metric), " ", FormatNumber(winner_value),
      " below ",
      FormatNumber(kScaleInThreshold * winner->target_value), ", 90% of target ",
      FormatNumber(winner->target_value), ", for ",
      absl::ToInt64Seconds(winner->scale_in_cooldown),
      " s; every policy with scale-in enabled agrees)");
  return MakeDecision(sample, best, DecisionTrigger::kPolicyScaleIn, winner->name,
                      std::move(cause), after);
}

absl::StatusOr<ScheduledActionOutcome> ApplyScheduledAction(const ScalableTarget& target,
                                                            const ScheduledActionInput& action,
                                                            int current_desired_count,
                                                            const AutoscalerState& state) {
  if (target.suspended.scheduled_scaling_suspended) {
    return absl::FailedPreconditionError(
        absl::StrCat("Scheduled scaling is suspended for ", target.resource_id,
                     "; scheduled action ", action.name, " was not run"));
  }
  ScheduledActionOutcome outcome;
  outcome.min_capacity = action.min_capacity.value_or(target.min_capacity);
  outcome.max_capacity = action.max_capacity.value_or(target.max_capacity);
  if (outcome.min_capacity > outcome.max_capacity) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Scheduled action ", action.name, " would set the minimum capacity ",
        outcome.min_capacity, " above the maximum capacity ", outcome.max_capacity));
  }
  if (!action.min_capacity && !action.max_capacity) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Scheduled action ", action.name, " sets neither MinCapacity nor MaxCapacity"));
  }
  std::vector<std::string> parts;
  if (action.min_capacity) parts.push_back(absl::StrCat("min capacity to ", *action.min_capacity));
  if (action.max_capacity) parts.push_back(absl::StrCat("max capacity to ", *action.max_capacity));
  outcome.description = absl::StrCat("Setting ", absl::StrJoin(parts, " and "));
  outcome.cause = absl::StrCat("scheduled action name ", action.name, " was triggered");

  Sample now;
  now.desired_count = current_desired_count;
  if (current_desired_count < outcome.min_capacity) {
    outcome.desired_change = MakeDecision(
        now, outcome.min_capacity, DecisionTrigger::kScheduledAction, action.name,
        absl::StrCat(outcome.cause, ", desired count ", current_desired_count,
                     " was below the new minimum capacity ", outcome.min_capacity),
        state);
  } else if (current_desired_count > outcome.max_capacity) {
    outcome.desired_change = MakeDecision(
        now, outcome.max_capacity, DecisionTrigger::kScheduledAction, action.name,
        absl::StrCat(outcome.cause, ", desired count ", current_desired_count,
                     " was above the new maximum capacity ", outcome.max_capacity),
        state);
  }
  return outcome;
}

}  // namespace skiff::scaling
