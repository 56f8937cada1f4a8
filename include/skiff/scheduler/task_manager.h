// TaskManager: the life of tasks, from RunTask to their removal. It owns every task of the node
// (standalone and, later, service tasks) in memory and in the store, turns each into runtime
// containers, follows their exits from the runtime's event stream and stops them on request.
//
// States only move forward: PROVISIONING → PENDING → RUNNING → DEACTIVATING → STOPPING →
// DEPROVISIONING → STOPPED. A task is persisted, with the names of its containers, before
// anything is created in the runtime, so a crash leaves nothing the store does not name. Stopped
// tasks stay visible for `retention`, then their containers, snapshots and files are removed.
//
// A service task that runs stops in two steps, whatever stops it (StopTask, the service
// scheduler, an essential container's exit): DEACTIVATING while its load balancer targets drain
// (TargetRegistry::DrainTask: no new requests, the ones in flight finish), then STOPPING, when
// its containers get SIGTERM. A restart finds it DEACTIVATING and drains again.
//
// A container with an enabled restartPolicy that exits after running at least its
// restartAttemptPeriod, with an exit code it does not ignore, is restarted in place while its
// task's desired status is RUNNING (task_restarts.cc): its runtime task is deleted and started
// again in the same container (same rootfs, log file appended). It stays RUNNING meanwhile, so
// an essential one does not stop the task. Its restart count and last start are persisted.
//
// Thread contract: owned by the control loop; every public method runs on the loop thread.
// Runtime calls and file I/O go to the Executor and post their results back to the loop.
#ifndef SKIFF_SCHEDULER_TASK_MANAGER_H_
#define SKIFF_SCHEDULER_TASK_MANAGER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/logs/log_file.h"
#include "skiff/model/arn.h"
#include "skiff/network/port_allocator.h"
#include "skiff/network/task_network.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/scheduler/cluster_directory.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/executor.h"
#include "skiff/scheduler/health_monitor.h"
#include "skiff/scheduler/image_puller.h"
#include "skiff/scheduler/inventory.h"
#include "skiff/scheduler/runtime_health.h"
#include "skiff/scheduler/secret_source.h"
#include "skiff/scheduler/task_metadata_uris.h"
#include "skiff/scheduler/target_registry.h"
#include "skiff/scheduler/task_definition_registry.h"
#include "skiff/scheduler/task_launcher.h"
#include "skiff/store/store.h"
#include "skiff/v1/ecs.pb.h"
#include "skiff/v1/skiff.pb.h"

namespace skiff::scheduler {

struct TaskManagerOptions {
  std::string state_dir;                            // Tasks' files live in state_dir/tasks/<id>.
  absl::Duration retention = absl::Hours(1);        // How long stopped tasks stay visible.
  absl::Duration default_stop_timeout = absl::Seconds(30);  // SIGTERM to SIGKILL.
  logs::RotationPolicy log_rotation;
  absl::Duration log_check_interval = absl::Seconds(2);
  // The node's registered resources (the daemon measures them); unlimited by default.
  Resources capacity{.cpu = INT32_MAX, .memory = INT32_MAX};
  // Host ports as a placement resource: the dynamic range and the reserved ports.
  network::PortAllocatorOptions ports;
  // Pulls task images from registries (pull behaviour, shared pulls). Without one, images must
  // be in the runtime already (load-image); tests that do not pull leave it unset.
  ImagePuller* image_puller = nullptr;
  // Where task ids come from (required; it must outlive the manager). Loop thread only.
  RandomSource* random = nullptr;
  // Whether the runtime is up (the RuntimeMonitor): RunTask and StartTask fail fast with
  // Unavailable while it is not. Null: always up (tests without a monitor).
  const RuntimeHealth* runtime_health = nullptr;
  // The namespaces of bridge and awsvpc tasks. Without one (skiffd run without networking,
  // most unit tests) such tasks fail to start with a reason that says so.
  network::TaskNetwork* network = nullptr;
  // Where service tasks' load balancer targets drain before their containers are signalled
  // (elb::LoadBalancerManager). Null: no load balancing; a stop goes straight to STOPPING.
  TargetRegistry* targets = nullptr;
  // Service discovery, when the node's resolver runs on the bridge's gateway: the search domain
  // of a task of a cluster ("CLUSTER.ZONE", the daemon's publisher makes it). Bridge and awsvpc
  // tasks resolve through the node's resolver with it first. Null: no discovery; tasks use the
  // host's resolvers.
  std::function<std::string(const std::string& cluster)> dns_search;
  // Where containers' secrets, log secretOptions and repositoryCredentials resolve from at
  // launch (the node's Secrets Manager and SSM). Null: a task with a secret fails to start.
  SecretSource* secrets = nullptr;
  // environmentFiles of type s3 (arn:aws:s3:::BUCKET/KEY) are read from DIR/BUCKET/KEY; "": such
  // a task fails to start naming the file.
  std::string environment_files_dir;
  // Where containers reach the task metadata endpoint (their environment names it). Null: no
  // endpoint, no variables.
  const TaskMetadataUris* metadata_uris = nullptr;
};

// Where a container of a task is, for logs and exec.
struct ContainerLocation {
  std::string task_id;
  std::string name;
  std::string runtime_id;
  std::string log_path;
  bool running = false;
  int restart_count = 0;  // Restarts under its restartPolicy (the metadata's RestartCount).
};

// A task as the task metadata endpoint shows it.
struct TaskDetails {
  store::StoredTask record;  // The full record, as DescribeTasks shows it.
  std::shared_ptr<const v1::TaskDefinition> definition;
  std::vector<int> restart_counts;  // Parallel to record.task.containers().
};

class TaskManager final : public TaskLauncher, public TaskInventory {
 public:
  // Requests name their cluster through `clusters`. `health` runs the containers' health
  // checks; without one (tests that do not look at health) checks are not run and checked
  // containers stay UNKNOWN. Every pointer must outlive the manager.
  TaskManager(EventLoop* loop, Executor* executor, runtime::ContainerRuntime* runtime,
              store::Store* store, TaskDefinitionRegistry* registry,
              const ClusterResolver* clusters, const Clock* clock, model::ArnScope scope,
              TaskManagerOptions options, HealthMonitor* health = nullptr);

