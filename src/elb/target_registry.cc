// LoadBalancerManager: target groups, their targets, target health and draining.
#include <arpa/inet.h>

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "elb/errors.h"
#include "elb/paging.h"
#include "spdlog/spdlog.h"
#include "skiff/base/status_macros.h"
#include "skiff/elb/load_balancer_manager.h"
#include "skiff/lb/data_plane_sync.h"

namespace skiff::elb {
namespace {

using namespace elbv2::v1;  // NOLINT: every shape of the API is used here.

constexpr int kMaxTargetsPerGroup = 1000;
// Where an `instance` target (this node) is reached: its host ports on loopback.
constexpr char kNodeAddress[] = "127.0.0.1";

std::string ServerKey(const TargetGroupRecord& group, const RegisteredTarget& target) {
  return lb::ServerKey(group.BackendName(), target.ServerName());
}

// The target `d` names in `group`, checked: Targets[i].Id and .Port as ELBv2 checks them.
absl::StatusOr<RegisteredTarget> TargetOf(const TargetGroup& group, const TargetDescription& d,
                                          int i, const std::string& instance_id) {
  const std::string at = absl::StrCat("Targets[", i, "]");
  RegisteredTarget t{.id = d.id(), .port = d.has_port() ? d.port() : group.port()};
  if (t.port < 1 || t.port > 65535) return OutOfRange(at + ".Port", t.port, 1, 65535);
  if (d.has_availability_zone()) t.availability_zone = d.availability_zone();
  if (group.target_type() == "ip") {
    in_addr addr{};
    if (inet_pton(AF_INET, d.id().c_str(), &addr) != 1 || addr.s_addr == 0 ||
        addr.s_addr == 0xffffffff) {
      return ElbError(absl::StatusCode::kInvalidArgument, kInvalidTarget,
                      absl::StrCat(at, ".Id: '", d.id(), "' is not an IPv4 address a target ",
                                   "of type ip can have"));
    }
    t.address = d.id();
  } else {
    if (d.id() != instance_id) {
      return ElbError(absl::StatusCode::kInvalidArgument, kInvalidTarget,
                      absl::StrCat(at, ".Id: '", d.id(), "' is not this node's instance id (",
                                   instance_id, "); use a target group of type ip for "
                                   "addresses"));
    }
    t.address = kNodeAddress;
  }
  return t;
}

auto SameTarget(const RegisteredTarget& t) {
  return [&t](const RegisteredTarget& other) { return other.id == t.id && other.port == t.port; };
}

}  // namespace

absl::StatusOr<TargetGroupRecord*> LoadBalancerManager::FindGroup(const std::string& arn) {
  auto it = state_.target_groups.find(arn);
  // A Service Connect alias's group is no ELBv2 object.
  if (it == state_.target_groups.end() || it->second.internal()) return TargetGroupNotFound(arn);
  return &it->second;
}

// The group as ELBv2 describes it: with the load balancers that forward to it.
TargetGroup LoadBalancerManager::Described(const TargetGroupRecord& record) const {
  TargetGroup g = record.group;
  for (const std::string& arn : state_.LoadBalancersOf(g.target_group_arn())) {
    g.add_load_balancer_arns(arn);
  }
  return g;
}

absl::StatusOr<CreateTargetGroupOutput> LoadBalancerManager::CreateTargetGroup(
    const CreateTargetGroupInput& in) {
  SKIFF_ASSIGN_OR_RETURN(TargetGroup group, NewTargetGroup(in, options_.scope, NewId()));
  CreateTargetGroupOutput out;
  for (const auto& [arn, record] : state_.target_groups) {
    if (record.internal() || record.group.target_group_name() != group.target_group_name()) {
      continue;
    }
    // ELBv2 returns the group when it exists with the same settings.
    TargetGroup same = group;
    same.set_target_group_arn(arn);
    if (same.SerializeAsString() != record.group.SerializeAsString()) {
      return ElbError(absl::StatusCode::kAlreadyExists, kDuplicateTargetGroupName,
                      absl::StrCat("A target group with the same name '",
                                   group.target_group_name(), "' exists, with other settings"));
    }
    *out.add_target_groups() = Described(record);
    return out;
  }
  ElbState next = state_;
  TargetGroupRecord& record = next.target_groups[group.target_group_arn()];
  record.group = group;
  record.tags.assign(in.tags().begin(), in.tags().end());
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/true));
  *out.add_target_groups() = std::move(group);
  return out;
}

