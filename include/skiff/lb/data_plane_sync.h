// DataPlaneSync: keeps the node's HAProxy at the data plane the control loop wants. It owns one
// worker thread (the sync thread), which alone drives HaproxyProcess and HaproxyAdmin: the loop
// hands it the desired DataPlane with Want(), which returns at once, and hears back through the
// observer what HAProxy runs, which targets are admitted and every server's `show stat` line.
//
// What the sync thread does, each time Want() brings a plane and every poll_interval:
// - A plane with no frontend and no backend stops HAProxy (no process, socket or pid file is
//   left; the last config file stays, unused). Otherwise, when no HAProxy answers,
//   HaproxyProcess::Apply starts one (or adopts a previous skiffd's), with exponential back-off
//   between min_backoff and max_backoff while it fails.
// - A change it can make over the runtime API (servers of non-sticky backends) is made there
//   (PlanSync); any other change, or a runtime step HAProxy refuses, is a reload of the whole
//   rendered config (EffectivePlane). A plane the renderer or `haproxy -c` rejects is never
//   installed: the running config stays, the error (InvalidArgument) is in the report, and
//   nothing is tried again, a restart of a HAProxy that dies meanwhile included, until Want()
//   brings another generation.
// - Admission: a target starts at weight 0 and is raised to its weight (admitted) by whichever
//   comes first: the first `show stat` after its first passing check in HAProxy (L4OK, L6OK,
//   L7OK), or the sync's own first probe. HAProxy 2.6 runs a server's first check one whole
//   check interval after `add server` (30 s with ALB's defaults), so while a target awaits
//   admission (wanted, not draining, not in maintenance) the sync probes it every
//   probe_interval with the backend's check: HTTP, a GET of the check's path on the check's port
//   (or the target's), with `Host: <address>`, passing on a status the matcher takes; TCP, a
//   connect. A probe waits at most min(check timeout, 1 s); after 20 failures in a row a target
//   is probed every 400 ms (or every probe_interval, if longer), so that one ready later still
//   waits under half a second; at most 32 probes are out at once, run together without blocking
//   the sync thread. The first passing probe admits the target at once, as a passing check
//   would: it is then UP at its weight in HAProxy, its check_status still "INI". From then on
//   HAProxy's checks alone judge it: a target that fails them goes DOWN in HAProxy as before. A
//   target is admitted until it is removed; reloads and HAProxy restarts keep it at its weight.
// - Removal: `state maint`, then `del server`, which HAProxy refuses while a connection lingers:
//   retried at every poll (a reload removes it too).
//
// At construction the thread adopts a HAProxy that runs on paths.dir (a previous skiffd's), so
// traffic flows on across restarts: servers that are UP at a weight or after a passing check
// count as admitted, and the first Want() reloads with them at their weights.
//
// Thread-safe: Want() and Shutdown() from any thread. The observer runs on the sync thread,
// after a poll, an apply or a probe whose report differs from the last one; it must not block
// for long and must not call Shutdown() (which joins that thread).
#ifndef SKIFF_LB_DATA_PLANE_SYNC_H_
#define SKIFF_LB_DATA_PLANE_SYNC_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "skiff/lb/config.h"
#include "skiff/lb/haproxy_admin.h"
#include "skiff/lb/haproxy_process.h"

