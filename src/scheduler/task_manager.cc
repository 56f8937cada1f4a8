#include "skiff/scheduler/task_manager.h"

#include <csignal>
#include <filesystem>
#include <set>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "skiff/base/check.h"
#include "skiff/base/crash_point.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/pagination.h"
#include "skiff/model/resources.h"
#include "skiff/registry/reference.h"
#include "skiff/scheduler/container_spec_builder.h"
#include "scheduler/task_networking.h"
#include "scheduler/task_secrets.h"
#include "scheduler/task_states.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {
namespace {

using model::kClientException;
using model::kInvalidParameterException;

constexpr int kMaxRunCount = 10;
// An exit whose status the runtime could not tell (the container vanished): as ECS reports.
constexpr uint32_t kUnknownExit = 255;
// The back-off of the image lookup at launch while containerd answers Unavailable: 50 ms
// doubling to 800 ms, about 1.5 s in all.
constexpr absl::Duration kFirstImageRetry = absl::Milliseconds(50);
constexpr absl::Duration kLastImageRetry = absl::Milliseconds(800);

absl::Status InvalidParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, kInvalidParameterException, message);
}

// 32 lower-case hex digits, as ECS's task ids.
std::string NewTaskId(RandomSource& random) { return RandomHex(random, 32); }

// What a task reserves of the node, as ECS's placement counts it: the task-level cpu and memory
// when given, else the sum of its containers' (memoryReservation before memory).
Resources ReservationOf(const v1::Task& task, const v1::TaskDefinition& definition) {
  Resources r;
  if (task.has_cpu()) {
    if (absl::StatusOr<int> cpu = model::ParseCpuUnits(task.cpu()); cpu.ok()) r.cpu = *cpu;
  }
  if (task.has_memory()) {
    if (absl::StatusOr<int> mib = model::ParseMemoryMiB(task.memory()); mib.ok()) r.memory = *mib;
  }
  Resources sum;
  for (const v1::ContainerDefinition& d : definition.container_definitions()) {
    const v1::ContainerOverride* o = nullptr;
    for (const v1::ContainerOverride& c : task.overrides().container_overrides()) {
      if (c.name() == d.name()) o = &c;
    }
    sum.cpu += o != nullptr && o->has_cpu() ? o->cpu() : d.cpu();
    if (o != nullptr && o->has_memory_reservation()) {
      sum.memory += o->memory_reservation();
    } else if (o != nullptr && o->has_memory()) {
      sum.memory += o->memory();
    } else {
      sum.memory += d.has_memory_reservation() ? d.memory_reservation() : d.memory();
    }
  }
  if (!task.has_cpu()) r.cpu = sum.cpu;
  if (!task.has_memory()) r.memory = sum.memory;
  return r;
}

// Fills the empty entries of `out` with what the other tasks of `task`'s deployment run (the
// same service, started by the same deployment, of the same revision).
void SiblingDigests(const TaskInventory& tasks, const store::StoredTask& task,
                    std::vector<std::string>* out) {
  const v1::Task& t = task.task;
  std::vector<std::string>& digests = *out;
  tasks.ForEachTask([&](const store::StoredTask& other) {
    if (other.id == task.id || other.service != task.service ||
        other.cluster != task.cluster || other.task.started_by() != t.started_by() ||
        other.task.task_definition_arn() != t.task_definition_arn()) {
      return;
    }
    for (int i = 0; i < t.containers_size(); ++i) {
      for (const v1::Container& c : other.task.containers()) {
        if (digests[i].empty() && c.name() == t.containers(i).name()) digests[i] = c.image_digest();
      }
    }
  });
}

// versionConsistency, ECS's default: the tasks of one deployment of a service run the image
// content its first task got, even after the tag moved on. The digest each container of `task`
// runs for that reason: what the deployment's service revision recorded (`established`), else
// what the deployment's other tasks run (the same service, started by the same deployment, of
// the same revision: tasks launched before the first one's digests were recorded); "" for a
// container that opted out ("disabled"), that names a digest already, or whose deployment has
// none yet.
std::vector<std::string> DeploymentDigests(const TaskInventory& tasks,
                                           const store::StoredTask& task,
                                           const v1::TaskDefinition& definition,
                                           const std::vector<v1::ContainerImage>& established) {
  const v1::Task& t = task.task;
  std::vector<std::string> out(t.containers_size());
  if (task.service.empty() || t.started_by().empty()) return out;
  for (int i = 0; i < t.containers_size(); ++i) {
    for (const v1::ContainerImage& image : established) {
      if (image.container_name() == t.containers(i).name()) out[i] = image.image_digest();
    }
  }
  const bool every = absl::c_none_of(out, [](const std::string& d) { return d.empty(); });
  if (!every) SiblingDigests(tasks, task, &out);
  for (int i = 0; i < t.containers_size(); ++i) {
    for (const v1::ContainerDefinition& d : definition.container_definitions()) {
      const bool pinned = d.version_consistency() != "disabled" &&
                          !absl::StrContains(d.image(), '@');
      if (d.name() == t.containers(i).name() && !pinned) out[i].clear();
    }
  }
  return out;
}

// REPOSITORY@DIGEST of `image` (a normalized reference); `image` itself when it does not parse.
std::string DigestReference(const std::string& image, const std::string& digest) {
  absl::StatusOr<registry::Reference> reference = registry::ParseReference(image);
  if (!reference.ok()) return image;
  reference->tag.clear();
  reference->digest = digest;
  return reference->Name();
}

// The container's repositoryCredentials.credentialsParameter, "" when it has none.
std::string CredentialsParameterOf(const v1::TaskDefinition& definition, const std::string& name) {
  for (const v1::ContainerDefinition& d : definition.container_definitions()) {
    if (d.name() == name && d.has_repository_credentials()) {
      return d.repository_credentials().credentials_parameter();
    }
  }
  return "";
}

}  // namespace

// What the executor found while creating and starting a task's containers.
struct TaskManager::LaunchResult {
  struct Container {
    bool created = false;
    std::optional<uint32_t> pid;  // Set when started.
    std::string image_digest;
  };
  std::vector<Container> containers;
  absl::Status status;         // The first failure, if any.
  std::string failure_reason;  // ECS-style stoppedReason for it.
  double pull_started_at = 0;
  double pull_stopped_at = 0;
  std::vector<network::Attachment> attachments;  // Parallel to containers (bridge, awsvpc).
  // Set when the image lookup should be asked again after retry->image_retry_wait (nothing of
  // the task was created); status then holds the Unavailable that it will be if not.
  std::shared_ptr<LaunchWork> retry;
};

