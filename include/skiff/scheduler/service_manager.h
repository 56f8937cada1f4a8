// ServiceManager: ECS services on one node. It keeps each service's desired count of tasks
// running: a level-triggered control loop in which API writes, task changes and timers mark a
// service dirty, and a reconcile pass compares what is desired with what runs and starts or
// stops tasks through the TaskManager. A task that stops is replaced by a new one, never
// restarted in place.
//
// Launches that keep failing (tasks that stop before RUNNING or soon after) back off
// exponentially up to a cap; the back-off is stored with the service, so a restart of skiffd
// does not reset it, and a new deployment does. A task that does not fit in the node's remaining
// resources is not placed; the service says so in ECS's words and retries when resources free.
//
// Deployments: a new task definition (or forceNewDeployment) makes a new PRIMARY deployment and
// the previous ones ACTIVE; old tasks drain within minimumHealthyPercent / maximumPercent, where
// a task counts as healthy when it is RUNNING and passes its health checks (if it has any).
//
// The deployment circuit breaker (deploymentConfiguration.deploymentCircuitBreaker): once
// max(3, min(200, ceil(desiredCount / 2))) tasks of the PRIMARY deployment have failed (stopped
// before RUNNING, exited, or failed their health checks) while it is IN_PROGRESS, its rollout is
// FAILED. With rollback a new deployment of the last task definition that completed starts at
// once; without, the failed deployment launches nothing more and the older tasks keep serving.
// The progress deadline (an option, off by default) fails a deployment the same way.
//
// A task that fails its container health checks (after healthCheckGracePeriodSeconds from its
// start) is replaced: the replacement starts first where maximumPercent leaves room, and the
// unhealthy task stops once the replacement is healthy; at the ceiling it stops first.
//
// Load balancing (options.targets, the TargetRegistry): a service's loadBalancers (at most 5;
// each container and containerPort in its task definition; each target group of the type its
// network mode needs) register each task's targets once it runs (and is HEALTHY, when it has
// container health checks): the host port bound to containerPort in bridge and host mode, the
// task's address and containerPort in awsvpc. The task serves (counts towards
// minimumHealthyPercent and the steady state) once its targets pass the target groups' checks;
// after healthCheckGracePeriodSeconds a task whose targets fail them is replaced. TaskManager
// drains the targets before any stop signals the task. UpdateService may change loadBalancers:
// that starts a new deployment, whose tasks register under the new set while the old tasks
// drain from the targets they have (a task registers under the set of the moment it runs).
//
// Discovery (options.endpoints, the ServiceEndpoints): an ACTIVE service's tasks that run with an
// address (bridge, awsvpc), are ready (HEALTHY with container health checks, else RUNNING for
// ready_after), stay (not told to stop, not draining) and do not fail their target groups'
// checks are published each time that set changes; a deleted service is forgotten at once. A
// service whose name cannot be a DNS name says so in an event when it is created.
//
// Service Connect (options.connect, the ServiceConnect seam; service_connect.cc): a
// serviceConnectConfiguration is checked against the task definition (each portName a named tcp
// portMapping; names, ports and their ranges; at most one alias per entry) and by the seam
// against the node (ports and names other services or listeners hold), with
// InvalidParameterException naming the member. It is kept, and echoed, on each deployment
// (serviceConnectConfiguration, serviceConnectResources), as ECS does; a change starts a new
// deployment. Each pass publishes the service's ready tasks (the discoverable ones) and its
// running tasks' addresses (the namespace's clients) when they change.
//
// The decisions are ServicePlanner's (a pure function of one service's snapshot); this class
// keeps the state, carries plans out through the TaskLauncher and the store, and says when to
// plan again (task changes, API writes, timers).
//
// Thread contract: owned by the control loop; every public method runs on the loop thread.
#ifndef SKIFF_SCHEDULER_SERVICE_MANAGER_H_
#define SKIFF_SCHEDULER_SERVICE_MANAGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/model/arn.h"
#include "skiff/scheduler/cluster_directory.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/inventory.h"
#include "skiff/scheduler/scalable_services.h"
#include "skiff/scheduler/service_connect.h"
#include "skiff/scheduler/service_endpoints.h"
#include "skiff/scheduler/service_planner.h"
#include "skiff/scheduler/target_registry.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/scheduler/task_launcher.h"
#include "skiff/store/store.h"
#include "skiff/v1/ecs.pb.h"
#include "skiff/v1/skiff.pb.h"

