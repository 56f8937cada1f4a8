// TaskManager's lean records: what of a task's ECS record it keeps in memory, and the full record
// it gives out. At 100,000 tasks the derived strings of the ECS view (the task ARN, repeated in
// every container, the container ARNs, runtime ids and sizes) were a third of the manager's heap;
// they are made again, from the task's id, cluster and definition, only when a record leaves the
// manager. Same thread contract as the rest of the class (loop thread only).
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "scheduler/task_states.h"
#include "skiff/model/arn.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::scheduler {
namespace {

// Bits of TaskState::left_out.
constexpr uint8_t kTaskArn = 1 << 0;
constexpr uint8_t kClusterArn = 1 << 1;
constexpr uint8_t kEmptyOverrides = 1 << 2;  // Present, and empty (RunTask without overrides).
// Bits of ContainerState::left_out.
constexpr uint8_t kContainerTaskArn = 1 << 0;
constexpr uint8_t kContainerArn = 1 << 1;
constexpr uint8_t kRuntimeId = 1 << 2;  // ContainerState::runtime_id has it.
constexpr uint8_t kCpu = 1 << 3;
constexpr uint8_t kMemory = 1 << 4;
constexpr uint8_t kMemoryReservation = 1 << 5;

const v1::ContainerDefinition* DefinitionNamed(const v1::TaskDefinition& definition,
                                               const std::string& name) {
  for (const v1::ContainerDefinition& d : definition.container_definitions()) {
    if (d.name() == name) return &d;
  }
  return nullptr;
}

// A container's cpu, memory and memoryReservation as NewTask copies them from its definition.
struct Sizes {
  std::optional<std::string> cpu, memory, memory_reservation;
};

Sizes SizesOf(const v1::ContainerDefinition* d) {
  Sizes sizes;
  if (d == nullptr) return sizes;
  if (d->has_cpu()) sizes.cpu = absl::StrCat(d->cpu());
  if (d->has_memory()) sizes.memory = absl::StrCat(d->memory());
  if (d->has_memory_reservation()) sizes.memory_reservation = absl::StrCat(d->memory_reservation());
  return sizes;
}

// Whether a field (`has`, `value`) holds `derived`.
bool Holds(bool has, const std::string& value, const std::optional<std::string>& derived) {
  return has && derived.has_value() && value == *derived;
}

}  // namespace

std::string TaskManager::TaskArnOf(const TaskState& task) const {
  if (task.left_out & kTaskArn) return model::TaskArn(scope_, task.record.cluster, task.record.id);
  return task.record.task.task_arn();
}

std::string TaskManager::ContainerArnOf(const TaskState& task, size_t index) const {
  const v1::Container& c = task.record.task.containers(static_cast<int>(index));
  if (task.containers[index].left_out & kContainerArn) {
    return model::ContainerArn(scope_, task.record.cluster, task.record.id, c.name());
  }
  return c.container_arn();
}

