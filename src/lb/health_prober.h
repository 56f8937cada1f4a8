// HealthProber: the I/O of DataPlaneSync's first probe (lb/first_probe.h). It runs many probes
// at once on one libcurl multi handle without blocking: Start() sets a probe off, Collect()
// moves every probe on and returns those that ended, and Wait() sleeps until one may have ended
// (or Wakeup(), or a timeout), so that the sync thread can sleep on it instead of its mutex
// while probes are out. An HTTP probe is a GET of the check's path with `Host: <address>` that
// passes when the status matches the check's matcher (libcurl reads the answer; the body is not
// read); a TCP probe is a connect. Connections are never reused: each probe opens its own and
// closes it, so a probed task holds no idle connection of skiffd's. No proxy is used, whatever
// the environment says.
//
// The sync thread owns it: every member but Wakeup() on that thread only. Wakeup() from any
// thread (it is how Want() and Shutdown() reach a sync thread asleep in Wait()).
#ifndef SKIFF_SRC_LB_HEALTH_PROBER_H_
#define SKIFF_SRC_LB_HEALTH_PROBER_H_

#include <curl/curl.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "lb/first_probe.h"

namespace skiff::lb {

struct ProbeResult {
  std::string key;  // As given to Start().
  ProbeSpec spec;   // The probe that ran: the caller checks it is still the one wanted.
  bool passed = false;
  std::string detail;  // "status 200", or why there was no answer (libcurl's words).
};

class HealthProber {
 public:
  HealthProber();
  // Cancels every probe out.
  ~HealthProber();
  HealthProber(const HealthProber&) = delete;
  HealthProber& operator=(const HealthProber&) = delete;

  // Sets a probe of `spec` off under `key`, replacing one out under the same key. A probe that
  // cannot start (a bad matcher or URL) ends at once, failed: the next Collect() returns it.
  void Start(const std::string& key, const ProbeSpec& spec);
  // Drops the probe out under `key`, if any; it is never returned.
  void Cancel(const std::string& key);
  // Whether a probe is out or ended and not yet collected.
  bool busy() const { return !probes_.empty() || !ended_.empty(); }

  // Sleeps until a probe may have ended, Wakeup() or `timeout`, whichever comes first; returns
  // at once when one ended already.
  void Wait(absl::Duration timeout);
  void Wakeup();

  // Moves every probe on (without blocking) and returns those that ended since the last call.
  std::vector<ProbeResult> Collect();

 private:
  struct Probe;

  CURLM* const multi_;  // Null when libcurl could not make one: every probe then fails.
  absl::flat_hash_map<std::string, std::unique_ptr<Probe>> probes_;
  std::vector<ProbeResult> ended_;  // Failed to start; returned by the next Collect().
};

}  // namespace skiff::lb

#endif  // SKIFF_SRC_LB_HEALTH_PROBER_H_
