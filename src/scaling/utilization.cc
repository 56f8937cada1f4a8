#include "skiff/scaling/utilization.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "skiff/model/resources.h"

namespace skiff::scaling {

std::optional<double> CpuPercent(const runtime::ContainerStats& before,
                                 const runtime::ContainerStats& after) {
  const absl::Duration wall = after.sampled_at - before.sampled_at;
  if (wall <= absl::ZeroDuration() || after.cpu_usage_ns < before.cpu_usage_ns) {
    return std::nullopt;
  }
  const double cpu_ns = static_cast<double>(after.cpu_usage_ns - before.cpu_usage_ns);
  return cpu_ns / absl::ToDoubleNanoseconds(wall) * 100.0;
}

Reservation ReservationOf(const v1::Task& task) {
  Reservation out;
  if (task.has_cpu()) {
    absl::StatusOr<int> units = model::ParseCpuUnits(task.cpu());
    if (units.ok() && *units > 0) out.cpu_units = *units;
  }
  if (task.has_memory()) {
    absl::StatusOr<int> mib = model::ParseMemoryMiB(task.memory());
    if (mib.ok() && *mib > 0) out.memory_mib = *mib;
  }
  // Else the containers': every one must say, or the task as a whole reserves nothing known.
  double cpu = 0, memory = 0;
  bool every_cpu = task.containers_size() > 0, every_memory = task.containers_size() > 0;
  for (const v1::Container& c : task.containers()) {
    int value = 0;
    if (c.has_cpu() && absl::SimpleAtoi(c.cpu(), &value) && value > 0) {
      cpu += value;
    } else {
      every_cpu = false;
    }
    const std::string& mem = c.has_memory_reservation() ? c.memory_reservation() : c.memory();
    if (absl::SimpleAtoi(mem, &value) && value > 0) {
      memory += value;
    } else {
      every_memory = false;
    }
  }
  if (!out.cpu_units && every_cpu) out.cpu_units = cpu;
  if (!out.memory_mib && every_memory) out.memory_mib = memory;
  return out;
}

Reservation ReservationOf(const v1::TaskDefinition& definition) {
  // A task carries its definition's cpu and memory, and each container the definition's
  // numbers as text: the same rules then apply.
  v1::Task task;
  if (definition.has_cpu()) task.set_cpu(definition.cpu());
  if (definition.has_memory()) task.set_memory(definition.memory());
  for (const v1::ContainerDefinition& d : definition.container_definitions()) {
    v1::Container* c = task.add_containers();
    if (d.has_cpu()) c->set_cpu(absl::StrCat(d.cpu()));
    if (d.has_memory()) c->set_memory(absl::StrCat(d.memory()));
    if (d.has_memory_reservation()) c->set_memory_reservation(absl::StrCat(d.memory_reservation()));
  }
  return ReservationOf(task);
}

ServiceUtilization UtilizationOf(const std::vector<TaskUtilizationInput>& running_tasks) {
  ServiceUtilization out;
  out.tasks = static_cast<int>(running_tasks.size());
  double cpu_used = 0, cpu_reserved = 0, memory_used = 0, memory_reserved = 0;
  bool cpu_known = !running_tasks.empty(), memory_known = !running_tasks.empty();
  bool cpu_measured = false;
  for (const TaskUtilizationInput& task : running_tasks) {
    if (!task.reservation.cpu_units) cpu_known = false;
    if (!task.reservation.memory_mib) memory_known = false;
    // A task not measured yet (one sample so far) counts on neither side.
    if (task.reservation.cpu_units && task.usage.cpu_cores) {
      cpu_used += *task.usage.cpu_cores * kCpuUnitsPerCore;
      cpu_reserved += *task.reservation.cpu_units;
      cpu_measured = true;
    }
    if (task.reservation.memory_mib) {
      memory_used += task.usage.memory_mib;
      memory_reserved += *task.reservation.memory_mib;
    }
  }
  if (cpu_known && cpu_measured) out.cpu_percent = cpu_used * 100 / cpu_reserved;
  if (memory_known) out.memory_percent = memory_used * 100 / memory_reserved;
  return out;
}

}  // namespace skiff::scaling
