// A task's secrets at launch, as the ECS agent resolves them before it creates a container:
// each container's secrets[] into its environment, its logConfiguration.secretOptions checked
// (a node has no log driver to hand them to, so they are resolved and not passed on: a log
// token must not reach the application's environment), and its repositoryCredentials read from
// the node's Secrets Manager. Failures read as ECS's do: "ResourceInitializationError: unable
// to pull secrets or registry auth: ..." naming the secret and the container, never a value.
// Private to the scheduler; loop thread (the SecretSource is loop-owned).
#ifndef SKIFF_SRC_SCHEDULER_TASK_SECRETS_H_
#define SKIFF_SRC_SCHEDULER_TASK_SECRETS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "skiff/registry/auth.h"
#include "skiff/runtime/container_spec.h"
#include "skiff/scheduler/container_spec_builder.h"
#include "skiff/scheduler/secret_source.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

inline constexpr char kSecretsFailurePrefix[] =
    "ResourceInitializationError: unable to pull secrets or registry auth: ";

// Sets NAME=value in spec->env for every secret of `container` (secrets win over environment,
// as ECS gives them precedence) and resolves its secretOptions. `source` null: a container with
// any secret fails (the node has no store to resolve it from). FailedPrecondition whose message
// is the whole stoppedReason.
absl::Status ResolveContainerSecrets(const v1::ContainerDefinition& container,
                                     SecretSource* source, runtime::ContainerSpec* spec);

// repositoryCredentials.credentialsParameter from the node's Secrets Manager: the secret's
// {"username", "password"}; nullopt when `source` is null or has no such secret (then the
// credentials file answers, as before). FailedPrecondition (the stoppedReason) when the secret
// exists but cannot be used.
absl::StatusOr<std::optional<registry::Credentials>> ResolveRegistryCredentials(
    const std::string& container_name, const std::string& credentials_parameter,
    SecretSource* source);

// BuildContainerSpec, then the container's secrets resolved into its environment and its
// registry credentials into *credentials. FailedPrecondition errors carry the whole
// stoppedReason (secrets, s3 environment files); other errors are the definition's
// (CannotCreateContainerError).
absl::StatusOr<runtime::ContainerSpec> BuildLaunchSpec(
    const v1::TaskDefinition& definition, const std::string& container_name,
    const v1::TaskOverride& overrides, const TaskContext& task, SecretSource* source,
    std::optional<registry::Credentials>* credentials);

}  // namespace skiff::scheduler

#endif  // SKIFF_SRC_SCHEDULER_TASK_SECRETS_H_