absl::StatusOr<DescribeTargetGroupsOutput> LoadBalancerManager::DescribeTargetGroups(
    const DescribeTargetGroupsInput& in) {
  const int given = (in.has_load_balancer_arn() ? 1 : 0) + (in.target_group_arns_size() > 0) +
                    (in.names_size() > 0);
  if (given > 1) return Invalid("give at most one of LoadBalancerArn, TargetGroupArns, Names");
  std::vector<const TargetGroupRecord*> found;
  if (in.has_load_balancer_arn() && !state_.load_balancers.contains(in.load_balancer_arn())) {
    return LoadBalancerNotFound(in.load_balancer_arn());
  }
  for (const std::string& arn : in.target_group_arns()) {
    SKIFF_ASSIGN_OR_RETURN(TargetGroupRecord * record, FindGroup(arn));
    found.push_back(record);
  }
  for (const std::string& name : in.names()) {
    auto it = std::find_if(state_.target_groups.begin(), state_.target_groups.end(), [&](auto& g) {
      return !g.second.internal() && g.second.group.target_group_name() == name;
    });
    if (it == state_.target_groups.end()) return TargetGroupNotFound(name);
    found.push_back(&it->second);
  }
  if (given == 0 || in.has_load_balancer_arn()) {
    for (const auto& [arn, record] : state_.target_groups) {
      if (record.internal()) continue;
      const std::vector<std::string> lbs = state_.LoadBalancersOf(arn);
      if (given == 0 || std::find(lbs.begin(), lbs.end(), in.load_balancer_arn()) != lbs.end()) {
        found.push_back(&record);
      }
    }
  }
  DescribeTargetGroupsOutput out;
  SKIFF_RETURN_IF_ERROR(Paginate(found, in.marker(), in.page_size(), in.has_page_size(), &out,
                                 [&](const TargetGroupRecord* r) {
                                   *out.add_target_groups() = Described(*r);
                                 }));
  return out;
}

absl::StatusOr<ModifyTargetGroupOutput> LoadBalancerManager::ModifyTargetGroup(
    const ModifyTargetGroupInput& in) {
  SKIFF_ASSIGN_OR_RETURN(TargetGroupRecord * record, FindGroup(in.target_group_arn()));
  SKIFF_ASSIGN_OR_RETURN(TargetGroup group, ModifiedTargetGroup(record->group, in));
  ElbState next = state_;
  next.target_groups[in.target_group_arn()].group = group;
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/true));
  ModifyTargetGroupOutput out;
  *out.add_target_groups() = Described(state_.target_groups.at(in.target_group_arn()));
  return out;
}

absl::StatusOr<DeleteTargetGroupOutput> LoadBalancerManager::DeleteTargetGroup(
    const DeleteTargetGroupInput& in) {
  SKIFF_RETURN_IF_ERROR(FindGroup(in.target_group_arn()).status());
  const std::vector<std::string> users = state_.LoadBalancersOf(in.target_group_arn());
  if (!users.empty()) {
    return ElbError(absl::StatusCode::kFailedPrecondition, kResourceInUse,
                    absl::StrCat("Target group '", in.target_group_arn(),
                                 "' is currently in use by a listener or a rule of ", users[0]));
  }
  if (group_in_use_ && group_in_use_(in.target_group_arn())) {
    return ElbError(absl::StatusCode::kFailedPrecondition, kResourceInUse,
                    absl::StrCat("Target group '", in.target_group_arn(),
                                 "' is currently in use by an ECS service"));
  }
  ElbState next = state_;
  next.target_groups.erase(in.target_group_arn());
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  return DeleteTargetGroupOutput{};
}

