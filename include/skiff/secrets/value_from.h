// What a container definition's valueFrom names, parsed as ECS reads it: a Secrets Manager
// secret with the optional ":json-key:version-stage:version-id" suffixes, or an SSM parameter.
//
//   arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-XXXXXX
//       [:json-key[:version-stage[:version-id]]]
//   arn:aws:ssm:REGION:ACCOUNT:parameter/NAME   (or parameter/a/b for "/a/b")
//   NAME or /a/b/NAME                           a name in the task's account and region
//   NAME:json-key:version-stage:version-id      a Secrets Manager secret by name, with suffixes
//
// ECS takes a name in the task's region for either service: a name is an SSM parameter when
// one has it, else a Secrets Manager secret of that name (neither allows ':' in a name, so the
// suffixes cannot be confused with it). An empty suffix field means "absent": "::" then a
// version id names that version of the whole secret. Pure functions; any thread.
#ifndef SKIFF_SECRETS_VALUE_FROM_H_
#define SKIFF_SECRETS_VALUE_FROM_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff::secrets {

struct SecretReference {
  // kByName: not an ARN; an SSM parameter's name or a secret's (see above).
  enum class Service { kSecretsManager, kParameterStore, kByName };
  Service service = Service::kByName;
  // Secrets Manager: the secret's ARN without the suffixes (its SecretId). SSM: the parameter's
  // name ("/a/b" or "b"), taken from the ARN when one was given. kByName: the name.
  std::string id;
  std::string json_key;       // "" for the whole SecretString.
  std::string version_stage;  // "" for the default (AWSCURRENT).
  std::string version_id;     // "".
};

// InvalidArgument naming value_from when it is neither form, has more than the three suffix
// fields, or names a service other than secretsmanager or ssm.
absl::StatusOr<SecretReference> ParseValueFrom(absl::string_view value_from);

}  // namespace skiff::secrets

#endif  // SKIFF_SECRETS_VALUE_FROM_H_