  // Loads the stored tasks. Tasks that were not STOPPED are marked for a check against the
  // runtime at the next resync. Call once, before the loop serves requests.
  absl::Status Load();

  // Called with every task as it changes (after it is persisted). Loop thread.
  void AddListener(TaskListener listener) override { listeners_.push_back(std::move(listener)); }
  void AddResyncListener(std::function<void()> listener) override {
    resync_listeners_.push_back(std::move(listener));
  }

  absl::StatusOr<v1::RunTaskResponse> RunTask(const v1::RunTaskRequest& request);
  absl::StatusOr<v1::StopTaskResponse> StopTask(const v1::StopTaskRequest& request);
  absl::StatusOr<v1::DescribeTasksResponse> DescribeTasks(const v1::DescribeTasksRequest& request);
  absl::StatusOr<v1::ListTasksResponse> ListTasks(const v1::ListTasksRequest& request);
  // Task scale-in protection (task_protection.cc), on tasks of services only: a protected task
  // is never picked by a scale-in until its protection ends (expiresInMinutes 1-2880, default
  // 120) or is removed. Unknown tasks, tasks of another cluster (MISSING) and standalone or
  // stopped ones (TASK_NOT_VALID) are failures, as ECS answers them.
  absl::StatusOr<v1::UpdateTaskProtectionResponse> UpdateTaskProtection(
      const v1::UpdateTaskProtectionRequest& request);
  absl::StatusOr<v1::GetTaskProtectionResponse> GetTaskProtection(
      const v1::GetTaskProtectionRequest& request);

  // TaskLauncher: tasks for services. A task that the node's remaining resources or ports
  // cannot hold is not placed (PlacementFailure); NotFound when the revision is gone.
  absl::StatusOr<Placement> StartTask(const TaskStart& start) override;
  void StopTask(const std::string& task_id, const std::string& reason) override;
  bool HealthChecked(const std::string& task_id) const override;
  // The records as kept in memory, for counting and filtering: the ARNs and the containers'
  // runtime ids and sizes are left out (listeners, answers and the store get full records).
  void ForEachTask(const std::function<void(const store::StoredTask&)>& fn) const override;

  // TaskInventory: the node's registered resources and what tasks that are not STOPPED
  // reserve of them.
  const Resources& capacity() const override { return options_.capacity; }
  const Resources& reserved() const override { return reserved_; }

  // The health-check details of a task's checked containers. NotFound for an unknown task.
  absl::StatusOr<std::vector<v1::ContainerHealth>> ContainerHealth(const std::string& cluster,
                                                                   const std::string& task);

  // The containers of a task ("" container: all of them, in definition order). NotFound for an
  // unknown task or container name.
  absl::StatusOr<std::vector<ContainerLocation>> FindContainers(const std::string& cluster,
                                                                const std::string& task,
                                                                const std::string& container);

