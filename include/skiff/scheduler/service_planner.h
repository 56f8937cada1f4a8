// ServicePlanner: the decisions of the service scheduler, as a pure function of what it sees.
// From a snapshot of one service (its record with the deployments, a view of each of its tasks,
// the time) it makes a ServicePlan: which tasks to stop and why, how many to launch for the
// primary deployment, the deployment transitions, the events to say, the counts to report and
// when to look again. It does no I/O, reads no clock and touches no runtime or store;
// ServiceManager carries the plan out (see service_manager.h).
//
// A pass is a sequence of named steps, in the manner of Kubernetes' rolling deployment
// controller (reconcileNewReplicaSet, reconcileOldReplicaSets, syncRolloutStatus):
//
//   1. CheckRollout:        the circuit breaker and the progress deadline (fail, roll back).
//   2. ScalePrimary:        the primary deployment towards the desired count. A scale-in never
//                           picks a task under scale-in protection (UpdateTaskProtection):
//                           with too few unprotected tasks it stops those and waits (as ECS
//                           does) until a protection expires or is removed.
//   3. ReplaceUnhealthy:    tasks that fail their container or load balancer health checks
//                           (replacement first within maximumPercent).
//   4. DrainOld:            older deployments within minimumHealthyPercent.
//   5. RegisterTargets:     tasks of a service with load balancers that run (HEALTHY, when they
//                           have container health checks) get their targets registered.
//   6. PublishEndpoints:    with discovery, the tasks that can be found by name: running and
//                           staying, with an address, ready, not failing a target group.
//   7. RetireDeployments:   deployments with no task left are done.
//   8. ReportStatus:        counts, COMPLETED, "has reached a steady state.", INACTIVE.
//
// A task of a service with load balancers serves (counts towards minimumHealthyPercent and the
// steady state, lets old tasks drain) only once its targets pass the target groups' checks;
// after healthCheckGracePeriodSeconds a task whose targets fail them is replaced.
//
// Thread contract: a planner is used by one thread at a time (the loop's); plans are values.
#ifndef SKIFF_SCHEDULER_SERVICE_PLANNER_H_
#define SKIFF_SCHEDULER_SERVICE_PLANNER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "skiff/base/random.h"
#include "skiff/scheduler/service_endpoints.h"
#include "skiff/scheduler/states.h"
#include "skiff/scheduler/target_registry.h"
#include "skiff/scheduler/task_launcher.h"
#include "skiff/store/store.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

struct ServicePlannerOptions {
  // A RUNNING task without health checks counts towards minimumHealthyPercent (and so may let
  // an old task drain) once it has run this long: a revision that exits at once never drains
  // the old tasks it was meant to replace. Tasks with checks count once HEALTHY.
  absl::Duration ready_after = absl::Milliseconds(500);
  // A deployment still IN_PROGRESS this long after it was created fails (and rolls back when
  // its circuit breaker says so). Zero: no deadline, as on ECS.
  absl::Duration progress_deadline = absl::ZeroDuration();
  // Launch back-off: the first failure retries at once, then base, 2 x base, ... up to cap.
  absl::Duration backoff_base = absl::Seconds(1);
  absl::Duration backoff_cap = absl::Minutes(5);
  // A task that stops sooner than this after it started counts as a failed launch.
  absl::Duration min_healthy_runtime = absl::Seconds(10);
  // Failures in a row after which the service says it "is unable to consistently start tasks".
  int unstable_after = 3;
  // How often a service whose task could not be placed (or launched) tries again.
  absl::Duration placement_retry = absl::Seconds(30);
};

// A deployment's id as the views of its tasks hold it: one shared copy per deployment (the
// ServiceManager hands the same one to every task of it), so that 100,000 views do not hold
// 100,000 copies and a pass compares pointers before it compares characters. It reads as the
// id's string.
class DeploymentId {
 public:
  DeploymentId() = default;
  DeploymentId(std::string id)  // NOLINT: a deployment id is its string.
      : id_(std::make_shared<const std::string>(std::move(id))) {}
  DeploymentId(const char* id) : DeploymentId(std::string(id)) {}  // NOLINT: likewise.

  const std::string& str() const { return id_ != nullptr ? *id_ : Empty(); }
  operator const std::string&() const { return str(); }  // NOLINT: likewise.
  // How many hold this copy (this one included); 0 for the empty id.
  long holders() const { return id_.use_count(); }

  friend bool operator==(const DeploymentId& a, const DeploymentId& b) {
    return a.id_ == b.id_ || a.str() == b.str();
  }
  friend bool operator==(const DeploymentId& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const DeploymentId& a, const char* b) { return a.str() == b; }

