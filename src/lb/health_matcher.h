// The matcher of an ALB health check (HttpCode): which HTTP statuses count as a passing check,
// written "200", "200,202", "200-299" or a mix ("200-202,204"), codes 100-599. The renderer turns
// it into HAProxy's `http-check expect rstatus`; DataPlaneSync's first probe reads a status with
// it. Pure; any thread.
#ifndef SKIFF_SRC_LB_HEALTH_MATCHER_H_
#define SKIFF_SRC_LB_HEALTH_MATCHER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff::lb {

// One alternative of a matcher: the codes low to high, both included.
struct CodeRange {
  int low = 0;
  int high = 0;
  friend bool operator==(const CodeRange&, const CodeRange&) = default;
};

// The alternatives of `matcher`, in its order; InvalidArgument (the message says what a matcher
// looks like) when a part is not a code 100-599 or a range of them, low first.
absl::StatusOr<std::vector<CodeRange>> ParseMatcher(absl::string_view matcher);

// Whether `status` is one of the codes of a parsed matcher.
bool MatcherAccepts(const std::vector<CodeRange>& matcher, int status);

}  // namespace skiff::lb

#endif  // SKIFF_SRC_LB_HEALTH_MATCHER_H_
