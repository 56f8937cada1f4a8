#include "scheduler/task_secrets.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "skiff/scheduler/container_spec_builder.h"

namespace skiff::scheduler {
namespace {

absl::Status Failure(const std::string& container, absl::string_view what,
                     const std::string& value_from, absl::string_view why) {
  return absl::FailedPreconditionError(absl::StrCat(kSecretsFailurePrefix, "container ",
                                                    container, ": ", what, " ", value_from,
                                                    ": ", why));
}

absl::StatusOr<std::string> ResolveOne(const std::string& container, absl::string_view what,
                                       const std::string& value_from, SecretSource* source) {
  if (source == nullptr) {
    return Failure(container, what, value_from, "this skiffd has no secrets store");
  }
  absl::StatusOr<std::string> value = source->Resolve(value_from);
  if (!value.ok()) return Failure(container, what, value_from, value.status().message());
  return value;
}


}  // namespace

absl::Status ResolveContainerSecrets(const v1::ContainerDefinition& container,
                                     SecretSource* source, runtime::ContainerSpec* spec) {
  for (const v1::Secret& secret : container.secrets()) {
    absl::StatusOr<std::string> value =
        ResolveOne(container.name(), "secret", secret.value_from(), source);
    if (!value.ok()) return value.status();
    SetEnv(secret.name(), *value, &spec->env);
  }
  if (container.has_log_configuration()) {
    for (const v1::Secret& option : container.log_configuration().secret_options()) {
      absl::StatusOr<std::string> value =
          ResolveOne(container.name(), "log secret option", option.value_from(), source);
      if (!value.ok()) return value.status();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<registry::Credentials>> ResolveRegistryCredentials(
    const std::string& container_name, const std::string& credentials_parameter,
    SecretSource* source) {
  if (source == nullptr || credentials_parameter.empty()) return std::nullopt;
  absl::StatusOr<std::string> text = source->Resolve(credentials_parameter);
  if (absl::IsNotFound(text.status())) return std::nullopt;
  if (!text.ok()) {
    return Failure(container_name, "repositoryCredentials", credentials_parameter,
                   text.status().message());
  }
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("username") || !doc.contains("password") ||
      !doc["username"].is_string() || !doc["password"].is_string()) {
    return Failure(container_name, "repositoryCredentials", credentials_parameter,
                   "the secret is not {\"username\": ..., \"password\": ...}");
  }
  return registry::Credentials{.username = doc["username"].get<std::string>(),
                               .password = doc["password"].get<std::string>()};
}

absl::StatusOr<runtime::ContainerSpec> BuildLaunchSpec(
    const v1::TaskDefinition& definition, const std::string& container_name,
    const v1::TaskOverride& overrides, const TaskContext& task, SecretSource* source,
    std::optional<registry::Credentials>* credentials) {
  absl::StatusOr<runtime::ContainerSpec> spec =
      BuildContainerSpec(definition, container_name, overrides, task);
  if (!spec.ok()) return spec.status();
  for (const v1::ContainerDefinition& c : definition.container_definitions()) {
    if (c.name() != container_name) continue;
    if (absl::Status s = ResolveContainerSecrets(c, source, &*spec); !s.ok()) return s;
    if (!c.has_repository_credentials()) break;
    absl::StatusOr<std::optional<registry::Credentials>> resolved = ResolveRegistryCredentials(
        container_name, c.repository_credentials().credentials_parameter(), source);
    if (!resolved.ok()) return resolved.status();
    *credentials = *std::move(resolved);
    break;
  }
  return spec;
}

}  // namespace skiff::scheduler
