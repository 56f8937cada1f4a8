// Utilization as ECS computes it, from container samples (runtime::ContainerStats) and the
// reservations of tasks: a container's CPU % as `docker stats` shows it, and a service's
// ECSServiceAverageCPUUtilization and ECSServiceAverageMemoryUtilization, which target tracking
// scales on. Pure functions of values: no clock, no loop; any thread.
#ifndef SKIFF_SCALING_UTILIZATION_H_
#define SKIFF_SCALING_UTILIZATION_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "skiff/runtime/container_runtime.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scaling {

// CPU units per core, as ECS counts them.
inline constexpr double kCpuUnitsPerCore = 1024;

// A container's CPU use between two samples of it, in percent of one core (docker stats: 150
// is one and a half cores): Δ CPU time / Δ wall time × 100. None when the samples are not in
// order, or the counter went back (the container was replaced under the same id).
std::optional<double> CpuPercent(const runtime::ContainerStats& before,
                                 const runtime::ContainerStats& after);

// What a task reserves: its task-level cpu and memory when it has them, else the sum over its
// containers (memoryReservation, else memory). None where neither the task nor every container
// says.
struct Reservation {
  std::optional<double> cpu_units;
  std::optional<double> memory_mib;
};
Reservation ReservationOf(const v1::Task& task);
// The same of a task definition: what each of its tasks will reserve (the checks of scaling
// policies: a service with no CPU reservation has no CPU utilization).
Reservation ReservationOf(const v1::TaskDefinition& definition);

// What a RUNNING task uses now: the sum over its containers. cpu_cores is none until each
// container has two samples.
struct TaskUsage {
  std::optional<double> cpu_cores;
  double memory_mib = 0;  // Working set.
};

struct ServiceUtilization {
  // Σ CPU units used × 100 / Σ CPU units reserved over the tasks measured; none when a task
  // reserves no CPU (ECS has no CPU utilization for such a service) or none is measured yet.
  std::optional<double> cpu_percent;
  // Σ working set × 100 / Σ memory reserved; none when a task reserves no memory.
  std::optional<double> memory_percent;
  int tasks = 0;  // The running tasks counted.
};

struct TaskUtilizationInput {
  Reservation reservation;
  TaskUsage usage;
};
ServiceUtilization UtilizationOf(const std::vector<TaskUtilizationInput>& running_tasks);

}  // namespace skiff::scaling

#endif  // SKIFF_SCALING_UTILIZATION_H_
