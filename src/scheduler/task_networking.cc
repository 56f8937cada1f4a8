#include "scheduler/task_networking.h"

#include <filesystem>
#include <optional>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "skiff/model/task_definition.h"
#include "absl/strings/str_replace.h"
#include "skiff/base/crash_point.h"
#include "skiff/base/status_macros.h"
#include "skiff/network/etc_files.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {
namespace {

const v1::ContainerDefinition* FindDefinition(const v1::TaskDefinition& definition,
                                              const std::string& name) {
  for (const v1::ContainerDefinition& c : definition.container_definitions()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

absl::Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  if (!out.flush()) return absl::InternalError(absl::StrCat("write ", path));
  return absl::OkStatus();
}

bool Mounts(const runtime::ContainerSpec& spec, const std::string& destination) {
  for (const runtime::MountSpec& m : spec.mounts) {
    if (m.destination == destination) return true;
  }
  return false;
}

// Writes hosts and resolv.conf for one attachment and binds them into the spec, unless the
// definition mounts something of its own there.
absl::Status AddEtcFiles(const std::string& dir, const std::string& hostname,
                         const network::Attachment& attachment, const std::string& dns_search,
                         const v1::ContainerDefinition& c, runtime::ContainerSpec& spec) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("create ", dir, ": ", ec.message()));
  std::vector<network::HostsEntry> extra;
  for (const v1::HostEntry& h : c.extra_hosts()) extra.push_back({h.hostname(), h.ip_address()});
  const std::vector<std::string> servers(c.dns_servers().begin(), c.dns_servers().end());
  const std::vector<std::string> search(c.dns_search_domains().begin(),
                                        c.dns_search_domains().end());
  const std::string hosts = dir + "/hosts";
  const std::string resolv = dir + "/resolv.conf";
  SKIFF_RETURN_IF_ERROR(WriteFile(hosts, network::HostsFile(hostname, attachment.ip, extra)));
  // The node's resolver listens on the bridge's gateway.
  const network::DiscoveryDns discovery{
      .nameserver = dns_search.empty() ? "" : attachment.gateway, .search = dns_search};
  SKIFF_RETURN_IF_ERROR(WriteFile(
      resolv, network::ResolvConf(servers, search, ReadFile("/etc/resolv.conf"), discovery)));
  for (const auto& [source, destination] :
       {std::pair{hosts, "/etc/hosts"}, std::pair{resolv, "/etc/resolv.conf"}}) {
    if (Mounts(spec, destination)) continue;
    spec.mounts.push_back({.type = "bind", .source = source, .destination = destination,
                           .options = {"rbind", "rw"}});
  }
  return absl::OkStatus();
}

// Attaches one namespace, adding its id to `attached` (what AttachTask undoes on error).
absl::StatusOr<network::Attachment> AttachOne(network::TaskNetwork* network,
                                              const std::string& id,
                                              const std::vector<network::PortBinding>& ports,
                                              std::vector<std::string>& attached) {
  absl::StatusOr<network::Attachment> a = network->Attach(id, ports);
  if (a.ok()) {
    attached.push_back(id);
    CrashPoint("network-attached");
  }
  return a;
}

// Points a container's spec at its attachment: hostname, namespace, hosts and resolv.conf.
// `shared`: the task's containers share the attachment (awsvpc), so each has its own files.
absl::Status JoinAttachment(TaskNetworkMode mode, const std::string& task_dir,
                            const std::string& name, const network::Attachment& a, bool shared,
                            const std::string& dns_search, const v1::ContainerDefinition& c,
                            runtime::ContainerSpec& spec) {
  // awsvpc names every container of the task after its address, as EC2 names an ENI's host.
  if (mode == TaskNetworkMode::kAwsvpc) {
    spec.hostname = absl::StrCat("ip-", absl::StrReplaceAll(a.ip, {{".", "-"}}));
  } else if (spec.hostname.empty()) {
    spec.hostname = name;
  }
  spec.netns_path = a.netns_path;
  return AddEtcFiles(absl::StrCat(task_dir, "/network/", a.id, shared ? "-" + name : ""),
                     spec.hostname, a, dns_search, c, spec);
}

