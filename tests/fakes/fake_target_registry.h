// FakeTargetRegistry: a TargetRegistry for unit tests, in memory, in the place of
// elb::LoadBalancerManager. The target groups are the test's (AddGroup); registrations and
// drains are recorded in order; the health of a task's targets is what the test sets
// (SetHealth, which tells the listeners as a check that changes a target would); the drain of a
// task with targets lasts until the test ends it (FinishDrain), that of a task without answers at
// once, through the loop. It keeps what it knows across a restart of the managers, as the real
// one keeps its state.
//
// Single-threaded: the test's thread, which is the loop's.
#ifndef SKIFF_TESTS_FAKES_FAKE_TARGET_REGISTRY_H_
#define SKIFF_TESTS_FAKES_FAKE_TARGET_REGISTRY_H_

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "skiff/model/errors.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/target_registry.h"

namespace skiff::fakes {

class FakeTargetRegistry final : public scheduler::TargetRegistry {
 public:
  struct Registration {
    std::string task_id;
    std::vector<scheduler::TaskTarget> targets;
  };

  explicit FakeTargetRegistry(scheduler::EventLoop* loop) : loop_(loop) {}

  // A target group, of target type "instance" or "ip".
  void AddGroup(const std::string& arn, const std::string& target_type) {
    groups_[arn] = target_type;
  }

  absl::Status CheckLoadBalancers(
      const google::protobuf::RepeatedPtrField<v1::LoadBalancer>& load_balancers,
      const std::string& network_mode) const override {
    const std::string wanted = network_mode == "awsvpc" ? "ip" : "instance";
    for (int i = 0; i < load_balancers.size(); ++i) {
      const std::string at = absl::StrCat("loadBalancers[", i, "].targetGroupArn: ");
      auto it = groups_.find(load_balancers[i].target_group_arn());
      if (it == groups_.end()) return Invalid(at + "no such target group");
      if (it->second != wanted) {
        return Invalid(absl::StrCat(at, "target type ", it->second, " does not fit networkMode ",
                                    network_mode, " (it needs ", wanted, ")"));
      }
    }
    return absl::OkStatus();
  }

  void RegisterTask(const std::string& task_id,
                    const std::vector<scheduler::TaskTarget>& targets) override {
    registrations_.push_back({task_id, targets});
    if (targets_.contains(task_id)) return;  // The same ones again change nothing.
    targets_[task_id] = targets;
    health_[task_id] = {.state = scheduler::TargetsHealth::kInitial};
  }

  void DrainTask(const std::string& task_id, absl::AnyInvocable<void()> drained) override {
    drains_.push_back(task_id);
    if (!targets_.contains(task_id)) {
      loop_->Post([drained = std::move(drained)]() mutable { drained(); });
      return;
    }
    waiting_[task_id].push_back(std::move(drained));
  }

  scheduler::TaskTargetsHealth HealthOf(const std::string& task_id) const override {
    auto it = health_.find(task_id);
    return it == health_.end() ? scheduler::TaskTargetsHealth{} : it->second;
  }

  void AddHealthListener(std::function<void(const std::string&)> listener) override {
    listeners_.push_back(std::move(listener));
  }

  // The test's side.

  // The task's targets are now `state` (failing `failing_group` when kUnhealthy).
  void SetHealth(const std::string& task_id, scheduler::TargetsHealth state,
                 const std::string& failing_group = "") {
    health_[task_id] = {.state = state, .failing_group = failing_group};
    for (const auto& listener : listeners_) listener(task_id);
  }
  // Ends the drain of the task's targets: they are gone, and every caller is told (through
  // the loop).
  void FinishDrain(const std::string& task_id) {
    targets_.erase(task_id);
    health_.erase(task_id);
    auto it = waiting_.find(task_id);
    if (it == waiting_.end()) return;
    for (auto& drained : it->second) {
      loop_->Post([drained = std::move(drained)]() mutable { drained(); });
    }
    waiting_.erase(it);
  }
  bool Draining(const std::string& task_id) const { return waiting_.contains(task_id); }
  bool Registered(const std::string& task_id) const { return targets_.contains(task_id); }

  const std::vector<Registration>& registrations() const { return registrations_; }
  const std::vector<std::string>& drains() const { return drains_; }

 private:
  static absl::Status Invalid(const std::string& message) {
    return model::EcsError(absl::StatusCode::kInvalidArgument,
                           model::kInvalidParameterException, message);
  }

  scheduler::EventLoop* const loop_;
  std::map<std::string, std::string> groups_;  // ARN → target type.
  std::map<std::string, std::vector<scheduler::TaskTarget>> targets_;
  std::map<std::string, scheduler::TaskTargetsHealth> health_;
  std::map<std::string, std::vector<absl::AnyInvocable<void()>>> waiting_;
  std::vector<std::function<void(const std::string&)>> listeners_;
  std::vector<Registration> registrations_;
  std::vector<std::string> drains_;
};

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_FAKE_TARGET_REGISTRY_H_
