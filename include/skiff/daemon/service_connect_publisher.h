// ServiceConnectPublisher: the ServiceConnect of the node. It serves each client alias of a
// service with the load balancer's data plane (elb::LoadBalancerManager: an internal TCP group
// whose targets are the service's ready tasks at the container port of the alias's portName,
// behind a frontend on the task bridge's gateway) and names it with the node's resolver
// (DnsRecordsPublisher: the alias resolves to the gateway for the namespace's clients only).
// Each service is owned as "CLUSTER/SERVICE" in the manager.
//
// It lives in the daemon: only here are the scheduler's seam, the ELB manager and the records
// publisher all in sight (the scheduler may link neither).
//
// Thread contract: owned by the loop; every method on the loop thread.
#ifndef SKIFF_DAEMON_SERVICE_CONNECT_PUBLISHER_H_
#define SKIFF_DAEMON_SERVICE_CONNECT_PUBLISHER_H_

#include <string>
#include <vector>

#include "skiff/daemon/dns_records_publisher.h"
#include "skiff/elb/load_balancer_manager.h"
#include "skiff/scheduler/service_connect.h"

namespace skiff::daemon {

// The aliases of `config` as the manager takes them, each with the tasks of `ready` that map
// its portName (pure).
std::vector<elb::AliasSpec> AliasSpecs(const std::string& owner,
                                       const scheduler::ConnectConfig& config,
                                       const std::vector<scheduler::Endpoint>& ready);

class ServiceConnectPublisher final : public scheduler::ServiceConnect {
 public:
  // `proxy_address`: where the aliases listen (the bridge's gateway). Both pointers must
  // outlive the publisher.
  ServiceConnectPublisher(elb::LoadBalancerManager* load_balancers, DnsRecordsPublisher* dns,
                          std::string proxy_address)
      : load_balancers_(load_balancers), dns_(dns), proxy_address_(std::move(proxy_address)) {}

  absl::Status Check(const std::string& cluster, const std::string& service,
                     const scheduler::ConnectConfig& config) const override;
  void Publish(const std::string& cluster, const std::string& service,
               const scheduler::ConnectState& state) override;
  void Forget(const std::string& cluster, const std::string& service) override;

 private:
  elb::LoadBalancerManager* const load_balancers_;
  DnsRecordsPublisher* const dns_;
  const std::string proxy_address_;
};

}  // namespace skiff::daemon

#endif  // SKIFF_DAEMON_SERVICE_CONNECT_PUBLISHER_H_
