// AutoScalingManager: Application Auto Scaling on one node, for ECS services. It keeps the
// scalable targets (`service/CLUSTER/SERVICE`, dimension `ecs:service:DesiredCount`), their
// target tracking scaling policies, scheduled actions, scaling activities and the decision
// engine's state of each target in the store, and answers the ten operations of
// `skiff application-autoscaling` (SPEC.md) with Application Auto Scaling's shapes, checks and
// error names (ValidationException with the member's path, ObjectNotFoundException,
// InvalidNextTokenException).
//
// What it does not do: decide. The decision engine (target tracking, cooldowns, scheduled
// actions coming due) reads the targets, policies and actions here (targets(), Find()),
// changes a service's desired count through scheduler::ScalableServices, and records what it
// did with RecordActivity() and SaveEngineState(). Listeners added with AddChangeListener()
// hear of every API change to a target, so the engine re-reads it at once.
//
// What a node changes of Application Auto Scaling:
// - ServiceNamespace is `ecs` only; the metrics are ECSServiceAverageCPUUtilization,
//   ECSServiceAverageMemoryUtilization and ALBRequestCountPerTarget (predefined, target
//   tracking). StepScaling (it needs a CloudWatch alarm), PredictiveScaling and customized
//   metrics are refused with a message that says so. No CloudWatch alarms are made: a policy's
//   Alarms list is empty.
// - Activities: the last `max_activities_per_target` of each target are kept (AWS keeps six
//   weeks); DescribeScalingActivities lists them newest first.
// - A deleted ECS service (DRAINING) has its scalable target deregistered, with its policies and
//   scheduled actions, as AWS does.
//
// Thread contract: loop-owned. Every method runs on the loop thread.
#ifndef SKIFF_SCALING_AUTO_SCALING_MANAGER_H_
#define SKIFF_SCALING_AUTO_SCALING_MANAGER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/autoscaling/v1/autoscaling.pb.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/model/arn.h"
#include "skiff/scheduler/scalable_services.h"
#include "skiff/store/store.h"

namespace skiff::scaling {

namespace aas = ::skiff::autoscaling::v1;

inline constexpr char kEcsNamespace[] = "ecs";
inline constexpr char kEcsDesiredCount[] = "ecs:service:DesiredCount";

// What the decision engine keeps of one target across restarts: when it last scaled out and
// in (the cooldowns count from there), and anything else it wants as JSON text of its own.
struct ScalingEngineState {
  absl::Time last_scale_out = absl::InfinitePast();
  absl::Time last_scale_in = absl::InfinitePast();
  std::string extra;  // JSON text, or "".
  bool operator==(const ScalingEngineState&) const = default;
};

// One scalable target with everything it has.
struct ScalableTargetState {
  aas::ScalableTarget target;  // As DescribeScalableTargets shows it.
  std::string cluster;         // Of ResourceId "service/CLUSTER/SERVICE".
  std::string service;
  std::map<std::string, aas::ScalingPolicy> policies;                // By PolicyName.
  std::map<std::string, aas::ScheduledAction> scheduled_actions;     // By ScheduledActionName.
  std::deque<aas::ScalingActivity> activities;                       // Newest first.
  ScalingEngineState engine;
};

// A scaling activity to record: the engine's decision (or a scheduled action's), in AWS's words.
struct ActivityRecord {
  std::string resource_id;  // "service/CLUSTER/SERVICE" of a registered target.
  std::string description;  // "Setting desired count to 3."
  std::string cause;        // "monitor alarm ... in state ALARM triggered policy cpu75"
  std::string status_code = "Successful";  // Pending, InProgress, Successful, Failed, ...
  std::string status_message;  // "Successfully set desired count to 3. Change successfully ..."
  absl::Time start_time;
  std::optional<absl::Time> end_time;
  std::string details;
};

struct AutoScalingManagerOptions {
  model::ArnScope scope;
  size_t max_activities_per_target = 1000;
  // The "app/NAME/ID" parts of the ARNs of the load balancers whose listeners forward to a
  // target group (ALBRequestCountPerTarget's ResourceLabel); null: only the target group part
  // of a ResourceLabel is checked.
  std::function<std::vector<std::string>(const std::string& target_group_arn)>
      load_balancers_of;
};

class AutoScalingManager {
 public:
  // Every pointer must outlive the manager.
  AutoScalingManager(AutoScalingManagerOptions options, store::Store* store,
                     scheduler::ScalableServices* services, const Clock* clock,
                     RandomSource* random);

  // Loads the objects from the store and follows the services (a deleted one loses its
  // target). Call once, before the loop serves requests.
  absl::Status Load();

