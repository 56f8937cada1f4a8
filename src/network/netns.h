// Named network namespaces as bind mounts (what `ip netns add` does, without its /run/netns):
// a file whose mount is the namespace keeps it alive with no process in it, and is what runc
// joins and CNI plugins enter. Private to the network component.
#ifndef SKIFF_SRC_NETWORK_NETNS_H_
#define SKIFF_SRC_NETWORK_NETNS_H_

#include <string>

#include "absl/status/status.h"

namespace skiff::network {

// Creates a new namespace bound at `path` (a file that must not exist yet).
absl::Status CreateNetns(const std::string& path);
// Whether `path` is a mounted network namespace (not a plain file left after a reboot).
bool IsNetns(const std::string& path);
// Unmounts and removes `path`. Ok when it does not exist.
absl::Status RemoveNetns(const std::string& path);

}  // namespace skiff::network

#endif  // SKIFF_SRC_NETWORK_NETNS_H_
