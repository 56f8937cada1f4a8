// SecretsManager: AWS Secrets Manager on one node. It keeps secrets with their versions and
// staging labels and answers the six operations of `skiff secretsmanager` (SPEC.md) with Secrets
// Manager's shapes, checks and error names (ResourceNotFoundException, ResourceExistsException,
// InvalidRequestException, InvalidParameterException).
//
// Semantics kept from AWS: a secret's ARN ends in its name, '-' and six random characters;
// SecretId is that ARN, the ARN without the suffix, or the name. A version holds a SecretString
// or a SecretBinary; PutSecretValue labels the new version AWSCURRENT (unless told otherwise)
// and moves AWSPREVIOUS to the version that was current; a ClientRequestToken makes a write
// idempotent. DeleteSecret schedules the deletion RecoveryWindowInDays (7-30, default 30) ahead:
// until then DescribeSecret shows DeletedDate, GetSecretValue and PutSecretValue fail with
// InvalidRequestException and the name stays taken; ForceDeleteWithoutRecovery deletes at once.
// What a node changes: no KMS (KmsKeyId is echoed back, values are not encrypted beyond the
// file's mode, ADR 0018), no rotation, no replication, no resource policies.
//
// Values live in STATE_DIR/secrets/secretsmanager.json (0600, its directory 0700), rewritten
// atomically on every change; nothing here logs a value, and DescribeSecret and ListSecrets
// never carry one.
//
// Thread contract: loop-owned. Every method runs on the loop thread.
#ifndef SKIFF_SECRETS_SECRETS_MANAGER_H_
#define SKIFF_SECRETS_SECRETS_MANAGER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/base/random.h"
#include "skiff/model/arn.h"
#include "skiff/secretsmanager/v1/secretsmanager.pb.h"

namespace skiff::secrets {

namespace sm = ::skiff::secretsmanager::v1;

inline constexpr char kResourceNotFoundException[] = "ResourceNotFoundException";
inline constexpr char kResourceExistsException[] = "ResourceExistsException";
inline constexpr char kInvalidRequestException[] = "InvalidRequestException";
inline constexpr char kSmInvalidParameterException[] = "InvalidParameterException";
inline constexpr char kInvalidNextTokenException[] = "InvalidNextTokenException";
inline constexpr char kInternalServiceError[] = "InternalServiceError";

inline constexpr char kAwsCurrent[] = "AWSCURRENT";
inline constexpr char kAwsPrevious[] = "AWSPREVIOUS";

struct SecretVersion {
  std::string id;
  std::optional<std::string> string_value;
  std::optional<std::string> binary_value;  // The bytes as the request carried them.
  std::vector<std::string> stages;
  absl::Time created;
};

struct Secret {
  std::string name;
  std::string arn;
  std::string description;
  std::string kms_key_id;
  std::vector<std::pair<std::string, std::string>> tags;
  absl::Time created;
  absl::Time last_changed;
  absl::Time last_accessed = absl::InfinitePast();  // A day, as AWS keeps it.
  absl::Time deletion_date = absl::InfiniteFuture();  // Scheduled deletion, if any.
  std::vector<SecretVersion> versions;  // Oldest first.
};

struct SecretsManagerOptions {
  std::string dir;  // STATE_DIR/secrets: created 0700.
  model::ArnScope scope;
  const Clock* clock = nullptr;
  RandomSource* random = nullptr;  // ARN suffixes and version ids.
};

class SecretsManager {
 public:
  // Reads the secrets kept in options.dir (none when there is no file yet). Internal when the
  // file cannot be read or parsed (skiffd refuses to start rather than lose secrets).
  static absl::StatusOr<std::unique_ptr<SecretsManager>> Create(SecretsManagerOptions options);

  absl::StatusOr<sm::CreateSecretResponse> CreateSecret(const sm::CreateSecretRequest& request);
  absl::StatusOr<sm::PutSecretValueResponse> PutSecretValue(
      const sm::PutSecretValueRequest& request);
  absl::StatusOr<sm::GetSecretValueResponse> GetSecretValue(
      const sm::GetSecretValueRequest& request);
  absl::StatusOr<sm::DescribeSecretResponse> DescribeSecret(
      const sm::DescribeSecretRequest& request);
  absl::StatusOr<sm::ListSecretsResponse> ListSecrets(const sm::ListSecretsRequest& request);
  absl::StatusOr<sm::DeleteSecretResponse> DeleteSecret(const sm::DeleteSecretRequest& request);

  // The secret that `secret_id` names (ARN, ARN without its suffix, or name); null when none.
  // Secrets past their deletion date are gone.
  const Secret* Find(const std::string& secret_id);

 private:
  explicit SecretsManager(SecretsManagerOptions options);
  absl::Status Load();
  // Writes every secret; on failure the caller's change is undone by restoring `before`.
  absl::Status Commit(const std::string& name, std::optional<Secret> before);
  void PurgeDeleted();
  absl::StatusOr<Secret*> Live(const std::string& secret_id, absl::string_view operation);
  std::string NewVersionId(const std::string& token) const;

  const SecretsManagerOptions options_;
  std::map<std::string, Secret> secrets_;  // By name.
};

// The version of `secret` that GetSecretValue would return for version_id / version_stage
// ("" for absent; both absent means AWSCURRENT); null when there is none.
const SecretVersion* FindVersion(const Secret& secret, const std::string& version_id,
                                 const std::string& version_stage);

}  // namespace skiff::secrets

#endif  // SKIFF_SECRETS_SECRETS_MANAGER_H_