// Undoes the attachments of a task whose attach failed; a detach that fails is logged.
void DetachAll(network::TaskNetwork* network, const std::vector<std::string>& attached) {
  for (const std::string& id : attached) {
    if (absl::Status undone = network->Detach(id); !undone.ok()) {
      spdlog::warn("network {}: {}", id, undone.ToString());
    }
  }
}

}  // namespace

TaskNetworkMode NetworkModeOf(const v1::TaskDefinition& definition) {
  // Unset is bridge, ECS's default on Linux.
  const std::string& mode = definition.has_network_mode() ? definition.network_mode() : "bridge";
  if (mode == "host") return TaskNetworkMode::kHost;
  if (mode == "none") return TaskNetworkMode::kNone;
  if (mode == "awsvpc") return TaskNetworkMode::kAwsvpc;
  return TaskNetworkMode::kBridge;
}

std::vector<network::PortRequest> HostPortRequests(TaskNetworkMode mode,
                                                   const v1::ContainerDefinition& container) {
  std::vector<network::PortRequest> out;
  if (mode != TaskNetworkMode::kBridge && mode != TaskNetworkMode::kHost) return out;
  if (container.disable_networking()) return out;
  for (const v1::PortMapping& p : container.port_mappings()) {
    network::PortRequest r;
    r.protocol = p.has_protocol() ? p.protocol() : "tcp";
    if (p.has_container_port_range()) {  // Bridge only, as registration checked.
      const std::optional<std::pair<int, int>> range =
          model::ParsePortRange(p.container_port_range());
      if (!range) continue;
      r.container_port = range->first;
      r.count = range->second - range->first + 1;
      out.push_back(r);
      continue;
    }
    r.container_port = p.container_port();
    r.host_port = mode == TaskNetworkMode::kHost ? p.container_port() : p.host_port();
    out.push_back(r);
  }
  return out;
}

void RecordBinding(const network::PortBinding& binding, int count, v1::Container& container) {
  v1::NetworkBinding* nb = container.add_network_bindings();
  nb->set_bind_ip("0.0.0.0");  // As ECS reports them, on every address of the host.
  nb->set_protocol(binding.protocol);
  if (count == 1) {
    nb->set_container_port(binding.container_port);
    nb->set_host_port(binding.host_port);
    return;
  }
  nb->set_container_port_range(
      absl::StrCat(binding.container_port, "-", binding.container_port + count - 1));
  nb->set_host_port_range(absl::StrCat(binding.host_port, "-", binding.host_port + count - 1));
}

std::vector<network::PortBinding> BindingsOf(const v1::Container& container) {
  std::vector<network::PortBinding> out;
  for (const v1::NetworkBinding& b : container.network_bindings()) {
    if (!b.has_container_port_range()) {
      out.push_back({.container_port = b.container_port(), .host_port = b.host_port(),
                     .protocol = b.protocol()});
      continue;
    }
    const std::optional<std::pair<int, int>> ports =
        model::ParsePortRange(b.container_port_range());
    const std::optional<std::pair<int, int>> host = model::ParsePortRange(b.host_port_range());
    if (!ports || !host || ports->second - ports->first != host->second - host->first) continue;
    for (int k = 0; k <= ports->second - ports->first; ++k) {
      out.push_back({.container_port = ports->first + k, .host_port = host->first + k,
                     .protocol = b.protocol()});
    }
  }
  return out;
}

std::vector<std::string> AttachmentIds(TaskNetworkMode mode, const std::string& task_id,
                                       const std::vector<std::string>& runtime_ids) {
  if (mode == TaskNetworkMode::kAwsvpc) return {task_id};
  if (mode == TaskNetworkMode::kBridge) return runtime_ids;
  return {};
}

