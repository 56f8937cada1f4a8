// ECS identifiers: ARNs in the ECS form and the short names users type instead.
//
//   arn:aws:ecs:local:000000000000:task-definition/web:3
//
// Value types and pure functions; safe from any thread.
#ifndef SKIFF_MODEL_ARN_H_
#define SKIFF_MODEL_ARN_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"

namespace skiff::model {

// The partition, region and account that every ARN of this node carries.
struct ArnScope {
  std::string partition = "aws";
  std::string region = "local";
  std::string account = "000000000000";
  // This node as a container instance: its machine id (32 hex digits) where it has one.
  std::string instance_id = "00000000000000000000000000000000";

  std::string Prefix() const;  // "arn:aws:ecs:local:000000000000:"
};

// A reference to a task definition as ECS accepts it: "family", "family:3" or the full ARN.
struct TaskDefinitionRef {
  std::string family;
  std::optional<int> revision;  // Absent: the latest ACTIVE revision.
};

std::string TaskDefinitionArn(const ArnScope& scope, absl::string_view family, int revision);

// Parses a task definition reference. `field` names the input field in errors.
absl::StatusOr<TaskDefinitionRef> ParseTaskDefinitionRef(const ArnScope& scope,
                                                         absl::string_view text,
                                                         absl::string_view field);

std::string ClusterArn(const ArnScope& scope, absl::string_view cluster);
std::string TaskArn(const ArnScope& scope, absl::string_view cluster, absl::string_view task_id);
std::string ContainerArn(const ArnScope& scope, absl::string_view cluster,
                         absl::string_view task_id, absl::string_view container);

std::string ServiceArn(const ArnScope& scope, absl::string_view cluster,
                       absl::string_view service);
// This node, the one container instance of every cluster.
std::string ContainerInstanceArn(const ArnScope& scope, absl::string_view cluster);

// A service name from a name or service ARN (".../service/CLUSTER/NAME" or the older
// ".../service/NAME"). InvalidArgument naming `field` otherwise.
absl::StatusOr<std::string> ParseServiceRef(const ArnScope& scope, absl::string_view text,
                                            absl::string_view field);

// A task id from what users type: the 32-hex id or the task ARN (of any cluster; the caller
// checks that it matches). InvalidArgument naming `field` otherwise.
absl::StatusOr<std::string> ParseTaskRef(const ArnScope& scope, absl::string_view text,
                                         absl::string_view field);

// A cluster name from a name or cluster ARN; "" means "default".
absl::StatusOr<std::string> ParseClusterRef(const ArnScope& scope, absl::string_view text);

// True when name is 1-255 of [A-Za-z0-9_-], the charset of families and container names.
bool IsValidName(absl::string_view name);

}  // namespace skiff::model

#endif  // SKIFF_MODEL_ARN_H_
