// The pure rules of DataPlaneSync beyond PlanSync and EffectivePlane (data_plane_sync.h): which
// servers count as admitted, and how long to wait after a failure. Apart from the thread so that
// unit tests check them without HAProxy or time. Any thread.
#ifndef SKIFF_SRC_LB_SYNC_PLAN_H_
#define SKIFF_SRC_LB_SYNC_PLAN_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "skiff/lb/config.h"
#include "skiff/lb/data_plane_sync.h"
#include "skiff/lb/haproxy_admin.h"

namespace skiff::lb {

// Whether a `show stat` check_status is a passing check: L7OK (HTTP), L4OK (TCP connect), L6OK
// (TLS).
bool CheckPassed(absl::string_view check_status);

// The targets a HAProxy that skiffd adopts already treats as ready: servers UP (or draining)
// whose last check passed or whose weight is above 0. Counting them as admitted keeps them at
// their weight through the first reload.
absl::flat_hash_set<std::string> SeedAdmitted(const std::vector<ServerStat>& servers);

// The targets of `applied` not yet admitted whose last check in `servers` passed, each with the
// weight HAProxy should have once it is admitted (0 when draining). Targets in maintenance are
// not checked and never become admitted here.
std::vector<ServerWeightChange> Admissions(const DataPlane& applied,
                                           const absl::flat_hash_set<std::string>& admitted,
                                           const std::vector<ServerStat>& servers);

// The wait after `failures` consecutive failed applies (1 or more): min doubled each time, at
// most max.
absl::Duration RestartBackoff(int failures, absl::Duration min, absl::Duration max);

}  // namespace skiff::lb

#endif  // SKIFF_SRC_LB_SYNC_PLAN_H_
