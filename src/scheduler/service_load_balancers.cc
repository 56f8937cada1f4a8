// ServiceManager and load balancing: the checks of a service's loadBalancers, the targets of its
// tasks (from their records), their registration and the events ECS says about them, and the
// health of the targets as the planner sees it. The drain before a stop is TaskManager's. Same
// thread contract as the rest of the class (loop thread only).
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/service_manager.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {
namespace {

using LoadBalancers = google::protobuf::RepeatedPtrField<v1::LoadBalancer>;

constexpr int kMaxLoadBalancers = 5;  // As ECS.

absl::Status InvalidParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
                         message);
}

const v1::ContainerDefinition* ContainerNamed(const v1::TaskDefinition& definition,
                                              const std::string& name) {
  for (const v1::ContainerDefinition& c : definition.container_definitions()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

bool SameLoadBalancer(const v1::LoadBalancer& a, const v1::LoadBalancer& b) {
  return a.target_group_arn() == b.target_group_arn() &&
         a.load_balancer_name() == b.load_balancer_name() &&
         a.container_name() == b.container_name() && a.container_port() == b.container_port();
}

bool SameLoadBalancers(const LoadBalancers& a, const LoadBalancers& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i) {
    if (!SameLoadBalancer(a[i], b[i])) return false;
  }
  return true;
}

// One entry of loadBalancers against the task definition.
absl::Status CheckLoadBalancer(const v1::LoadBalancer& lb, const std::string& at,
                               const v1::TaskDefinition& definition) {
  if (lb.has_load_balancer_name()) {
    return InvalidParameter(absl::StrCat(at, ".loadBalancerName: Classic Load Balancers are not "
                                             "supported; name a target group (targetGroupArn)"));
  }
  if (lb.target_group_arn().empty()) {
    return InvalidParameter(absl::StrCat(at, ".targetGroupArn: required"));
  }
  if (lb.container_name().empty()) {
    return InvalidParameter(absl::StrCat(at, ".containerName: required"));
  }
  if (!lb.has_container_port()) {
    return InvalidParameter(absl::StrCat(at, ".containerPort: required"));
  }
  if (lb.container_port() < 1 || lb.container_port() > 65535) {
    return InvalidParameter(absl::StrCat(at, ".containerPort: must be between 1 and 65535; got ",
                                         lb.container_port()));
  }
  const std::string revision = absl::StrCat(definition.family(), ":", definition.revision());
  const v1::ContainerDefinition* c = ContainerNamed(definition, lb.container_name());
  if (c == nullptr) {
    return InvalidParameter(absl::StrCat(at, ".containerName: no container ",
                                         model::QuoteValue(lb.container_name()),
                                         " in task definition ", revision));
  }
  const bool mapped = absl::c_any_of(c->port_mappings(), [&lb](const v1::PortMapping& p) {
    return p.container_port() == lb.container_port() &&
           (!p.has_protocol() || p.protocol() == "tcp");
  });
  if (!mapped) {
    return InvalidParameter(absl::StrCat(at, ".containerPort: container ",
                                         model::QuoteValue(lb.container_name()), " of ", revision,
                                         " has no tcp portMapping with containerPort ",
                                         lb.container_port()));
  }
  return absl::OkStatus();
}

// The address of an awsvpc task: its ENI's, as RecordAttachments shows it; "" for the others.
std::string TaskAddress(const v1::Task& task) {
  for (const v1::Attachment& a : task.attachments()) {
    if (a.type() != "ElasticNetworkInterface") continue;
    for (const v1::KeyValuePair& kv : a.details()) {
      if (kv.name() == "privateIPv4Address") return kv.value();
    }
  }
  return "";
}

// A task's targets, one per loadBalancers entry: in awsvpc the task's address and the
// container port (target type ip); else this node and the host port bound to the container
// port (target type instance).
std::vector<TaskTarget> TargetsOf(const v1::Task& task, const LoadBalancers& load_balancers) {
  const std::string address = TaskAddress(task);
  std::vector<TaskTarget> out;
  for (const v1::LoadBalancer& lb : load_balancers) {
    const v1::Container* container = nullptr;
    for (const v1::Container& c : task.containers()) {
      if (c.name() == lb.container_name()) container = &c;
    }
    if (container == nullptr) continue;
    if (!address.empty()) {
      out.push_back({.target_group_arn = lb.target_group_arn(),
                     .ip = address,
                     .port = lb.container_port()});
      continue;
    }
    for (const v1::NetworkBinding& b : container->network_bindings()) {
      const bool tcp = !b.has_protocol() || b.protocol() == "tcp";
      if (b.container_port() != lb.container_port() || !tcp) continue;
      out.push_back({.target_group_arn = lb.target_group_arn(), .port = b.host_port()});
      break;
    }
  }
  return out;
}

// "(service web) registered 2 targets in (target-group arn:...)", once per group, in the order
// in which the groups first appear.
std::vector<std::string> TargetEvents(const std::string& service, absl::string_view verb,
                                      const std::vector<std::pair<std::string, int>>& counts) {
  std::vector<std::string> out;
  for (const auto& [group, n] : counts) {
    out.push_back(absl::StrCat("(service ", service, ") ", verb, " ", n,
                               " targets in (target-group ", group, ")"));
  }
  return out;
}

void Count(std::vector<std::pair<std::string, int>>& counts, const std::string& group) {
  for (auto& [known, n] : counts) {
    if (known == group) {
      ++n;
      return;
    }
  }
  counts.emplace_back(group, 1);
}

}  // namespace

