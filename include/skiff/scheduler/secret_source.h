// SecretSource: where the secrets of a task resolve from when it launches, as the ECS agent
// fetches them from Secrets Manager and SSM Parameter Store before it creates a container. The
// scheduler asks it for a container's secrets[].valueFrom, logConfiguration.secretOptions[]
// .valueFrom and repositoryCredentials.credentialsParameter; the daemon picks the
// implementation (the node's secrets component), so the scheduler never links its protos.
//
// Thread contract: called on the loop thread only (the implementation is loop-owned).
#ifndef SKIFF_SCHEDULER_SECRET_SOURCE_H_
#define SKIFF_SCHEDULER_SECRET_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"

namespace skiff::scheduler {

class SecretSource {
 public:
  virtual ~SecretSource() = default;

  // The text that `value_from` names: a Secrets Manager secret (ARN or name, with ECS's
  // ":json-key:version-stage:version-id" suffixes) or an SSM parameter (name or ARN).
  // NotFound when there is no such secret, parameter, version or JSON key; InvalidArgument when
  // value_from is malformed; FailedPrecondition when the secret is scheduled for deletion or
  // holds no text. Messages name value_from and say which service answered (prefix "asm: " or
  // "ssm: "), never a value.
  virtual absl::StatusOr<std::string> Resolve(const std::string& value_from) = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_SECRET_SOURCE_H_