namespace skiff::scheduler {

struct ServiceManagerOptions {
  // The scheduling decisions' settings: back-off, readiness window, progress deadline,
  // placement retry (service_planner.h).
  ServicePlannerOptions planner;
  // How long a deleted (INACTIVE) service stays visible.
  absl::Duration retention = absl::Hours(1);
  // Told how long each reconcile pass that looked at a service took (metrics). Loop thread.
  std::function<void(absl::Duration)> pass_observer;
  // Registers the targets of load-balanced services' tasks and says how healthy they are
  // (elb::LoadBalancerManager); it must outlive the manager. Null: no load balancing, and a
  // service with loadBalancers is refused.
  TargetRegistry* targets = nullptr;
  // Where the discoverable tasks of each service go (the node's resolver); it must outlive the
  // manager. Null: no discovery.
  ServiceEndpoints* endpoints = nullptr;
  // Serves Service Connect aliases (the node's proxy and resolver); it must outlive the manager.
  // Null (or without endpoints): a service that enables Service Connect is refused.
  ServiceConnect* connect = nullptr;
};

class ServiceManager final : public ServiceInventory, public ScalableServices {
 public:
  using ServiceListener = ScalableServices::ServiceListener;

  // Requests name their cluster through `clusters`; `random` makes deployment and event ids.
  // Every pointer must outlive the manager.
  ServiceManager(EventLoop* loop, TaskLauncher* tasks, TaskDefinitionRegistry* registry,
                 const ClusterResolver* clusters, store::Store* store, const Clock* clock,
                 RandomSource* random, model::ArnScope scope, ServiceManagerOptions options = {});

  // Loads the stored services and indexes the launcher's tasks by service (call after
  // TaskManager::Load), then subscribes to task changes and to the launcher's resyncs (each
  // one runs a pass at once) and schedules a pass over every service. Call once, before the
  // loop serves requests.
  absl::Status Load();
  // Called with every service as it changes (after it is persisted). Loop thread.
  void AddListener(ServiceListener listener) override {
    listeners_.push_back(std::move(listener));
  }

  absl::StatusOr<v1::CreateServiceResponse> CreateService(const v1::CreateServiceRequest& request);
  absl::StatusOr<v1::UpdateServiceResponse> UpdateService(const v1::UpdateServiceRequest& request);
  absl::StatusOr<v1::DeleteServiceResponse> DeleteService(const v1::DeleteServiceRequest& request);
  absl::StatusOr<v1::DescribeServicesResponse> DescribeServices(
      const v1::DescribeServicesRequest& request);
  absl::StatusOr<v1::ListServicesResponse> ListServices(const v1::ListServicesRequest& request);
  // The deployment history (service_deployments.cc): every deployment a service has had, newest
  // first (the last 100), with its outcome.
  absl::StatusOr<v1::ListServiceDeploymentsResponse> ListServiceDeployments(
      const v1::ListServiceDeploymentsRequest& request);
  absl::StatusOr<v1::DescribeServiceDeploymentsResponse> DescribeServiceDeployments(
      const v1::DescribeServiceDeploymentsRequest& request);
  absl::StatusOr<v1::DescribeServiceRevisionsResponse> DescribeServiceRevisions(
      const v1::DescribeServiceRevisionsRequest& request);

  // ServiceInventory, for the cluster API: services of a cluster that are ACTIVE or DRAINING,
  // and tags (NotFound when the cluster has no such non-INACTIVE service).
  int ActiveServiceCount(const std::string& cluster) const override;
  absl::StatusOr<std::vector<v1::Tag>> Tags(const std::string& cluster,
                                            const std::string& service) const override;
  absl::Status SetTags(const std::string& cluster, const std::string& service,
                       std::vector<v1::Tag> tags) override;

  // ScalableServices, for Application Auto Scaling (service_scaling.cc).
  absl::StatusOr<ScalableServiceView> ScalableService(const std::string& cluster,
                                                      const std::string& name) override;
  absl::Status SetDesiredCountForScaling(const std::string& cluster, const std::string& name,
                                         int count, const std::string& cause) override;

