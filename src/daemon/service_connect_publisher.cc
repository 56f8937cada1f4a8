#include "skiff/daemon/service_connect_publisher.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace skiff::daemon {
namespace {

std::string Owner(const std::string& cluster, const std::string& service) {
  return absl::StrCat(cluster, "/", service);
}

}  // namespace

std::vector<elb::AliasSpec> AliasSpecs(const std::string& owner,
                                       const scheduler::ConnectConfig& config,
                                       const std::vector<scheduler::Endpoint>& ready) {
  std::vector<elb::AliasSpec> out;
  for (const scheduler::ConnectAlias& a : config.aliases) {
    elb::AliasSpec& spec = out.emplace_back();
    spec.alias = {.owner = owner,
                  .ns = config.ns,
                  .dns_name = a.dns_name,
                  .port_name = a.port_name,
                  .discovery_name = a.discovery_name};
    spec.port = a.port;
    spec.service_path = a.service_path;
    spec.alias_path = a.alias_path;
    for (const scheduler::Endpoint& e : ready) {
      for (const scheduler::NamedPort& p : e.ports) {
        if (p.name != a.port_name) continue;
        spec.targets.push_back({.task_id = e.task_id, .address = p.address, .port = p.port});
        break;
      }
    }
  }
  return out;
}

absl::Status ServiceConnectPublisher::Check(const std::string& cluster,
                                            const std::string& service,
                                            const scheduler::ConnectConfig& config) const {
  const std::string owner = Owner(cluster, service);
  return load_balancers_->CheckServiceConnect(owner, AliasSpecs(owner, config, {}));
}

void ServiceConnectPublisher::Publish(const std::string& cluster, const std::string& service,
                                      const scheduler::ConnectState& state) {
  const std::string owner = Owner(cluster, service);
  load_balancers_->SetServiceConnect(owner, AliasSpecs(owner, state.config, state.ready));
  ConnectPublication publication{.ns = state.config.ns,
                                 .clients = state.clients,
                                 .search = dns_->SearchDomainOf(cluster)};
  for (const scheduler::ConnectAlias& a : state.config.aliases) {
    publication.aliases[a.dns_name] = proxy_address_;
  }
  dns_->PublishConnect(cluster, service, std::move(publication));
}

void ServiceConnectPublisher::Forget(const std::string& cluster, const std::string& service) {
  load_balancers_->SetServiceConnect(Owner(cluster, service), {});
  dns_->ForgetConnect(cluster, service);
}

}  // namespace skiff::daemon