absl::StatusOr<ModifyTargetGroupAttributesOutput>
LoadBalancerManager::ModifyTargetGroupAttributes(const ModifyTargetGroupAttributesInput& in) {
  SKIFF_ASSIGN_OR_RETURN(TargetGroupRecord * record, FindGroup(in.target_group_arn()));
  if (in.attributes_size() == 0) return Invalid("Attributes: required");
  SKIFF_ASSIGN_OR_RETURN(TargetGroupAttributes attributes,
                         ApplyAttributes(record->attributes, record->group, in.attributes()));
  ElbState next = state_;
  next.target_groups[in.target_group_arn()].attributes = attributes;
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/true));
  ModifyTargetGroupAttributesOutput out;
  const TargetGroup& group = state_.target_groups.at(in.target_group_arn()).group;
  for (auto& a : attributes.ToList(group)) *out.add_attributes() = std::move(a);
  return out;
}

absl::StatusOr<DescribeTargetGroupAttributesOutput>
LoadBalancerManager::DescribeTargetGroupAttributes(const DescribeTargetGroupAttributesInput& in) {
  SKIFF_ASSIGN_OR_RETURN(TargetGroupRecord * record, FindGroup(in.target_group_arn()));
  DescribeTargetGroupAttributesOutput out;
  for (auto& a : record->attributes.ToList(record->group)) *out.add_attributes() = std::move(a);
  return out;
}

