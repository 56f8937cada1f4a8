// ServiceManager and Service Connect (ECS's serviceConnectConfiguration): the checks of a
// configuration against the task definition, its defaults, its echo on the deployments, and
// the publication of each pass's ready tasks and clients through the ServiceConnect seam. Same
// thread contract as the rest of the class (loop thread only).
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/service_manager.h"

namespace skiff::scheduler {
namespace {

constexpr char kAt[] = "serviceConnectConfiguration";
constexpr int kMaxAliases = 1;         // Client aliases per services[] entry, as ECS.
constexpr size_t kMaxDnsName = 127;    // As ECS's dnsName.
constexpr size_t kMaxDiscovery = 64;   // As ECS's discoveryName.
constexpr size_t kMaxNamespace = 253;  // A DNS name's length: aliases default under it.

absl::Status InvalidParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
                         message);
}

bool Port(int port) { return port >= 1 && port <= 65535; }

// Why `name` is not a DNS name as ECS's dnsName takes it ("" when it is): lower-case letters,
// digits, '_', '-' and '.', labels of 1-63, not beginning with '-'.
std::string NotADnsName(const std::string& name) {
  if (name.empty() || name.size() > kMaxDnsName) return "must be 1-127 characters";
  if (name.front() == '-') return "must not begin with '-'";
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' && c != '-' && c != '.') {
      return "may hold only lower-case letters, digits, '_', '-' and '.'";
    }
  }
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > 63) return "each label must be 1-63 characters";
  }
  return "";
}

// The namespace's name: as given, or an ARN's last part (".../namespace/NAME").
std::string NamespaceName(const std::string& given) {
  if (!absl::StartsWith(given, "arn:")) return given;
  const size_t slash = given.rfind('/');
  return slash == std::string::npos ? given : given.substr(slash + 1);
}

absl::Status CheckNamespace(const v1::ServiceConnectConfiguration& c) {
  if (!c.has_namespace_() || c.namespace_().empty()) {
    return InvalidParameter(absl::StrCat(kAt, ".namespace: required when Service Connect is "
                                              "enabled"));
  }
  const std::string name = NamespaceName(c.namespace_());
  const bool ok = !name.empty() && name.size() <= kMaxNamespace &&
                  absl::c_all_of(name, [](char ch) {
                    return absl::ascii_isalnum(ch) || ch == '.' || ch == '-' || ch == '_';
                  });
  if (!ok) {
    return InvalidParameter(absl::StrCat(kAt, ".namespace: ", model::QuoteValue(c.namespace_()),
                                         " is not a namespace name (1-253 letters, digits, '.', "
                                         "'-', '_') or the ARN of one"));
  }
  return absl::OkStatus();
}

// The tcp portMapping named `name` in any container of `definition`.
const v1::PortMapping* NamedMapping(const v1::TaskDefinition& definition,
                                    const std::string& name) {
  for (const v1::ContainerDefinition& c : definition.container_definitions()) {
    for (const v1::PortMapping& p : c.port_mappings()) {
      if (p.name() == name && (!p.has_protocol() || p.protocol() == "tcp")) return &p;
    }
  }
  return nullptr;
}

absl::Status CheckDiscoveryName(const std::string& at, const std::string& name) {
  const bool ok = !name.empty() && name.size() <= kMaxDiscovery && name.front() != '-' &&
                  absl::c_all_of(name, [](char ch) {
                    return absl::ascii_isalnum(ch) || ch == '-' || ch == '_';
                  });
  if (ok) return absl::OkStatus();
  return InvalidParameter(absl::StrCat(at, ".discoveryName: ", model::QuoteValue(name),
                                       " must be 1-64 letters, digits, '-' or '_', not "
                                       "beginning with '-'"));
}

// One services[] entry against the task definition; its alias, if it has one, goes to `out`.
absl::Status CheckConnectService(const v1::ServiceConnectService& s, const std::string& at,
                                 const std::string& ns, const v1::TaskDefinition& definition,
                                 ConnectConfig& out) {
  if (NamedMapping(definition, s.port_name()) == nullptr) {
    return InvalidParameter(absl::StrCat(
        at, ".portName: no tcp portMapping named ", model::QuoteValue(s.port_name()),
        " in task definition ", definition.family(), ":", definition.revision()));
  }
  const std::string discovery = s.has_discovery_name() ? s.discovery_name() : s.port_name();
  if (s.has_discovery_name()) SKIFF_RETURN_IF_ERROR(CheckDiscoveryName(at, discovery));
  if (s.has_ingress_port_override() && !Port(s.ingress_port_override())) {
    return InvalidParameter(absl::StrCat(at, ".ingressPortOverride: must be between 1 and 65535;"
                                             " got ", s.ingress_port_override()));
  }
  if (s.client_aliases_size() > kMaxAliases) {
    return InvalidParameter(absl::StrCat(at, ".clientAliases: at most ", kMaxAliases,
                                         " client alias per service, as ECS"));
  }
  for (int j = 0; j < s.client_aliases_size(); ++j) {
    const v1::ServiceConnectClientAlias& a = s.client_aliases(j);
    const std::string alias_at = absl::StrCat(at, ".clientAliases[", j, "]");
    if (!Port(a.port())) {
      return InvalidParameter(absl::StrCat(alias_at, ".port: must be between 1 and 65535; got ",
                                           a.port()));
    }
    const std::string dns =
        a.has_dns_name() ? a.dns_name() : absl::AsciiStrToLower(absl::StrCat(discovery, ".", ns));
    if (const std::string why = NotADnsName(dns); !why.empty()) {
      return InvalidParameter(absl::StrCat(
          alias_at, ".dnsName: ", model::QuoteValue(dns), " ", why,
          a.has_dns_name() ? "" : " (the default, discoveryName.namespace; give a dnsName)"));
    }
    out.aliases.push_back({.port_name = s.port_name(),
                           .discovery_name = discovery,
                           .dns_name = dns,
                           .port = a.port(),
                           .service_path = at,
                           .alias_path = alias_at});
  }
  return absl::OkStatus();
}