absl::Status ServiceManager::CheckLoadBalancers(const LoadBalancers& load_balancers,
                                                const v1::TaskDefinition& definition) const {
  if (load_balancers.empty()) return absl::OkStatus();
  if (load_balancers.size() > kMaxLoadBalancers) {
    return InvalidParameter(absl::StrCat("loadBalancers: at most ", kMaxLoadBalancers,
                                         " per service; got ", load_balancers.size()));
  }
  if (targets_ == nullptr) {
    return InvalidParameter(
        "loadBalancers: load balancing is not available on this skiffd; leave loadBalancers out");
  }
  const std::string mode = definition.has_network_mode() ? definition.network_mode() : "bridge";
  if (mode == "none") {
    return InvalidParameter(absl::StrCat("loadBalancers: task definition ", definition.family(),
                                         ":", definition.revision(),
                                         " has networkMode none: nothing can reach its ports"));
  }
  for (int i = 0; i < load_balancers.size(); ++i) {
    const std::string at = absl::StrCat("loadBalancers[", i, "]");
    SKIFF_RETURN_IF_ERROR(CheckLoadBalancer(load_balancers[i], at, definition));
    for (int j = 0; j < i; ++j) {
      if (SameLoadBalancer(load_balancers[i], load_balancers[j])) {
        return InvalidParameter(absl::StrCat(at, ": the same as loadBalancers[", j, "]"));
      }
    }
  }
  absl::Status checked = targets_->CheckLoadBalancers(load_balancers, mode);
  if (absl::IsInvalidArgument(checked) || absl::IsNotFound(checked)) {
    return model::WithEcsException(std::move(checked), model::kInvalidParameterException);
  }
  return checked;
}

absl::Status ServiceManager::CheckLoadBalancersOfUpdate(
    const v1::UpdateServiceRequest& request, const v1::Service& service,
    const std::optional<store::StoredTaskDefinition>& definition) const {
  const bool new_set = !request.load_balancers().empty();
  const LoadBalancers& load_balancers = new_set ? request.load_balancers()
                                                : service.load_balancers();
  // The service's own, under its own revision, were checked when they were set.
  if (load_balancers.empty() || (!new_set && !definition)) return absl::OkStatus();
  if (definition) return CheckLoadBalancers(load_balancers, definition->definition);
  SKIFF_ASSIGN_OR_RETURN(store::StoredTaskDefinition current,
                         registry_->Resolve(service.task_definition(), "taskDefinition"));
  return CheckLoadBalancers(load_balancers, current.definition);
}

bool ServiceManager::LoadBalancersChange(const v1::UpdateServiceRequest& request,
                                         const v1::Service& service) {
  return !request.load_balancers().empty() &&
         !SameLoadBalancers(request.load_balancers(), service.load_balancers());
}

void ServiceManager::FollowTargets(const Key& key, ServiceState& state,
                                   const store::StoredTask& task, TaskView& view) {
  view.load_balanced = true;
  load_balanced_tasks_[task.id] = key;
  // After a restart the registry knows which tasks it has; one found stopping was deregistered
  // (and said so) before.
  SetTargetsHealth(state, task.id, view, targets_->HealthOf(task.id));
  const std::optional<TaskStage> stage = ParseTaskStage(task.task.last_status());
  view.targets_registered = view.targets != TargetsHealth::kNone && stage.has_value() &&
                            *stage < TaskStage::kDeactivating;
}