// A field is left out with set_allocated_x(nullptr), which frees its string: clear_x() would
// only empty it and keep the allocation for reuse.
void TaskManager::MakeLean(TaskState& task) const {
  v1::Task& t = task.record.task;
  const std::string task_arn = model::TaskArn(scope_, task.record.cluster, task.record.id);
  if (t.has_task_arn() && t.task_arn() == task_arn) {
    t.set_allocated_task_arn(nullptr);
    task.left_out |= kTaskArn;
  }
  if (t.has_cluster_arn() && t.cluster_arn() == model::ClusterArn(scope_, task.record.cluster)) {
    t.set_allocated_cluster_arn(nullptr);
    task.left_out |= kClusterArn;
  }
  if (t.has_overrides() && t.overrides().ByteSizeLong() == 0) {
    t.clear_overrides();
    task.left_out |= kEmptyOverrides;
  }
  for (size_t i = 0; i < task.containers.size() && i < static_cast<size_t>(t.containers_size());
       ++i) {
    v1::Container& c = *t.mutable_containers(static_cast<int>(i));
    ContainerState& cs = task.containers[i];
    const Sizes sizes = SizesOf(DefinitionNamed(*task.definition, c.name()));
    auto leave_out = [&cs](bool holds, uint8_t bit, auto clear) {
      if (!holds) return;
      clear();
      cs.left_out |= bit;
    };
    leave_out(c.has_task_arn() && c.task_arn() == task_arn, kContainerTaskArn,
              [&c] { c.set_allocated_task_arn(nullptr); });
    leave_out(c.has_container_arn() &&
                  c.container_arn() ==
                      model::ContainerArn(scope_, task.record.cluster, task.record.id, c.name()),
              kContainerArn, [&c] { c.set_allocated_container_arn(nullptr); });
    leave_out(c.has_runtime_id() && c.runtime_id() == cs.runtime_id, kRuntimeId,
              [&c] { c.set_allocated_runtime_id(nullptr); });
    leave_out(Holds(c.has_cpu(), c.cpu(), sizes.cpu), kCpu,
              [&c] { c.set_allocated_cpu(nullptr); });
    leave_out(Holds(c.has_memory(), c.memory(), sizes.memory), kMemory,
              [&c] { c.set_allocated_memory(nullptr); });
    leave_out(Holds(c.has_memory_reservation(), c.memory_reservation(), sizes.memory_reservation),
              kMemoryReservation, [&c] { c.set_allocated_memory_reservation(nullptr); });
  }
}

v1::Task TaskManager::FullTask(const TaskState& task) const {
  v1::Task t = task.record.task;
  const std::string task_arn = model::TaskArn(scope_, task.record.cluster, task.record.id);
  if (task.left_out & kTaskArn) t.set_task_arn(task_arn);
  if (task.left_out & kClusterArn) {
    t.set_cluster_arn(model::ClusterArn(scope_, task.record.cluster));
  }
  if (task.left_out & kEmptyOverrides) t.mutable_overrides();
  for (size_t i = 0; i < task.containers.size() && i < static_cast<size_t>(t.containers_size());
       ++i) {
    const uint8_t left_out = task.containers[i].left_out;
    if (left_out == 0) continue;
    v1::Container& c = *t.mutable_containers(static_cast<int>(i));
    if (left_out & kContainerTaskArn) c.set_task_arn(task_arn);
    if (left_out & kContainerArn) {
      c.set_container_arn(
          model::ContainerArn(scope_, task.record.cluster, task.record.id, c.name()));
    }
    if (left_out & kRuntimeId) c.set_runtime_id(task.containers[i].runtime_id);
    if ((left_out & (kCpu | kMemory | kMemoryReservation)) == 0) continue;
    const Sizes sizes = SizesOf(DefinitionNamed(*task.definition, c.name()));
    if (left_out & kCpu) c.set_cpu(*sizes.cpu);
    if (left_out & kMemory) c.set_memory(*sizes.memory);
    if (left_out & kMemoryReservation) c.set_memory_reservation(*sizes.memory_reservation);
  }
  return t;
}

store::StoredTask TaskManager::FullRecord(const TaskState& task) const {
  return store::StoredTask{.id = task.record.id,
                           .cluster = task.record.cluster,
                           .service = task.record.service,
                           .task = FullTask(task),
                           .protected_until_ms = task.record.protected_until_ms,
                           .restarts = RestartsOf(task)};
}

void TaskManager::AdvanceTask(TaskState& task, TaskStage to) {
  AdvanceStatus(*task.record.task.mutable_last_status(), to, "task", TaskArnOf(task));
}

void TaskManager::AdvanceContainer(TaskState& task, size_t index, TaskStage to) {
  v1::Container& c = *task.record.task.mutable_containers(static_cast<int>(index));
  AdvanceStatus(*c.mutable_last_status(), to, "container", ContainerArnOf(task, index));
}

}  // namespace skiff::scheduler
