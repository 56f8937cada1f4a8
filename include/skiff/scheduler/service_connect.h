// ServiceConnect: where the service scheduler carries out ECS Service Connect
// (serviceConnectConfiguration, issue 19). The ServiceManager checks a service's configuration
// against its task definition and makes it a ConnectConfig (ECS's defaults filled in); this seam
// checks what only the node knows (ports and names other services or listeners hold, whether
// the proxy can serve) and serves it: each client alias is a name that the namespace's client
// tasks resolve to the node's proxy, which forwards to the service's ready tasks at the
// container port of the alias's portName.
//
// Which tasks are ready is the planner's PublishEndpoints (the same rule as DNS discovery); a
// task that stops leaves its aliases before it is signalled through TargetRegistry::DrainTask,
// which TaskManager asks for every service task that stops after it ran.
//
// The daemon implements it over the load balancer's data plane and the resolver's records
// (daemon/service_connect_publisher.h); tests use fakes::FakeServiceConnect.
//
// Thread contract: every method on the loop thread.
#ifndef SKIFF_SCHEDULER_SERVICE_CONNECT_H_
#define SKIFF_SCHEDULER_SERVICE_CONNECT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "skiff/scheduler/service_endpoints.h"

namespace skiff::scheduler {

// One client alias of a service, with ECS's defaults: dnsName discoveryName.namespace, and
// discoveryName the portName.
struct ConnectAlias {
  std::string port_name;       // services[i].portName: a named tcp portMapping.
  std::string discovery_name;  // services[i].discoveryName, or the portName.
  std::string dns_name;        // Lower case, no trailing dot.
  int port = 0;                // The alias port; the proxy forwards to the container port.
  // The members' paths, for errors: "serviceConnectConfiguration.services[0]" and
  // "serviceConnectConfiguration.services[0].clientAliases[0]".
  std::string service_path;
  std::string alias_path;
  bool operator==(const ConnectAlias&) const = default;
};

// A service's Service Connect configuration, when enabled.
struct ConnectConfig {
  std::string ns;  // The namespace's name (an ARN's last part).
  std::vector<ConnectAlias> aliases;  // None: the service is a client only.
  bool operator==(const ConnectConfig&) const = default;
};

// What a service serves and who its clients are, as one pass leaves them.
struct ConnectState {
  ConnectConfig config;
  std::vector<Endpoint> ready;  // Its ready tasks (PublishEndpoints), in id order.
  // Its tasks that run with an address, whatever their readiness: clients of the namespace.
  std::vector<std::string> clients;
  std::string cluster;
  bool operator==(const ConnectState&) const = default;
};

class ServiceConnect {
 public:
  virtual ~ServiceConnect() = default;

  // Whether the service may serve `config`: InvalidArgument (InvalidParameterException)
  // naming the member, e.g. "serviceConnectConfiguration.services[0].clientAliases[0].port:
  // port 80 is the port of load balancer listener ...", or Unavailable when the node's proxy
  // cannot run.
  virtual absl::Status Check(const std::string& cluster, const std::string& service,
                             const ConnectConfig& config) const = 0;

  // The service's Service Connect now; replaces what was published.
  virtual void Publish(const std::string& cluster, const std::string& service,
                       const ConnectState& state) = 0;

  // The service is deleted, or its Service Connect disabled. Unknown services are ignored.
  virtual void Forget(const std::string& cluster, const std::string& service) = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_SERVICE_CONNECT_H_