  // Every ACTIVE or DRAINING service's ECS view, in (cluster, name) order (metrics). Loop thread.
  void ForEachService(const std::function<void(const v1::Service&)>& fn) const;
  // Every task definition ARN that an ACTIVE or DRAINING service may still launch tasks of: its
  // own, its deployments' and its rollback target's (the last deployment that completed); an
  // ARN may come more than once. For the TaskDefinitionCollector. Loop thread.
  void ForEachTaskDefinitionInUse(const std::function<void(const std::string&)>& fn) const;

  // Runs the reconcile pass over every dirty service now (the loop runs it on its own after any
  // change; this is for tests and benchmarks). Returns how many services it looked at.
  int ReconcileNow();

  // Marks every service dirty. The daemon calls it when the runtime is back after an outage,
  // since launches are not attempted (and not counted as failures) while it is away.
  void MarkAllDirty();

 private:
  // What a service with load balancers keeps of its tasks' targets (service_load_balancers.cc).
  struct Balancing {
    // The targets of its tasks that run, by task id, as their records give them; until they
    // drain.
    std::map<std::string, std::vector<TaskTarget>> targets;
    // Targets whose drain began since the last pass, by target group: "deregistered N targets".
    std::map<std::string, int> deregistered;
    // The target group that each task whose targets are kUnhealthy fails, by task id.
    std::map<std::string, std::string> failing_groups;
  };
  // What a service keeps for discovery (service_discovery.cc).
  struct Discovery {
    // Its tasks that run with an address, by id (made from their records once they run).
    std::map<std::string, Endpoint> addressed;
    // The task ids published last; none before the first publication.
    std::optional<std::vector<std::string>> published;
  };
  // What a service with Service Connect keeps (service_connect.cc).
  struct Connect {
    ConnectConfig config;
    std::optional<ConnectState> published;  // None before the first publication.
  };
  struct ServiceState {
    store::StoredService record;            // record.service is the ECS view.
    std::map<std::string, TaskView> tasks;  // Tasks not yet STOPPED, by id.
    // The deployment ids the views hold, one copy each (InternDeploymentId).
    std::vector<DeploymentId> deployment_ids;
    // Marks the service dirty when a readiness window, grace period, back-off, deadline or
    // placement retry ends; armed for the earliest of them (made on first use).
    std::unique_ptr<Timer> wake;
    bool steady = false;  // "has reached a steady state." was said for this state.
    // Made for the first load-balanced task (most services have none: a pointer, not three
    // empty maps in each).
    std::unique_ptr<Balancing> balancing;
    // Made for the first task with an address, with discovery on.
    std::unique_ptr<Discovery> discovery;
    // Set while its Service Connect is enabled (and the node has it).
    std::unique_ptr<Connect> connect;
  };
  using Key = std::pair<std::string, std::string>;  // (cluster, service name).

  // ACTIVE or DRAINING: not yet deleted for good.
  static bool Live(const v1::Service& service) {
    return ParseServiceStatus(service.status()) != ServiceStatus::kInactive;
  }
  absl::StatusOr<std::string> Cluster(const std::string& requested) const;
  // An ACTIVE or DRAINING service; ServiceNotFoundException otherwise.
  absl::StatusOr<ServiceState*> FindLive(const std::string& cluster, const std::string& ref,
                                         absl::string_view field);
  ServiceState* Find(const Key& key);
  // The record of a service that CreateService's checked `request` makes in `cluster`, with its
  // first PRIMARY deployment.
  v1::Service NewService(const std::string& cluster, const v1::CreateServiceRequest& request,
                         const store::StoredTaskDefinition& definition);
  // UpdateService's new PRIMARY deployment of `target`: the others become ACTIVE, the launch
  // back-off is cleared and the history records the start.
  void StartNewDeployment(ServiceState& state, const std::string& target);
  void Save(ServiceState& state);
  double Now() const;

  void OnTaskChanged(const store::StoredTask& task);
  // Updates the view of a task from its record; true when the planner would see a change.
  static bool UpdateView(ServiceState& state, TaskView& view, const v1::Task& task);
  // The copy of a deployment id that the service's views share.
  static DeploymentId InternDeploymentId(ServiceState& state, const std::string& id);
  // A task of the service was told to stop: counts a failed launch or a failure of its
  // deployment, as the planner judges it.
  void JudgeStop(const Key& key, ServiceState& state, TaskView& view, const v1::Task& task);
  // After min_healthy_runtime of RUNNING, a task clears the launch back-off.
  void ClearBackoffIfStillRunning(const Key& key, const std::string& task_id);
  void MarkDirty(const Key& key);
  // Posts a pass to the loop, unless one is posted already.
  void PostPass();
  void ScheduleAt(const Key& key, absl::Time when);

