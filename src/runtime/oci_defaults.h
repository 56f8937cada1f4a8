// The fixed parts of an OCI runtime spec for Linux: containerd 1.6's default spec (oci/spec.go,
// oci/mounts.go, WithDefaultUnixDevices in oci/spec_opts.go) and the capability tables that
// cap_add/cap_drop and privileged work from. Private to the runtime library; pure data, safe from
// any thread.
#ifndef SKIFF_SRC_RUNTIME_OCI_DEFAULTS_H_
#define SKIFF_SRC_RUNTIME_OCI_DEFAULTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace skiff::runtime::oci {

// The OCI runtime-spec version we write (what runc 1.1 in Debian 12 reads).
inline constexpr char kSpecVersion[] = "1.0.2-dev";

// The PATH a container gets when neither the image nor the definition sets one (containerd's
// and Docker's default).
inline constexpr char kDefaultPath[] =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// containerd's default spec before any image or container setting: process (cwd "/", uid 0,
// default capabilities, RLIMIT_NOFILE 1024, noNewPrivileges), root "rootfs", the default mounts,
// masked and read-only paths, the device cgroup (deny all, then the default allow-list) and the
// pid/ipc/uts/mount/network namespaces. process.args and linux.cgroupsPath are left out.
nlohmann::json DefaultSpec();

// The capabilities containerd gives a container by default ("CAP_CHOWN", ...).
std::vector<std::string> DefaultCapabilities();

// Every capability Linux knows, CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (40), in number order,
// that is also in `available` (bit N for capability N).
std::vector<std::string> AllCapabilities(uint64_t available = ~uint64_t{0});

// "NET_ADMIN", "net_admin" and "CAP_NET_ADMIN" -> "CAP_NET_ADMIN"; "ALL" -> "ALL";
// nullopt for a name Linux does not know.
std::optional<std::string> CanonicalCapability(absl::string_view name);

// "nofile" -> "RLIMIT_NOFILE"; nullopt for a name that is not a Linux rlimit.
std::optional<std::string> RlimitType(absl::string_view ecs_name);

}  // namespace skiff::runtime::oci

#endif  // SKIFF_SRC_RUNTIME_OCI_DEFAULTS_H_
