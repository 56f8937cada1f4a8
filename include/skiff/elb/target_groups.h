// Target groups as ELBv2 defines them, for the load balancers of one node: what CreateTargetGroup
// and ModifyTargetGroup accept, ALB's defaults, and the attributes a target group carries.
//
// The protocols a node serves are HTTP (an Application Load Balancer's) and TCP (a Network Load
// Balancer's), with `instance` and `ip` targets. Everything else ELBv2 has (HTTPS and TLS, which
// need certificates; UDP; lambda and alb targets; IPv6) is refused with a message that says so,
// never silently ignored. Errors are ELBv2's ValidationError naming the member, as the AWS CLI
// prints them.
//
// Pure: no I/O, no clock. Safe from any thread.
#ifndef SKIFF_ELB_TARGET_GROUPS_H_
#define SKIFF_ELB_TARGET_GROUPS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "skiff/elbv2/v1/elbv2.pb.h"
#include "skiff/model/arn.h"

namespace skiff::elb {

// ELBv2's error names (the `Code` of its error responses).
inline constexpr char kValidationError[] = "ValidationError";
inline constexpr char kInvalidConfigurationRequest[] = "InvalidConfigurationRequest";

// arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID (ID: 16 hex digits).
std::string TargetGroupArn(const model::ArnScope& scope, absl::string_view name,
                           absl::string_view id);

// The target group CreateTargetGroup makes of `input`, every member set as ELBv2 returns it
// (ALB's defaults for HTTP, NLB's for TCP), with its ARN from `scope` and `id`.
absl::StatusOr<elbv2::v1::TargetGroup> NewTargetGroup(
    const elbv2::v1::CreateTargetGroupInput& input, const model::ArnScope& scope,
    absl::string_view id);

// `group` with ModifyTargetGroup's changes; the same rules as on creation.
absl::StatusOr<elbv2::v1::TargetGroup> ModifiedTargetGroup(
    const elbv2::v1::TargetGroup& group, const elbv2::v1::ModifyTargetGroupInput& input);

// A target group's attributes with their values, as DescribeTargetGroupAttributes lists them
// (ELBv2's names and string values).
struct TargetGroupAttributes {
  absl::Duration deregistration_delay = absl::Seconds(300);
  absl::Duration slow_start = absl::ZeroDuration();
  std::string algorithm = "round_robin";  // round_robin, least_outstanding_requests,
                                          // weighted_random.
  bool stickiness = false;
  absl::Duration stickiness_duration = absl::Hours(24);  // stickiness.lb_cookie.duration_seconds

  std::vector<elbv2::v1::TargetGroupAttribute> ToList(const elbv2::v1::TargetGroup& group) const;
};

// The attributes after ModifyTargetGroupAttributes' `changes` ("Attributes[2].Value: ..." on a
// bad one; nothing changes then).
absl::StatusOr<TargetGroupAttributes> ApplyAttributes(
    const TargetGroupAttributes& current, const elbv2::v1::TargetGroup& group,
    const google::protobuf::RepeatedPtrField<elbv2::v1::TargetGroupAttribute>& changes);

}  // namespace skiff::elb

#endif  // SKIFF_ELB_TARGET_GROUPS_H_
