// LoadBalancerManager as the scheduler's TargetRegistry: the targets of ECS services' tasks.
// A task's targets are registered targets like any other (DescribeTargetHealth shows them), that
// carry the task's id, so that they survive a restart of skiffd with the rest of the state.
#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "elb/errors.h"
#include "skiff/elb/load_balancer_manager.h"
#include "skiff/model/errors.h"
#include "spdlog/spdlog.h"

namespace skiff::elb {
namespace {

using scheduler::TargetsHealth;

constexpr int kMaxLoadBalancersPerService = 5;
constexpr char kNodeAddress[] = "127.0.0.1";

absl::Status BadParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
                         message);
}

}  // namespace

absl::Status LoadBalancerManager::CheckLoadBalancers(
    const google::protobuf::RepeatedPtrField<v1::LoadBalancer>& load_balancers,
    const std::string& network_mode) const {
  if (load_balancers.size() > kMaxLoadBalancersPerService) {
    return BadParameter(absl::StrCat("loadBalancers: a service has at most ",
                                     kMaxLoadBalancersPerService, " load balancers"));
  }
  const std::string want = network_mode == "awsvpc" ? "ip" : "instance";
  std::set<std::pair<std::string, int>> seen;
  for (int i = 0; i < load_balancers.size(); ++i) {
    const v1::LoadBalancer& lb = load_balancers[i];
    const std::string at = absl::StrCat("loadBalancers[", i, "]");
    if (lb.has_load_balancer_name()) {
      return BadParameter(absl::StrCat(at, ".loadBalancerName: Classic Load Balancers are not "
                                       "supported; give targetGroupArn"));
    }
    auto group = state_.target_groups.find(lb.target_group_arn());
    if (group == state_.target_groups.end() || group->second.internal()) {
      return BadParameter(absl::StrCat(at, ".targetGroupArn: target group '",
                                       lb.target_group_arn(), "' does not exist"));
    }
    if (state_.LoadBalancersOf(lb.target_group_arn()).empty()) {
      return BadParameter(absl::StrCat(at, ".targetGroupArn: the target group '",
                                       lb.target_group_arn(),
                                       "' does not have an associated load balancer"));
    }
    if (group->second.group.target_type() != want) {
      return BadParameter(absl::StrCat(
          at, ".targetGroupArn: the target group has target type ",
          group->second.group.target_type(), ", which is incompatible with the ", network_mode,
          " network mode; use a target group of type ", want));
    }
    if (!seen.insert({lb.target_group_arn(), lb.container_port()}).second) {
      return BadParameter(absl::StrCat(at, ": the same target group and container port twice"));
    }
  }
  return absl::OkStatus();
}

void LoadBalancerManager::RegisterTask(const std::string& task_id,
                                       const std::vector<scheduler::TaskTarget>& targets) {
  ElbState next = state_;
  bool changed = false;
  for (const scheduler::TaskTarget& t : targets) {
    auto group = next.target_groups.find(t.target_group_arn);
    if (group == next.target_groups.end()) {
      spdlog::warn("load balancing: task {}: target group {} is gone; not registered", task_id,
                   t.target_group_arn);
      continue;
    }
    RegisteredTarget target{.id = t.ip.empty() ? options_.scope.instance_id : t.ip,
                            .port = t.port,
                            .address = t.ip.empty() ? kNodeAddress : t.ip,
                            .task_id = task_id};
    auto& registered = group->second.targets;
    auto same = std::find_if(registered.begin(), registered.end(), [&](const auto& r) {
      return r.id == target.id && r.port == target.port;
    });
    if (same != registered.end()) {
      if (same->task_id == task_id && !same->draining()) continue;
      *same = std::move(target);  // A port reused by a new task: it starts over.
    } else {
      registered.push_back(std::move(target));
    }
    changed = true;
  }
  if (!changed) return;
  absl::Status s = Commit(std::move(next), /*check=*/false);
  if (!s.ok()) spdlog::warn("load balancing: task {}: cannot register: {}", task_id, s.ToString());
  NotifyTasks();
}