  // The API (Application Auto Scaling's operations).
  absl::StatusOr<aas::RegisterScalableTargetResponse> RegisterScalableTarget(
      const aas::RegisterScalableTargetRequest& request);
  absl::StatusOr<aas::DeregisterScalableTargetResponse> DeregisterScalableTarget(
      const aas::DeregisterScalableTargetRequest& request);
  absl::StatusOr<aas::DescribeScalableTargetsResponse> DescribeScalableTargets(
      const aas::DescribeScalableTargetsRequest& request);
  absl::StatusOr<aas::PutScalingPolicyResponse> PutScalingPolicy(
      const aas::PutScalingPolicyRequest& request);
  absl::StatusOr<aas::DeleteScalingPolicyResponse> DeleteScalingPolicy(
      const aas::DeleteScalingPolicyRequest& request);
  absl::StatusOr<aas::DescribeScalingPoliciesResponse> DescribeScalingPolicies(
      const aas::DescribeScalingPoliciesRequest& request);
  absl::StatusOr<aas::DescribeScalingActivitiesResponse> DescribeScalingActivities(
      const aas::DescribeScalingActivitiesRequest& request);
  absl::StatusOr<aas::PutScheduledActionResponse> PutScheduledAction(
      const aas::PutScheduledActionRequest& request);
  absl::StatusOr<aas::DeleteScheduledActionResponse> DeleteScheduledAction(
      const aas::DeleteScheduledActionRequest& request);
  absl::StatusOr<aas::DescribeScheduledActionsResponse> DescribeScheduledActions(
      const aas::DescribeScheduledActionsRequest& request);

  // For the decision engine.
  // Every registered target, by resource id.
  const std::map<std::string, ScalableTargetState>& targets() const { return targets_; }
  const ScalableTargetState* Find(const std::string& resource_id) const;
  // Records an activity of a registered target (persisted; the oldest beyond the bound are
  // dropped) and returns it with its ActivityId. NotFound for an unknown target.
  absl::StatusOr<aas::ScalingActivity> RecordActivity(const ActivityRecord& record);
  // A scheduled action's new MinCapacity and MaxCapacity for a registered target (persisted,
  // listeners told). NotFound for an unknown target, InvalidArgument when min > max.
  absl::Status SetCapacityBounds(const std::string& resource_id, int min_capacity,
                                 int max_capacity);
  // Keeps the engine's state of a registered target (persisted). NotFound for an unknown one.
  absl::Status SaveEngineState(const std::string& resource_id, const ScalingEngineState& state);
  // Called with a target's resource id after every API change to it (registered, updated,
  // deregistered, a policy or scheduled action put or deleted).
  void AddChangeListener(std::function<void(const std::string& resource_id)> listener) {
    change_listeners_.push_back(std::move(listener));
  }

 private:
  // The target a request names: its namespace, dimension and resource id checked; null when it
  // is not registered.
  absl::StatusOr<ScalableTargetState*> Named(const std::string& service_namespace,
                                             const std::string& resource_id,
                                             const std::string& dimension);
  // Named, but ObjectNotFoundException when it is not registered.
  absl::StatusOr<ScalableTargetState*> Registered(const std::string& service_namespace,
                                                  const std::string& resource_id,
                                                  const std::string& dimension);
  // A new target of `resource_id` (a live ECS service), or the update of `existing`.
  absl::StatusOr<ScalableTargetState> MakeTarget(const aas::RegisterScalableTargetRequest& request,
                                                 const ScalableTargetState* existing);
  absl::StatusOr<aas::ScalingPolicy> MakePolicy(const aas::PutScalingPolicyRequest& request,
                                                const ScalableTargetState& target);
  absl::Status CheckMetric(const aas::PredefinedMetricSpecification& metric,
                           const ScalableTargetState& target) const;
  absl::StatusOr<aas::ScheduledAction> MakeScheduledAction(
      const aas::PutScheduledActionRequest& request, const ScalableTargetState& target);
  void Deregister(const std::string& resource_id);
  void OnServiceChanged(const store::StoredService& record);
  void Changed(const std::string& resource_id);
  absl::Status LoadObject(const store::StoredAutoscalingObject& object);

  // Persistence (auto_scaling_records.cc).
  absl::Status PersistTarget(const ScalableTargetState& state);
  absl::Status PersistPolicy(const aas::ScalingPolicy& policy);
  absl::Status PersistScheduledAction(const aas::ScheduledAction& action);
  absl::Status PersistActivity(const aas::ScalingActivity& activity);
  absl::Status PersistEngineState(const std::string& resource_id,
                                  const ScalingEngineState& state);

  std::string Arn(absl::string_view kind, const std::string& resource_id,
                  absl::string_view name_kind, const std::string& name);
  double Now() const;

  const AutoScalingManagerOptions options_;
  store::Store* const store_;
  scheduler::ScalableServices* const services_;
  const Clock* const clock_;
  RandomSource* const random_;
  std::map<std::string, ScalableTargetState> targets_;
  std::vector<std::function<void(const std::string&)>> change_listeners_;
};

// The exception names of Application Auto Scaling.
inline constexpr char kValidationException[] = "ValidationException";
inline constexpr char kObjectNotFoundException[] = "ObjectNotFoundException";
inline constexpr char kInvalidNextTokenException[] = "InvalidNextTokenException";
inline constexpr char kInternalServiceException[] = "InternalServiceException";

}  // namespace skiff::scaling

#endif  // SKIFF_SCALING_AUTO_SCALING_MANAGER_H_