absl::StatusOr<RegisterTargetsOutput> LoadBalancerManager::RegisterTargets(
    const RegisterTargetsInput& in) {
  SKIFF_ASSIGN_OR_RETURN(TargetGroupRecord * record, FindGroup(in.target_group_arn()));
  if (in.targets_size() == 0) return Invalid("Targets: required");
  ElbState next = state_;
  std::vector<RegisteredTarget>& targets = next.target_groups[in.target_group_arn()].targets;
  for (int i = 0; i < in.targets_size(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(RegisteredTarget t,
                           TargetOf(record->group, in.targets(i), i, options_.scope.instance_id));
    auto same = std::find_if(targets.begin(), targets.end(), SameTarget(t));
    if (same != targets.end()) {
      same->drain_until = 0;  // Registering a draining target takes it back.
      continue;
    }
    targets.push_back(std::move(t));
  }
  if (static_cast<int>(targets.size()) > kMaxTargetsPerGroup) {
    return ElbError(absl::StatusCode::kResourceExhausted, kTooManyTargets,
                    absl::StrCat("A target group has at most ", kMaxTargetsPerGroup, " targets"));
  }
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  return RegisterTargetsOutput{};
}

absl::StatusOr<DeregisterTargetsOutput> LoadBalancerManager::DeregisterTargets(
    const DeregisterTargetsInput& in) {
  SKIFF_ASSIGN_OR_RETURN(TargetGroupRecord * record, FindGroup(in.target_group_arn()));
  if (in.targets_size() == 0) return Invalid("Targets: required");
  ElbState next = state_;
  TargetGroupRecord& group = next.target_groups[in.target_group_arn()];
  for (int i = 0; i < in.targets_size(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(RegisteredTarget t,
                           TargetOf(record->group, in.targets(i), i, options_.scope.instance_id));
    auto same = std::find_if(group.targets.begin(), group.targets.end(), SameTarget(t));
    if (same == group.targets.end()) {
      return ElbError(absl::StatusCode::kInvalidArgument, kInvalidTarget,
                      absl::StrCat("Targets[", i, "]: ", t.id, ":", t.port,
                                   " is not registered in ", in.target_group_arn()));
    }
    if (!same->draining()) StartDrain(group, *same);
  }
  SKIFF_RETURN_IF_ERROR(Commit(std::move(next), /*check=*/false));
  return DeregisterTargetsOutput{};
}

absl::StatusOr<DescribeTargetHealthOutput> LoadBalancerManager::DescribeTargetHealth(
    const DescribeTargetHealthInput& in) {
  SKIFF_ASSIGN_OR_RETURN(TargetGroupRecord * record, FindGroup(in.target_group_arn()));
  DescribeTargetHealthOutput out;
  auto describe = [&](const RegisteredTarget& t, const TargetHealth* health) {
    TargetHealthDescription* d = out.add_target_health_descriptions();
    d->mutable_target()->set_id(t.id);
    d->mutable_target()->set_port(t.port);
    if (!t.availability_zone.empty()) {
      d->mutable_target()->set_availability_zone(t.availability_zone);
    }
    const std::string& check_port = record->group.health_check_port();
    d->set_health_check_port(check_port == "traffic-port" || check_port.empty()
                                 ? absl::StrCat(t.port)
                                 : check_port);
    if (health != nullptr) {
      *d->mutable_target_health() = *health;
      return;
    }
    *d->mutable_target_health() = TargetHealthOf(*record, t);
  };
  if (in.targets_size() == 0) {
    for (const RegisteredTarget& t : record->targets) describe(t, nullptr);
    return out;
  }
  for (int i = 0; i < in.targets_size(); ++i) {
    SKIFF_ASSIGN_OR_RETURN(RegisteredTarget t,
                           TargetOf(record->group, in.targets(i), i, options_.scope.instance_id));
    auto same = std::find_if(record->targets.begin(), record->targets.end(), SameTarget(t));
    if (same != record->targets.end()) {
      describe(*same, nullptr);
      continue;
    }
    TargetHealth unused;
    unused.set_state("unused");
    unused.set_reason("Target.NotRegistered");
    unused.set_description("Target is not registered to the target group");
    describe(t, &unused);
  }
  return out;
}

// ---- The data plane's reports and draining ----

void LoadBalancerManager::StartDrain(TargetGroupRecord& group, RegisteredTarget& target) {
  const double now = absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch());
  // A delay of 0 still goes through the data plane once, so the server leaves it cleanly.
  target.drain_until =
      now + std::max(0.001, absl::ToDoubleSeconds(group.attributes.deregistration_delay));
  drain_generations_[ServerKey(group, target)] = generation_ + 1;
}

TargetHealth LoadBalancerManager::TargetHealthOf(const TargetGroupRecord& group,
                                                 const RegisteredTarget& target) const {
  // An alias's frontend always uses its group.
  const bool in_use =
      group.internal() || !state_.LoadBalancersOf(group.group.target_group_arn()).empty();
  return elb::HealthOf(target, in_use,
                       StatOf(group, target.ServerName()),
                       view_.admitted.contains(ServerKey(group, target)));
}

const lb::ServerStat* LoadBalancerManager::StatOf(const TargetGroupRecord& group,
                                                  const std::string& server) const {
  auto it = stats_.find(lb::ServerKey(group.BackendName(), server));
  return it == stats_.end() ? nullptr : it->second;
}

absl::StatusOr<LoadBalancerManager::GroupTraffic> LoadBalancerManager::TrafficOf(
    const std::string& target_group_arn) const {
  auto it = state_.target_groups.find(target_group_arn);
  if (it == state_.target_groups.end()) {
    return absl::NotFoundError(absl::StrCat("no target group ", target_group_arn));
  }
  const TargetGroupRecord& group = it->second;
  GroupTraffic out;
  const std::string backend = group.BackendName();
  for (const lb::ServerStat& s : view_.servers) {
    if (s.backend == backend) out.total_requests += s.total_sessions;  // Twins' too.
  }
  for (const RegisteredTarget& t : group.targets) {
    if (!t.draining() && TargetHealthOf(group, t).state() == "healthy") ++out.healthy_targets;
  }
  return out;
}

std::set<std::string> LoadBalancerManager::FailingOpen() const {
  std::set<std::string> out;
  for (const auto& [arn, group] : state_.target_groups) {
    // A Service Connect alias does not fail open: every client of it is a task of the node,
    // which its own retries serve better than a task that refuses connections.
    if (group.internal()) continue;
    bool any = false;
    bool all_unhealthy = true;
    for (const RegisteredTarget& t : group.targets) {
      if (t.draining()) continue;
      any = true;
      all_unhealthy = all_unhealthy && TargetHealthOf(group, t).state() == "unhealthy";
    }
    if (any && all_unhealthy) out.insert(arn);
  }
  return out;
}

absl::Status LoadBalancerManager::WantPlane() {
  absl::StatusOr<lb::DataPlane> plane = BuildDataPlane(
      state_, options_.listen_address, fail_open_, options_.service_connect_address);
  if (!plane.ok()) return plane.status();
  data_plane_->Want(*std::move(plane), ++generation_);
  return absl::OkStatus();
}

void LoadBalancerManager::OnReport(DataPlaneView view) {
  const bool was_running = view_.running;
  view_ = std::move(view);
  stats_.clear();
  for (const lb::ServerStat& s : view_.servers) stats_[lb::ServerKey(s.backend, s.name)] = &s;
  if (view_.running != was_running || !view_.status.ok()) {
    if (view_.running) {
      spdlog::info("load balancing: HAProxy runs (plane {})", view_.generation);
    } else {
      spdlog::warn("load balancing: HAProxy does not run: {}", view_.status.ToString());
    }
  }
  FinishDrains();
  if (std::set<std::string> failing = FailingOpen(); failing != fail_open_) {
    for (const std::string& arn : failing) {
      if (!fail_open_.contains(arn)) {
        spdlog::warn("load balancing: every target of {} is unhealthy: traffic goes to all of "
                     "them (fail open)", arn);
      }
    }
    fail_open_ = std::move(failing);
    if (absl::Status s = WantPlane(); !s.ok()) {
      spdlog::error("load balancing: cannot fail open: {}", s.ToString());
    }
  }
  NotifyTasks();  // Health may have changed with the report even when no drain ended.
}

void LoadBalancerManager::FinishDrains() {
  const double now = absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch());
  ElbState next = state_;
  bool changed = false;
  for (auto& entry : next.target_groups) {
    TargetGroupRecord& group = entry.second;  // Lambdas below capture it (not a binding).
    std::erase_if(group.targets, [&](const RegisteredTarget& t) {
      if (!t.draining()) return false;
      const std::string key = ServerKey(group, t);
      auto since = drain_generations_.find(key);
      // The drain must be applied before an idle server proves that nothing is in flight.
      const uint64_t applied_after = since == drain_generations_.end() ? 1 : since->second;
      // Its fail-open twin's requests count too: the task serves them.
      const lb::ServerStat* stat = StatOf(group, t.ServerName());
      const lb::ServerStat* twin = StatOf(group, t.TwinName());
      const bool idle = view_.running && view_.generation >= applied_after &&
                        (stat == nullptr || stat->current_sessions == 0) &&
                        (twin == nullptr || twin->current_sessions == 0);
      if (!idle && now < t.drain_until) return false;
      drain_generations_.erase(key);
      changed = true;
      return true;
    });
  }
  if (!changed) {
    ArmDrainTimer();
    return;
  }
  absl::Status s = Commit(std::move(next), /*check=*/false);
  if (!s.ok()) spdlog::warn("load balancing: cannot remove drained targets: {}", s.ToString());
  NotifyTasks();
}

void LoadBalancerManager::ArmDrainTimer() {
  double earliest = 0;
  for (const auto& [arn, group] : state_.target_groups) {
    for (const RegisteredTarget& t : group.targets) {
      if (t.draining() && (earliest == 0 || t.drain_until < earliest)) earliest = t.drain_until;
    }
  }
  if (earliest == 0) {
    drain_timer_->Disable();
    return;
  }
  const absl::Time at = absl::UnixEpoch() + absl::Seconds(earliest);
  drain_timer_->EnableWithin(std::max(absl::ZeroDuration(), at - clock_->Now()));
}

}  // namespace skiff::elb