 private:
  static const std::string& Empty() {
    static const std::string* const empty = new std::string();
    return *empty;
  }
  std::shared_ptr<const std::string> id_;
};

// What the planner knows of one task of a service (ServiceManager keeps one per task that is
// not yet STOPPED).
struct TaskView {
  DeploymentId deployment_id;  // The task's startedBy.
  TaskStage stage = TaskStage::kProvisioning;
  DesiredStatus desired = DesiredStatus::kRunning;
  HealthStatus health = HealthStatus::kUnknown;
  bool health_checked = false;   // An essential container has a health check.
  bool failure_counted = false;  // Its stop was judged (ServicePlanner::JudgeStop) already.
  // Its service has load balancers (and the node load balancing): it serves only once its
  // targets pass the target groups' checks.
  bool load_balanced = false;
  // Its targets were registered (RegisterTargets), and have not been drained since.
  bool targets_registered = false;
  // As the TargetRegistry says; kNone before registration. The group that failing targets fail
  // is in the snapshot (ServiceSnapshot::failing_target_groups): a view stays 64 bytes.
  TargetsHealth targets = TargetsHealth::kNone;
  absl::Time created_at = absl::UnixEpoch();
  absl::Time started_at = absl::InfinitePast();  // When it became RUNNING; InfinitePast before.
  // Task scale-in protection (UpdateTaskProtection): until when, in Unix milliseconds; 0 when
  // not protected. Milliseconds rather than an absl::Time keep the view at 64 bytes.
  int64_t scale_in_protected_until_ms = 0;

  bool running() const { return stage == TaskStage::kRunning; }
  // A scale-in may not pick it at `now`: its protection has not expired.
  bool ScaleInProtected(absl::Time now) const {
    return scale_in_protected_until_ms > 0 &&
           now < absl::FromUnixMillis(scale_in_protected_until_ms);
  }
  // RUNNING and, when it has health checks, HEALTHY (without: not UNHEALTHY).
  bool ContainersHealthy() const {
    return stage == TaskStage::kRunning &&
           (health_checked ? health == HealthStatus::kHealthy
                           : health != HealthStatus::kUnhealthy);
  }
  // ContainersHealthy and, when load balanced, its targets pass their checks.
  bool Healthy() const {
    return ContainersHealthy() && (!load_balanced || targets == TargetsHealth::kHealthy);
  }
};

// One service as a pass sees it.
struct ServiceSnapshot {
  const store::StoredService& record;           // Deployments newest first (PRIMARY first).
  const std::map<std::string, TaskView>& tasks;  // The service's tasks not yet STOPPED, by id.
  // For each task whose targets are kUnhealthy, the ARN of a target group whose checks it fails
  // (TaskTargetsHealth::failing_group). Null: none.
  const std::map<std::string, std::string>* failing_target_groups = nullptr;
  bool steady_said = false;  // "has reached a steady state." was said for the state it is in.
  absl::Time now;
  // With discovery: the tasks that run with an address (bridge, awsvpc), by id, as the applier
  // made them from their records. Null: the node has no discovery.
  const std::map<std::string, Endpoint>* addressed = nullptr;
};

// A task to stop, and why.
struct TaskStop {
  enum class Cause {
    kScaleIn,    // The primary deployment has more tasks than desired.
    kUnhealthy,  // It failed its container health checks, or its targets the load balancer's.
    kDrain,      // It belongs to an older deployment.
  };
  std::string task_id;
  std::string deployment_id;
  Cause cause = Cause::kScaleIn;
  bool running = false;     // RUNNING when stopped (named in "has stopped N running tasks").
  std::string reason;       // Its stoppedReason; the stop code is ServiceSchedulerInitiated.
  bool operator==(const TaskStop&) const = default;
};

// An event for the service's event list.
struct PlannedEvent {
  std::string message;
  // Said even when the same message was said in the last 15 minutes.
  bool repeat = false;
  bool operator==(const PlannedEvent&) const = default;
};

// A change to the deployment history (ListServiceDeployments).
struct HistoryChange {
  enum class Kind { kStarted, kCompleted, kFailed };
  Kind kind = Kind::kStarted;
  std::string deployment_id;
  std::string why;           // kFailed: "circuit breaker: ..." or "progress deadline: ...".
  bool rolling_back = false;  // kFailed: a rollback starts.
  std::string rollback_of;   // kStarted: the failed deployment it rolls back from, or "".
  bool operator==(const HistoryChange&) const = default;
};

