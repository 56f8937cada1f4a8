// The CNI implementation of TaskNetwork. It runs the plugins of Debian's
// containernetworking-plugins as libcni would: each plugin of the chain bridge (host-local IPAM)
// → portmap → firewall gets ADD with the previous plugin's result, DEL goes in reverse with the
// result ADD recorded; loopback brings lo up. The chain is the one that keeps container to
// container and hairpin traffic working when the host's FORWARD policy is DROP (firewall opens
// FORWARD for the task's address; bridge with hairpinMode lets a container reach its own
// published port).
//
// Everything it creates is named so that it can be found again after a crash: namespaces are bind
// mounts at NETNS_DIR/<id>, ADD results are kept at STATE_DIR/results/<id>.json, leases of the
// host-local IPAM at STATE_DIR/ipam/<network>. The bridge itself stays, as docker0 does.
#ifndef SKIFF_NETWORK_CNI_NETWORK_H_
#define SKIFF_NETWORK_CNI_NETWORK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "skiff/network/task_network.h"

namespace skiff::network {

inline constexpr char kDefaultBridge[] = "skiff0";
// A private range that Docker (172.17.0.0/16 and up), libvirt (192.168.122.0/24) and most home
// and office networks leave alone.
inline constexpr char kDefaultSubnet[] = "10.213.0.0/16";
inline constexpr char kDefaultPluginDir[] = "/usr/lib/cni";

struct CniConfig {
  std::string bridge = kDefaultBridge;
  std::string subnet = kDefaultSubnet;  // IPv4 CIDR; the bridge takes its first address.
  std::string plugin_dir = kDefaultPluginDir;
  std::string state_dir;  // Results and IPAM leases (skiffd: STATE_DIR/network).
  std::string netns_dir;  // Namespace bind mounts (skiffd: STATE_DIR/netns).
};

// Checks the configuration against the host: a well-formed IPv4 subnet of at most /30, a bridge
// name the kernel accepts, the plugins present, and then that no route of another interface
// overlaps the subnet. InvalidArgument naming the setting otherwise. What depends on the host
// comes last, so that a bad setting is named as such whatever else runs on the machine.
absl::Status ValidateCniConfig(const CniConfig& config);

inline constexpr char kDefaultBridgeLockDir[] = "/run/skiff/bridges";

// One skiffd per bridge: two on one bridge would give out the same task addresses from their
// own IPAM leases (seen: three tasks, one answering). The claim is a lock on
// LOCK_DIR/BRIDGE.lock, held until it is destroyed (or the process ends), that says which
// process and state directory hold the bridge. FailedPrecondition naming the bridge, the subnet,
// the holder and the flags to change when another process holds it.
class BridgeClaim {
 public:
  ~BridgeClaim();
  BridgeClaim(const BridgeClaim&) = delete;
  BridgeClaim& operator=(const BridgeClaim&) = delete;

 private:
  friend absl::StatusOr<std::unique_ptr<BridgeClaim>> ClaimBridge(const CniConfig&,
                                                                  const std::string&);
  explicit BridgeClaim(int fd) : fd_(fd) {}
  int fd_;
};

absl::StatusOr<std::unique_ptr<BridgeClaim>> ClaimBridge(
    const CniConfig& config, const std::string& lock_dir = kDefaultBridgeLockDir);

// A CniConfig that ValidateCniConfig accepted. Creates the state directories.
absl::StatusOr<std::unique_ptr<TaskNetwork>> NewCniNetwork(CniConfig config);

}  // namespace skiff::network

#endif  // SKIFF_NETWORK_CNI_NETWORK_H_
