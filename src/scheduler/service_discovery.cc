// ServiceManager and discovery: the endpoint of each task that runs with an address (from its
// record and its task definition's named portMappings), the publication of the planner's
// discoverable tasks through ServiceEndpoints, and the events about a service's DNS name. Same
// thread contract as the rest of the class (loop thread only).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "skiff/scheduler/service_manager.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {
namespace {

// The ENI's address of an awsvpc task, as RecordAttachments shows it; "" for the others.
std::string EniAddress(const v1::Task& task) {
  for (const v1::Attachment& a : task.attachments()) {
    if (a.type() != "ElasticNetworkInterface") continue;
    for (const v1::KeyValuePair& kv : a.details()) {
      if (kv.name() == "privateIPv4Address") return kv.value();
    }
  }
  return "";
}

std::string ContainerAddress(const v1::Container& container) {
  for (const v1::NetworkInterface& ni : container.network_interfaces()) {
    if (!ni.private_ipv4_address().empty()) return ni.private_ipv4_address();
  }
  return "";
}

const v1::ContainerDefinition* DefinitionOf(const v1::TaskDefinition& definition,
                                            const std::string& name) {
  for (const v1::ContainerDefinition& c : definition.container_definitions()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

// A running task's endpoint, or none when it has no address (host, none). awsvpc: the task's
// address. bridge, where each container has an address of its own: that of the first container
// (in the task's order) that maps ports, else of the first that has one; each named port is
// found at its own container's address.
std::optional<Endpoint> TaskEndpoint(const v1::Task& task, const v1::TaskDefinition* definition) {
  const std::string eni = EniAddress(task);
  Endpoint out{.task_id = ""};
  std::string first_address;
  for (const v1::Container& c : task.containers()) {
    const std::string address = eni.empty() ? ContainerAddress(c) : eni;
    if (address.empty()) continue;
    if (first_address.empty()) first_address = address;
    if (!absl::c_linear_search(out.addresses, address)) out.addresses.push_back(address);
    const v1::ContainerDefinition* cd =
        definition != nullptr ? DefinitionOf(*definition, c.name()) : nullptr;
    if (cd == nullptr || cd->port_mappings().empty()) continue;
    if (out.address.empty()) out.address = address;
    for (const v1::PortMapping& p : cd->port_mappings()) {
      const bool tcp = !p.has_protocol() || p.protocol() == "tcp";
      if (!p.name().empty() && tcp) {
        out.ports.push_back({.name = p.name(), .address = address, .port = p.container_port()});
      }
    }
  }
  if (out.address.empty()) out.address = first_address;
  if (out.address.empty()) return std::nullopt;
  return out;
}

}  // namespace

bool ServiceManager::TrackEndpoint(ServiceState& state, const TaskView& view,
                                   const store::StoredTask& task) {
  if (!view.running()) return false;
  // Its addresses are known once it runs, and stay what they are until it stops.
  if (state.discovery != nullptr && state.discovery->addressed.contains(task.id)) return false;
  absl::StatusOr<store::StoredTaskDefinition> definition =
      registry_->Resolve(task.task.task_definition_arn(), "taskDefinition");
  if (!definition.ok()) {
    // Its A record stands without it; only the named ports (SRV) are lost.
    spdlog::warn("service {}/{}: task {}: no task definition for its named ports: {}",
                 state.record.cluster, state.record.service.service_name(), task.id,
                 definition.status().ToString());
  }
  std::optional<Endpoint> endpoint =
      TaskEndpoint(task.task, definition.ok() ? &definition->definition : nullptr);
  if (!endpoint) return false;
  endpoint->task_id = task.id;
  DiscoveryOf(state).addressed.emplace(task.id, *std::move(endpoint));
  return true;
}

void ServiceManager::ApplyEndpoints(const Key& key, ServiceState& state, const ServicePlan& plan) {
  if (endpoints_ == nullptr || !plan.discoverable) return;
  Discovery& discovery = DiscoveryOf(state);
  if (discovery.published == plan.discoverable) return;
  std::vector<Endpoint> endpoints;
  endpoints.reserve(plan.discoverable->size());
  for (const std::string& id : *plan.discoverable) {
    auto it = discovery.addressed.find(id);
    if (it != discovery.addressed.end()) endpoints.push_back(it->second);
  }
  endpoints_->Publish(key.first, key.second, std::move(endpoints));
  discovery.published = plan.discoverable;
}

void ServiceManager::SayDnsName(ServiceState& state) {
  if (endpoints_ == nullptr) return;
  const std::string& name = state.record.service.service_name();
  absl::StatusOr<std::string> dns = endpoints_->NameOf(state.record.cluster, name);
  if (!dns.ok()) {
    AddEvent(state, absl::StrCat("(service ", name, ") cannot be found by DNS: ",
                                 dns.status().message()));
    return;
  }
  // The first labels are the service's and the cluster's; said when they are not the names as
  // written (upper case, '_').
  if (!absl::StartsWith(*dns, absl::StrCat(name, ".", state.record.cluster, "."))) {
    AddEvent(state, absl::StrCat("(service ", name, ") is found by DNS as ", *dns));
  }
}

void ServiceManager::ForgetEndpoints(const Key& key, ServiceState& state) {
  if (endpoints_ == nullptr) return;
  endpoints_->Forget(key.first, key.second);
  if (state.discovery != nullptr) state.discovery->published.reset();
}

}  // namespace skiff::scheduler
