// Parsing an ALB health check matcher ("200", "200,202", "200-299").
#include "lb/health_matcher.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace skiff::lb {

absl::StatusOr<std::vector<CodeRange>> ParseMatcher(absl::string_view matcher) {
  std::vector<CodeRange> ranges;
  for (absl::string_view part : absl::StrSplit(matcher, ',')) {
    const std::vector<absl::string_view> ends = absl::StrSplit(part, absl::MaxSplits('-', 1));
    CodeRange range;
    if (!absl::SimpleAtoi(ends[0], &range.low) ||
        !absl::SimpleAtoi(ends.size() == 2 ? ends[1] : ends[0], &range.high) || range.low < 100 ||
        range.high > 599 || range.low > range.high) {
      return absl::InvalidArgumentError(
          absl::StrCat("must be HTTP codes 100-599 as \"200\", \"200,202\" or \"200-299\"; got \"",
                       matcher, "\""));
    }
    ranges.push_back(range);
  }
  return ranges;
}

bool MatcherAccepts(const std::vector<CodeRange>& matcher, int status) {
  return std::any_of(matcher.begin(), matcher.end(),
                     [status](const CodeRange& r) { return r.low <= status && status <= r.high; });
}

}  // namespace skiff::lb
