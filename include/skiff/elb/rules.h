// Listener rules as ELBv2 defines them: the conditions and actions of CreateRule, ModifyRule and
// a listener's DefaultActions, checked as ELBv2 checks them and turned into the data plane's
// (lb/config.h). Errors name the member ("Conditions[1].HostHeaderConfig.Values[0]: ..."), with
// ELBv2's error names: ValidationError, InvalidLoadBalancerAction, TargetGroupNotFound.
//
// A node serves forward (one target group or up to five by weight, with group stickiness),
// redirect and fixed-response actions, and every condition field with wildcard values.
// authenticate-oidc, authenticate-cognito, jwt-validation and regex values are refused by name.
//
// Pure: no I/O. Safe from any thread.
#ifndef SKIFF_ELB_RULES_H_
#define SKIFF_ELB_RULES_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "skiff/elbv2/v1/elbv2.pb.h"
#include "skiff/lb/config.h"

namespace skiff::elb {

inline constexpr char kInvalidLoadBalancerAction[] = "InvalidLoadBalancerAction";
inline constexpr char kTargetGroupNotFound[] = "TargetGroupNotFound";

// The data plane's backend of a target group ARN; NotFound when there is no such group.
using BackendResolver = std::function<absl::StatusOr<std::string>(const std::string& arn)>;

// A rule's conditions: at least one; host-header, path-pattern, http-request-method and
// source-ip at most once each; at most five values in all, as ALB counts them.
absl::StatusOr<std::vector<lb::Condition>> ConditionsOf(
    const google::protobuf::RepeatedPtrField<elbv2::v1::RuleCondition>& conditions);

// A rule's Actions or a listener's DefaultActions (`member` names them in errors): exactly one
// that ends the request (forward, redirect, fixed-response). A TCP listener only forwards, to one
// target group.
absl::StatusOr<lb::Action> ActionOf(
    const google::protobuf::RepeatedPtrField<elbv2::v1::Action>& actions,
    absl::string_view member, bool tcp, const BackendResolver& backend_of);

// The target group ARNs that actions forward to (to check a group before it is deleted, and
// to know which listeners a group's changes reach).
std::vector<std::string> ForwardedGroups(
    const google::protobuf::RepeatedPtrField<elbv2::v1::Action>& actions);

}  // namespace skiff::elb

#endif  // SKIFF_ELB_RULES_H_
