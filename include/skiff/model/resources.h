// Task-level cpu and memory as ECS accepts them ("1024" or "1 vCPU"; "2048" or "2GB"), and
// Fargate's table of valid cpu/memory pairs. Pure functions; safe from any thread.
#ifndef SKIFF_MODEL_RESOURCES_H_
#define SKIFF_MODEL_RESOURCES_H_


#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"

namespace skiff::model {

// CPU units (1024 per vCPU) from "256", "0.25 vCPU", "1 vcpu", "2 vCPU".
absl::StatusOr<int> ParseCpuUnits(absl::string_view text);

// MiB from "512", "512 MiB", "0.5GB", "2 GB" (ECS's GB is GiB).
absl::StatusOr<int> ParseMemoryMiB(absl::string_view text);

// True when Fargate offers this task size.
bool IsValidFargateSize(int cpu_units, int memory_mib);

}  // namespace skiff::model

#endif  // SKIFF_MODEL_RESOURCES_H_
