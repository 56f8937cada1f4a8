// TargetRegistry: the load balancers' side of a service task's life, as ECS runs it with ELB. A
// task of a service with `loadBalancers` has its targets registered once it runs (and, with
// container health checks, is HEALTHY); it counts as serving only once its targets pass the
// target group's checks; and before it is stopped, for any reason, its targets drain (no new
// requests, in-flight ones finish) and only then do its containers get SIGTERM.
//
// elb::LoadBalancerManager implements it; the scheduler never sees ELBv2's objects. Who calls
// what: ServiceManager checks loadBalancers (CreateService, UpdateService), registers a task once
// (from a reconcile pass), reads HealthOf when it first sees a task (at its Load too: load the
// registry's state before it) and after a registration, and listens for changes. TaskManager
// asks DrainTask for every service task that stops after it ran, with or without load balancers.
//
// Thread contract: every method on the loop thread; listeners are called there.
#ifndef SKIFF_SCHEDULER_TARGET_REGISTRY_H_
#define SKIFF_SCHEDULER_TARGET_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

// One target of a task, as ELB registers it.
struct TaskTarget {
  std::string target_group_arn;
  // The task's IPv4 address (awsvpc: target type ip, with the container port), or "" for the
  // node itself (bridge and host: target type instance, with the host port).
  std::string ip;
  int port = 0;
  bool operator==(const TaskTarget&) const = default;
};

// The health of a task's targets taken together.
enum class TargetsHealth : uint8_t {
  kNone,       // No targets registered (none wanted, or not yet).
  kInitial,    // Registered; some have not passed their first check yet, none failed.
  kHealthy,    // Every target passes its checks.
  kUnhealthy,  // Some target fails its checks.
};

struct TaskTargetsHealth {
  TargetsHealth state = TargetsHealth::kNone;
  std::string failing_group;  // kUnhealthy: the ARN of a group whose check the task fails.
};

class TargetRegistry {
 public:
  virtual ~TargetRegistry() = default;

  // Checks a service's loadBalancers against the target groups: each group exists and its
  // target type fits `network_mode` (ip for awsvpc, instance otherwise). InvalidArgument naming
  // the member ("loadBalancers[0].targetGroupArn: ..."), with ECS's InvalidParameterException.
  // Called after the scheduler's own checks (count, required members, the container and its
  // portMapping); `network_mode` is the task definition's ("bridge" when unset; never "none").
  virtual absl::Status CheckLoadBalancers(
      const google::protobuf::RepeatedPtrField<v1::LoadBalancer>& load_balancers,
      const std::string& network_mode) const = 0;

  // Registers the task's targets (one per loadBalancers entry, in order); registering the same
  // ones again changes nothing. The scheduler calls it once per task, once it runs (and is
  // HEALTHY, with container health checks), or after a restart when HealthOf says kNone.
  virtual void RegisterTask(const std::string& task_id, const std::vector<TaskTarget>& targets) = 0;

  // Drains the task's targets and removes them, then calls `drained` (on the loop): when their
  // connections reach 0 or the groups' deregistration delay ends. At once (still through the
  // loop) when the task has no targets. Asking again while a drain runs adds a caller.
  virtual void DrainTask(const std::string& task_id, absl::AnyInvocable<void()> drained) = 0;

  // The task's targets' health now; kNone for a task without registered targets (a drained
  // one included).
  virtual TaskTargetsHealth HealthOf(const std::string& task_id) const = 0;

  // Called with a task's id when the health of its targets changes (more often does no harm:
  // the scheduler compares with what it has).
  virtual void AddHealthListener(std::function<void(const std::string& task_id)> listener) = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_TARGET_REGISTRY_H_