namespace skiff::lb {

class HealthProber;   // lb/health_prober.h
class ProbeSchedule;  // lb/first_probe.h
struct AwaitingTarget;

struct DataPlaneSyncOptions {
  HaproxyPaths paths;
  RenderOptions render;  // render.admin_socket is set from paths by the sync.
  absl::Duration poll_interval = absl::Milliseconds(100);
  absl::Duration min_backoff = absl::Milliseconds(200);  // HAProxy (re)start / apply failures.
  absl::Duration max_backoff = absl::Seconds(30);
  // How often a target awaiting admission is probed (from one probe's end to the next).
  absl::Duration probe_interval = absl::Milliseconds(100);
};

struct DataPlaneReport {
  // The last Want() generation fully applied (0: none yet). Fully, except that a removed
  // target may still be in `removing`: out of service, its `del server` waiting for its last
  // connection to close.
  uint64_t generation = 0;
  bool running = false;  // A master runs and its admin socket answered the last poll.
  // OK, or the error of the last apply, start or stop while it stands (HAProxy's own text; an
  // apply error stays until an apply succeeds), else of the last poll.
  absl::Status status;
  // Every server's `show stat` line at the last poll; empty while running is false, so the
  // absence of a server means something only when running is true. A target admitted by the
  // sync's first probe is UP at its weight while its check_status may still be "INI" (HAProxy
  // has not checked it yet).
  std::vector<ServerStat> servers;
  // "backend/name" (ServerKey) of every target admitted (a passing check or first probe seen)
  // and not yet removed, sorted. Draining targets stay admitted.
  std::vector<std::string> admitted;
  // "backend/name" of the targets no longer wanted that HAProxy still holds, in maintenance,
  // sorted: a target is gone from HAProxy once generation covers its removal and it is not here.
  std::vector<std::string> removing;
  friend bool operator==(const DataPlaneReport&, const DataPlaneReport&) = default;
};

// "backend/name": how DataPlaneReport and PlanSync's `admitted` name a target.
std::string ServerKey(absl::string_view backend, absl::string_view name);

// A server in a backend.
struct ServerRef {
  std::string backend;
  std::string name;
  friend bool operator==(const ServerRef&, const ServerRef&) = default;
};

struct ServerStateChange {
  ServerRef server;
  ServerAdminState state = ServerAdminState::kReady;
  friend bool operator==(const ServerStateChange&, const ServerStateChange&) = default;
};

struct ServerWeightChange {
  ServerRef server;
  int weight = 0;
  friend bool operator==(const ServerWeightChange&, const ServerWeightChange&) = default;
};

// What it takes to go from one plane to another: a reload, or these runtime steps, run in this
// order (all adds, then states, weights, removals).
struct SyncSteps {
  bool reload = false;  // Then the lists are empty: the reload does it all.
  // `add server` at weight 0 with the backend's checks, then `enable health`, `enable server`.
  std::vector<ServerSpec> add;
  // `set server ... state`: drain (a target now draining), maint (now in maintenance), ready
  // (neither any more). Added targets that are draining or in maintenance are here too.
  std::vector<ServerStateChange> set_state;
  // `set weight`: to the target's weight when it is admitted and not draining, else 0; only
  // where that differs from what HAProxy has.
  std::vector<ServerWeightChange> set_weight;
  // `state maint`, then `del server` (retried while connections linger).
  std::vector<ServerRef> remove;
  bool empty() const {
    return !reload && add.empty() && set_state.empty() && set_weight.empty() && remove.empty();
  }
  friend bool operator==(const SyncSteps&, const SyncSteps&) = default;
};

// Pure: what it takes to go from `applied` (what HAProxy runs now) to `desired`, given the set
// of admitted targets (ServerKey). A reload when anything other than non-sticky backends'
// targets differs: frontends (and so rules), backend settings, backends added or removed,
// targets of a sticky backend (HAProxy 2.6 refuses `cookie` on `add server`), a target's address
// or port, or duplicate names (which the renderer then rejects with the field's path).
// Otherwise the runtime steps per server. The order of backends and of targets is not a change.
SyncSteps PlanSync(const DataPlane& applied, const DataPlane& desired,
                   const absl::flat_hash_set<std::string>& admitted);

// The DataPlane to render: each target at its weight when admitted and not draining, else 0.
DataPlane EffectivePlane(const DataPlane& desired,
                         const absl::flat_hash_set<std::string>& admitted);

class DataPlaneSync {
 public:
  using Observer = std::function<void(const DataPlaneReport&)>;  // Called on the sync thread.