// What a launch's runtime calls need, copied off the loop; kept for a retry of the launch.
struct TaskManager::LaunchWork {
  std::vector<runtime::ContainerSpec> specs;
  std::vector<std::string> credentials;  // Each container's repositoryCredentials parameter.
  // Those the node's Secrets Manager resolved (else the credentials file answers).
  std::vector<std::optional<registry::Credentials>> resolved_credentials;
  // Containers with dependencies are created now and started when those are met.
  std::vector<bool> start_now;
  TaskNetworkMode mode;
  std::vector<std::vector<network::PortBinding>> bindings;
  DefinitionPtr definition;
  std::string task_dir;
  std::string dns_search;  // The cluster's discovery domain; "" without discovery.
  double pull_started = 0;
  absl::Duration image_retry_wait = kFirstImageRetry;
  // Parallel to specs: the digest a container's deployment runs ("" for none); see
  // DeploymentDigests.
  std::vector<std::string> digests;
};

TaskManager::TaskManager(EventLoop* loop, Executor* executor, runtime::ContainerRuntime* runtime,
                         store::Store* store, TaskDefinitionRegistry* registry,
                         const ClusterResolver* clusters, const Clock* clock,
                         model::ArnScope scope, TaskManagerOptions options, HealthMonitor* health)
    : loop_(loop),
      executor_(executor),
      runtime_(runtime),
      store_(store),
      registry_(registry),
      clusters_(clusters),
      clock_(clock),
      scope_(std::move(scope)),
      options_(std::move(options)),
      health_(health),
      network_(options_.network),
      ports_(options_.ports) {
  SKIFF_DCHECK(options_.random != nullptr);
  SKIFF_DCHECK(clusters_ != nullptr);
  if (health_ != nullptr) {
    health_->SetListener([this](const std::string& runtime_id, HealthStatus status) {
      OnHealthChanged(runtime_id, status);
    });
  }
}

std::string TaskManager::TaskDir(const std::string& task_id) const {
  return (std::filesystem::path(options_.state_dir) / "tasks" / task_id).string();
}

double TaskManager::Now() const { return absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch()); }

absl::Status TaskManager::Load() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::StoredTask> stored, store_->LoadTasks());
  for (store::StoredTask& record : stored) {
    TaskState state;
    const std::string id = record.id;
    state.record = std::move(record);
    // The definition is immutable; a task's containers were fixed when it was created.
    const v1::Task& task = state.record.task;
    absl::StatusOr<DefinitionPtr> definition =
        Definition(task.task_definition_arn(), "taskDefinitionArn");
    state.definition = definition.ok() ? *definition : std::make_shared<v1::TaskDefinition>();
    state.containers = ContainersOf(id, task, *state.definition);
    LoadRestarts(state);
    for (size_t i = 0; i < state.containers.size(); ++i) {
      const v1::Container& c = task.containers(static_cast<int>(i));
      ContainerState& cs = state.containers[i];
      cs.created = true;  // Unknown: removal tolerates containers that never were.
      cs.started = StageOf(c) != TaskStage::kPending;
      cs.exited = StageOf(c) == TaskStage::kStopped;
    }
    TaskState& loaded = Insert(std::move(state));
    IndexContainers(loaded);
    MakeLean(loaded);
    v1::Task& t = loaded.record.task;
    if (IsStopped(t)) {
      ScheduleRemoval(loaded);
    } else if (StageOf(t) < TaskStage::kRunning && DesiredOf(t) == DesiredStatus::kRunning) {
      // skiffd stopped while this task was starting: whatever got started is stopped again (the
      // resync below finds it), and the task fails as it would have on a failed start.
      for (ContainerState& cs : loaded.containers) cs.started = !cs.exited;
      SetDesired(t, DesiredStatus::kStopped);
      SetStopCode(t, StopCode::kTaskFailedToStart);
      t.set_stopped_reason("skiffd restarted while the task was starting");
      t.set_stopping_at(Now());
      AdvanceTask(loaded, TaskStage::kStopping);
    }
    if (DesiredOf(t) == DesiredStatus::kRunning) {
      // Adopted containers are checked again; they keep the status they had.
      for (size_t i = 0; i < loaded.containers.size(); ++i) WatchHealth(loaded, i);
    }
    if (!IsStopped(t)) {
      loaded.reservation = ReservationOf(t, *loaded.definition);
      for (const v1::Container& c : t.containers()) ports_.Hold(id, BindingsOf(c));
      reserved_.cpu += loaded.reservation.cpu;
      reserved_.memory += loaded.reservation.memory;
      stream_was_lost_ = true;  // Check it against the runtime first thing.
      // A launch that skiffd did not see finish (a stop may have come meanwhile) can have started
      // containers that the record still calls PENDING: they count as started until the resync
      // finds out what runs, so that whatever runs of a stopping task is stopped.
      if (DesiredOf(t) == DesiredStatus::kStopped) {
        for (ContainerState& cs : loaded.containers) cs.started = !cs.exited;
      }
    }
  }
  spdlog::info("loaded {} tasks from the store", tasks_.size());
  return absl::OkStatus();
}

absl::StatusOr<std::string> TaskManager::Cluster(const std::string& requested) const {
  return clusters_->Resolve(requested);
}

TaskManager::TaskState* TaskManager::Find(std::string_view task_id) {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? nullptr : &it->second;
}

TaskManager::TaskState& TaskManager::Insert(TaskState state) {
  const std::string id = state.record.id;  // The key while the node goes in.
  auto node = tasks_.extract(tasks_.emplace(id, std::move(state)).first);
  node.key() = node.mapped().record.id;  // Now the node's own copy.
  return tasks_.insert(std::move(node)).position->second;
}

std::pair<TaskManager::TaskState*, size_t> TaskManager::FindContainer(
    const std::string& runtime_id) {
  // Task ids are hex: the task's id is what comes before the first '-' or '.'.
  TaskState* task = Find(std::string_view(runtime_id).substr(0, runtime_id.find_first_of("-.")));
  if (task == nullptr) {
    auto it = irregular_runtime_ids_.find(runtime_id);
    if (it == irregular_runtime_ids_.end()) return {nullptr, 0};
    task = Find(it->second);
  }
  for (size_t i = 0; task != nullptr && i < task->containers.size(); ++i) {
    if (task->containers[i].runtime_id == runtime_id) return {task, i};
  }
  return {nullptr, 0};
}

void TaskManager::IndexContainers(const TaskState& task) {
  const v1::Task& t = task.record.task;
  for (size_t i = 0; i < task.containers.size() && i < static_cast<size_t>(t.containers_size());
       ++i) {
    const std::string& runtime_id = task.containers[i].runtime_id;
    const std::string& name = t.containers(static_cast<int>(i)).name();
    if (runtime_id != RuntimeContainerId(task.record.id, name, static_cast<int>(i))) {
      irregular_runtime_ids_[runtime_id] = task.record.id;
    }
  }
}

