// LoadBalancerManager and Service Connect: the internal target groups of ECS services' client
// aliases, their conflicts with listeners and with each other, and their targets.
#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "elb/errors.h"
#include "skiff/base/status_macros.h"
#include "skiff/elb/load_balancer_manager.h"
#include "skiff/model/errors.h"
#include "spdlog/spdlog.h"

namespace skiff::elb {
namespace {

// skiff-dns listens on the alias address's port 53.
constexpr int kResolverPort = 53;
// A TCP connect every 2 s; 2 in a row decide. The first connection is probed at once by the
// data plane (first_probe.h), so a new task does not wait for the interval.
constexpr int kCheckIntervalSeconds = 2;
constexpr int kCheckTimeoutSeconds = 1;
constexpr int kCheckThreshold = 2;

absl::Status BadParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
                         message);
}

std::string Describe(const ServiceConnectAlias& alias) {
  return absl::StrCat("alias ", alias.dns_name, " of service ", alias.owner, " (namespace ",
                      alias.ns, ")");
}

}  // namespace

TargetGroupRecord LoadBalancerManager::NewAliasGroup(const AliasSpec& spec) {
  TargetGroupRecord record;
  elbv2::v1::TargetGroup& g = record.group;
  g.set_target_group_arn(absl::StrCat(kServiceConnectPrefix, NewId()));
  g.set_target_group_name("service-connect");
  g.set_protocol("TCP");
  g.set_port(spec.port);
  g.set_target_type("ip");
  g.set_health_check_enabled(true);
  g.set_health_check_protocol("TCP");
  g.set_health_check_port("traffic-port");
  g.set_health_check_interval_seconds(kCheckIntervalSeconds);
  g.set_health_check_timeout_seconds(kCheckTimeoutSeconds);
  g.set_healthy_threshold_count(kCheckThreshold);
  g.set_unhealthy_threshold_count(kCheckThreshold);
  record.attributes.deregistration_delay = kServiceConnectDrain;
  record.alias = spec.alias;
  return record;
}

absl::Status LoadBalancerManager::CheckAliasConflicts(const std::string& owner,
                                                      const AliasSpec& spec) const {
  const std::string at_port = spec.alias_path + ".port";
  if (spec.port == kResolverPort) {
    return BadParameter(absl::StrCat(at_port, ": port 53 is the node's resolver's (skiff-dns) "
                                     "on the alias address"));
  }
  for (const auto& [arn, l] : state_.listeners) {
    if (l.listener.port() == spec.port) {
      return BadParameter(absl::StrCat(at_port, ": port ", spec.port,
                                       " is the port of load balancer listener ", arn));
    }
  }
  bool own_port = false;
  for (const auto& [arn, group] : state_.target_groups) {
    if (!group.internal()) continue;
    const ServiceConnectAlias& other = *group.alias;
    if (other.owner == owner) {
      own_port = own_port || group.group.port() == spec.port;
      continue;
    }
    if (group.group.port() == spec.port) {
      return BadParameter(absl::StrCat(at_port, ": port ", spec.port, " is taken by ",
                                       Describe(other),
                                       "; an alias port serves one alias on this node"));
    }
    if (other.ns != spec.alias.ns) continue;
    if (other.dns_name == spec.alias.dns_name) {
      return BadParameter(absl::StrCat(spec.alias_path, ".dnsName: ", spec.alias.dns_name,
                                       " is already the ", Describe(other)));
    }
    if (other.discovery_name == spec.alias.discovery_name) {
      return BadParameter(absl::StrCat(spec.service_path, ".discoveryName: ",
                                       spec.alias.discovery_name, " is already taken by service ",
                                       other.owner, " in namespace ", other.ns));
    }
  }
  // Our own HAProxy holds the ports of the owner's aliases; any other holder is in the way (on
  // the alias address, or on every address).
  if (own_port) return absl::OkStatus();
  if (absl::Status free = port_probe_(options_.service_connect_address, spec.port); !free.ok()) {
    return BadParameter(absl::StrCat(at_port, ": port ", spec.port,
                                     " cannot be bound on this node: ", free.message()));
  }
  return absl::OkStatus();
}

