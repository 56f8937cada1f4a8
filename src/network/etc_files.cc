#include "skiff/network/etc_files.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace skiff::network {

std::string HostsFile(const std::string& hostname, const std::string& ip,
                      const std::vector<HostsEntry>& extra_hosts) {
  std::string out =
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  if (!ip.empty() && !hostname.empty()) absl::StrAppend(&out, ip, "\t", hostname, "\n");
  for (const HostsEntry& e : extra_hosts) absl::StrAppend(&out, e.ip, "\t", e.hostname, "\n");
  return out;
}

std::string ResolvConf(const std::vector<std::string>& dns_servers,
                       const std::vector<std::string>& search_domains,
                       const std::string& host_resolv_conf, const DiscoveryDns& discovery) {
  std::vector<std::string> servers = dns_servers;
  std::vector<std::string> search = search_domains;
  std::vector<std::string> options;
  const bool discovered = !discovery.nameserver.empty();
  // The node's resolver forwards what is not the cluster's to the host's resolvers itself.
  const bool host_servers = dns_servers.empty() && !discovered;
  if (dns_servers.empty() && discovered) servers.push_back(discovery.nameserver);
  if (search_domains.empty() && discovered && !discovery.search.empty()) {
    search.push_back(discovery.search);
  }
  for (absl::string_view line : absl::StrSplit(host_resolv_conf, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    std::vector<absl::string_view> words = absl::StrSplit(line, absl::ByAnyChar(" \t"),
                                                          absl::SkipEmpty());
    if (words.size() < 2) continue;
    if (words[0] == "nameserver" && host_servers) {
      // A resolver on the host's loopback (systemd-resolved, dnsmasq) is not reachable from
      // the namespace's own loopback.
      if (absl::StartsWith(words[1], "127.") || words[1] == "::1") continue;
      servers.emplace_back(words[1]);
    } else if (words[0] == "search" && search_domains.empty()) {
      for (size_t i = 1; i < words.size(); ++i) search.emplace_back(words[i]);
    } else if (words[0] == "options") {
      for (size_t i = 1; i < words.size(); ++i) options.emplace_back(words[i]);
    }
  }
  std::string out;
  if (!search.empty()) absl::StrAppend(&out, "search ", absl::StrJoin(search, " "), "\n");
  for (const std::string& s : servers) absl::StrAppend(&out, "nameserver ", s, "\n");
  if (!options.empty()) absl::StrAppend(&out, "options ", absl::StrJoin(options, " "), "\n");
  return out;
}

}  // namespace skiff::network