void LoadBalancerManager::DrainTask(const std::string& task_id,
                                    absl::AnyInvocable<void()> drained) {
  drain_waiters_[task_id].push_back(std::move(drained));
  ElbState next = state_;
  bool changed = false;
  for (auto& [arn, group] : next.target_groups) {
    for (RegisteredTarget& t : group.targets) {
      if (t.task_id != task_id || t.draining()) continue;
      StartDrain(group, t);
      changed = true;
    }
  }
  if (changed) {
    absl::Status s = Commit(std::move(next), /*check=*/false);
    if (!s.ok()) {
      // The store refused: stop the task without draining rather than keep it forever.
      spdlog::warn("load balancing: task {}: cannot drain: {}", task_id, s.ToString());
      for (auto& [arn, group] : state_.target_groups) {
        std::erase_if(group.targets, [&](const auto& t) { return t.task_id == task_id; });
      }
      // And out of the data plane first, so that no request goes to the stopping task.
      if (absl::Status w = WantPlane(); !w.ok()) {
        spdlog::error("load balancing: task {}: {}", task_id, w.ToString());
      }
    }
  }
  NotifyTasks();
}

scheduler::TaskTargetsHealth LoadBalancerManager::HealthOf(const std::string& task_id) const {
  scheduler::TaskTargetsHealth out;
  bool any = false;
  bool all_healthy = true;
  for (const auto& [arn, group] : state_.target_groups) {
    // Service Connect's checks say whether the alias sends the task connections; they are
    // not the load balancers' verdict on the task (ECS does not replace a task for them).
    if (group.internal()) continue;
    for (const RegisteredTarget& t : group.targets) {
      if (t.task_id != task_id) continue;
      any = true;
      const std::string state = TargetHealthOf(group, t).state();
      if (state == "unhealthy") {
        out.state = TargetsHealth::kUnhealthy;
        out.failing_group = arn;
        return out;
      }
      // A group no listener uses takes no traffic to fail: it does not hold the task back.
      if (state != "healthy" && state != "unused") all_healthy = false;
    }
  }
  if (!any) return out;
  out.state = all_healthy ? TargetsHealth::kHealthy : TargetsHealth::kInitial;
  return out;
}

void LoadBalancerManager::AddHealthListener(std::function<void(const std::string&)> listener) {
  health_listeners_.push_back(std::move(listener));
}

void LoadBalancerManager::NotifyTasks() {
  std::set<std::string> tasks;
  for (const auto& [arn, group] : state_.target_groups) {
    for (const RegisteredTarget& t : group.targets) {
      if (!t.task_id.empty()) tasks.insert(t.task_id);
    }
  }
  // Drains that are over: the task has no target left.
  std::vector<std::string> done;
  for (const auto& [task_id, waiters] : drain_waiters_) {
    if (!tasks.contains(task_id)) done.push_back(task_id);
  }
  for (const std::string& task_id : done) {
    auto waiters = std::move(drain_waiters_[task_id]);
    drain_waiters_.erase(task_id);
    for (auto& waiter : waiters) loop_->Post(std::move(waiter));
  }
  std::vector<std::string> changed;
  for (const std::string& task_id : tasks) {
    const TargetsHealth now = HealthOf(task_id).state;
    auto [it, inserted] = told_health_.try_emplace(task_id, now);
    if (inserted || it->second != now) changed.push_back(task_id);
    it->second = now;
  }
  for (auto it = told_health_.begin(); it != told_health_.end();) {
    if (tasks.contains(it->first)) {
      ++it;
      continue;
    }
    changed.push_back(it->first);  // Its targets are gone: kNone.
    told_health_.erase(it++);
  }
  for (const std::string& task_id : changed) {
    for (const auto& listener : health_listeners_) listener(task_id);
  }
}

}  // namespace skiff::elb
