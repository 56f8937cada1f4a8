// The /etc/hosts and /etc/resolv.conf of a container with its own network namespace, as Docker
// writes them for its bridge network: localhost, the container's own name and address, the
// definition's extraHosts; the definition's dnsServers and dnsSearchDomains, or else the host's
// resolvers (minus loopback ones, which do not answer inside the namespace).
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

// `host_resolv_conf` is the content of the host's /etc/resolv.conf.
std::string ResolvConf(const std::vector<std::string>& dns_servers,
                       const std::vector<std::string>& search_domains,
                       const std::string& host_resolv_conf);

}  // namespace skiff::network

#endif  // SKIFF_NETWORK_ETC_FILES_H_
