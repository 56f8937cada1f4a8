// Autoscaler: Application Auto Scaling's target tracking for one ECS service (one scalable
// target, dimension ecs:service:DesiredCount), decided on every stats sample instead of on
// CloudWatch's one-minute datapoints. It is pure: it reads no clock, store or runtime, and it
// writes nothing. The caller (the wiring on the control loop) converts the API's shapes to the
// plain structs below, hands each sample in, applies a decision through the service manager,
// records it as a scaling activity and a service event, and persists AutoscalerState.
//
// Ownership and threads: one Autoscaler per scalable target, owned by whoever owns the target's
// state (the control loop); not thread-safe, like any value. It keeps a bounded history of
// samples in memory only: after a restart, scale-out needs three new samples and scale-in a full
// window again (conservative by design). Cooldowns live in AutoscalerState, which the caller
// persists, so a restart loses no cooldown.
//
// The rules, per sample (AWS's where AWS defines them; "ours" where we chose):
//  1. Bounds. A desired count set by hand is kept while it is within [min, max]. Outside, the
//     engine brings it back to the nearest bound (AWS does this on RegisterScalableTarget and
//     on scheduled actions; we do it on the next sample, whatever moved it). Raising it to min
//     is a scale-out and lowering it to max a scale-in, so the DynamicScaling*Suspended flags
//     stop them (ours). It starts no cooldown.
//  2. Scale-out (unless DynamicScalingOutSuspended). A policy wants out when its metric was
//     above target × (1 + tolerance) on each of the last 3 samples (every one with data). AWS
//     alarms at the target itself, on one-minute datapoints; on 10 s samples a metric that
//     hovers at target ±5% is above target 3 samples in a row within minutes, and every such
//     scale-out is an activity nobody wanted. The tolerance (AutoscalerOptions, 10% by default,
//     the mirror of ECS's AlarmLow 10% under target and Kubernetes HPA's default) makes
//     [0.9, 1.1] × target a dead band; 0 gives AWS's rule exactly. It proposes
//     ceil(running × metric / target), where `running` is the sample's running count: ECS's
//     metric is the average over RUNNING tasks, so running × metric is the load, and basing the
//     estimate on the desired count would count pending tasks that carry no load and compound
//     on every sample while they start. With the metric strictly above target the proposal is
//     at least running + 1. The largest proposal of all policies wins, capped at max; it
//     happens only if it is above the current desired count. During the winning policy's
//     ScaleOutCooldown after our last scale-out, a further scale-out happens only if it is
//     larger than the capacity that scale-out set (AWS: "the capacity added by the initiating
//     scale-out activity is calculated as part of the desired capacity for the next scale-out":
//     the added tasks are already counted, only a larger target goes ahead). A scale-in
//     cooldown never blocks a scale-out (AWS).
//  3. Scale-in (unless DynamicScalingInSuspended, and only when no policy wants out). Policies
//     with DisableScaleIn take no part: they never scale in and do not veto the others (AWS:
//     scale in happens only if every target tracking policy *with scale-in enabled* is ready).
//     At least one policy must have scale-in enabled. Each such policy must be ready: over its
//     window W = ScaleInCooldown, every sample has data and is below 0.9 × target (ECS's
//     AlarmLow sits 10% under target), there are at least 3 such samples, the engine has
//     observed the service for at least W, and W has passed since our last scale-in (the
//     cooldown). Each proposes max(min, ceil(running × metric / target)) on its latest sample;
//     the largest proposal wins (the most conservative) and happens only if it is below the
//     desired count. After a manual change of the desired count the rule is unchanged: the
//     window is about the metric, not about who set the count.
//  4. No data (a service without a CPU reservation has no CPU metric; no running task, no
//     metric at all): the policy decides nothing. It cannot want out, and a policy with
//     scale-in enabled that lacks data in its window is not ready, so it blocks scale-in (AWS's
//     INSUFFICIENT_DATA alarm does not trigger).
//
// How the caller computes the metrics (the same as ECS, see utilization.h's UtilizationOf):
//  - ECSServiceAverageCPUUtilization = Σ CPU units used by RUNNING tasks × 100 /
//    Σ CPU units those tasks reserve; ECSServiceAverageMemoryUtilization likewise with the
//    working set against memoryReservation, else memory. Tasks that are not RUNNING (PENDING,
//    ACTIVATING, DEACTIVATING, STOPPING) are in neither sum.
//  - ALBRequestCountPerTarget = requests the service's target group received over the last
//    60 s ÷ its healthy targets, so that a TargetValue written for AWS (a count per target per
//    one-minute datapoint) means the same here.
//
// Activity texts (ScalingDecision::description and ::cause), in the form AWS gives them in
// DescribeScalingActivities. AWS's, for an ECS target tracking activity:
//   Description "Setting desired count to 3."
//   Cause       "monitor alarm TargetTracking-service/default/web-AlarmHigh-<uuid> in state
//                ALARM triggered policy cpu50"
// There are no CloudWatch alarms here, so the cause names what we watched instead, in the same
// form ("monitor M in state ALARM triggered policy P"), and says why in parentheses:
//   scale-out: "monitor TargetTracking-service/default/web-High-cpu50 in state ALARM triggered
//               policy cpu50 (ECSServiceAverageCPUUtilization 82.5 above target 50 on the last
//               3 samples)"
//   scale-in:  "monitor TargetTracking-service/default/web-Low-cpu50 in state ALARM triggered
//               policy cpu50 (ECSServiceAverageCPUUtilization 20 below 45, 90% of target 50,
//               for 300 s; every policy with scale-in enabled agrees)"
//   bounds:    "desired count 7 was above the maximum capacity 5" (ours; AWS words this case
//               only as the min/max change that caused it)
//   scheduled: see ApplyScheduledAction below.
// The StatusMessage ("Successfully set desired count to 3. Change successfully fulfilled by
// ecs.") is the caller's, once the change is applied.
#ifndef SKIFF_SCALING_AUTOSCALER_H_
#define SKIFF_SCALING_AUTOSCALER_H_

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace skiff::scaling {

// The predefined metrics target tracking supports for ECS services.
enum class MetricKind {
  kEcsServiceAverageCpuUtilization,     // "ECSServiceAverageCPUUtilization"
  kEcsServiceAverageMemoryUtilization,  // "ECSServiceAverageMemoryUtilization"
  kAlbRequestCountPerTarget,            // "ALBRequestCountPerTarget"
};
// AWS's name (PredefinedMetricType), and back; none for another name.
absl::string_view MetricKindName(MetricKind kind);
std::optional<MetricKind> MetricKindFromName(absl::string_view name);

// RegisterScalableTarget's SuspendedState.
struct SuspendedState {
  bool dynamic_scaling_in_suspended = false;
  bool dynamic_scaling_out_suspended = false;
  bool scheduled_scaling_suspended = false;
};

// The scalable target as registered (validated by the API: 0 <= min <= max).
struct ScalableTarget {
  std::string resource_id;  // "service/CLUSTER/SERVICE": named in the activity texts.
  int min_capacity = 0;
  int max_capacity = 0;
  SuspendedState suspended;
};

inline constexpr absl::Duration kDefaultCooldown = absl::Seconds(300);  // ECS's default.

// A TargetTrackingScaling policy (validated by the API: target_value > 0, cooldowns >= 0).
struct TargetTrackingPolicy {
  std::string name;  // PolicyName.
  MetricKind metric = MetricKind::kEcsServiceAverageCpuUtilization;
  double target_value = 0;
  absl::Duration scale_out_cooldown = kDefaultCooldown;
  absl::Duration scale_in_cooldown = kDefaultCooldown;
  bool disable_scale_in = false;
};

// One value per metric kind; none where the service has no such metric now.
struct MetricValues {
  std::optional<double> cpu_utilization;       // Percent.
  std::optional<double> memory_utilization;    // Percent.
  std::optional<double> requests_per_target;   // Per target per minute.
};
std::optional<double> ValueOf(const MetricValues& values, MetricKind kind);

// What the caller observed at one sampling round.
struct Sample {
  absl::Time at;
  int desired_count = 0;  // The service's desiredCount now (whoever set it).
  int running_count = 0;  // Its RUNNING tasks, the ones the metrics average over.
  MetricValues metrics;
};

// What the engine needs to remember across restarts; the caller persists it after applying a
// decision (ScalingDecision::state_after) and hands it back on every call. InfinitePast means
// "never".
struct AutoscalerState {
  absl::Time last_scale_out_at = absl::InfinitePast();
  int last_scale_out_capacity = 0;  // The desired count our last scale-out set.
  absl::Time last_scale_in_at = absl::InfinitePast();

  friend bool operator==(const AutoscalerState&, const AutoscalerState&) = default;
};

// What caused a decision.
enum class DecisionTrigger {
  kPolicyScaleOut,   // source: the policy name.
  kPolicyScaleIn,    // source: the policy whose proposal won.
  kCapacityBounds,   // The desired count was outside [min, max]; source empty.
  kScheduledAction,  // source: the scheduled action's name.
};

struct ScalingDecision {
  int previous_desired_count = 0;
  int new_desired_count = 0;
  DecisionTrigger trigger = DecisionTrigger::kPolicyScaleOut;
  std::string source;
  std::string description;  // "Setting desired count to 3."
  std::string cause;        // See the header comment.
  // The state to persist once the new desired count is applied. If applying fails, keep the
  // old state: the engine will decide again on the next sample.
  AutoscalerState state_after;
};

struct AutoscalerOptions {
  // Scale-out needs the metric above target × (1 + scale_out_tolerance); see rule 2.
  double scale_out_tolerance = 0.1;
  // A sample more than this after the previous one starts the history afresh (as after a
  // restart): samples from before a stall say nothing about the time in between, so they may
  // not complete a run of 3 or a scale-in window. The wiring sets a few sampling intervals.
  absl::Duration max_sample_gap = absl::Minutes(5);
};

class Autoscaler {
 public:
  // What the history keeps of a sample.
  struct Observation {
    absl::Time at;
    MetricValues metrics;
  };

  explicit Autoscaler(AutoscalerOptions options = {}) : options_(options) {}

  // Records `sample` and decides. At most one decision per sample. Samples must come in time
  // order; one not after the previous is ignored (no decision). `policies` may change between
  // calls (a policy put or deleted); the history keeps every metric, so a new policy sees the
  // samples taken before it.
  std::optional<ScalingDecision> Evaluate(const ScalableTarget& target,
                                          const std::vector<TargetTrackingPolicy>& policies,
                                          const AutoscalerState& state, const Sample& sample);

  // The samples kept: those within the longest ScaleInCooldown of the policies last seen, and
  // never fewer than the last 3. At one sample per interval that is at most
  // max(3, window / interval + 1).
  const std::deque<Observation>& history() const { return history_; }

 private:
  void Record(const Sample& sample, absl::Duration longest_window);
  // The activities, once the sample is recorded; each none when it does not apply.
  std::optional<ScalingDecision> ScaleOut(const ScalableTarget& target,
                                          const std::vector<TargetTrackingPolicy>& policies,
                                          const AutoscalerState& state,
                                          const Sample& sample) const;
  std::optional<ScalingDecision> ScaleIn(const ScalableTarget& target,
                                         const std::vector<TargetTrackingPolicy>& policies,
                                         const AutoscalerState& state,
                                         const Sample& sample) const;
  // The latest value when `policy`'s metric was above target × (1 + tolerance) on each of the
  // last 3 samples.
  std::optional<double> HighOnLastThree(const TargetTrackingPolicy& policy) const;
  // The latest value when `policy` is ready to scale in at `now` (rule 3, but the cooldown).
  std::optional<double> LowThroughWindow(const TargetTrackingPolicy& policy, absl::Time now) const;

  AutoscalerOptions options_;  // Fixed at construction.
  std::deque<Observation> history_;
  absl::Time observing_since_ = absl::InfinitePast();  // The first sample this engine saw.
};

// A scheduled action as the engine needs it (ScalableTargetAction; at least one is set).
struct ScheduledActionInput {
  std::string name;  // ScheduledActionName.
  std::optional<int> min_capacity;
  std::optional<int> max_capacity;
};

// What a due scheduled action does: new bounds for the target, one activity for them, and, when
// the current desired count is outside the new bounds, a decision that moves it to the nearest
// one (AWS: below the new minimum scales out to it; above the new maximum scales in to it).
struct ScheduledActionOutcome {
  int min_capacity = 0;
  int max_capacity = 0;
  // AWS's words: "Setting min capacity to 2 and max capacity to 10" (only the ones the action
  // sets: "Setting min capacity to 2"), caused by "scheduled action name NAME was triggered".
  std::string description;
  std::string cause;
  // Description "Setting desired count to 2.", cause "scheduled action name NAME was
  // triggered, desired count 1 was below the new minimum capacity 2" (or above the maximum).
  // It starts no cooldown (state_after is the state passed in).
  std::optional<ScalingDecision> desired_change;
};

// Applies a due scheduled action. FailedPrecondition when ScheduledScalingSuspended (AWS skips
// the action: the caller records nothing and does not retry it) or when the resulting min
// exceeds the resulting max (the caller records a Failed activity with this message).
// When an action is due: Schedule::NextAfter(last time the caller checked) <= now; several
// missed occurrences (skiffd was down) run once.
absl::StatusOr<ScheduledActionOutcome> ApplyScheduledAction(const ScalableTarget& target,
                                                            const ScheduledActionInput& action,
                                                            int current_desired_count,
                                                            const AutoscalerState& state);

}  // namespace skiff::scaling

#endif  // SKIFF_SCALING_AUTOSCALER_H_
