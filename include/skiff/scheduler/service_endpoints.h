// ServiceEndpoints: where the service scheduler says which tasks of a service can be found by
// name (service discovery, issue 19). The ServicePlanner decides which tasks are discoverable
// (its PublishEndpoints step); the ServiceManager carries that out through this interface: it
// publishes a service's endpoints each time the set changes (an empty set too: the service's
// name exists, with no answer) and forgets the service when it is deleted.
//
// DnsRecordsPublisher (dns_records_publisher.h) implements it for the node's resolver; tests
// use fakes::FakeServiceEndpoints. The scheduler never sees DNS records.
//
// Thread contract: every method on the loop thread.
#ifndef SKIFF_SCHEDULER_SERVICE_ENDPOINTS_H_
#define SKIFF_SCHEDULER_SERVICE_ENDPOINTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skiff::scheduler {

// A portMapping with a name (portMappings[].name), as a task serves it.
struct NamedPort {
  std::string name;     // As the task definition spells it.
  std::string address;  // IPv4 of the container that maps it (bridge: its own; awsvpc: the task's).
  int port = 0;         // The container port.
  bool operator==(const NamedPort&) const = default;
};

// One discoverable task of a service.
struct Endpoint {
  std::string task_id;
  std::string address;  // The task's IPv4 address (see TaskEndpoint in service_discovery.cc).
  std::vector<NamedPort> ports;
  // Every address of its containers (bridge: one each; awsvpc: the task's): where its own
  // queries come from (Service Connect's clients).
  std::vector<std::string> addresses;
  bool operator==(const Endpoint&) const = default;
};

class ServiceEndpoints {
 public:
  virtual ~ServiceEndpoints() = default;

  // The name the service is found under ("web.default.skiff.internal"), or InvalidArgument
  // saying why it has none (its name or its cluster's is no DNS label). The ServiceManager says
  // so in an event when the service is created.
  virtual absl::StatusOr<std::string> NameOf(const std::string& cluster,
                                             const std::string& service) const = 0;

  // The service's discoverable tasks now, in task id order; replaces what was published.
  virtual void Publish(const std::string& cluster, const std::string& service,
                       std::vector<Endpoint> endpoints) = 0;

  // The service is deleted: its name is no longer found. Unknown services are ignored.
  virtual void Forget(const std::string& cluster, const std::string& service) = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_SERVICE_ENDPOINTS_H_