std::string AttachmentUuid(const std::string& task_id) {
  if (task_id.size() != 32) return task_id;
  return absl::StrCat(task_id.substr(0, 8), "-", task_id.substr(8, 4), "-", task_id.substr(12, 4),
                      "-", task_id.substr(16, 4), "-", task_id.substr(20));
}

absl::StatusOr<std::vector<network::Attachment>> AttachTask(
    network::TaskNetwork* network, TaskNetworkMode mode, const std::string& task_id,
    const v1::TaskDefinition& definition, const std::string& task_dir,
    const std::vector<std::vector<network::PortBinding>>& bindings, const std::string& dns_search,
    std::vector<runtime::ContainerSpec>& specs) {
  std::vector<network::Attachment> out(specs.size());
  if (!HasNamespaces(mode)) return out;
  if (network == nullptr) {
    return absl::FailedPreconditionError(
        "this skiffd runs without bridge networking (see skiffd --help: --bridge, --subnet)");
  }
  std::vector<std::string> attached;
  absl::Status status;
  std::optional<network::Attachment> shared;
  if (mode == TaskNetworkMode::kAwsvpc) {
    absl::StatusOr<network::Attachment> a = AttachOne(network, task_id, {}, attached);
    if (a.ok()) shared = *a;
    status = a.status();
  }
  for (size_t i = 0; i < specs.size() && status.ok(); ++i) {
    runtime::ContainerSpec& spec = specs[i];
    if (spec.network != runtime::NetworkMode::kJoin) continue;
    const std::string name = spec.labels["skiff.container"];
    const v1::ContainerDefinition* c = FindDefinition(definition, name);
    if (c == nullptr) {
      status = absl::InternalError(absl::StrCat("no container definition named ", name));
      break;
    }
    network::Attachment a;
    if (shared) {
      a = *shared;
    } else {
      absl::StatusOr<network::Attachment> own = AttachOne(
          network, spec.id, i < bindings.size() ? bindings[i] : std::vector<network::PortBinding>{},
          attached);
      if (!own.ok()) {
        status = own.status();
        break;
      }
      a = *own;
    }
    status = JoinAttachment(mode, task_dir, name, a, shared.has_value(), dns_search, *c, spec);
    out[i] = a;
  }
  if (!status.ok()) {
    DetachAll(network, attached);
    return status;
  }
  return out;
}

void RecordAttachments(TaskNetworkMode mode, const std::string& task_id,
                       const std::vector<network::Attachment>& attachments, v1::Task& task) {
  if (!HasNamespaces(mode)) return;
  const std::string attachment_id = AttachmentUuid(task_id);
  bool eni_recorded = false;
  for (size_t i = 0; i < attachments.size() && i < static_cast<size_t>(task.containers_size());
       ++i) {
    const network::Attachment& a = attachments[i];
    if (a.ip.empty()) continue;  // No namespace of its own (disableNetworking).
    v1::Container* c = task.mutable_containers(static_cast<int>(i));
    c->clear_network_interfaces();
    v1::NetworkInterface* ni = c->add_network_interfaces();
    ni->set_attachment_id(mode == TaskNetworkMode::kAwsvpc ? attachment_id : a.id);
    ni->set_private_ipv4_address(a.ip);
    if (mode != TaskNetworkMode::kAwsvpc || eni_recorded) continue;
    eni_recorded = true;
    task.clear_attachments();
    v1::Attachment* eni = task.add_attachments();
    eni->set_id(attachment_id);
    eni->set_type("ElasticNetworkInterface");
    eni->set_status("ATTACHED");
    const std::pair<const char*, std::string> details[] = {
        {"networkInterfaceId", a.id},
        {"macAddress", a.mac},
        {"privateDnsName", absl::StrCat("ip-", absl::StrReplaceAll(a.ip, {{".", "-"}}))},
        {"privateIPv4Address", a.ip},
        {"gatewayIPv4Address", a.gateway},
    };
    for (const auto& [name, value] : details) {
      v1::KeyValuePair* kv = eni->add_details();
      kv->set_name(name);
      kv->set_value(value);
    }
  }
}

}  // namespace skiff::scheduler
