// LoadBalancerManager: ELBv2 on one node. It keeps the load balancers, listeners, rules and
// target groups (with their registered targets) in the store, answers the ELBv2 operations of
// `skiff elbv2` (SPEC.md) as ELBv2 does, and hands the data plane they come to (state.h) to the
// DataPlane, which makes HAProxy run it off the loop.
//
// What a node adds to ELBv2:
// - Every listener binds --lb-address:PORT. A port that another process holds is refused when
//   the listener is made (ValidationError naming the port), before anything is written.
// - A config HAProxy refuses (`haproxy -c`) is never committed: the call fails with HAProxy's
//   message and nothing changes. When HAProxy cannot run at all (missing, crashing), the
//   operations that need it answer Unavailable and the rest of skiffd goes on.
// - Targets get traffic only after their first passing check; deregistered ones drain, and
//   leave the data plane when their connections reach 0 or the group's deregistration delay
//   ends, whichever comes first (ELBv2 always waits for the delay).
// - Service Connect (service_connect.cc): ECS services' client aliases are internal target
//   groups (state.h's ServiceConnectAlias) behind TCP frontends on service_connect_address. Their
//   targets come and go as the service's ready tasks do (SetServiceConnect), checked with a TCP
//   connect, and drain like any ECS task's targets before the task is signalled (DrainTask), for
//   at most kServiceConnectDrain. No ELBv2 operation shows them; a listener cannot take an
//   alias's port, nor an alias a listener's.
//
// Thread contract: loop-owned. Every method runs on the loop thread; OnReport() too (post it).
#ifndef SKIFF_ELB_LOAD_BALANCER_MANAGER_H_
#define SKIFF_ELB_LOAD_BALANCER_MANAGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/elb/rules.h"
#include "skiff/elb/state.h"
#include "skiff/elbv2/v1/elbv2.pb.h"
#include "skiff/lb/config.h"
#include "skiff/lb/haproxy_admin.h"
#include "skiff/model/arn.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/target_registry.h"
#include "skiff/store/store.h"

namespace skiff::elb {

// What the data plane last said (lb::DataPlaneReport, as the manager needs it).
struct DataPlaneView {
  uint64_t generation = 0;  // The last plane generation fully applied.
  bool running = false;
  absl::Status status;
  std::vector<lb::ServerStat> servers;
  absl::flat_hash_set<std::string> admitted;  // "backend/server".
};

// Where the manager's data plane goes; lb::DataPlaneSync in skiffd, a fake in tests.
class DataPlane {
 public:
  virtual ~DataPlane() = default;
  // Whether HAProxy would load `plane` (rendered and `haproxy -c`): InvalidArgument with its
  // message, or Unavailable when HAProxy cannot be run. Blocks for the check (tens of ms).
  virtual absl::Status Check(const lb::DataPlane& plane) = 0;
  // The plane to run from now on; returns at once.
  virtual void Want(lb::DataPlane plane, uint64_t generation) = 0;
};

// Whether a TCP port can be bound on the listeners' address (it is free, or held by our own
// HAProxy for a listener that exists).
using PortProbe = std::function<absl::Status(const std::string& address, int port)>;

struct LoadBalancerManagerOptions {
  std::string listen_address = "0.0.0.0";  // --lb-address
  std::string dns_name = "localhost";       // The load balancers' DNSName.
  model::ArnScope scope;
  // Where Service Connect aliases listen: the task bridge's gateway. "": no Service Connect.
  std::string service_connect_address;
};

// The longest a Service Connect alias's target drains before its task is signalled; its
// connections reaching 0 end the drain sooner. 30 s is ECS's default stopTimeout, the bound ECS
// already puts on a stop; ALB's 300 s would hold a stop for 5 minutes behind one idle
// keep-alive connection (docs/adr/0016-service-connect.md).
inline constexpr absl::Duration kServiceConnectDrain = absl::Seconds(30);

// One task behind a Service Connect alias: its address and the container port of the alias's
// portName.
struct AliasTarget {
  std::string task_id;
  std::string address;
  int port = 0;
  bool operator==(const AliasTarget&) const = default;
};

// A client alias of one service as the scheduler declares it, with the member paths that the
// errors of CheckServiceConnect name.
struct AliasSpec {
  ServiceConnectAlias alias;
  int port = 0;
  std::vector<AliasTarget> targets;  // The service's ready tasks, in any order.
  std::string service_path;  // "serviceConnectConfiguration.services[0]"
  std::string alias_path;    // "serviceConnectConfiguration.services[0].clientAliases[0]"
};

class LoadBalancerManager final : public scheduler::TargetRegistry {
 public:
  LoadBalancerManager(LoadBalancerManagerOptions options, store::Store* store,
                      scheduler::EventLoop* loop, const Clock* clock, RandomSource* random,
                      DataPlane* data_plane, PortProbe port_probe);
  ~LoadBalancerManager();