absl::Status LoadBalancerManager::CheckServiceConnect(const std::string& owner,
                                                      const std::vector<AliasSpec>& aliases) {
  if (aliases.empty()) return absl::OkStatus();
  if (options_.service_connect_address.empty()) {
    return BadParameter("serviceConnectConfiguration: Service Connect is off on this node "
                        "(no task bridge address for its aliases)");
  }
  for (const AliasSpec& spec : aliases) {
    SKIFF_RETURN_IF_ERROR(CheckAliasConflicts(owner, spec));
  }
  ElbState next = state_;
  ApplyServiceConnect(next, owner, aliases, /*targets=*/false);
  absl::StatusOr<lb::DataPlane> plane = BuildDataPlane(
      next, options_.listen_address, fail_open_, options_.service_connect_address);
  if (!plane.ok()) return plane.status();
  absl::Status checked = data_plane_->Check(*plane);
  if (checked.ok()) return checked;
  return model::EcsError(
      absl::IsInvalidArgument(checked) ? absl::StatusCode::kInvalidArgument : checked.code(),
      absl::IsInvalidArgument(checked) ? model::kInvalidParameterException
                                       : model::kServerException,
      absl::StrCat("serviceConnectConfiguration: the node's proxy (HAProxy) cannot serve the "
                   "aliases: ", checked.message()));
}

void LoadBalancerManager::SetServiceConnect(const std::string& owner,
                                            const std::vector<AliasSpec>& aliases) {
  ElbState next = state_;
  if (!ApplyServiceConnect(next, owner, aliases, /*targets=*/true)) return;
  if (absl::Status s = Commit(std::move(next), /*check=*/false); !s.ok()) {
    spdlog::warn("service connect: service {}: cannot change its aliases: {}", owner,
                 s.ToString());
  }
  NotifyTasks();
}

bool LoadBalancerManager::ApplyServiceConnect(ElbState& next, const std::string& owner,
                                              const std::vector<AliasSpec>& aliases,
                                              bool targets) {
  std::map<int, std::string> existing;  // The owner's groups by alias port.
  for (const auto& [arn, group] : next.target_groups) {
    if (group.internal() && group.alias->owner == owner) existing[group.group.port()] = arn;
  }
  bool changed = false;
  std::set<std::string> kept;
  for (const AliasSpec& spec : aliases) {
    std::string arn;
    if (auto it = existing.find(spec.port); it != existing.end()) {
      arn = it->second;
    } else {
      TargetGroupRecord record = NewAliasGroup(spec);
      arn = record.group.target_group_arn();
      next.target_groups.emplace(arn, std::move(record));
      changed = true;
    }
    kept.insert(arn);
    TargetGroupRecord& group = next.target_groups.at(arn);
    if (*group.alias != spec.alias) {
      group.alias = spec.alias;
      changed = true;
    }
    if (targets) changed |= SyncAliasTargets(group, spec.targets);
  }
  // An alias the service no longer has goes at once, with its frontend.
  for (const auto& [port, arn] : existing) {
    if (!kept.contains(arn)) changed |= next.target_groups.erase(arn) > 0;
  }
  return changed;
}

bool LoadBalancerManager::SyncAliasTargets(TargetGroupRecord& group,
                                           const std::vector<AliasTarget>& wanted) {
  bool changed = false;
  for (const AliasTarget& w : wanted) {
    auto same = std::find_if(group.targets.begin(), group.targets.end(), [&w](const auto& t) {
      return t.address == w.address && t.port == w.port;
    });
    if (same == group.targets.end()) {
      group.targets.push_back(
          {.id = w.address, .port = w.port, .address = w.address, .task_id = w.task_id});
      changed = true;
      continue;
    }
    if (same->task_id != w.task_id) {
      // The address came to a new task: it starts over.
      *same = {.id = w.address, .port = w.port, .address = w.address, .task_id = w.task_id};
      changed = true;
    } else if (same->draining() && !drain_waiters_.contains(w.task_id)) {
      same->drain_until = 0;  // Ready again (it was unhealthy for a while), and not stopping.
      changed = true;
    }
  }
  for (RegisteredTarget& t : group.targets) {
    if (t.draining()) continue;
    const bool listed = std::any_of(wanted.begin(), wanted.end(), [&t](const AliasTarget& w) {
      return w.address == t.address && w.port == t.port;
    });
    if (!listed) {
      StartDrain(group, t);
      changed = true;
    }
  }
  return changed;
}

}  // namespace skiff::elb