void TaskManager::UnindexContainers(const TaskState& task) {
  for (const ContainerState& cs : task.containers) {
    auto it = irregular_runtime_ids_.find(cs.runtime_id);
    if (it != irregular_runtime_ids_.end() && it->second == task.record.id) {
      irregular_runtime_ids_.erase(it);
    }
  }
}

void TaskManager::Save(TaskState& task) { Announce(Persist(task)); }

store::StoredTask TaskManager::NextVersion(TaskState& task) {
  v1::Task& t = task.record.task;
  t.set_version(t.version() + 1);
  return FullRecord(task);
}

store::StoredTask TaskManager::Persist(TaskState& task) {
  store::StoredTask full = NextVersion(task);
  absl::Status saved = store_->PutTask(full);
  if (!saved.ok()) spdlog::error("store: task {}: {}", task.record.id, saved.ToString());
  return full;
}

void TaskManager::Announce(const store::StoredTask& record) {
  for (const TaskListener& listener : listeners_) listener(record);
}

absl::StatusOr<TaskManager::DefinitionPtr> TaskManager::Definition(absl::string_view reference,
                                                                   absl::string_view field) {
  // A revision never changes but for its status, which tasks do not look at: tasks of one
  // revision share one copy, and a full ARN that is cached needs no trip to the store.
  if (auto it = definitions_.find(reference); it != definitions_.end()) {
    if (DefinitionPtr cached = it->second.lock()) return cached;
  }
  SKIFF_ASSIGN_OR_RETURN(store::StoredTaskDefinition stored, registry_->Resolve(reference, field));
  std::weak_ptr<const v1::TaskDefinition>& slot =
      definitions_[stored.definition.task_definition_arn()];
  if (DefinitionPtr cached = slot.lock()) return cached;
  auto definition = std::make_shared<const v1::TaskDefinition>(std::move(stored.definition));
  slot = definition;
  return definition;
}

absl::StatusOr<TaskManager::TaskState> TaskManager::NewTask(
    DefinitionPtr shared, const std::string& cluster, const v1::RunTaskRequest& request) {
  const v1::TaskDefinition& definition = *shared;
  TaskState state;
  state.definition = std::move(shared);
  const std::string id = NewTaskId(*options_.random);
  state.record.id = id;
  state.record.cluster = cluster;
  v1::Task& task = state.record.task;
  task.set_task_arn(model::TaskArn(scope_, cluster, id));
  task.set_cluster_arn(model::ClusterArn(scope_, cluster));
  task.set_task_definition_arn(definition.task_definition_arn());
  Advance(task, TaskStage::kProvisioning);
  SetDesired(task, DesiredStatus::kRunning);
  task.set_created_at(Now());
  task.set_launch_type(request.has_launch_type() ? request.launch_type() : "EC2");
  task.set_group(request.has_group() ? request.group() : absl::StrCat("family:", definition.family()));
  if (request.has_started_by()) task.set_started_by(request.started_by());
  if (request.has_enable_execute_command()) {
    task.set_enable_execute_command(request.enable_execute_command());
  }
  if (request.overrides().has_cpu()) {
    task.set_cpu(request.overrides().cpu());
  } else if (definition.has_cpu()) {
    task.set_cpu(definition.cpu());
  }
  if (request.overrides().has_memory()) {
    task.set_memory(request.overrides().memory());
  } else if (definition.has_memory()) {
    task.set_memory(definition.memory());
  }
  *task.mutable_overrides() = request.overrides();
  state.reservation = ReservationOf(task, definition);
  for (const v1::Tag& tag : request.tags()) *task.add_tags() = tag;
  for (const v1::ContainerDefinition& d : definition.container_definitions()) {
    const int index = task.containers_size();
    v1::Container* c = task.add_containers();
    c->set_container_arn(model::ContainerArn(scope_, cluster, id, d.name()));
    c->set_task_arn(task.task_arn());
    c->set_name(d.name());
    c->set_image(d.image());
    Advance(*c, TaskStage::kPending);
    c->set_runtime_id(RuntimeContainerId(id, d.name(), index));
    if (d.has_cpu()) c->set_cpu(absl::StrCat(d.cpu()));
    if (d.has_memory()) c->set_memory(absl::StrCat(d.memory()));
    if (d.has_memory_reservation()) c->set_memory_reservation(absl::StrCat(d.memory_reservation()));
    if (d.has_health_check() && HealthCheckSpecOf(d.health_check())) {
      SetHealth(*c, HealthStatus::kUnknown);
    }
  }
  // As ECS: UNKNOWN until the essential containers' checks say otherwise (and for good when
  // none has a check).
  SetHealth(task, HealthStatus::kUnknown);
  state.containers = ContainersOf(id, task, definition);
  return state;
}

