// AutoScalingManager's scaling policies: target tracking on the ECS metrics a node measures.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "scaling/auto_scaling_errors.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/json_codec.h"
#include "skiff/scaling/auto_scaling_manager.h"
#include "skiff/scaling/utilization.h"

namespace skiff::scaling {
namespace {

constexpr char kCpu[] = "ECSServiceAverageCPUUtilization";
constexpr char kMemory[] = "ECSServiceAverageMemoryUtilization";
constexpr char kRequests[] = "ALBRequestCountPerTarget";
constexpr int kDefaultCooldownSeconds = 300;  // ECS's default, both ways.
constexpr char kConfig[] = "TargetTrackingScalingPolicyConfiguration";
constexpr char kMetricType[] =
    "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType";
constexpr char kLabel[] =
    "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.ResourceLabel";

// The "targetgroup/NAME/ID" of a target group ARN.
std::string TargetGroupPart(const std::string& arn) {
  const size_t at = arn.find(":targetgroup/");
  return at == std::string::npos ? "" : arn.substr(at + 1);
}

absl::Status CheckPolicyType(const aas::PutScalingPolicyRequest& request) {
  if (!request.has_policy_type()) {
    return Invalid("PolicyType: required when creating a scaling policy; a Skiff node takes "
                   "TargetTrackingScaling");
  }
  if (request.policy_type() == "StepScaling") {
    return Invalid("PolicyType: StepScaling is not supported on a Skiff node: it is driven by a "
                   "CloudWatch alarm, and the node has no CloudWatch; use TargetTrackingScaling");
  }
  if (request.policy_type() != "TargetTrackingScaling") {
    return Invalid(absl::StrCat("PolicyType: ", request.policy_type(), " is not supported on a "
                                "Skiff node; use TargetTrackingScaling"));
  }
  if (request.has_step_scaling_policy_configuration()) {
    return Invalid("StepScalingPolicyConfiguration: not allowed with PolicyType "
                   "TargetTrackingScaling");
  }
  if (request.has_predictive_scaling_policy_configuration()) {
    return Invalid("PredictiveScalingPolicyConfiguration: not allowed with PolicyType "
                   "TargetTrackingScaling");
  }
  if (!request.has_target_tracking_scaling_policy_configuration()) {
    return Invalid(absl::StrCat(kConfig, ": required for PolicyType TargetTrackingScaling"));
  }
  return absl::OkStatus();
}

absl::Status CheckTracking(const aas::TargetTrackingScalingPolicyConfiguration& c) {
  if (c.has_customized_metric_specification()) {
    return Invalid(absl::StrCat(kConfig, ".CustomizedMetricSpecification: customized CloudWatch "
                                "metrics are not supported on a Skiff node; use "
                                "PredefinedMetricSpecification"));
  }
  if (!c.has_predefined_metric_specification()) {
    return Invalid(absl::StrCat(kConfig, ".PredefinedMetricSpecification: required"));
  }
  // AWS takes any finite value of the metric's unit; a utilization or a request count of 0 or
  // less can never be tracked.
  if (!(c.target_value() > 0) || c.target_value() > 1e9) {
    return Invalid(absl::StrCat(kConfig, ".TargetValue: must be greater than 0 and at most "
                                "1000000000; got ", c.target_value()));
  }
  if (c.has_scale_out_cooldown() && c.scale_out_cooldown() < 0) {
    return Invalid(absl::StrCat(kConfig, ".ScaleOutCooldown: must not be negative; got ",
                                c.scale_out_cooldown()));
  }
  if (c.has_scale_in_cooldown() && c.scale_in_cooldown() < 0) {
    return Invalid(absl::StrCat(kConfig, ".ScaleInCooldown: must not be negative; got ",
                                c.scale_in_cooldown()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AutoScalingManager::CheckMetric(const aas::PredefinedMetricSpecification& metric,
                                             const ScalableTargetState& target) const {
  const std::string& type = metric.predefined_metric_type();
  if (type != kCpu && type != kMemory && type != kRequests) {
    return Invalid(absl::StrCat(kMetricType, ": must be ", kCpu, ", ", kMemory, " or ", kRequests,
                                " for an ECS service; got ", model::QuoteValue(type)));
  }
  if (type != kRequests && metric.has_resource_label()) {
    return Invalid(absl::StrCat(kLabel, ": only ", kRequests, " takes a resource label"));
  }
  absl::StatusOr<scheduler::ScalableServiceView> service =
      services_->ScalableService(target.cluster, target.service);
  if (!service.ok()) {
    return Invalid(absl::StrCat("ResourceId: ECS service doesn't exist: ",
                                target.target.resource_id()));
  }
  const Reservation reservation = ReservationOf(service->task_definition);
  const std::string revision =
      absl::StrCat(service->task_definition.family(), ":", service->task_definition.revision());
  if (type == kCpu && !reservation.cpu_units) {
    return Invalid(absl::StrCat(kMetricType, ": service ", target.service, " has no CPU "
                                "utilization: its task definition ", revision, " reserves no "
                                "CPU (set the task's cpu, or cpu on every container)"));
  }
  if (type == kMemory && !reservation.memory_mib) {
    return Invalid(absl::StrCat(kMetricType, ": service ", target.service, " has no memory "
                                "utilization: its task definition ", revision, " reserves no "
                                "memory"));
  }
  if (type != kRequests) return absl::OkStatus();
  if (!metric.has_resource_label()) {
    return Invalid(absl::StrCat(kLabel, ": required for ", kRequests, ": app/LOAD_BALANCER/ID/"
                                "targetgroup/TARGET_GROUP/ID"));
  }
  const std::string& label = metric.resource_label();
  const std::vector<std::string> parts = absl::StrSplit(label, '/');
  if (parts.size() != 6 || parts[0] != "app" || parts[3] != "targetgroup") {
    return Invalid(absl::StrCat(kLabel, ": must be app/LOAD_BALANCER/ID/targetgroup/"
                                "TARGET_GROUP/ID; got ", model::QuoteValue(label)));
  }
  const std::string lb_part = absl::StrCat(parts[0], "/", parts[1], "/", parts[2]);
  const std::string group_part = absl::StrCat(parts[3], "/", parts[4], "/", parts[5]);
  for (const std::string& arn : service->target_group_arns) {
    if (TargetGroupPart(arn) != group_part) continue;
    if (!options_.load_balancers_of) return absl::OkStatus();
    const std::vector<std::string> lbs = options_.load_balancers_of(arn);
    if (std::find(lbs.begin(), lbs.end(), lb_part) != lbs.end()) return absl::OkStatus();
    return Invalid(absl::StrCat(kLabel, ": target group ", group_part, " is not behind load "
                                "balancer ", lb_part));
  }
  return Invalid(absl::StrCat(kLabel, ": service ", target.service, " has no target group ",
                              group_part, " in its loadBalancers"));
}

absl::StatusOr<aas::ScalingPolicy> AutoScalingManager::MakePolicy(
    const aas::PutScalingPolicyRequest& request, const ScalableTargetState& target) {
  SKIFF_RETURN_IF_ERROR(CheckPolicyType(request));
  const aas::TargetTrackingScalingPolicyConfiguration& config =
      request.target_tracking_scaling_policy_configuration();
  SKIFF_RETURN_IF_ERROR(CheckTracking(config));
  SKIFF_RETURN_IF_ERROR(CheckMetric(config.predefined_metric_specification(), target));
  aas::ScalingPolicy policy;
  auto existing = target.policies.find(request.policy_name());
  if (existing != target.policies.end()) {
    // An update keeps the policy's ARN and creation time, as on AWS.
    policy.set_policy_arn(existing->second.policy_arn());
    policy.set_creation_time(existing->second.creation_time());
  } else {
    policy.set_policy_arn(
        Arn("scalingPolicy", request.resource_id(), "policyName", request.policy_name()));
    policy.set_creation_time(Now());
  }
  policy.set_policy_name(request.policy_name());
  policy.set_service_namespace(kEcsNamespace);
  policy.set_resource_id(request.resource_id());
  policy.set_scalable_dimension(kEcsDesiredCount);
  policy.set_policy_type(request.policy_type());
  aas::TargetTrackingScalingPolicyConfiguration* stored =
      policy.mutable_target_tracking_scaling_policy_configuration();
  *stored = config;
  if (!stored->has_scale_out_cooldown()) stored->set_scale_out_cooldown(kDefaultCooldownSeconds);
  if (!stored->has_scale_in_cooldown()) stored->set_scale_in_cooldown(kDefaultCooldownSeconds);
  if (!stored->has_disable_scale_in()) stored->set_disable_scale_in(false);
  return policy;
}

absl::StatusOr<aas::PutScalingPolicyResponse> AutoScalingManager::PutScalingPolicy(
    const aas::PutScalingPolicyRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  if (request.policy_name().size() > 256) {
    return Invalid("PolicyName: at most 256 characters");
  }
  SKIFF_ASSIGN_OR_RETURN(ScalableTargetState * target,
                         Registered(request.service_namespace(), request.resource_id(),
                                    request.scalable_dimension()));
  SKIFF_ASSIGN_OR_RETURN(aas::ScalingPolicy policy, MakePolicy(request, *target));
  SKIFF_RETURN_IF_ERROR(PersistPolicy(policy));
  aas::PutScalingPolicyResponse response;
  response.set_policy_arn(policy.policy_arn());
  target->policies[request.policy_name()] = std::move(policy);
  Changed(request.resource_id());
  return response;
}

absl::StatusOr<aas::DeleteScalingPolicyResponse> AutoScalingManager::DeleteScalingPolicy(
    const aas::DeleteScalingPolicyRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  SKIFF_ASSIGN_OR_RETURN(ScalableTargetState * target,
                         Named(request.service_namespace(), request.resource_id(),
                               request.scalable_dimension()));
  const absl::Status missing = ObjectNotFound(absl::StrCat(
      "No scaling policy found for service namespace: ecs, resource ID: ", request.resource_id(),
      ", scalable dimension: ", kEcsDesiredCount, ", policy name: ", request.policy_name()));
  if (target == nullptr) return missing;
  auto it = target->policies.find(request.policy_name());
  if (it == target->policies.end()) return missing;
  SKIFF_RETURN_IF_ERROR(store_->DeleteAutoscalingObject("policy", it->second.policy_arn()));
  target->policies.erase(it);
  Changed(request.resource_id());
  return aas::DeleteScalingPolicyResponse();
}

absl::StatusOr<aas::DescribeScalingPoliciesResponse> AutoScalingManager::DescribeScalingPolicies(
    const aas::DescribeScalingPoliciesRequest& request) {
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), kValidationException));
  if (request.service_namespace() != kEcsNamespace) {
    return Invalid(absl::StrCat("ServiceNamespace: a Skiff node scales ECS services only "
                                "(ecs); got ", model::QuoteValue(request.service_namespace())));
  }
  if (request.policy_names_size() > 50) return Invalid("PolicyNames: at most 50 names");
  const std::vector<const aas::ScalingPolicy*> matching =
      MembersNamed(targets_, ResourceIdOf(request), request.policy_names(),
                   &ScalableTargetState::policies);
  aas::DescribeScalingPoliciesResponse response;
  SKIFF_RETURN_IF_ERROR(Paginate(
      matching, request.has_max_results(), request.max_results(), 10, request.next_token(),
      [&response](const aas::ScalingPolicy* p) { *response.add_scaling_policies() = *p; },
      [&response](std::string token) { response.set_next_token(std::move(token)); }));
  return response;
}

}  // namespace skiff::scaling
