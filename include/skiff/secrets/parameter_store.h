// ParameterStore: the Parameter Store of AWS Systems Manager on one node. It keeps parameters
// (String, StringList, SecureString) with their versions and answers the five operations of
// `skiff ssm` (SPEC.md) with SSM's shapes and error names (ParameterNotFound,
// ParameterAlreadyExists, ValidationException, HierarchyLevelLimitExceededException,
// UnsupportedParameterType), and GetParameters' InvalidParameters.
//
// Names are "name" or a hierarchy "/a/b/name" (at most 15 levels); the ARN is
// arn:aws:ssm:REGION:ACCOUNT:parameter/NAME (parameter/a/b/name for "/a/b/name"), and every
// operation takes the name or the ARN. PutParameter creates version 1 and, with Overwrite,
// the next version; GetParameter takes "name:version" too. GetParametersByPath lists the
// direct children of a path, or all its descendants with Recursive.
//
// SecureString values are kept like the others (the file is 0600, ADR 0018; there is no KMS):
// they are returned only WithDecryption; without it the value is a placeholder, as AWS returns
// ciphertext the caller cannot read.
//
// Values live in STATE_DIR/secrets/ssm.json (0600), rewritten atomically on every change, and
// are never logged.
//
// Thread contract: loop-owned. Every method runs on the loop thread.
#ifndef SKIFF_SECRETS_PARAMETER_STORE_H_
#define SKIFF_SECRETS_PARAMETER_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/model/arn.h"
#include "skiff/ssm/v1/ssm.pb.h"

namespace skiff::secrets {

namespace ssm = ::skiff::ssm::v1;

inline constexpr char kParameterNotFound[] = "ParameterNotFound";
inline constexpr char kParameterAlreadyExists[] = "ParameterAlreadyExists";
inline constexpr char kParameterVersionNotFound[] = "ParameterVersionNotFound";
inline constexpr char kValidationException[] = "ValidationException";
inline constexpr char kHierarchyLevelLimitExceeded[] = "HierarchyLevelLimitExceededException";
inline constexpr char kSsmInvalidNextToken[] = "InvalidNextToken";
inline constexpr char kInternalServerError[] = "InternalServerError";

// What GetParameter shows for a SecureString asked for without WithDecryption.
inline constexpr char kEncryptedPlaceholder[] = "(SecureString: ask WithDecryption)";

struct ParameterVersion {
  int64_t version = 0;
  std::string type;  // String, StringList, SecureString.
  std::string value;
  std::string description;
  std::string data_type = "text";
  absl::Time modified;
};

struct StoredParameter {
  std::string name;
  std::vector<ParameterVersion> versions;  // Oldest first; the last is current.
};

struct ParameterStoreOptions {
  std::string dir;  // STATE_DIR/secrets: created 0700.
  model::ArnScope scope;
  const Clock* clock = nullptr;
};

class ParameterStore {
 public:
  // Internal when the file cannot be read or parsed.
  static absl::StatusOr<std::unique_ptr<ParameterStore>> Create(ParameterStoreOptions options);

  absl::StatusOr<ssm::PutParameterResult> PutParameter(const ssm::PutParameterRequest& request);
  absl::StatusOr<ssm::GetParameterResult> GetParameter(const ssm::GetParameterRequest& request);
  absl::StatusOr<ssm::GetParametersResult> GetParameters(
      const ssm::GetParametersRequest& request);
  absl::StatusOr<ssm::GetParametersByPathResult> GetParametersByPath(
      const ssm::GetParametersByPathRequest& request);
  absl::StatusOr<ssm::DeleteParameterResult> DeleteParameter(
      const ssm::DeleteParameterRequest& request);

  // The current version of the parameter `name_or_arn` names; null when none.
  const ParameterVersion* FindCurrent(const std::string& name_or_arn) const;

 private:
  explicit ParameterStore(ParameterStoreOptions options);
  absl::Status Load();
  absl::Status Commit(const std::string& name, std::optional<StoredParameter> before);
  std::string NameOf(const std::string& name_or_arn) const;
  std::string ArnOf(const std::string& name) const;
  ssm::Parameter Shape(const StoredParameter& parameter, const ParameterVersion& version,
                       bool with_decryption) const;
  // Parameter from "name" or "name:version"; ParameterNotFound / ParameterVersionNotFound.
  absl::StatusOr<ssm::Parameter> Lookup(const std::string& selector, bool with_decryption) const;

  const ParameterStoreOptions options_;
  std::map<std::string, StoredParameter> parameters_;  // By name.
};

}  // namespace skiff::secrets

#endif  // SKIFF_SECRETS_PARAMETER_STORE_H_
