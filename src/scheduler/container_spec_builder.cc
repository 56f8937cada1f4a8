// Minimal placeholder until the full builder lands (branch ocispec).
#include "skiff/scheduler/container_spec_builder.h"

#include "absl/strings/str_cat.h"
#include "skiff/runtime/image.h"

namespace skiff::scheduler {

std::string RuntimeContainerId(const std::string& task_id, const std::string& container_name) {
  return absl::StrCat(task_id, "-", container_name);
}

std::string ContainerLogPath(const TaskContext& task, const std::string& container_name) {
  return absl::StrCat(task.task_dir, "/", container_name, ".log");
}

absl::StatusOr<runtime::ContainerSpec> BuildContainerSpec(const v1::TaskDefinition& definition,
                                                          const std::string& container_name,
                                                          const v1::TaskOverride&,
                                                          const TaskContext& task) {
  for (const v1::ContainerDefinition& d : definition.container_definitions()) {
    if (d.name() != container_name) continue;
    runtime::ContainerSpec spec;
    spec.id = RuntimeContainerId(task.task_id, container_name);
    spec.image = runtime::NormalizeImageReference(d.image());
    spec.labels = {{"skiff.task", task.task_id}, {"skiff.container", container_name},
                   {"skiff.cluster", task.cluster}};
    if (!d.entry_point().empty()) spec.entrypoint.emplace(d.entry_point().begin(), d.entry_point().end());
    if (!d.command().empty()) spec.command.emplace(d.command().begin(), d.command().end());
    spec.log_path = ContainerLogPath(task, container_name);
    return spec;
  }
  return absl::NotFoundError(container_name);
}

}  // namespace skiff::scheduler
