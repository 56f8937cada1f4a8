// Checks on the container settings that reach the host: paths in the container (working
// directory, mount and tmpfs targets), the user, and label keys. Register-time validation
// (task_definition.h) and the scheduler's container spec builder both use them, so a definition
// is refused with the same words whether it is new or was stored before a check existed.
// Pure functions; safe from any thread. Each returns the problem ("must be an absolute path"),
// for the caller to prefix with the field path, or nullopt when the value is fine.
#ifndef SKIFF_MODEL_CONTAINER_CHECKS_H_
#define SKIFF_MODEL_CONTAINER_CHECKS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace skiff::model {

// workingDirectory: absolute, and not /proc or under it (a process started there could reach
// the host through /proc/<pid>/root of processes it sees).
std::optional<std::string> WorkingDirectoryProblem(absl::string_view path);

// mountPoints[].containerPath and tmpfs[].containerPath: absolute, not "/" (the image's root),
// and not /proc or under it, which runc refuses at start (its procfs is the container's own).
// /sys and /dev are allowed as on ECS and Docker: AWS's CloudWatch agent mounts the host's
// /sys/fs/cgroup there, the ECS agent's own tests a tmpfs at /dev/tmpfs. What a mount can reach
// is decided by its source (a host sourcePath), not by where it lands; runc's masked paths stay
// masked, since it masks them after the mounts.
std::optional<std::string> ContainerMountPathProblem(absl::string_view path);

// user: "", name, uid, uid:gid, name:group...; numeric ids must lie in 0..2^31-1 (runc's range).
// Names are resolved later against the image.
std::optional<std::string> UserProblem(absl::string_view user);

// dockerLabels keys that Skiff and containerd keep for themselves: "skiff.", "containerd.io/",
// "io.containerd.".
bool IsReservedLabelKey(absl::string_view key);
inline constexpr char kReservedLabelsProblem[] =
    "the skiff., containerd.io/ and io.containerd. prefixes are reserved";

}  // namespace skiff::model

#endif  // SKIFF_MODEL_CONTAINER_CHECKS_H_