  // One pass over one service: plan, then carry the plan out (the applier).
  void Reconcile(const Key& key);
  // The record changes of a plan (deployments, counts, history): true when any.
  bool ApplyRecordChanges(ServiceState& state, const ServicePlan& plan);
  // Launches the plan's tasks; says what started (or why not). Corrects the counts of a launch
  // that fell short.
  bool ApplyLaunch(const Key& key, ServiceState& state, const ServicePlan& plan);
  void ApplyStops(const ServicePlan& plan, TaskStop::Cause cause);

  // Adds an event (newest first, at most 100) unless `repeat` is false and the same message was
  // added in the last 15 minutes. Returns true when added.
  bool AddEvent(ServiceState& state, const std::string& message, bool repeat = false);
  bool AddEvent(ServiceState& state, const PlannedEvent& event) {
    return AddEvent(state, event.message, event.repeat);
  }
  // Counts a failed task against its deployment (the circuit breaker's count).
  void CountFailedTask(ServiceState& state, const std::string& deployment_id);
  // The history: the PRIMARY deployment just made (a rollback from `rollback_of` when not ""),
  // one that completed, one that failed.
  void RecordDeploymentStart(ServiceState& state, const std::string& rollback_of);
  void RecordDeploymentCompleted(ServiceState& state, const std::string& deployment_id);
  void RecordDeploymentFailed(ServiceState& state, const std::string& deployment_id,
                              const std::string& why, bool rolling_back);
  // versionConsistency: the first task of a deployment whose every container has its image
  // digest establishes the revision's containerImages (true when it did).
  bool RecordContainerImages(ServiceState& state, const store::StoredTask& task);
  // What the revision of `deployment_id` established; empty until then.
  std::vector<v1::ContainerImage> EstablishedImages(const ServiceState& state,
                                                    const std::string& deployment_id) const;
  // The history entry that `match` picks, if `arn` is one of this scope's of `kind`
  // ("service-deployment", "service-revision"); *owner is its service.
  const v1::ServiceDeploymentHistory::Entry* FindHistoryEntry(
      const std::string& arn, absl::string_view kind, const ServiceState** owner,
      const std::function<bool(const v1::ServiceDeploymentHistory::Entry&)>& match) const;
  // The live view of a history entry: the counts of its deployment while it still runs.
  v1::ServiceDeployment Live(const ServiceState& state,
                             const v1::ServiceDeploymentHistory::Entry& entry) const;
  void ScheduleRemoval(const Key& key);
  void Remove(const Key& key);

  // Load balancing (service_load_balancers.cc).
  bool LoadBalanced(const v1::Service& service) const {
    return targets_ != nullptr && service.load_balancers_size() > 0;
  }
  // A service's loadBalancers against its task definition and the target groups:
  // InvalidParameterException naming the member.
  absl::Status CheckLoadBalancers(
      const google::protobuf::RepeatedPtrField<v1::LoadBalancer>& load_balancers,
      const v1::TaskDefinition& definition) const;
  // UpdateService's: the new loadBalancers (or the service's, under a new revision).
  absl::Status CheckLoadBalancersOfUpdate(
      const v1::UpdateServiceRequest& request, const v1::Service& service,
      const std::optional<store::StoredTaskDefinition>& definition) const;
  // Whether UpdateService's `request` gives the service other loadBalancers (a new deployment).
  static bool LoadBalancersChange(const v1::UpdateServiceRequest& request,
                                  const v1::Service& service);
  // A new view of a task of a load-balanced service: what the registry knows of it already
  // (after a restart, its targets are registered).
  void FollowTargets(const Key& key, ServiceState& state, const store::StoredTask& task,
                     TaskView& view);
  static Balancing& BalancingOf(ServiceState& state) {
    if (state.balancing == nullptr) state.balancing = std::make_unique<Balancing>();
    return *state.balancing;
  }
  // Takes the registry's word for the health of a task's targets; true when the planner would
  // see a change.
  static bool SetTargetsHealth(ServiceState& state, const std::string& task_id, TaskView& view,
                               const TaskTargetsHealth& health);
  // Keeps the targets of a task that runs; counts them as deregistered once it stops (its drain
  // begins). True when there is something to say.
  bool TrackTargets(ServiceState& state, TaskView& view, const store::StoredTask& task);
  void ForgetTargets(ServiceState& state, const std::string& task_id);
  void OnTargetsHealthChanged(const std::string& task_id);
  // Registers the targets of the plan's tasks; says "registered N targets" per target group.
  bool ApplyRegistrations(const Key& key, ServiceState& state, const ServicePlan& plan);
  // Says "deregistered N targets" for the drains begun since the last pass.
  bool SayDeregistered(const Key& key, ServiceState& state);