  // Task `task_id` (32 hex digits) of any cluster; NotFound when the node has none.
  absl::StatusOr<TaskDetails> ViewTask(const std::string& task_id) const;

  // From the runtime's event stream (posted to the loop): exits, OOMs, and a resync with the
  // runtime each time the stream comes (back) up.
  void OnRuntimeEvent(const runtime::RuntimeEvent& event);

  // Starts the periodic log rotation. Loop thread.
  void StartLogRotation();

 private:
  struct Dependency {
    size_t container = 0;   // Index in the task.
    std::string condition;  // START, COMPLETE, SUCCESS or HEALTHY.
  };
  // One per container of every task: the flags are kept together, without padding between.
  struct ContainerState {
    std::string runtime_id;
    int stop_timeout_seconds = 0;  // 0: the default.
    int start_timeout_seconds = 0;  // 0: wait for dependencies as long as it takes.
    std::vector<Dependency> depends_on;
    // Most containers have none: a pointer, not an optional the size of a spec in each.
    std::unique_ptr<const HealthCheckSpec> health_check;
    // Armed while it waits with a startTimeout; fails the task when it fires.
    std::unique_ptr<Timer> start_timer;
    // Armed from SIGTERM until it exits; sends SIGKILL when it fires. A new stop disarms it.
    std::unique_ptr<Timer> kill_timer;
    // Its restartPolicy when enabled (it points into the task's definition), else null.
    const v1::ContainerRestartPolicy* restart_policy = nullptr;
    absl::Time last_started = absl::InfinitePast();  // Its process's latest (re)start.
    int restart_count = 0;
    bool essential = true;
    bool created = false;          // The runtime has the container.
    bool started = false;          // Its process ran at some point.
    bool exited = false;
    bool waiting = false;          // Created, waiting for its dependencies before it starts.
    bool signalled = false;        // Sent SIGTERM by the stop under way.
    bool restarting = false;       // Its restart is in flight on the executor.
    uint8_t left_out = 0;  // Fields of its v1::Container not kept in memory (task_records.cc).
  };
  using DefinitionPtr = std::shared_ptr<const v1::TaskDefinition>;
  // A task as the manager keeps it. record.task is the ECS view, lean: the fields that the
  // task's id, cluster and definition determine (its ARNs, the task ARN repeated in every
  // container, the containers' runtime ids and sizes) are left out while they hold their derived
  // value, and put back by FullTask for every answer, store write and listener.
  struct TaskState {
    store::StoredTask record;  // record.task is the ECS view, lean (see above).
    DefinitionPtr definition;  // Never null; shared by the tasks of one revision.
    std::vector<ContainerState> containers;  // Parallel to record.task.containers().
    Resources reservation;         // Counted in reserved_ until the task is STOPPED.
    absl::Time last_exit;          // The latest exit of one of its containers, when known.
    bool launching = false;        // A launch is in flight on the executor.
    bool deprovisioning = false;
    uint8_t left_out = 0;          // Fields of record.task not kept in memory.
    // For a service's task: the digests its deployment established (TaskStart), by container.
    std::vector<v1::ContainerImage> deployment_images;
  };

  absl::StatusOr<std::string> Cluster(const std::string& requested) const;
  // Task protection (task_protection.cc): the task `ref` names in `cluster` if it may be
  // protected, else null with `failure` filled in; a task's protection as ECS shows it.
  TaskState* ProtectableTask(const std::string& cluster, const std::string& ref,
                             v1::Failure* failure);
  v1::ProtectedTask ProtectionOf(const TaskState& task) const;
  // The lean record (task_records.cc). MakeLean leaves out of task.record.task what FullTask
  // can put back exactly; a field that does not hold its derived value (a row an older skiffd
  // wrote) stays.
  void MakeLean(TaskState& task) const;
  v1::Task FullTask(const TaskState& task) const;
  store::StoredTask FullRecord(const TaskState& task) const;
  std::string TaskArnOf(const TaskState& task) const;
  std::string ContainerArnOf(const TaskState& task, size_t index) const;
  // Moves the task's (or one container's) lastStatus forward (AdvanceStatus in task_states.h),
  // naming it by its ARN if the move is a backward one.
  void AdvanceTask(TaskState& task, TaskStage to);
  void AdvanceContainer(TaskState& task, size_t index, TaskStage to);
  // STATE_DIR/tasks/<id>: the task's logs and task-scoped volumes.
  std::string TaskDir(const std::string& task_id) const;
  TaskState* Find(std::string_view task_id);
  // Adds a task to tasks_ (none with its id may be there).
  TaskState& Insert(TaskState state);
  // The task that has a container with this runtime id, and the container's index; a null task
  // when no task has it.
  std::pair<TaskState*, size_t> FindContainer(const std::string& runtime_id);
  // Makes the task's containers findable by runtime id, or no longer.
  void IndexContainers(const TaskState& task);
  void UnindexContainers(const TaskState& task);
  // Persists the task and tells the listeners. A store failure is logged; the loop goes on
  // with the in-memory state (the next change retries the write).
  void Save(TaskState& task);
  // Save in steps: the task's record at its next version (not written), that record written,
  // and the listeners told of a record. Listeners hear only of what is durable, or of an earlier
  // state of something durable.
  store::StoredTask NextVersion(TaskState& task);
  store::StoredTask Persist(TaskState& task);
  void Announce(const store::StoredTask& record);
  double Now() const;
  // Unavailable (with the ECS exception) while the runtime cannot be reached.
  absl::Status CheckRuntimeAvailable() const;

