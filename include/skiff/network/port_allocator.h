// PortAllocator: the node's host ports as a placement resource, as the ECS agent keeps them. A
// task's fixed hostPorts must be free (not held by another task, not reserved, not bound by a
// process on the host); hostPort 0 or absent gets a free port of the dynamic range, never a
// reserved one and never one in use. Owners (task ids) hold their ports until Release.
//
// Thread contract: not thread-safe; the scheduler uses it on the control loop.
#ifndef SKIFF_NETWORK_PORT_ALLOCATOR_H_
#define SKIFF_NETWORK_PORT_ALLOCATOR_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "skiff/network/task_network.h"

namespace skiff::network {

// ECS's defaults: the ephemeral range Docker uses for dynamic host ports, and the ports the agent
// reserves (ssh, the Docker daemon, the agent's introspection API).
inline constexpr int kDefaultDynamicPortLow = 49153;
inline constexpr int kDefaultDynamicPortHigh = 65535;

struct PortAllocatorOptions {
  int dynamic_low = kDefaultDynamicPortLow;
  int dynamic_high = kDefaultDynamicPortHigh;
  std::vector<int> reserved = {22, 2375, 2376, 51678, 51679, 51680};
  // Whether a process on the host holds the port (tcp or udp); the default tries to bind it.
  std::function<bool(int port, const std::string& protocol)> in_use;
  // The host ports that a DNAT rule of the host redirects elsewhere (another skiffd's tasks,
  // Docker's published ports, a rule left behind): a task given one would never see a
  // connection. The default reads the host's nat table (RedirectedHostPorts).
  std::function<std::set<std::pair<std::string, int>>()> redirected;
};

// What a container asks for: host_port 0 for a dynamic port. With `count` above 1 (dynamic
// only), the container ports container_port .. container_port + count - 1 on as many contiguous
// host ports, as the ECS agent maps a containerPortRange in bridge mode; the binding that
// answers it names the first of each.
struct PortRequest {
  int container_port = 0;
  int host_port = 0;
  std::string protocol = "tcp";
  int count = 1;
};

// Whether something on the host has a socket bound to 0.0.0.0:port (or a more specific address
// on it) for the protocol: a bind without SO_REUSEADDR semantics for listeners fails.
bool HostPortInUse(int port, const std::string& protocol);

// The (protocol, port) pairs that rules of `iptables-save -t nat` output send to DNAT or
// REDIRECT by destination port (--dport N, --dport N:M, --dports N,M:K). Negated matches and
// rules without a port are left out.
std::set<std::pair<std::string, int>> ParseRedirectedPorts(std::string_view iptables_save);

// ParseRedirectedPorts of the host's nat table, read at most once a second (iptables-save takes
// ~5 ms); empty when it cannot be read (no iptables, not root): then only binds tell.
std::set<std::pair<std::string, int>> RedirectedHostPorts();

class PortAllocator {
 public:
  explicit PortAllocator(PortAllocatorOptions options);

  // The bindings for `requests`, in their order, held for `owner`; nothing is held when it
  // fails. ResourceExhausted with ECS's reason: "RESOURCE:PORTS" (tcp) or "RESOURCE:PORTS_UDP".
  absl::StatusOr<std::vector<PortBinding>> Allocate(const std::string& owner,
                                                    const std::vector<PortRequest>& requests);
  // Holds bindings chosen earlier (a task loaded from the store); ports held by someone else
  // are logged and skipped.
  void Hold(const std::string& owner, const std::vector<PortBinding>& bindings);
  void Release(const std::string& owner);

  // Whether `owner` could have `requests` now (no side effect); "" or the ECS reason.
  std::string Check(const std::vector<PortRequest>& requests) const;
  // The protocol ("tcp", "udp") of the first request that cannot be had now; nullopt when
  // every one can (no side effect).
  std::optional<std::string> Conflict(const std::vector<PortRequest>& requests) const;

 private:
  using Key = std::pair<std::string, int>;  // protocol, port.
  // `redirected`, when the check is for a port of the given protocol; read once per call.
  bool Free(const Key& key, const std::set<Key>& redirected) const;
  // The first of `count` contiguous free ports of the dynamic range, none in `taken`, looking
  // upwards from `start` and then from the bottom; nullopt when there is no such run.
  std::optional<int> FindDynamic(const std::string& protocol, int count, int start,
                                 const std::set<Key>& redirected,
                                 const std::set<Key>& taken) const;
  static std::string Reason(const std::string& protocol);

  PortAllocatorOptions options_;
  std::set<int> reserved_;
  std::map<Key, std::string> held_;                      // → owner.
  std::map<std::string, std::vector<Key>> by_owner_;
  std::map<std::string, int> next_dynamic_;              // Per protocol: where the search starts.
};

}  // namespace skiff::network

#endif  // SKIFF_NETWORK_PORT_ALLOCATOR_H_
