// TaskNetwork: network namespaces for tasks in bridge and awsvpc mode. Each attachment is one
// namespace with loopback up, an address on skiff's bridge and, optionally, host ports published
// to it. skiffd wires in the CNI implementation (cni_network.h), which runs Debian's CNI plugins
// (bridge with host-local IPAM → portmap → firewall, plus loopback); unit tests use a fake.
//
// Attachment ids are what the scheduler names them: a container's runtime id in bridge mode
// (every container has its own namespace, as Docker's bridge gives it), the task id in awsvpc
// mode (one namespace that the task's containers share). Implementations must be safe to call
// from any thread; calls block, so the control loop runs them on worker threads.
#ifndef SKIFF_NETWORK_TASK_NETWORK_H_
#define SKIFF_NETWORK_TASK_NETWORK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skiff::network {

// A host port published to a port of the namespace, as ECS's networkBindings show it.
struct PortBinding {
  int container_port = 0;
  int host_port = 0;
  std::string protocol = "tcp";  // "tcp" or "udp".

  friend bool operator==(const PortBinding&, const PortBinding&) = default;
};

struct Attachment {
  std::string id;
  std::string netns_path;  // Bind mount of the namespace; what the OCI spec joins.
  std::string ip;          // IPv4 address on the bridge, without prefix ("10.213.0.5").
  int prefix_length = 0;
  std::string gateway;     // The bridge's address: the host, seen from the namespace.
  std::string mac;         // Of eth0 in the namespace.
};

class TaskNetwork {
 public:
  virtual ~TaskNetwork() = default;

  // Creates namespace `id` and connects it; publishes `ports` on the host. On error nothing of
  // it is left. AlreadyExists when `id` is attached.
  virtual absl::StatusOr<Attachment> Attach(const std::string& id,
                                            const std::vector<PortBinding>& ports) = 0;
  // Undoes Attach: host ports, firewall rules, address lease, veth, namespace. Ok when nothing
  // of `id` is left (so it may be called after a crash, or twice).
  virtual absl::Status Detach(const std::string& id) = 0;
  // The ids that have something left (a namespace or the record of an attachment).
  virtual absl::StatusOr<std::vector<std::string>> List() = 0;
};

}  // namespace skiff::network

#endif  // SKIFF_NETWORK_TASK_NETWORK_H_