namespace {

// Every containerOverrides entry names a container of the definition.
absl::Status CheckOverrideNames(const v1::TaskDefinition& definition,
                                const v1::TaskOverride& task_overrides) {
  const auto& overrides = task_overrides.container_overrides();
  for (int i = 0; i < overrides.size(); ++i) {
    const bool known = absl::c_any_of(
        definition.container_definitions(),
        [&](const v1::ContainerDefinition& d) { return d.name() == overrides[i].name(); });
    if (!known) {
      return InvalidParameter(absl::StrCat("overrides.containerOverrides[", i, "].name: no container ",
                                           model::QuoteValue(overrides[i].name()),
                                           " in task definition ", definition.family(), ":",
                                           definition.revision()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckTaskOverrideSizes(const v1::TaskOverride& o) {
  // Overrides that could never run are refused now, naming the field, rather than failing the
  // task later.
  if (o.has_cpu()) {
    if (absl::StatusOr<int> cpu = model::ParseCpuUnits(o.cpu()); !cpu.ok() || *cpu <= 0) {
      return InvalidParameter(absl::StrCat("overrides.cpu: not a cpu size such as 256 or "
                                           "\"0.25 vCPU\"; got ", model::QuoteValue(o.cpu())));
    }
  }
  if (o.has_memory()) {
    if (absl::StatusOr<int> mib = model::ParseMemoryMiB(o.memory()); !mib.ok() || *mib < 6) {
      return InvalidParameter(absl::StrCat("overrides.memory: not a memory size of at least 6 "
                                           "MiB such as 512 or \"1 GB\"; got ",
                                           model::QuoteValue(o.memory())));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckContainerOverrides(const v1::TaskOverride& task_overrides) {
  const auto& overrides = task_overrides.container_overrides();
  for (int i = 0; i < overrides.size(); ++i) {
    const v1::ContainerOverride& c = overrides[i];
    const std::string path = absl::StrCat("overrides.containerOverrides[", i, "]");
    if (c.has_cpu() && c.cpu() < 0) {
      return InvalidParameter(absl::StrCat(path, ".cpu: must not be negative; got ", c.cpu()));
    }
    if (c.has_memory() && c.memory() < 6) {
      return InvalidParameter(absl::StrCat(path, ".memory: must be at least 6 MiB; got ",
                                           c.memory()));
    }
    if (c.has_memory_reservation() && c.memory_reservation() < 6) {
      return InvalidParameter(absl::StrCat(path, ".memoryReservation: must be at least 6 MiB; got ",
                                           c.memory_reservation()));
    }
    for (int k = 0; k < c.environment_size(); ++k) {
      if (c.environment(k).name().empty()) {
        return InvalidParameter(absl::StrCat(path, ".environment[", k, "].name: required"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::RunTaskResponse> TaskManager::RunTask(const v1::RunTaskRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  const int count = request.has_count() ? request.count() : 1;
  if (count < 1 || count > kMaxRunCount) {
    return InvalidParameter(absl::StrCat("count: must be between 1 and ", kMaxRunCount,
                                         "; got ", count));
  }
  if (!request.has_task_definition()) {
    return InvalidParameter("taskDefinition: required");
  }
  SKIFF_RETURN_IF_ERROR(CheckRuntimeAvailable());
  // From the store, not the cache of definitions: a revision's status changes.
  SKIFF_ASSIGN_OR_RETURN(
      store::StoredTaskDefinition current,
      registry_->ResolveForNewUse(request.task_definition(), "taskDefinition"));
  SKIFF_ASSIGN_OR_RETURN(DefinitionPtr definition,
                         Definition(current.definition.task_definition_arn(), "taskDefinition"));
  SKIFF_RETURN_IF_ERROR(CheckOverrideNames(*definition, request.overrides()));
  SKIFF_RETURN_IF_ERROR(CheckTaskOverrideSizes(request.overrides()));
  SKIFF_RETURN_IF_ERROR(CheckContainerOverrides(request.overrides()));
  if (request.has_started_by() && request.started_by().size() > 128) {
    return InvalidParameter("startedBy: at most 128 characters");
  }

  v1::RunTaskResponse response;
  for (int i = 0; i < count; ++i) {
    SKIFF_ASSIGN_OR_RETURN(TaskState state, NewTask(definition, cluster, request));
    if (std::optional<PlacementFailure> failure = Reserve(state)) {
      // As ECS: the tasks that fit start, the others come back as failures.
      v1::Failure* f = response.add_failures();
      f->set_arn(model::ContainerInstanceArn(scope_, cluster));
      f->set_reason(std::string(failure->Reason()));
      continue;
    }
    *response.add_tasks() = FullTask(Place(std::move(state)));
  }
  return response;
}

std::optional<PlacementFailure> TaskManager::Reserve(TaskState& state) {
  using Kind = PlacementFailure::Kind;
  const Resources& need = state.reservation;
  if (reserved_.cpu + need.cpu > options_.capacity.cpu) return PlacementFailure{Kind::kCpu};
  if (reserved_.memory + need.memory > options_.capacity.memory) {
    return PlacementFailure{Kind::kMemory};
  }
  const TaskNetworkMode mode = NetworkModeOf(*state.definition);
  std::vector<std::vector<network::PortRequest>> requests;
  std::vector<network::PortRequest> all;
  for (const v1::ContainerDefinition& d : state.definition->container_definitions()) {
    requests.push_back(HostPortRequests(mode, d));
    all.insert(all.end(), requests.back().begin(), requests.back().end());
  }
  if (std::optional<std::string> protocol = ports_.Conflict(all)) {
    return PlacementFailure{*protocol == "udp" ? Kind::kPortsUdp : Kind::kPorts};
  }
  v1::Task& t = state.record.task;
  for (size_t i = 0; i < requests.size(); ++i) {
    // Most containers publish no host port: asking for none would still leave an empty entry
    // per task in the allocator.
    if (requests[i].empty()) continue;
    absl::StatusOr<std::vector<network::PortBinding>> bindings =
        ports_.Allocate(state.record.id, requests[i]);
    if (!bindings.ok()) {
      // Conflict() said they were free, and nothing else runs on the loop meanwhile: a port
      // taken by a host process in between.
      spdlog::info("task {}: {}", state.record.id, bindings.status().ToString());
      ports_.Release(state.record.id);
      for (v1::Container& c : *t.mutable_containers()) c.clear_network_bindings();
      return PlacementFailure{Kind::kPorts};
    }
    for (size_t k = 0; k < bindings->size(); ++k) {
      RecordBinding((*bindings)[k], requests[i][k].count,
                    *t.mutable_containers(static_cast<int>(i)));
    }
  }
  return std::nullopt;
}

TaskManager::TaskState& TaskManager::Place(TaskState state) {
  MakeLean(state);
  const std::string id = state.record.id;
  reserved_.cpu += state.reservation.cpu;
  reserved_.memory += state.reservation.memory;
  TaskState& task = Insert(std::move(state));
  IndexContainers(task);
  // Launch persists the task before anything exists in the runtime, so a crash leaves only
  // what the store names.
  Launch(id);
  return task;
}

absl::Status TaskManager::CheckRuntimeAvailable() const {
  if (options_.runtime_health == nullptr || options_.runtime_health->available()) {
    return absl::OkStatus();
  }
  return model::EcsError(absl::StatusCode::kUnavailable, model::kServerException,
                         "containerd unavailable: skiffd cannot reach the container runtime; "
                         "try again once it is back (skiffd reconnects by itself)");
}

absl::StatusOr<Placement> TaskManager::StartTask(const TaskStart& start) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(CheckRuntimeAvailable());
  SKIFF_ASSIGN_OR_RETURN(DefinitionPtr definition,
                         Definition(start.task_definition, "taskDefinition"));
  v1::RunTaskRequest request;
  request.set_started_by(start.started_by);
  request.set_group(absl::StrCat("service:", start.service));
  if (start.enable_execute_command) request.set_enable_execute_command(true);
  for (const v1::Tag& tag : start.tags) *request.add_tags() = tag;
  SKIFF_ASSIGN_OR_RETURN(TaskState state, NewTask(std::move(definition), start.cluster, request));
  state.record.service = start.service;
  state.deployment_images = start.container_images;
  if (std::optional<PlacementFailure> failure = Reserve(state)) {
    return Placement{.failure = failure};
  }
  // Launch may fail the task at once (a spec that cannot run): still a task of the service,
  // which sees it stop.
  return Placement{.task_id = Place(std::move(state)).record.id};
}

void TaskManager::StopTask(const std::string& task_id, const std::string& reason) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  TaskState* task = Find(task_id);
  if (task == nullptr) return;
  BeginStop(*task, StopCode::kServiceSchedulerInitiated, reason);
}

void TaskManager::ForEachTask(const std::function<void(const store::StoredTask&)>& fn) const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  for (const auto& [id, task] : tasks_) fn(task.record);
}

void TaskManager::Launch(const std::string& task_id) {
  TaskState* task = Find(task_id);
  if (task == nullptr) return;
  v1::Task& t = task->record.task;
  TaskContext context{.task_id = task_id,
                      .task_arn = TaskArnOf(*task),
                      .cluster = task->record.cluster,
                      .service_name = task->record.service,
                      .task_dir = TaskDir(task_id),
                      .volumes_dir = (std::filesystem::path(options_.state_dir) / "volumes").string(),
                      .environment_files_dir = options_.environment_files_dir,
                      .metadata = options_.metadata_uris};
  std::vector<runtime::ContainerSpec> specs;
  std::vector<std::string> credentials;  // Each container's repositoryCredentials parameter.
  std::vector<std::optional<registry::Credentials>> resolved(t.containers_size());
  for (const v1::Container& c : t.containers()) {
    credentials.push_back(CredentialsParameterOf(*task->definition, c.name()));
    // Secrets resolve here, before anything is created (task_secrets.h).
    absl::StatusOr<runtime::ContainerSpec> spec =
        BuildLaunchSpec(*task->definition, c.name(), t.overrides(), context, options_.secrets,
                        &resolved[credentials.size() - 1]);
    if (!spec.ok()) {
      Save(*task);  // PROVISIONING, then the stop.
      BeginStop(*task, StopCode::kTaskFailedToStart,
                absl::IsFailedPrecondition(spec.status())
                    ? std::string(spec.status().message())
                    : absl::StrCat("CannotCreateContainerError: ", spec.status().message()));
      return;
    }
    specs.push_back(*std::move(spec));
  }
  const TaskNetworkMode mode = NetworkModeOf(*task->definition);
  std::vector<std::vector<network::PortBinding>> bindings;
  for (const v1::Container& c : t.containers()) bindings.push_back(BindingsOf(c));
  // PROVISIONING and PENDING in one write (one fsync fewer per launch): nothing happens in
  // between that a crash could leave behind. The listeners hear of both once it is durable.
  const store::StoredTask provisioning = NextVersion(*task);
  AdvanceTask(*task, TaskStage::kPending);
  const store::StoredTask pending = Persist(*task);
  CrashPoint("task-persisted");
  Announce(provisioning);
  Announce(pending);
  task->launching = true;
  std::string dns_search = options_.dns_search ? options_.dns_search(context.cluster) : "";
  auto work = std::make_shared<LaunchWork>(LaunchWork{.specs = std::move(specs),
                                                      .credentials = std::move(credentials),
                                                      .resolved_credentials = std::move(resolved),
                                                      .mode = mode,
                                                      .bindings = std::move(bindings),
                                                      .definition = task->definition,
                                                      .task_dir = context.task_dir,
                                                      .dns_search = std::move(dns_search),
                                                      .pull_started = Now(),
                                                      .digests = DeploymentDigests(
                                                          *this, task->record,
                                                          *task->definition,
                                                          task->deployment_images)});
  for (const ContainerState& cs : task->containers) {
    work->start_now.push_back(cs.depends_on.empty());
  }
  if (!RunLaunch(task_id, std::move(work))) task->launching = false;
}

bool TaskManager::RunLaunch(const std::string& task_id, std::shared_ptr<LaunchWork> work) {
  return executor_->Run([this, task_id, work = std::move(work)]() mutable {
    LaunchResult result;
    result.containers.resize(work->specs.size());
    result.pull_started_at = work->pull_started;
    // Every image first: a task whose image is missing fails before anything is created.
    EnsureImages(work, result);
    result.pull_stopped_at = Now();
    if (result.status.ok() && HasNamespaces(work->mode)) AttachNetworks(task_id, *work, result);
    CreateContainers(*work, result);
    StartContainers(*work, result);
    loop_->Post([this, task_id, result = std::move(result)]() mutable {
      OnLaunched(task_id, std::move(result));
    });
  });
}

void TaskManager::EnsureImages(const std::shared_ptr<LaunchWork>& work, LaunchResult& result) {
  std::vector<runtime::ContainerSpec>& specs = work->specs;
  const std::vector<std::string>& credentials = work->credentials;
  for (size_t i = 0; i < specs.size() && result.status.ok(); ++i) {
    if (i < work->digests.size() && !work->digests[i].empty()) {
      // The deployment's digest: what the runtime has under the name while it is that digest
      // still (whatever the pull behaviour; load-image's images too), else pulled by digest.
      const std::string& digest = work->digests[i];
      absl::StatusOr<runtime::ImageInfo> cached = runtime_->GetImage(specs[i].image);
      if (cached.ok() && cached->digest == digest) {
        result.containers[i].image_digest = digest;
        continue;
      }
      spdlog::info("{} is no longer {}: this deployment's tasks run {}", specs[i].image, digest,
                   DigestReference(specs[i].image, digest));
      specs[i].image = DigestReference(specs[i].image, digest);
    }
    if (options_.image_puller != nullptr) {
      absl::StatusOr<runtime::ImageInfo> image =
          options_.image_puller->EnsureImage(specs[i].image, credentials[i],
                                             work->resolved_credentials[i]);
      if (!image.ok()) {
        result.status = image.status();
        result.failure_reason = absl::StrCat("CannotPullContainerError: pull image ",
                                             specs[i].image, ": ", image.status().message());
        break;
      }
      result.containers[i].image_digest = image->digest;
      continue;
    }
    absl::StatusOr<runtime::ImageInfo> image = runtime_->GetImage(specs[i].image);
    if (!image.ok()) {
      result.status = image.status();
      result.failure_reason =
          image.status().code() == absl::StatusCode::kNotFound
              ? absl::StrCat("CannotPullContainerError: image ", specs[i].image,
                             " is not in skiffd's image store (load it with skiff load-image)")
              : absl::StrCat("CannotPullContainerError: ", image.status().message());
      // The first calls on a connection to a containerd that just restarted can fail (broken
      // pipe) while gRPC reconnects. The lookup is a read and nothing is created yet: the loop
      // asks again after a back-off (OnLaunched), so no thread sleeps.
      if (absl::IsUnavailable(image.status()) && work->image_retry_wait <= kLastImageRetry) {
        result.retry = work;
      }
      break;
    }
    result.containers[i].image_digest = image->digest;
  }
}

void TaskManager::AttachNetworks(const std::string& task_id, LaunchWork& work,
                                 LaunchResult& result) {
  absl::StatusOr<std::vector<network::Attachment>> attached = AttachTask(
      network_, work.mode, task_id, *work.definition, work.task_dir, work.bindings,
      work.dns_search, work.specs);
  if (attached.ok()) {
    result.attachments = *std::move(attached);
  } else {
    result.status = attached.status();
    result.failure_reason =
        absl::StrCat("CannotCreateContainerError: network: ", attached.status().message());
  }
}

void TaskManager::CreateContainers(const LaunchWork& work, LaunchResult& result) {
  for (size_t i = 0; i < work.specs.size() && result.status.ok(); ++i) {
    absl::Status created = runtime_->CreateContainer(work.specs[i]);
    if (!created.ok()) {
      result.status = created;
      result.failure_reason = absl::StrCat("CannotCreateContainerError: ", created.message());
      break;
    }
    result.containers[i].created = true;
    CrashPoint("container-created");
  }
}

void TaskManager::StartContainers(const LaunchWork& work, LaunchResult& result) {
  for (size_t i = 0; i < work.specs.size() && result.status.ok(); ++i) {
    if (!work.start_now[i]) continue;
    absl::StatusOr<uint32_t> pid = runtime_->StartContainer(work.specs[i].id);
    if (!pid.ok()) {
      result.status = pid.status();
      result.failure_reason = absl::StrCat("CannotStartContainerError: ", pid.status().message());
      break;
    }
    result.containers[i].pid = *pid;
    CrashPoint("container-started");
  }
}

// The launch stays under way (launching) through the back-off, as it would through a wait on
// the executor: a StopTask meanwhile is taken when the timer fires.
void TaskManager::RetryLaunch(const std::string& task_id, std::shared_ptr<LaunchWork> work) {
  TaskState* task = Find(task_id);
  if (task == nullptr) return;
  if (DesiredOf(task->record.task) == DesiredStatus::kStopped) {
    task->launching = false;
    BeginStop(*task, StopCodeOf(task->record.task), task->record.task.stopped_reason());
    return;
  }
  if (!RunLaunch(task_id, std::move(work))) task->launching = false;
}

void TaskManager::OnLaunched(const std::string& task_id, LaunchResult result) {
  TaskState* task = Find(task_id);
  if (task == nullptr) return;
  if (result.retry != nullptr && DesiredOf(task->record.task) != DesiredStatus::kStopped) {
    const absl::Duration wait = result.retry->image_retry_wait;
    result.retry->image_retry_wait *= 2;
    loop_->PostAfter(wait, [this, task_id, work = std::move(result.retry)]() mutable {
      RetryLaunch(task_id, std::move(work));
    });
    return;
  }
  task->launching = false;
  v1::Task& t = task->record.task;
  t.set_pull_started_at(result.pull_started_at);
  t.set_pull_stopped_at(result.pull_stopped_at);
  RecordAttachments(NetworkModeOf(*task->definition), task_id, result.attachments, t);
  for (size_t i = 0; i < result.containers.size(); ++i) {
    ContainerState& cs = task->containers[i];
    cs.created = result.containers[i].created;
    if (!result.containers[i].image_digest.empty()) {
      t.mutable_containers(static_cast<int>(i))->set_image_digest(result.containers[i].image_digest);
    }
    if (result.containers[i].pid) OnContainerStarted(*task, i);
    cs.waiting = result.status.ok() && cs.created && !cs.started;
  }
  if (!result.status.ok()) {
    spdlog::warn("task {} failed to start: {}", task_id, result.status.ToString());
    BeginStop(*task, StopCode::kTaskFailedToStart, result.failure_reason);
    return;
  }
  if (DesiredOf(t) == DesiredStatus::kStopped) {
    // StopTask arrived while launching: now there is something to stop.
    BeginStop(*task, StopCodeOf(t), t.stopped_reason());
    return;
  }
  // Containers that exited while the launch was in flight end the task now.
  if (StopIfExited(*task)) return;
  for (size_t i = 0; i < task->containers.size(); ++i) {
    ContainerState& cs = task->containers[i];
    if (!cs.waiting || cs.start_timeout_seconds <= 0) continue;
    cs.start_timer = loop_->CreateTimer([this, task_id, i] { OnStartTimeout(task_id, i); });
    cs.start_timer->Enable(absl::Seconds(cs.start_timeout_seconds));
  }
  AdvanceDependencies(*task);
}

void TaskManager::OnContainerStarted(TaskState& task, size_t index) {
  ContainerState& cs = task.containers[index];
  cs.started = true;
  cs.waiting = false;
  cs.start_timer.reset();
  cs.last_started = clock_->Now();  // Its restart policy counts its run time from here.
  // An exit may have been seen already (a short-lived process): keep STOPPED.
  if (cs.exited) return;
  AdvanceContainer(task, index, TaskStage::kRunning);
  WatchHealth(task, index);
}

bool TaskManager::StopIfExited(TaskState& task) {
  if (DesiredOf(task.record.task) != DesiredStatus::kRunning) return false;
  for (const ContainerState& cs : task.containers) {
    if (cs.exited && cs.essential) {
      BeginStop(task, StopCode::kEssentialContainerExited, "Essential container in task exited");
      return true;
    }
  }
  // Containers waiting for their dependencies will still run.
  const bool all_exited = absl::c_all_of(task.containers, [](const ContainerState& s) {
    return s.exited || (!s.started && !s.waiting);
  });
  if (all_exited) {
    BeginStop(task, StopCode::kEssentialContainerExited, "All containers in task exited");
    return true;
  }
  return false;
}

void TaskManager::BeginStop(TaskState& task, StopCode stop_code, const std::string& reason) {
  v1::Task& t = task.record.task;
  if (IsStopped(t)) return;
  if (DesiredOf(t) != DesiredStatus::kStopped || !t.has_stop_code()) {
    SetDesired(t, DesiredStatus::kStopped);
    SetStopCode(t, stop_code);
    t.set_stopped_reason(reason);
    t.set_stopping_at(Now());
  }
  if (task.launching) {
    // The launch finishes first (OnLaunched comes back here); a process started meanwhile must
    // not be missed.
    Save(task);
    return;
  }
  // Decided before the move: a task found DEACTIVATING (a restart, a resync) drains again.
  const bool drain = DrainsFirst(task);
  // A stop sent again (StopTask twice, a resync) finds the task stopping already: it stays.
  if (StageOf(t) < TaskStage::kStopping) {
    AdvanceTask(task, TaskStage::kDeactivating);
    if (!drain) AdvanceTask(task, TaskStage::kStopping);
  }
  for (size_t i = 0; i < task.containers.size(); ++i) {
    ContainerState& cs = task.containers[i];
    v1::Container* c = t.mutable_containers(static_cast<int>(i));
    // Containers that never started never will.
    cs.waiting = false;
    cs.start_timer.reset();
    if (cs.kill_timer != nullptr) cs.kill_timer->Disable();  // This stop arms its own.
    if (!cs.started && StageOf(*c) == TaskStage::kPending) {
      AdvanceContainer(task, i, TaskStage::kStopped);
    }
    if (health_ != nullptr) health_->Unwatch(cs.runtime_id);
    cs.signalled = false;  // A stop sent again (after a resync) signals again.
  }
  Save(task);
  if (drain) StartDrain(task);
  SignalNextStopWave(task);  // Once drained, when it drains first.
  MaybeDeprovision(task);
}

void TaskManager::OnRuntimeEvent(const runtime::RuntimeEvent& event) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  using Kind = runtime::RuntimeEvent::Kind;
  switch (event.kind) {
    case Kind::kStreamLost:
      stream_was_lost_ = true;
      return;
    case Kind::kStreamUp:
      Resync();
      return;
    case Kind::kOom: {
      oom_[event.container_id] = "OutOfMemoryError: Container killed due to memory usage";
      auto [task, index] = FindContainer(event.container_id);
      if (task == nullptr) return;
      task->record.task.mutable_containers(static_cast<int>(index))
          ->set_reason(oom_[event.container_id]);
      return;
    }
    case Kind::kExit: {
      auto [task, index] = FindContainer(event.container_id);
      if (task == nullptr) return;  // Not ours (or removed already).
      OnContainerExit(*task, index, event.exit_status, event.at);
      return;
    }
  }
}

void TaskManager::OnContainerExit(TaskState& task, size_t index, uint32_t exit_status,
                                  absl::Time at) {
  ContainerState& cs = task.containers[index];
  if (cs.exited) return;
  if (RestartOnExit(task, index, exit_status, at)) return;  // It stays RUNNING.
  cs.exited = true;
  cs.start_timer.reset();
  cs.kill_timer.reset();  // Nothing left to kill; frees it for the task's retention.
  // When it really exited, which may be long before skiffd heard of it (it was down).
  if (at != absl::Time() && at > absl::UnixEpoch()) task.last_exit = std::max(task.last_exit, at);
  cs.started = true;
  v1::Task& t = task.record.task;
  v1::Container* c = t.mutable_containers(static_cast<int>(index));
  AdvanceContainer(task, index, TaskStage::kStopped);
  c->set_exit_code(static_cast<int32_t>(exit_status));
  if (auto oom = oom_.find(cs.runtime_id); oom != oom_.end()) {
    c->set_reason(oom->second);
    oom_.erase(oom);
  }
  if (health_ != nullptr) health_->Unwatch(cs.runtime_id);
  if (task.launching) {
    Save(task);
    return;  // OnLaunched decides.
  }
  if (StopIfExited(task)) return;
  if (DesiredOf(t) == DesiredStatus::kRunning) {
    AdvanceDependencies(task);  // A COMPLETE or SUCCESS dependency may be met now; saves.
    return;
  }
  Save(task);
  SignalNextStopWave(task);  // The containers it depended on may stop now.
  MaybeDeprovision(task);
}

void TaskManager::MaybeDeprovision(TaskState& task) {
  v1::Task& t = task.record.task;
  if (DesiredOf(t) != DesiredStatus::kStopped || task.launching || task.deprovisioning ||
      IsStopped(t)) {
    return;
  }
  const bool all_exited = absl::c_all_of(task.containers, [](const ContainerState& s) {
    return s.exited || !s.started;
  });
  if (!all_exited) return;
  task.deprovisioning = true;
  AdvanceTask(task, TaskStage::kDeprovisioning);
  t.set_execution_stopped_at(task.last_exit > absl::UnixEpoch()
                                 ? absl::ToDoubleSeconds(task.last_exit - absl::UnixEpoch())
                                 : Now());
  Save(task);
  std::vector<std::string> reap;
  for (const ContainerState& cs : task.containers) {
    if (cs.started) reap.push_back(cs.runtime_id);
  }
  const std::string id = task.record.id;
  const bool queued = executor_->Run([this, id, reap = std::move(reap),
                                      attachments = AttachmentIdsOf(task)] {
    // The shim of an exited task holds its exit status until the task is deleted.
    for (const std::string& runtime_id : reap) {
      absl::StatusOr<uint32_t> deleted = runtime_->DeleteTask(runtime_id);
      if (!deleted.ok() && deleted.status().code() != absl::StatusCode::kNotFound) {
        spdlog::warn("delete task of {}: {}", runtime_id, deleted.status().ToString());
      }
    }
    // Nothing runs in the namespaces any more: addresses, ports and rules go now. What fails
    // is tried again when the task is removed and at the next start.
    for (const std::string& attachment : attachments) {
      absl::Status detached = network_->Detach(attachment);
      if (!detached.ok()) spdlog::warn("network {}: {}", attachment, detached.ToString());
    }
    loop_->Post([this, id] { OnDeprovisioned(id); });
  });
  if (!queued) OnDeprovisioned(id);
}

void TaskManager::OnDeprovisioned(const std::string& task_id) {
  TaskState* task = Find(task_id);
  if (task == nullptr) return;
  v1::Task& t = task->record.task;
  AdvanceTask(*task, TaskStage::kStopped);
  t.set_stopped_at(Now());
  reserved_.cpu -= task->reservation.cpu;
  reserved_.memory -= task->reservation.memory;
  ports_.Release(task_id);
  for (v1::Attachment& a : *t.mutable_attachments()) a.set_status("DELETED");
  Save(*task);
  ScheduleRemoval(*task);
}

void TaskManager::ScheduleRemoval(const TaskState& task) {
  const absl::Time stopped =
      absl::UnixEpoch() + absl::Seconds(task.record.task.stopped_at());
  const absl::Duration left = std::max(absl::ZeroDuration(), stopped + options_.retention -
                                                                 clock_->Now());
  const std::string id = task.record.id;
  loop_->PostAfter(left, [this, id] { Remove(id); });
}

void TaskManager::Remove(const std::string& task_id) {
  TaskState* task = Find(task_id);
  if (task == nullptr) return;
  std::vector<std::string> runtime_ids;
  for (const ContainerState& cs : task->containers) runtime_ids.push_back(cs.runtime_id);
  UnindexContainers(*task);
  absl::Status deleted = store_->DeleteTask(task_id);
  if (!deleted.ok()) spdlog::error("store: delete task {}: {}", task_id, deleted.ToString());
  const std::string dir = TaskDir(task_id);
  std::vector<std::string> attachments = AttachmentIdsOf(*task);
  tasks_.erase(task_id);
  executor_->Run([this, runtime_ids = std::move(runtime_ids), dir,
                  attachments = std::move(attachments)] {
    for (const std::string& id : runtime_ids) {
      absl::Status removed = runtime_->RemoveContainer(id);
      if (!removed.ok()) spdlog::warn("remove container {}: {}", id, removed.ToString());
    }
    for (const std::string& id : attachments) {
      absl::Status detached = network_->Detach(id);  // A no-op unless the stop's failed.
      if (!detached.ok()) spdlog::warn("network {}: {}", id, detached.ToString());
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
}

void TaskManager::Resync() {
  // The first time (startup) and after every loss: the runtime may hold what the store does not.
  if (!stream_was_lost_ && resynced_) return;
  resynced_ = true;
  stream_was_lost_ = false;
  // Exits that happened while nobody listened: what runs is asked of the runtime.
  executor_->Run([this] {
    absl::StatusOr<std::vector<runtime::ContainerStatus>> listed = runtime_->ListContainers();
    loop_->Post([this, listed = std::move(listed)] { OnResyncListed(listed); });
  });
}

void TaskManager::OnResyncListed(
    const absl::StatusOr<std::vector<runtime::ContainerStatus>>& listed) {
  if (!listed.ok()) {
    // Try again shortly: until a resync succeeds, what runs is not known.
    spdlog::warn("resync: {}; retrying in 1 s", listed.status().ToString());
    stream_was_lost_ = true;
    loop_->PostAfter(absl::Seconds(1), [this] { Resync(); });
    return;
  }
  std::map<std::string, const runtime::ContainerStatus*> by_id;
  std::vector<std::string> orphans;
  for (const runtime::ContainerStatus& s : *listed) {
    by_id[s.id] = &s;
    // Skiff's label on a container of no task the store knows: skiffd died between creating
    // it and recording that (or while removing it). Objects without the label are not ours.
    auto label = s.labels.find("skiff.task");
    if (label != s.labels.end() && Find(label->second) == nullptr) orphans.push_back(s.id);
  }
  RemoveOrphans(std::move(orphans));
  if (!networks_swept_) {
    // Once per run: what no task names then is a crash's (later ones are skiffd's own).
    networks_swept_ = true;
    RemoveOrphanNetworks();
  }
  ReconcileExits(by_id);
  ResumeStops();
  for (const std::function<void()>& listener : resync_listeners_) listener();
}

void TaskManager::ReconcileExits(
    const std::map<std::string, const runtime::ContainerStatus*>& by_id) {
  std::vector<std::tuple<std::string, size_t, uint32_t, absl::Time>> exited;
  std::vector<std::string> never_ran;
  for (auto& [id, task] : tasks_) {
    if (task.launching || IsStopped(task.record.task)) continue;
    for (size_t i = 0; i < task.containers.size(); ++i) {
      const ContainerState& cs = task.containers[i];
      // A restart in flight finds the container between two runtime tasks: it ends it.
      if (!cs.started || cs.exited || cs.restarting) continue;
      auto it = by_id.find(cs.runtime_id);
      if (it == by_id.end()) {
        exited.emplace_back(id, i, kUnknownExit, clock_->Now());
      } else if (it->second->state == runtime::ContainerStatus::State::kStopped) {
        exited.emplace_back(id, i, it->second->exit_status, it->second->exited_at);
      } else if (it->second->state == runtime::ContainerStatus::State::kCreated) {
        // Its process never ran, and never will: a start that a killed skiffd left in
        // flight in containerd could still run it, so its init is killed first.
        exited.emplace_back(id, i, kUnknownExit, clock_->Now());
        never_ran.push_back(cs.runtime_id);
      }
    }
  }
  for (const std::string& runtime_id : never_ran) {
    executor_->Run([this, runtime_id] {
      runtime_->SignalContainer(runtime_id, SIGKILL).IgnoreError();  // NotFound: no task.
    });
  }
  for (const auto& [id, index, status, at] : exited) {
    TaskState* task = Find(id);
    if (task != nullptr) OnContainerExit(*task, index, status, at);
  }
}

void TaskManager::ResumeStops() {
  // Stops that were under way when the stream (or skiffd) went away: signal again and
  // restart their timers; both are harmless when repeated.
  for (auto& [id, task] : tasks_) {
    v1::Task& t = task.record.task;
    if (task.launching || IsStopped(t) || DesiredOf(t) != DesiredStatus::kStopped) continue;
    if (task.deprovisioning) continue;
    BeginStop(task, StopCodeOf(t), t.stopped_reason());
  }
}

void TaskManager::RemoveOrphans(std::vector<std::string> runtime_ids) {
  if (runtime_ids.empty()) return;
  for (const std::string& id : runtime_ids) {
    spdlog::warn("removing container {}: it carries skiff's labels but no task names it", id);
  }
  executor_->Run([this, runtime_ids = std::move(runtime_ids)] {
    for (const std::string& id : runtime_ids) {
      absl::Status removed = runtime_->RemoveContainer(id);
      if (!removed.ok()) spdlog::warn("remove orphan {}: {}", id, removed.ToString());
    }
  });
}

std::vector<std::string> TaskManager::AttachmentIdsOf(const TaskState& task) const {
  if (network_ == nullptr) return {};
  std::vector<std::string> runtime_ids;
  for (const ContainerState& cs : task.containers) runtime_ids.push_back(cs.runtime_id);
  return AttachmentIds(NetworkModeOf(*task.definition), task.record.id, runtime_ids);
}

void TaskManager::RemoveOrphanNetworks() {
  if (network_ == nullptr) return;
  executor_->Run([this] {
    absl::StatusOr<std::vector<std::string>> listed = network_->List();
    if (!listed.ok()) {
      spdlog::warn("network: cannot list namespaces: {}", listed.status().ToString());
      return;
    }
    // Compared with the tasks on the loop, after the listing: a task placed meanwhile has an id
    // that nothing listed can have.
    loop_->Post([this, listed = *std::move(listed)] {
      std::set<std::string> known;
      for (const auto& [id, task] : tasks_) {
        if (IsStopped(task.record.task)) continue;
        for (std::string& a : AttachmentIdsOf(task)) known.insert(std::move(a));
      }
      std::vector<std::string> orphans;
      for (const std::string& id : listed) {
        if (!known.contains(id)) orphans.push_back(id);
      }
      if (orphans.empty()) return;
      executor_->Run([this, orphans = std::move(orphans)] {
        for (const std::string& id : orphans) {
          spdlog::warn("network: removing namespace {}: no task that runs names it", id);
          if (absl::Status detached = network_->Detach(id); !detached.ok()) {
            spdlog::warn("network {}: {}", id, detached.ToString());
          }
        }
      });
    });
  });
}

void TaskManager::StartLogRotation() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  loop_->PostAfter(options_.log_check_interval, [this] {
    RotateLogs();
    StartLogRotation();
  });
}

void TaskManager::RotateLogs() {
  std::vector<std::string> paths;
  for (const auto& [id, task] : tasks_) {
    if (IsStopped(task.record.task)) continue;
    const TaskContext context{.task_dir = TaskDir(task.record.id)};
    for (const v1::Container& c : task.record.task.containers()) {
      paths.push_back(ContainerLogPath(context, c.name()));
    }
  }
  if (paths.empty()) return;
  executor_->Run([paths = std::move(paths), policy = options_.log_rotation] {
    for (const std::string& path : paths) {
      absl::StatusOr<bool> rotated = logs::RotateIfLarger(path, policy);
      if (!rotated.ok()) {
        spdlog::warn("log rotation of {}: {}", path, rotated.status().ToString());
      }
    }
  });
}

}  // namespace skiff::scheduler
