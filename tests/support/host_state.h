// Reading, and repairing, the host state that containers leave behind: mounts, processes,
// cgroups and directories. The inspection functions are how tests prove that nothing leaked;
// the repair functions are PrivateContainerd's last line of cleanup. Every function only reads
// /proc or touches paths it is given; none keeps state, so any thread may call them.

#ifndef SKIFF_TESTS_SUPPORT_HOST_STATE_H_
#define SKIFF_TESTS_SUPPORT_HOST_STATE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff::testing {

// Mount points at or below `dir`, from /proc/self/mountinfo, deepest (and most recent) first.
std::vector<std::string> MountsUnder(absl::string_view dir);

// Live processes other than this one with a command-line argument equal to `dir`, inside it,
// or naming it after '=': a daemon started with --config dir/..., its shims (-address dir/...).
std::vector<pid_t> ProcessesReferencing(absl::string_view dir);

// Live processes whose root filesystem is an overlay with a layer inside `dir` (or a bind mount
// of a directory inside it): what runs in the containers of a containerd rooted there. Found by
// mount namespace, since /proc/PID/root of a pivoted container reads as "/".
std::vector<pid_t> ContainerProcessesUnder(absl::string_view dir);

// Live containerd shims started for the daemon listening on `socket`, i.e. processes run as
// `containerd-shim* ... -address SOCKET`.
std::vector<pid_t> ShimProcessesOf(absl::string_view socket);

// Detaches every mount at or below `dir`, deepest first. Internal error naming what remains.
absl::Status UnmountAllUnder(const std::string& dir);

// rm -rf that never crosses into another filesystem: should an unmount have failed, it must not
// delete through a bind mount into the host. OK once `dir` no longer exists.
absl::Status RemoveTree(const std::string& dir);

// Removes each cgroup path (e.g. /skiff-test/web-1; deepest first) from every mounted cgroup
// hierarchy, v1 and v2. rmdir only succeeds on an empty cgroup, so one in use stays. Waits up to
// 2s in total for cgroups whose last process has just died.
void RemoveCgroups(const std::vector<std::string>& cgroups);

// Small file helpers for /proc and state directories.
absl::StatusOr<std::string> ReadFile(const std::string& path);
// Entry names (without . and ..), sorted; empty if `path` cannot be read.
std::vector<std::string> ListDir(const std::string& path);

}  // namespace skiff::testing

#endif  // SKIFF_TESTS_SUPPORT_HOST_STATE_H_