  // The revision a reference names, shared with the tasks that already use it.
  absl::StatusOr<DefinitionPtr> Definition(absl::string_view reference, absl::string_view field);
  absl::StatusOr<TaskState> NewTask(DefinitionPtr definition, const std::string& cluster,
                                    const v1::RunTaskRequest& request);
  // What the definition says of each container of a task (dependencies, timeouts, checks), in
  // the order of task.containers().
  static std::vector<ContainerState> ContainersOf(const std::string& task_id, const v1::Task& task,
                                                  const v1::TaskDefinition& definition);
  // Nothing when the task fits in what the node has left: then its host ports are held and its
  // containers' networkBindings set. Else why not.
  std::optional<PlacementFailure> Reserve(TaskState& state);
  // Registers, persists and launches a task made by NewTask.
  TaskState& Place(TaskState state);
  void Launch(const std::string& task_id);
  struct LaunchWork;
  struct LaunchResult;
  // Runs a launch's runtime calls on the executor; the result comes back to OnLaunched. False
  // when the executor is stopping.
  bool RunLaunch(const std::string& task_id, std::shared_ptr<LaunchWork> work);
  // The steps of a launch, in order, on the executor thread. A step records its failure in
  // result; the steps after it then make no runtime calls.
  // Looks every image up (or pulls it); sets result.retry when containerd may just be back.
  void EnsureImages(const std::shared_ptr<LaunchWork>& work, LaunchResult& result);
  // Attaches the task's namespaces and points work.specs at them (bridge and awsvpc only).
  void AttachNetworks(const std::string& task_id, LaunchWork& work, LaunchResult& result);
  void CreateContainers(const LaunchWork& work, LaunchResult& result);
  // Starts the containers without dependencies (work.start_now).
  void StartContainers(const LaunchWork& work, LaunchResult& result);
  // A launch whose image lookup found containerd unavailable, again after its back-off.
  void RetryLaunch(const std::string& task_id, std::shared_ptr<LaunchWork> work);
  void OnLaunched(const std::string& task_id, LaunchResult result);
  // Records a container whose process the runtime started.
  void OnContainerStarted(TaskState& task, size_t index);
  // Starts the waiting containers whose dependencies are met, fails the task when one can no
  // longer be, and makes the task RUNNING once nothing waits. After every change that can
  // satisfy a dependency (a start, an exit, a health change).
  void AdvanceDependencies(TaskState& task);
  // True when container `index` may start now. False otherwise, with *never set to why it never
  // will (left empty while it still may).
  bool DependenciesMet(const TaskState& task, size_t index, std::string* never) const;
  void StartWaiting(TaskState& task, std::vector<size_t> indices);
  void OnStartTimeout(const std::string& task_id, size_t index);
  // Stops the task when an essential container has exited (or every container has); true then.
  bool StopIfExited(TaskState& task);
  // Moves a task towards STOPPED: drains its targets first (DEACTIVATING) when DrainsFirst,
  // then signals what runs, or deprovisions when nothing does.
  void BeginStop(TaskState& task, StopCode stop_code, const std::string& reason);
  // A service task that runs (or was draining when skiffd stopped) may have load balancer
  // targets: they drain before its containers are signalled.
  bool DrainsFirst(const TaskState& task) const;
  // Asks the registry to drain the task's targets; OnDrained follows (through the loop).
  void StartDrain(const TaskState& task);
  // The drain is over: STOPPING, and the first wave of signals. Ignored unless the task is still
  // DEACTIVATING (its containers exited meanwhile, or a second caller of the same drain).
  void OnDrained(const std::string& task_id);
  // SIGTERM to each running container that no running container depends on, each with its own
  // SIGKILL timer; called again as containers exit, so dependencies stop after their dependents.
  // Nothing while the task is DEACTIVATING: its targets drain first.
  void SignalNextStopWave(TaskState& task);
  void SignalContainers(const std::vector<std::string>& runtime_ids, int signal);
  void OnStopTimeout(const std::string& task_id, size_t index);
  void WatchHealth(const TaskState& task, size_t index);
  void OnHealthChanged(const std::string& runtime_id, HealthStatus status);
  void OnContainerExit(TaskState& task, size_t index, uint32_t exit_status, absl::Time at);
  // Restart policies (task_restarts.cc). Starts restarting a container that exited when its
  // policy says so (and its task's desired status is RUNNING); true then, and the exit is not
  // recorded.
  bool RestartOnExit(TaskState& task, size_t index, uint32_t exit_status, absl::Time at);
  // The exited runtime task is deleted: starts the container again, unless the task is to stop.
  void OnRestartReaped(const std::string& task_id, size_t index, uint32_t exit_status,
                       const absl::Status& reaped);
  void OnRestarted(const std::string& task_id, size_t index, uint32_t exit_status,
                   const absl::StatusOr<uint32_t>& pid);
  // A restart that did not happen: the earlier exit is recorded after all, with `reason`.
  void AbandonRestart(TaskState& task, size_t index, uint32_t exit_status,
                      const std::string& reason);
  // The stored counts and last starts into the containers' states (Load), and back (records).
  void LoadRestarts(TaskState& task);
  v1::ContainerRestarts RestartsOf(const TaskState& task) const;
  void MaybeDeprovision(TaskState& task);
  void OnDeprovisioned(const std::string& task_id);
  void ScheduleRemoval(const TaskState& task);
  void Remove(const std::string& task_id);
  void Resync();
  // On the loop, with what the runtime listed: removes orphans, records the exits missed while
  // nobody listened and resumes the stops under way; retries the resync when listing failed.
  void OnResyncListed(const absl::StatusOr<std::vector<runtime::ContainerStatus>>& listed);
  // Records the exits of started containers the runtime no longer runs (by runtime id).
  void ReconcileExits(const std::map<std::string, const runtime::ContainerStatus*>& by_id);
  // Signals again the tasks that were stopping when the stream (or skiffd) went away.
  void ResumeStops();
  // Removes containers that carry skiff's task label but belong to no known task.
  void RemoveOrphans(std::vector<std::string> runtime_ids);
  // Detaches network namespaces that no task which is not STOPPED names (a crash left them).
  void RemoveOrphanNetworks();
  // The network attachment ids of a task (task_networking.h).
  std::vector<std::string> AttachmentIdsOf(const TaskState& task) const;
  void RotateLogs();