// No two aliases of one configuration share a port or a name, nor two entries a discoveryName.
absl::Status CheckDuplicates(const ConnectConfig& config) {
  for (size_t i = 0; i < config.aliases.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const ConnectAlias& a = config.aliases[i];
      const ConnectAlias& b = config.aliases[j];
      if (a.port == b.port) {
        return InvalidParameter(absl::StrCat(a.alias_path, ".port: port ", a.port, " is also ",
                                             b.alias_path, "'s"));
      }
      if (a.dns_name == b.dns_name) {
        return InvalidParameter(absl::StrCat(a.alias_path, ".dnsName: ", a.dns_name,
                                             " is also ", b.alias_path, "'s"));
      }
      if (a.discovery_name == b.discovery_name) {
        return InvalidParameter(absl::StrCat(a.service_path, ".discoveryName: ",
                                             a.discovery_name, " is also ", b.service_path,
                                             "'s"));
      }
    }
  }
  return absl::OkStatus();
}

// "arn:aws:servicediscovery:local:000000000000:service/srv-<16 hex>": stable for a namespace
// and discoveryName (FNV-1a), as a Cloud Map service's id is for its life.
std::string DiscoveryArn(const model::ArnScope& scope, const std::string& ns,
                         const std::string& discovery) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : absl::StrCat(ns, "/", discovery)) {
    hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  }
  char id[17];
  snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(hash));
  return absl::StrCat("arn:", scope.partition, ":servicediscovery:", scope.region, ":",
                      scope.account, ":service/srv-", id);
}

}  // namespace

absl::StatusOr<std::optional<ConnectConfig>> ServiceManager::CheckServiceConnect(
    const std::string& cluster, const std::string& service,
    const v1::ServiceConnectConfiguration& c, const v1::TaskDefinition& definition) const {
  if (!c.enabled()) {
    if (c.services_size() > 0) {
      return InvalidParameter(absl::StrCat(kAt, ".services: Service Connect is not enabled"));
    }
    return std::nullopt;
  }
  if (connect_ == nullptr) {
    return InvalidParameter(absl::StrCat(kAt, ": Service Connect is not available on this "
                                              "skiffd: it needs the node's resolver (skiff-dns)"));
  }
  SKIFF_RETURN_IF_ERROR(CheckNamespace(c));
  const std::string mode = definition.has_network_mode() ? definition.network_mode() : "bridge";
  if (mode != "bridge" && mode != "awsvpc") {
    return InvalidParameter(absl::StrCat(kAt, ": task definition ", definition.family(), ":",
                                         definition.revision(), " has networkMode ", mode,
                                         "; Service Connect needs bridge or awsvpc"));
  }
  ConnectConfig config{.ns = NamespaceName(c.namespace_())};
  std::set<std::string> port_names;
  for (int i = 0; i < c.services_size(); ++i) {
    const std::string at = absl::StrCat(kAt, ".services[", i, "]");
    if (!port_names.insert(c.services(i).port_name()).second) {
      return InvalidParameter(absl::StrCat(at, ".portName: ", c.services(i).port_name(),
                                           " is in an earlier entry too"));
    }
    SKIFF_RETURN_IF_ERROR(CheckConnectService(c.services(i), at, config.ns, definition, config));
  }
  SKIFF_RETURN_IF_ERROR(CheckDuplicates(config));
  SKIFF_RETURN_IF_ERROR(connect_->Check(cluster, service, config));
  return config;
}

absl::Status ServiceManager::CheckServiceConnectOfUpdate(
    const v1::UpdateServiceRequest& request, const ServiceState& state,
    const std::optional<store::StoredTaskDefinition>& definition) const {
  const v1::Service& s = state.record.service;
  const v1::ServiceConnectConfiguration* config = ConnectConfigurationOf(s);
  if (request.has_service_connect_configuration()) {
    config = &request.service_connect_configuration();
  } else if (config == nullptr || !definition) {
    return absl::OkStatus();  // Nothing new to check.
  }
  if (config == nullptr) return absl::OkStatus();
  std::optional<store::StoredTaskDefinition> current = definition;
  if (!current) {
    SKIFF_ASSIGN_OR_RETURN(current, registry_->Resolve(s.task_definition(), "taskDefinition"));
  }
  return CheckServiceConnect(state.record.cluster, s.service_name(), *config,
                             current->definition)
      .status();
}

