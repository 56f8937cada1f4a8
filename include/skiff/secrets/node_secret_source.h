// NodeSecretSource: the scheduler's SecretSource on the node's own Secrets Manager and Parameter
// Store, resolving valueFrom as ECS does (secrets/value_from.h): a Secrets Manager ARN (with its
// suffixes: a JSON key of the SecretString, a version stage or a version id), an SSM ARN, or a
// name, which is an SSM parameter when one has it and else a secret. SecureString parameters
// are decrypted, as the ECS agent asks for them. A secret scheduled for deletion, one that
// holds only SecretBinary, and a JSON key of a SecretString that is not a JSON object fail.
//
// Errors name valueFrom and what was missing, never a value (a bad JSON document is reported
// without the parser's message, which would quote it).
//
// Thread contract: loop-owned, like the two stores it borrows.
#ifndef SKIFF_SECRETS_NODE_SECRET_SOURCE_H_
#define SKIFF_SECRETS_NODE_SECRET_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "skiff/scheduler/secret_source.h"
#include "skiff/secrets/parameter_store.h"
#include "skiff/secrets/secrets_manager.h"

namespace skiff::secrets {

class NodeSecretSource final : public scheduler::SecretSource {
 public:
  // Both must outlive this.
  NodeSecretSource(SecretsManager* secrets, ParameterStore* parameters)
      : secrets_(secrets), parameters_(parameters) {}

  absl::StatusOr<std::string> Resolve(const std::string& value_from) override;

 private:
  SecretsManager* const secrets_;
  ParameterStore* const parameters_;
};

}  // namespace skiff::secrets

#endif  // SKIFF_SECRETS_NODE_SECRET_SOURCE_H_