  // Starts the sync thread, which adopts whatever HAProxy runs on options.paths.dir.
  DataPlaneSync(DataPlaneSyncOptions options, Observer observer);
  // Joins the thread; HAProxy keeps running (it outlives skiffd).
  ~DataPlaneSync();
  DataPlaneSync(const DataPlaneSync&) = delete;
  DataPlaneSync& operator=(const DataPlaneSync&) = delete;

  // Sets the desired state; returns at once. Later calls replace earlier ones (only the newest
  // is applied). Ignored after Shutdown().
  void Want(DataPlane plane, uint64_t generation);

  // Stops the thread, then stops HAProxy when asked (for tests, and for "the last load balancer
  // is gone"). Later calls only stop HAProxy again when asked.
  absl::Status Shutdown(bool stop_haproxy);

 private:
  struct Wanted {
    DataPlane plane;
    uint64_t generation = 0;
  };

  // What ended the sync thread's sleep: Shutdown(), a round (Want() or the poll's time), or the
  // first probe (one ended, or one is due).
  enum class Wake { kStop, kRound, kProbe };

  void Run();
  // Polls what runs on paths.dir and seeds admitted_ from it; false on Shutdown().
  bool Adopt();
  // Sleeps until Want(), Shutdown(), `next_poll`, or the first probe's next event: on the
  // prober while probes are out, else on mu_.
  Wake WaitForWork(absl::Time next_poll);
  // One round: make HAProxy match the desired plane, poll it, report.
  void Reconcile();
  void StopHaproxy();
  // Runs `steps` (PlanSync's, no reload); then applied_ is the desired plane, plus the removed
  // targets whose `del server` is still refused. An error leaves applied_ unknown.
  absl::Status RunSteps(const SyncSteps& steps);
  // Renders EffectivePlane(desired) and applies it (validate, install, reload or start).
  absl::Status ApplyWholeConfig();
  // Records how an apply ended: back-off after a failure, no retry of a rejected config.
  void Finish(const absl::Status& status);
  void Poll();
  void Admit();
  // The first probe: admits the targets whose probe passed, then starts those due.
  void Probe();
  // Raises a target whose probe passed to its weight; false when HAProxy refuses.
  bool AdmitProbed(const AwaitingTarget& target);
  void Report();

  const DataPlaneSyncOptions options_;
  const Observer observer_;

  absl::Mutex mu_;
  std::optional<Wanted> wanted_ ABSL_GUARDED_BY(mu_);  // Newer than desired_ when set.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // Shutdown() callers, one at a time: it joins the thread and then uses process_ itself.
  absl::Mutex shutdown_mu_;

  // Everything below belongs to the sync thread (to Shutdown() once it has joined it).
  HaproxyProcess process_;
  const HaproxyAdmin admin_;
  // Wakeup() on the prober is the one call other threads make (Want(), Shutdown()).
  const std::unique_ptr<HealthProber> prober_;
  const std::unique_ptr<ProbeSchedule> probe_schedule_;
  std::optional<Wanted> desired_;
  // The plane HAProxy runs, as Want() gave it (weights before admission): HAProxy's servers are
  // EffectivePlane(*applied_, admitted_). Unknown (nullopt) until an apply or after a failure.
  std::optional<DataPlane> applied_;
  absl::flat_hash_set<std::string> admitted_;
  std::vector<std::string> removing_;
  bool converged_ = false;  // applied_ is desired_'s plane, nothing pending.
  uint64_t applied_generation_ = 0;
  std::optional<uint64_t> rejected_generation_;  // Its config failed to render or `haproxy -c`.
  int failures_ = 0;                             // Consecutive failed applies.
  absl::Time next_attempt_ = absl::InfinitePast();
  absl::Status apply_status_;
  absl::Status poll_status_;
  bool running_ = false;
  std::vector<ServerStat> servers_;
  std::optional<DataPlaneReport> last_report_;

  std::thread thread_;  // Last: it starts once everything above is built.
};

}  // namespace skiff::lb

#endif  // SKIFF_LB_DATA_PLANE_SYNC_H_