  // Discovery (service_discovery.cc).
  static Discovery& DiscoveryOf(ServiceState& state) {
    if (state.discovery == nullptr) state.discovery = std::make_unique<Discovery>();
    return *state.discovery;
  }
  // Keeps the endpoint of a task that runs with an address; true when the planner would see a
  // change.
  bool TrackEndpoint(ServiceState& state, const TaskView& view, const store::StoredTask& task);
  // Publishes the plan's discoverable tasks when they differ from the last ones published.
  void ApplyEndpoints(const Key& key, ServiceState& state, const ServicePlan& plan);
  // A new service: says in an event when its DNS name is not its own name, or it has none.
  void SayDnsName(ServiceState& state);
  // A deleted service's name is found no more.
  void ForgetEndpoints(const Key& key, ServiceState& state);

  // Service Connect (service_connect.cc). A configuration against `definition` and the node:
  // none when it is disabled.
  absl::StatusOr<std::optional<ConnectConfig>> CheckServiceConnect(
      const std::string& cluster, const std::string& service,
      const v1::ServiceConnectConfiguration& config, const v1::TaskDefinition& definition) const;
  // UpdateService's: the new configuration, or the service's under a new revision.
  absl::Status CheckServiceConnectOfUpdate(
      const v1::UpdateServiceRequest& request, const ServiceState& state,
      const std::optional<store::StoredTaskDefinition>& definition) const;
  // The service's configuration: its newest deployment's that has one; null for none.
  static const v1::ServiceConnectConfiguration* ConnectConfigurationOf(const v1::Service& service);
  // Sets `deployment`'s echo: the configuration and its serviceConnectResources.
  void EchoServiceConnect(v1::Deployment& deployment,
                          const v1::ServiceConnectConfiguration& config) const;
  // state.connect from the service's record (after Load, CreateService, UpdateService); forgets
  // what a service that no longer has it published.
  void LoadServiceConnect(const Key& key, ServiceState& state);
  // Publishes a pass's ready tasks and clients when they differ from the last ones.
  void ApplyServiceConnect(const Key& key, ServiceState& state, const ServicePlan& plan);
  void ForgetServiceConnect(const Key& key, ServiceState& state);
  // Says which accepted members have no effect here (logConfiguration, ingressPortOverride).
  void SayServiceConnectIgnored(ServiceState& state, const v1::ServiceConnectConfiguration& c);

  EventLoop* const loop_;
  TaskLauncher* const tasks_;
  TaskDefinitionRegistry* const registry_;
  const ClusterResolver* const clusters_;
  store::Store* const store_;
  const Clock* const clock_;
  RandomSource* const random_;
  const model::ArnScope scope_;
  const ServiceManagerOptions options_;
  TargetRegistry* const targets_;  // options_.targets; may be null.
  ServiceEndpoints* const endpoints_;  // options_.endpoints; may be null.
  // options_.connect, when there are endpoints too (its ready tasks are the discoverable ones).
  ServiceConnect* const connect_;
  ServicePlanner planner_;

  std::map<Key, ServiceState> services_;
  std::set<Key> dirty_;
  std::set<Key> waiting_for_capacity_;  // Could not place a task; retried when one stops.
  bool pass_posted_ = false;
  std::vector<ServiceListener> listeners_;
  // The service of each task that is load balanced and not yet STOPPED (health changes name
  // only the task).
  std::map<std::string, Key> load_balanced_tasks_;
  // Expires with the manager: the registry's health listener outlives it (a test restarts it).
  const std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_SERVICE_MANAGER_H_