  EventLoop* loop_;
  Executor* executor_;
  runtime::ContainerRuntime* runtime_;
  store::Store* store_;
  TaskDefinitionRegistry* registry_;
  const ClusterResolver* clusters_;
  const Clock* clock_;
  model::ArnScope scope_;
  TaskManagerOptions options_;
  HealthMonitor* health_;  // May be null.
  network::TaskNetwork* network_;  // options_.network; may be null.
  network::PortAllocator ports_;

  // By task id. A key views the id in its own node's record (Insert), so the id is kept once;
  // a node never moves, and a record's id never changes.
  std::map<std::string_view, TaskState, std::less<>> tasks_;
  // Revisions in use, by ARN (entries of revisions no task uses any more expire).
  std::map<std::string, std::weak_ptr<const v1::TaskDefinition>, std::less<>> definitions_;
  // Containers whose runtime id is not RuntimeContainerId(task id, name) (rows of an older
  // skiffd): runtime id → task id. The others are found from the id itself (FindContainer).
  std::map<std::string, std::string> irregular_runtime_ids_;
  std::map<std::string, std::string> oom_;  // Runtime ids whose OOM arrived before their exit.
  std::vector<TaskListener> listeners_;
  Resources reserved_;
  bool stream_was_lost_ = false;
  bool resynced_ = false;  // The first resync (after startup) has run.
  bool networks_swept_ = false;
  std::vector<std::function<void()>> resync_listeners_;
  // Expires with the manager: a drain's callback that outlives it (the registry is the
  // daemon's, a test restarts the manager) finds it expired and does nothing.
  const std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_TASK_MANAGER_H_
