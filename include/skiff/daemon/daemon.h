// Daemon: skiffd's wiring, the only place that picks concrete classes (SQLite store, containerd
// runtime, thread loop, real clock). Run() brings the pieces up in order, reports READY=1 to
// systemd, waits for SIGTERM/SIGINT and takes them down: stop serving, finish in-flight writes,
// leave every container running.
//
// Called from main's thread only. SIGTERM, SIGINT and SIGHUP must be blocked in every thread
// before Run() starts any (main does this), so that Run() can sigwait for them.
#ifndef SKIFF_DAEMON_DAEMON_H_
#define SKIFF_DAEMON_DAEMON_H_

#include "skiff/daemon/options.h"

namespace skiff::daemon {

// Returns the process exit code.
int Run(const Options& options);

}  // namespace skiff::daemon

#endif  // SKIFF_DAEMON_DAEMON_H_