  // Loads the objects from the store and hands their plane to the data plane.
  absl::Status Start();

  // Told by the data plane what it runs (post it to the loop).
  void OnReport(DataPlaneView view);

  absl::StatusOr<elbv2::v1::CreateLoadBalancerOutput> CreateLoadBalancer(
      const elbv2::v1::CreateLoadBalancerInput& in);
  absl::StatusOr<elbv2::v1::DescribeLoadBalancersOutput> DescribeLoadBalancers(
      const elbv2::v1::DescribeLoadBalancersInput& in);
  absl::StatusOr<elbv2::v1::DeleteLoadBalancerOutput> DeleteLoadBalancer(
      const elbv2::v1::DeleteLoadBalancerInput& in);

  absl::StatusOr<elbv2::v1::CreateTargetGroupOutput> CreateTargetGroup(
      const elbv2::v1::CreateTargetGroupInput& in);
  absl::StatusOr<elbv2::v1::DescribeTargetGroupsOutput> DescribeTargetGroups(
      const elbv2::v1::DescribeTargetGroupsInput& in);
  absl::StatusOr<elbv2::v1::ModifyTargetGroupOutput> ModifyTargetGroup(
      const elbv2::v1::ModifyTargetGroupInput& in);
  absl::StatusOr<elbv2::v1::DeleteTargetGroupOutput> DeleteTargetGroup(
      const elbv2::v1::DeleteTargetGroupInput& in);
  absl::StatusOr<elbv2::v1::ModifyTargetGroupAttributesOutput> ModifyTargetGroupAttributes(
      const elbv2::v1::ModifyTargetGroupAttributesInput& in);
  absl::StatusOr<elbv2::v1::DescribeTargetGroupAttributesOutput> DescribeTargetGroupAttributes(
      const elbv2::v1::DescribeTargetGroupAttributesInput& in);

  absl::StatusOr<elbv2::v1::CreateListenerOutput> CreateListener(
      const elbv2::v1::CreateListenerInput& in);
  absl::StatusOr<elbv2::v1::DescribeListenersOutput> DescribeListeners(
      const elbv2::v1::DescribeListenersInput& in);
  absl::StatusOr<elbv2::v1::ModifyListenerOutput> ModifyListener(
      const elbv2::v1::ModifyListenerInput& in);
  absl::StatusOr<elbv2::v1::DeleteListenerOutput> DeleteListener(
      const elbv2::v1::DeleteListenerInput& in);

  absl::StatusOr<elbv2::v1::CreateRuleOutput> CreateRule(const elbv2::v1::CreateRuleInput& in);
  absl::StatusOr<elbv2::v1::DescribeRulesOutput> DescribeRules(
      const elbv2::v1::DescribeRulesInput& in);
  absl::StatusOr<elbv2::v1::ModifyRuleOutput> ModifyRule(const elbv2::v1::ModifyRuleInput& in);
  absl::StatusOr<elbv2::v1::DeleteRuleOutput> DeleteRule(const elbv2::v1::DeleteRuleInput& in);