const v1::ServiceConnectConfiguration* ServiceManager::ConnectConfigurationOf(
    const v1::Service& service) {
  // The primary's; a deployment made without one (a rollback) has its predecessor's.
  for (const v1::Deployment& d : service.deployments()) {
    if (d.has_service_connect_configuration()) return &d.service_connect_configuration();
  }
  return nullptr;
}

void ServiceManager::EchoServiceConnect(v1::Deployment& deployment,
                                        const v1::ServiceConnectConfiguration& config) const {
  *deployment.mutable_service_connect_configuration() = config;
  deployment.clear_service_connect_resources();
  if (!config.enabled()) return;
  const std::string ns = NamespaceName(config.namespace_());
  for (const v1::ServiceConnectService& s : config.services()) {
    const std::string discovery = s.has_discovery_name() ? s.discovery_name() : s.port_name();
    v1::ServiceConnectServiceResource* r = deployment.add_service_connect_resources();
    r->set_discovery_name(discovery);
    r->set_discovery_arn(DiscoveryArn(scope_, ns, discovery));
  }
}

void ServiceManager::LoadServiceConnect(const Key& key, ServiceState& state) {
  const v1::ServiceConnectConfiguration* c = ConnectConfigurationOf(state.record.service);
  std::optional<ConnectConfig> config;
  if (c != nullptr && c->enabled() && connect_ != nullptr) {
    config = ConnectConfig{.ns = NamespaceName(c->namespace_())};
    for (int i = 0; i < c->services_size(); ++i) {
      const v1::ServiceConnectService& s = c->services(i);
      const std::string at = absl::StrCat(kAt, ".services[", i, "]");
      const std::string discovery = s.has_discovery_name() ? s.discovery_name() : s.port_name();
      for (int j = 0; j < s.client_aliases_size(); ++j) {
        const v1::ServiceConnectClientAlias& a = s.client_aliases(j);
        config->aliases.push_back(
            {.port_name = s.port_name(),
             .discovery_name = discovery,
             .dns_name = a.has_dns_name() ? a.dns_name()
                                          : absl::AsciiStrToLower(
                                                absl::StrCat(discovery, ".", config->ns)),
             .port = a.port(),
             .service_path = at,
             .alias_path = absl::StrCat(at, ".clientAliases[", j, "]")});
      }
    }
  }
  if (!config) {
    if (state.connect != nullptr && connect_ != nullptr) connect_->Forget(key.first, key.second);
    state.connect.reset();
    return;
  }
  if (state.connect == nullptr) state.connect = std::make_unique<Connect>();
  state.connect->config = *std::move(config);
}

void ServiceManager::ApplyServiceConnect(const Key& key, ServiceState& state,
                                         const ServicePlan& plan) {
  if (state.connect == nullptr || connect_ == nullptr || !plan.discoverable) return;
  ConnectState now{.config = state.connect->config, .cluster = key.first};
  const Discovery* discovery = state.discovery.get();
  if (discovery != nullptr) {
    for (const std::string& id : *plan.discoverable) {
      auto it = discovery->addressed.find(id);
      if (it != discovery->addressed.end()) now.ready.push_back(it->second);
    }
    for (const auto& [id, endpoint] : discovery->addressed) {
      for (const std::string& address : endpoint.addresses) now.clients.push_back(address);
    }
  }
  if (state.connect->published == now) return;
  connect_->Publish(key.first, key.second, now);
  state.connect->published = std::move(now);
}

void ServiceManager::ForgetServiceConnect(const Key& key, ServiceState& state) {
  if (state.connect == nullptr || connect_ == nullptr) return;
  connect_->Forget(key.first, key.second);
  state.connect.reset();
}

void ServiceManager::SayServiceConnectIgnored(ServiceState& state,
                                              const v1::ServiceConnectConfiguration& c) {
  std::vector<std::string> ignored;
  if (c.has_log_configuration()) ignored.push_back("logConfiguration");
  for (int i = 0; i < c.services_size(); ++i) {
    if (c.services(i).has_ingress_port_override()) {
      ignored.push_back(absl::StrCat("services[", i, "].ingressPortOverride"));
    }
    if (c.services(i).has_timeout()) ignored.push_back(absl::StrCat("services[", i, "].timeout"));
    if (c.services(i).has_tls()) ignored.push_back(absl::StrCat("services[", i, "].tls"));
  }
  if (ignored.empty()) return;
  AddEvent(state, absl::StrCat("(service ", state.record.service.service_name(),
                               ") serviceConnectConfiguration: ", absl::StrJoin(ignored, ", "),
                               " has no effect on skiff: the node's proxy connects to the "
                               "tasks' container ports itself, in plain TCP with HAProxy's "
                               "timeouts, and logs to its own file"));
}

}  // namespace skiff::scheduler
