// DataPlaneSync's first probe, its pure part: which targets await admission, what probe admits
// each, and when to probe it. HAProxy 2.6 runs a server's first check one whole `inter` after
// `add server` (30 s with ALB's defaults), so the sync probes a waiting target itself with the
// backend's own check and admits it at the first pass; HAProxy's checks take over from there.
// The I/O is HealthProber's (lb/health_prober.h). Pure; ProbeSchedule is the sync thread's.
#ifndef SKIFF_SRC_LB_FIRST_PROBE_H_
#define SKIFF_SRC_LB_FIRST_PROBE_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "skiff/lb/config.h"
#include "skiff/lb/data_plane_sync.h"

namespace skiff::lb {

// The longest a probe waits for its answer, whatever the check's own timeout: a probe that
// hangs only delays the next one of the same target.
inline constexpr absl::Duration kMaxProbeTimeout = absl::Seconds(1);

// One probe of one target, as the backend's health check would make it.
struct ProbeSpec {
  Protocol protocol = Protocol::kHttp;  // The check's: HTTP, or TCP (a connect).
  std::string address;
  int port = 0;         // The check's port, or the target's traffic port.
  std::string path;     // HTTP: GET this, with `Host: <address>`.
  std::string matcher;  // HTTP: the statuses that pass ("200", "200,202", "200-299").
  absl::Duration timeout = kMaxProbeTimeout;  // min(check timeout, kMaxProbeTimeout).
  friend bool operator==(const ProbeSpec&, const ProbeSpec&) = default;
};

// A target awaiting admission: the probe that admits it and the weight it then gets.
struct AwaitingTarget {
  ServerRef server;
  int weight = 0;
  ProbeSpec probe;
  friend bool operator==(const AwaitingTarget&, const AwaitingTarget&) = default;
};

// The targets HAProxy holds (`applied`) that await admission: wanted (in `desired`, at the same
// address and port), neither draining nor in maintenance in either, and not in `admitted`
// (ServerKey). In `applied`'s order.
std::vector<AwaitingTarget> AwaitingAdmission(const DataPlane& applied, const DataPlane& desired,
                                              const absl::flat_hash_set<std::string>& admitted);

// How often the sync probes a waiting target, and how many probes may be out at once. The
// defaults are DataPlaneSync's (its probe_interval replaces `interval`).
struct ProbePacing {
  absl::Duration interval = absl::Milliseconds(100);  // From a probe's end to the next.
  // After `failures_before_slow` probes in a row failed, a target that does not answer yet
  // (an application still starting, or a broken task) is probed at this pace instead: a quarter
  // of the probes, while an application that becomes ready still waits less than half a second
  // for its next probe (issue 18: its first request within 500 ms of being ready). Most take
  // longer than 2 s to start, so this is the pace that usually admits them.
  absl::Duration slow_interval = absl::Milliseconds(400);
  int failures_before_slow = 20;
  int max_in_flight = 32;  // In all: a burst of new targets is probed in turns.
};

// What to do with the probes in one round.
struct ProbeRound {
  std::vector<std::string> start;   // ServerKeys to probe now, in this order.
  std::vector<std::string> cancel;  // Probes out for targets that no longer await admission.
  friend bool operator==(const ProbeRound&, const ProbeRound&) = default;
};

// Per target (by ServerKey): whether a probe is out, how many failed in a row, when the next is
// due. At most one probe per target is out at a time. Time is given, never read.
class ProbeSchedule {
 public:
  explicit ProbeSchedule(ProbePacing pacing) : pacing_(pacing) {}

  // Given the targets awaiting admission now (keys, any order): forgets the others (their probes
  // out are to be cancelled), and starts those due at `now` and not out, the longest-waiting
  // first, as far as max_in_flight allows. A target it has not seen before is due at once.
  ProbeRound Next(const std::vector<std::string>& awaiting, absl::Time now);

  // A probe of `key` ended at `now` without admitting it: the next is due an interval later.
  void Failed(const std::string& key, absl::Time now);
  // A probe of `key` admitted it: forgotten.
  void Passed(const std::string& key);

  // When Next() would start a probe: the earliest due target with no probe out, or
  // InfiniteFuture when there is none or max_in_flight probes are out (the end of one is
  // what the sync waits for then).
  absl::Time NextDue() const;
  int in_flight() const { return in_flight_; }

 private:
  struct Entry {
    int failures = 0;  // In a row.
    absl::Time due = absl::InfinitePast();
    bool in_flight = false;
  };

  const ProbePacing pacing_;
  absl::flat_hash_map<std::string, Entry> entries_;
  int in_flight_ = 0;
};

}  // namespace skiff::lb

#endif  // SKIFF_SRC_LB_FIRST_PROBE_H_