struct ServicePlan {
  // Tasks to stop, in order: scale-in, then unhealthy ones, then older deployments' (kDrain).
  std::vector<TaskStop> stops;
  // Tasks whose load balancer targets to register now, in id order. The applier makes the
  // targets from the tasks' records and says "registered N targets in (target-group ...)".
  std::vector<std::string> register_targets;
  // With discovery (the snapshot's `addressed`), for an ACTIVE service: the ids of the tasks
  // that can be found by name after this pass, in id order. The applier publishes them when
  // they differ from what it published last.
  std::optional<std::vector<std::string>> discoverable;
  // How many tasks to launch for the primary deployment (after any rollback: the new one),
  // before the unhealthy and drain stops. The applier says "has started N tasks" itself, since
  // only it learns their ids, before events[launch_events_at].
  int launch = 0;
  std::string launch_deployment_id;
  std::string launch_task_definition;
  size_t launch_events_at = 0;
  // New events, oldest first.
  std::vector<PlannedEvent> events;
  std::vector<HistoryChange> history;
  // The service's deployments after the pass, newest first; set when any of them changed
  // (a count, a rollout state, a failure count, one added or retired).
  std::optional<std::vector<v1::Deployment>> deployments;
  std::optional<int> running_count;  // Set when it changed.
  std::optional<int> pending_count;
  std::optional<std::string> task_definition;                 // A rollback's revision.
  std::optional<std::string> last_completed_task_definition;  // A deployment completed.
  bool reset_launch_backoff = false;                          // A rollback starts afresh.
  bool inactive = false;  // A deleted service whose last task has stopped becomes INACTIVE.
  // Old deployments drain while new tasks are pending (crash point "rolling-update").
  bool rolling_update = false;
  bool steady = false;  // Running what is desired, one deployment, every task serving.
  // When to plan again (a readiness window, grace period, back-off or deadline ends).
  absl::Time wake_at = absl::InfiniteFuture();

  // Whether the record changes (events aside, which the applier may drop as repeats).
  bool ChangesRecord() const {
    return deployments.has_value() || running_count.has_value() || pending_count.has_value() ||
           task_definition.has_value() || last_completed_task_definition.has_value() ||
           reset_launch_backoff || inactive;
  }
};

// How the scheduler counts a task that is told to stop (JudgeStop).
struct StopVerdict {
  bool launch_failure = false;   // A failed launch: back off, and count against the deployment.
  bool breaker_failure = false;  // Not a failed launch, but counts against the deployment.
};

// What to do when a launch stopped short (LaunchFailed).
struct LaunchFailurePlan {
  std::optional<PlannedEvent> event;
  absl::Time retry_at = absl::InfiniteFuture();
  bool wait_for_capacity = false;  // Try again as soon as any task stops.
};

class ServicePlanner {
 public:
  // `random` makes the ids of new deployments (a rollback's); it must outlive the planner.
  ServicePlanner(ServicePlannerOptions options, RandomSource* random);

  const ServicePlannerOptions& options() const { return options_; }

  // One pass over one service.
  ServicePlan Plan(const ServiceSnapshot& snapshot);

  // A new PRIMARY deployment of `task_definition_arn` with `desired` tasks, IN_PROGRESS.
  v1::Deployment NewDeployment(const std::string& task_definition_arn, int desired,
                               absl::Time now);

  // When a task of the service is told to stop with `code` at `now`: a failed launch (it never
  // ran, or ran shorter than min_healthy_runtime before an essential container exited), a
  // failure of its deployment's rollout (a crash while that deployment is IN_PROGRESS), or
  // neither.
  StopVerdict JudgeStop(const store::StoredService& record, const TaskView& task, StopCode code,
                        absl::Time now) const;
  // When the next launch may happen after `failures` failed launches in a row.
  absl::Time NextLaunchAt(int failures, absl::Time now) const;
  // The event said after a failed launch, once `failures` in a row have failed (none before
  // unstable_after).
  std::optional<PlannedEvent> UnstableEvent(const std::string& service, int failures) const;

  // What a launch that stopped short means: not placed (`failure`), or failed with `error`
  // (anything but Unavailable, which is nobody's fault and retried when the runtime is back).
  // `instance_id` names the node in ECS's words.
  LaunchFailurePlan LaunchFailed(const std::string& service, const std::string& instance_id,
                                 const std::optional<PlacementFailure>& failure,
                                 const absl::Status& error, absl::Time now) const;

 private:
  ServicePlannerOptions options_;
  RandomSource* random_;
};

// "(service web) has started 2 tasks: (task a) (task b)."
std::string StartedTasksEvent(const std::string& service, const std::vector<std::string>& ids);

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_SERVICE_PLANNER_H_
