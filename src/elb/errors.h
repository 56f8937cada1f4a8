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
