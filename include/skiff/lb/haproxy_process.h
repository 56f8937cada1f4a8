// HaproxyProcess: the one HAProxy of the node, in master-worker mode, started by skiffd and
// outliving it: traffic keeps flowing while skiffd is down or restarting. skiffd renders the
// whole config (config.h) into the state dir; this class validates it (`haproxy -c`), starts
// HAProxy on it or adopts the one already running (its master's pid file), and reloads it
// (SIGUSR2 to the master, `expose-fd listeners`, so no connection is refused across a reload).
//
// A config that fails `haproxy -c` is never installed: the running one stays. The master is
// started in its own session, so stopping skiffd (systemd KillMode=process) leaves it running;
// Stop() ends it (for deleting the last listener, and tests).
//
// Thread-compatible; every call blocks (fork/exec, waits), so call it off the loop.
#ifndef SKIFF_LB_HAPROXY_PROCESS_H_
#define SKIFF_LB_HAPROXY_PROCESS_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace skiff::lb {

struct HaproxyPaths {
  std::string binary = "/usr/sbin/haproxy";
  std::string dir;  // STATE_DIR/lb: config, pid file, sockets.
  std::string config() const { return dir + "/haproxy.cfg"; }
  std::string pid_file() const { return dir + "/haproxy.pid"; }
  std::string admin_socket() const { return dir + "/admin.sock"; }
  std::string master_socket() const { return dir + "/master.sock"; }
};

class HaproxyProcess {
 public:
  explicit HaproxyProcess(HaproxyPaths paths);

  // Checks a config with `haproxy -c`: InvalidArgument with HAProxy's own message when it
  // fails. Writes nothing.
  absl::Status Validate(const std::string& config) const;

  // Validates `config`, writes it atomically, and then: reloads the running master, or adopts
  // one that runs on this dir (a previous skiffd's), or starts one. Returns once the new
  // workers answer on the admin socket (or `timeout`).
  absl::Status Apply(const std::string& config, absl::Duration timeout = absl::Seconds(5));

  // The master's pid when it runs (from the pid file, checked against /proc), else NotFound.
  absl::StatusOr<pid_t> MasterPid() const;
  bool Running() const { return MasterPid().ok(); }

  // Ends the master and its workers (SIGTERM, then SIGKILL after `grace`) and removes the pid
  // file and sockets. OK when nothing runs.
  absl::Status Stop(absl::Duration grace = absl::Seconds(5));

  const HaproxyPaths& paths() const { return paths_; }

 private:
  // Starts `haproxy -W -D` on the installed config and waits until a worker answers.
  absl::Status Start(absl::Time deadline);
  // SIGUSR2 to `master`, then waits until a worker other than the current one answers.
  absl::Status Reload(pid_t master, absl::Time deadline);
  // Until `show info` on the admin socket names a worker pid other than `old_worker` ("" for
  // any), or DeadlineExceeded with the master's `show proc`.
  absl::Status WaitForWorker(const std::string& old_worker, absl::Time deadline);

  HaproxyPaths paths_;
};

}  // namespace skiff::lb

#endif  // SKIFF_LB_HAPROXY_PROCESS_H_
