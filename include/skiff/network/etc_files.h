// The /etc/hosts and /etc/resolv.conf of a container with its own network namespace, as Docker
// writes them for its bridge network: localhost, the container's own name and address, the
// definition's extraHosts; the definition's dnsServers and dnsSearchDomains, or else the host's
// resolvers (minus loopback ones, which do not answer inside the namespace). With service
// discovery the node's resolver takes the host's place: it answers the cluster's names and
// forwards the others to the host's resolvers. Pure functions.
#ifndef SKIFF_NETWORK_ETC_FILES_H_
#define SKIFF_NETWORK_ETC_FILES_H_

#include <string>
#include <utility>
#include <vector>

namespace skiff::network {

struct HostsEntry {
  std::string hostname;
  std::string ip;
};

std::string HostsFile(const std::string& hostname, const std::string& ip,
                      const std::vector<HostsEntry>& extra_hosts);

// The node's resolver, for a task of a cluster with service discovery.
struct DiscoveryDns {
  std::string nameserver;  // Its address (the bridge's gateway); "" for no discovery.
  std::string search;      // The task's cluster's domain, "CLUSTER.ZONE".
};

// `host_resolv_conf` is the content of the host's /etc/resolv.conf. The definition's
// dnsServers and dnsSearchDomains win; what they leave unset comes from `discovery` (its
// nameserver alone; its domain first, then the host's search domains), else from the host.
// The host's options always stay.
std::string ResolvConf(const std::vector<std::string>& dns_servers,
                       const std::vector<std::string>& search_domains,
                       const std::string& host_resolv_conf, const DiscoveryDns& discovery = {});

}  // namespace skiff::network

#endif  // SKIFF_NETWORK_ETC_FILES_H_
