// Task definitions as ECS has them: validation of a RegisterTaskDefinition request, and the
// registered TaskDefinition built from it with ECS's defaults.
//
// Errors are InvalidArgument statuses whose message starts with the JSON path of the offending
// field, e.g. `containerDefinitions[1].healthCheck.interval: must be between 5 and 300; got 1`.
// Pure functions; safe from any thread.
#ifndef SKIFF_MODEL_TASK_DEFINITION_H_
#define SKIFF_MODEL_TASK_DEFINITION_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "skiff/model/arn.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::model {

// ECS's limits and defaults that users meet.
inline constexpr int kMaxContainersPerTask = 10;
inline constexpr int kMinContainerMemoryMiB = 6;
inline constexpr int kDefaultHealthCheckInterval = 30;
inline constexpr int kDefaultHealthCheckTimeout = 5;
inline constexpr int kDefaultHealthCheckRetries = 3;
// restartPolicy: seconds a container must run before an exit is restarted, and the bounds ECS
// puts on it and on ignoredExitCodes.
inline constexpr int kDefaultRestartAttemptPeriod = 300;
inline constexpr int kMinRestartAttemptPeriod = 60;
inline constexpr int kMaxRestartAttemptPeriod = 1800;
inline constexpr int kMaxIgnoredExitCodes = 50;
// containerPortRange: ECS's limit of ranges per container, and Skiff's of the ports a bridge
// container's ranges may publish (each is a DNAT rule of its own).
inline constexpr int kMaxPortRangesPerContainer = 100;
inline constexpr int kMaxBridgeRangePorts = 1024;

// Checks everything the ECS model's shapes cannot say: required members and string enums for
// messages that did not come through the JSON decoder, names, ranges, references between
// containers and volumes, dependency cycles, Fargate sizes. Returns the first problem found.
absl::Status ValidateRegisterTaskDefinition(const skiff::v1::RegisterTaskDefinitionRequest& request);

// The registered task definition for a request that passed validation: ECS's defaults applied
// (essential, container cpu, health-check timings, port protocol, network mode, volume host),
// cpu and memory normalized to units and MiB, compatibilities and requiresAttributes derived.
skiff::v1::TaskDefinition BuildTaskDefinition(
    const skiff::v1::RegisterTaskDefinitionRequest& request, const ArnScope& scope, int revision,
    absl::Time registered_at);

// A containerPortRange, "FIRST-LAST" with 1 <= FIRST < LAST <= 65535; nullopt otherwise.
std::optional<std::pair<int, int>> ParsePortRange(absl::string_view text);

// Epoch seconds with millisecond precision, as ECS timestamps travel.
double ToEpochSeconds(absl::Time t);

}  // namespace skiff::model

#endif  // SKIFF_MODEL_TASK_DEFINITION_H_
