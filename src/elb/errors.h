// ELBv2's errors and the checks that several ELBv2 objects share. Private to elb.
#ifndef SKIFF_SRC_ELB_ERRORS_H_
#define SKIFF_SRC_ELB_ERRORS_H_

#include <algorithm>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "skiff/elb/rules.h"
#include "skiff/elb/target_groups.h"
#include "skiff/model/errors.h"

namespace skiff::elb {

inline absl::Status Invalid(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, kValidationError, message);
}

inline absl::Status BadAction(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, kInvalidLoadBalancerAction, message);
}

inline absl::Status ElbError(absl::StatusCode code, absl::string_view name,
                             absl::string_view message) {
  return model::EcsError(code, name, message);
}

// The error codes of ELBv2's operations beyond ValidationError.
inline constexpr char kLoadBalancerNotFound[] = "LoadBalancerNotFound";
inline constexpr char kListenerNotFound[] = "ListenerNotFound";
inline constexpr char kRuleNotFound[] = "RuleNotFound";
inline constexpr char kDuplicateLoadBalancerName[] = "DuplicateLoadBalancerName";
inline constexpr char kDuplicateTargetGroupName[] = "DuplicateTargetGroupName";
inline constexpr char kDuplicateListener[] = "DuplicateListener";
inline constexpr char kPriorityInUse[] = "PriorityInUse";
inline constexpr char kTooManyRules[] = "TooManyRules";
inline constexpr char kTooManyTags[] = "TooManyTags";
inline constexpr char kTooManyTargets[] = "TooManyTargets";
inline constexpr char kResourceInUse[] = "ResourceInUse";
inline constexpr char kInvalidTarget[] = "InvalidTarget";
inline constexpr char kOperationNotPermitted[] = "OperationNotPermitted";
inline constexpr char kTargetGroupAssociationLimit[] = "TargetGroupAssociationLimit";

inline absl::Status LoadBalancerNotFound(absl::string_view which) {
  return ElbError(absl::StatusCode::kNotFound, kLoadBalancerNotFound,
                  absl::StrCat("One or more load balancers not found: ", which));
}
inline absl::Status ListenerNotFound(absl::string_view which) {
  return ElbError(absl::StatusCode::kNotFound, kListenerNotFound,
                  absl::StrCat("One or more listeners not found: ", which));
}
inline absl::Status RuleNotFound(absl::string_view which) {
  return ElbError(absl::StatusCode::kNotFound, kRuleNotFound,
                  absl::StrCat("One or more rules not found: ", which));
}
inline absl::Status TargetGroupNotFound(absl::string_view which) {
  return ElbError(absl::StatusCode::kNotFound, kTargetGroupNotFound,
                  absl::StrCat("One or more target groups not found: ", which));
}
// AddTags and friends on an ARN that names nothing (ELBv2 answers with the kind's NotFound).
inline absl::Status ResourceNotFound(absl::string_view arn) {
  if (absl::StrContains(arn, ":targetgroup/")) return TargetGroupNotFound(arn);
  if (absl::StrContains(arn, ":listener-rule/")) return RuleNotFound(arn);
  if (absl::StrContains(arn, ":listener/")) return ListenerNotFound(arn);
  return LoadBalancerNotFound(arn);
}

inline absl::Status OutOfRange(absl::string_view member, int64_t value, int64_t low,
                               int64_t high) {
  return Invalid(absl::StrCat(member, ": must be ", low, "-", high, "; got ", value));
}

// The names of load balancers and target groups: 1-32 letters, digits and hyphens, not starting
// or ending with a hyphen, not "internal-...".
inline absl::Status CheckName(absl::string_view name) {
  const bool charset = std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-';
  });
  if (name.empty() || name.size() > 32 || !charset || name.front() == '-' ||
      name.back() == '-' || absl::StartsWithIgnoreCase(name, "internal-")) {
    return Invalid(absl::StrCat("Name: must be 1-32 letters, digits or hyphens, not beginning "
                                "or ending with a hyphen nor with 'internal-'; got '",
                                name, "'"));
  }
  return absl::OkStatus();
}

}  // namespace skiff::elb

#endif  // SKIFF_SRC_ELB_ERRORS_H_