bool ServiceManager::SetTargetsHealth(ServiceState& state, const std::string& task_id,
                                      TaskView& view, const TaskTargetsHealth& health) {
  bool changed = view.targets != health.state;
  view.targets = health.state;
  std::map<std::string, std::string>& failing = BalancingOf(state).failing_groups;
  auto known = failing.find(task_id);
  if (health.state != TargetsHealth::kUnhealthy) {
    if (known != failing.end()) failing.erase(known);
    return changed;
  }
  if (known == failing.end()) {
    failing.emplace(task_id, health.failing_group);
    return true;
  }
  changed |= known->second != health.failing_group;
  known->second = health.failing_group;
  return changed;
}

bool ServiceManager::TrackTargets(ServiceState& state, TaskView& view,
                                  const store::StoredTask& task) {
  Balancing& balancing = BalancingOf(state);
  if (view.stage == TaskStage::kRunning) {
    // Its addresses are known once it runs, and stay what they are until it stops.
    if (!balancing.targets.contains(task.id)) {
      balancing.targets[task.id] = TargetsOf(task.task, state.record.service.load_balancers());
    }
    return false;
  }
  if (view.stage < TaskStage::kDeactivating || !view.targets_registered) return false;
  // Past RUNNING: TaskManager has begun draining its targets.
  view.targets_registered = false;
  auto it = balancing.targets.find(task.id);
  if (it == balancing.targets.end()) return false;
  for (const TaskTarget& target : it->second) ++balancing.deregistered[target.target_group_arn];
  balancing.targets.erase(it);
  return true;
}

void ServiceManager::ForgetTargets(ServiceState& state, const std::string& task_id) {
  load_balanced_tasks_.erase(task_id);
  if (state.balancing == nullptr) return;
  state.balancing->targets.erase(task_id);
  state.balancing->failing_groups.erase(task_id);
}

void ServiceManager::OnTargetsHealthChanged(const std::string& task_id) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  auto where = load_balanced_tasks_.find(task_id);
  if (where == load_balanced_tasks_.end()) return;  // Not a task of ours, or stopped.
  const Key key = where->second;
  ServiceState* state = Find(key);
  if (state == nullptr) return;
  auto it = state->tasks.find(task_id);
  if (it == state->tasks.end()) return;
  if (SetTargetsHealth(*state, task_id, it->second, targets_->HealthOf(task_id))) MarkDirty(key);
}

bool ServiceManager::ApplyRegistrations(const Key& key, ServiceState& state,
                                        const ServicePlan& plan) {
  if (plan.register_targets.empty() || targets_ == nullptr) return false;
  Balancing& balancing = BalancingOf(state);
  std::vector<std::pair<std::string, int>> counts;
  for (const std::string& id : plan.register_targets) {
    auto view = state.tasks.find(id);
    if (view == state.tasks.end()) continue;
    view->second.targets_registered = true;  // Once, whatever comes of it.
    auto targets = balancing.targets.find(id);
    if (targets == balancing.targets.end() || targets->second.empty()) {
      spdlog::error("service {}/{}: task {} runs but has no address for its load balancers",
                    key.first, key.second, id);
      continue;
    }
    targets_->RegisterTask(id, targets->second);
    SetTargetsHealth(state, id, view->second, targets_->HealthOf(id));
    for (const TaskTarget& target : targets->second) Count(counts, target.target_group_arn);
  }
  bool changed = false;
  for (const std::string& event : TargetEvents(key.second, "registered", counts)) {
    changed |= AddEvent(state, event, /*repeat=*/true);
  }
  return changed;
}

bool ServiceManager::SayDeregistered(const Key& key, ServiceState& state) {
  if (state.balancing == nullptr || state.balancing->deregistered.empty()) return false;
  std::map<std::string, int>& deregistered = state.balancing->deregistered;
  const std::vector<std::pair<std::string, int>> counts(deregistered.begin(), deregistered.end());
  deregistered.clear();
  bool changed = false;
  for (const std::string& event : TargetEvents(key.second, "deregistered", counts)) {
    changed |= AddEvent(state, event, /*repeat=*/true);
  }
  return changed;
}

}  // namespace skiff::scheduler
