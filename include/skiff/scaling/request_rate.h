// RequestRate: ALBRequestCountPerTarget from a load balancer's request counters. ELB's metric
// is the Sum of RequestCount per target over one minute; HAProxy gives a running total per
// server that drops whenever a server leaves or HAProxy restarts. Each observation adds only
// what the total grew by (a drop counts as nothing new), and the rate is what was added over
// the last 60 s (from the newest observation at or before its start, scaled to one minute)
// ÷ the healthy targets.
//
// Thread contract: a value; the loop owns the one skiffd keeps (one per target group set).
#ifndef SKIFF_SCALING_REQUEST_RATE_H_
#define SKIFF_SCALING_REQUEST_RATE_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <utility>

#include "absl/time/time.h"

namespace skiff::scaling {

class RequestRate {
 public:
  static constexpr absl::Duration kWindow = absl::Seconds(60);

  // The counters at `at` (in time order): the groups' running total and healthy targets.
  // Returns the requests per target per minute; none with no healthy target or until two
  // observations are apart.
  std::optional<double> Observe(absl::Time at, int64_t total_requests, int healthy_targets);

 private:
  std::optional<int64_t> last_total_;
  int64_t added_ = 0;                            // Growth since the first observation.
  std::deque<std::pair<absl::Time, int64_t>> history_;  // (at, added_) within the window.
};

}  // namespace skiff::scaling

#endif  // SKIFF_SCALING_REQUEST_RATE_H_