  absl::StatusOr<elbv2::v1::RegisterTargetsOutput> RegisterTargets(
      const elbv2::v1::RegisterTargetsInput& in);
  absl::StatusOr<elbv2::v1::DeregisterTargetsOutput> DeregisterTargets(
      const elbv2::v1::DeregisterTargetsInput& in);
  absl::StatusOr<elbv2::v1::DescribeTargetHealthOutput> DescribeTargetHealth(
      const elbv2::v1::DescribeTargetHealthInput& in);

  absl::StatusOr<elbv2::v1::AddTagsOutput> AddTags(const elbv2::v1::AddTagsInput& in);
  absl::StatusOr<elbv2::v1::DescribeTagsOutput> DescribeTags(
      const elbv2::v1::DescribeTagsInput& in);
  absl::StatusOr<elbv2::v1::RemoveTagsOutput> RemoveTags(const elbv2::v1::RemoveTagsInput& in);

  // scheduler::TargetRegistry: ECS services' tasks (ecs_targets.cc).
  absl::Status CheckLoadBalancers(
      const google::protobuf::RepeatedPtrField<v1::LoadBalancer>& load_balancers,
      const std::string& network_mode) const override;
  void RegisterTask(const std::string& task_id,
                    const std::vector<scheduler::TaskTarget>& targets) override;
  void DrainTask(const std::string& task_id, absl::AnyInvocable<void()> drained) override;
  scheduler::TaskTargetsHealth HealthOf(const std::string& task_id) const override;
  void AddHealthListener(std::function<void(const std::string& task_id)> listener) override;

  // Service Connect (service_connect.cc). Whether `owner` ("CLUSTER/SERVICE") may serve
  // `aliases`: no alias of another service on the same port (one alias address per node) nor
  // with the same dnsName or discoveryName in its namespace, no listener's port, not the
  // resolver's port 53, no port another process holds, and a data plane HAProxy accepts (it
  // runs `haproxy -c`: InvalidArgument with HAProxy's words, Unavailable when HAProxy cannot
  // run). InvalidArgument names the member (AliasSpec's paths).
  absl::Status CheckServiceConnect(const std::string& owner, const std::vector<AliasSpec>& aliases);
  // Makes `owner`'s aliases these (none: forgets them), each with its targets now: new ones
  // are added (traffic once a TCP connect passes), ones no longer listed drain. A target of a
  // task that DrainTask drains is never taken back.
  void SetServiceConnect(const std::string& owner, const std::vector<AliasSpec>& aliases);

  // Whether an ECS service uses a target group (DeleteTargetGroup refuses it then).
  void SetGroupInUse(std::function<bool(const std::string& arn)> in_use) {
    group_in_use_ = std::move(in_use);
  }

  const ElbState& state() const { return state_; }

  // What a target group served, from the last report: the requests (sessions) its servers
  // have counted since HAProxy started them, and its healthy targets (ALBRequestCountPerTarget).
  // The count drops when a server leaves or HAProxy restarts: the reader makes a rate of it.
  struct GroupTraffic {
    int64_t total_requests = 0;
    int healthy_targets = 0;
  };
  // NotFound for an unknown group.
  absl::StatusOr<GroupTraffic> TrafficOf(const std::string& target_group_arn) const;
  const DataPlaneView& view() const { return view_; }

 private:
  // Makes `next` the state: its plane checked (when `check`), each changed record written,
  // then the plane handed on. Nothing changes when the check or a write fails.
  absl::Status Commit(ElbState next, bool check);
  absl::Status Persist(const ElbState& next);
  // Marks `target` of `group` (in `next`) draining until its group's delay ends.
  void StartDrain(TargetGroupRecord& group, RegisteredTarget& target);
  // The ELBv2 health of a registered target from the last report.
  elbv2::v1::TargetHealth TargetHealthOf(const TargetGroupRecord& group,
                                         const RegisteredTarget& target) const;
  // Tells the health listeners about tasks whose targets' health changed since the last call,
  // and runs the drain callbacks of tasks that have no target left.
  void NotifyTasks();
  // Targets whose drain is over (no connections left, or their deadline passed) are removed.
  void FinishDrains();
  // The groups a listener uses whose every target that is not draining is unhealthy.
  std::set<std::string> FailingOpen() const;
  // Hands the data plane of state_ (and fail_open_) on as a new generation.
  absl::Status WantPlane();
  // The last report's line of a server, or nullptr.
  const lb::ServerStat* StatOf(const TargetGroupRecord& group, const std::string& server) const;
  void ArmDrainTimer();
  std::string NewId();
  // Resolves the target groups a listener or rule of `lb_arn` forwards to, checking that each
  // fits the listener's protocol and serves no other load balancer.
  BackendResolver ResolverFor(const ElbState& state, const std::string& lb_arn, bool tcp) const;
  // A listener may take `port`: no other listener has it and the node can bind it.
  absl::Status CheckPort(const std::string& lb_arn, int port, const std::string& except_listener);
  // Service Connect (service_connect.cc): `next` with `owner`'s aliases made `aliases`, and
  // their targets too when `targets` (not for a check: a drain would begin); true when
  // anything changed.
  bool ApplyServiceConnect(ElbState& next, const std::string& owner,
                           const std::vector<AliasSpec>& aliases, bool targets);
  bool SyncAliasTargets(TargetGroupRecord& group, const std::vector<AliasTarget>& wanted);
  TargetGroupRecord NewAliasGroup(const AliasSpec& spec);
  absl::Status CheckAliasConflicts(const std::string& owner, const AliasSpec& spec) const;
  absl::Status CheckRule(const ElbState& state, const elbv2::v1::Rule& rule,
                         const elbv2::v1::Listener& listener) const;
  static std::vector<elbv2::v1::Tag>* TagsOf(ElbState& state, const std::string& arn);
  absl::StatusOr<TargetGroupRecord*> FindGroup(const std::string& arn);
  elbv2::v1::TargetGroup Described(const TargetGroupRecord& record) const;

  LoadBalancerManagerOptions options_;
  store::Store* store_;
  scheduler::EventLoop* loop_;
  const Clock* clock_;
  RandomSource* random_;
  DataPlane* data_plane_;
  PortProbe port_probe_;
  ElbState state_;
  uint64_t generation_ = 0;
  DataPlaneView view_;
  // view_.servers by "backend/server".
  absl::flat_hash_map<std::string, const lb::ServerStat*> stats_;
  // Target groups failing open (FailingOpen() at the last report): their targets have twins.
  std::set<std::string> fail_open_;
  std::unique_ptr<scheduler::Timer> drain_timer_;
  // "backend/server" of each draining target: the plane generation that drains it. Its server
  // is idle only in a report of that generation or later.
  absl::flat_hash_map<std::string, uint64_t> drain_generations_;
  std::function<bool(const std::string&)> group_in_use_;
  // ECS tasks: callers waiting for their drain, and the health last told to the listeners.
  absl::flat_hash_map<std::string, std::vector<absl::AnyInvocable<void()>>> drain_waiters_;
  absl::flat_hash_map<std::string, scheduler::TargetsHealth> told_health_;
  std::vector<std::function<void(const std::string&)>> health_listeners_;
};

// The real PortProbe: binds (with SO_REUSEADDR, and IP_FREEBIND: the address need not exist
// yet) and closes a TCP socket on address:port.
absl::Status ProbePort(const std::string& address, int port);

}  // namespace skiff::elb

#endif  // SKIFF_ELB_LOAD_BALANCER_MANAGER_H_
