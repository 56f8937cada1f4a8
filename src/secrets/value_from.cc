#include "skiff/secrets/value_from.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "skiff/model/errors.h"

namespace skiff::secrets {
namespace {

absl::Status Malformed(absl::string_view value_from, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("valueFrom ", model::QuoteValue(value_from), ": ", why));
}

// fields[from..] are json-key, version-stage, version-id; at most three, empty means absent.
absl::Status TakeSuffixes(absl::string_view value_from, const std::vector<std::string>& fields,
                          size_t from, SecretReference* out) {
  if (fields.size() > from + 3) {
    return Malformed(value_from, "at most :json-key:version-stage:version-id may follow");
  }
  std::string* targets[] = {&out->json_key, &out->version_stage, &out->version_id};
  for (size_t i = from; i < fields.size(); ++i) *targets[i - from] = fields[i];
  if (!out->version_stage.empty() && !out->version_id.empty()) {
    return Malformed(value_from, "give a version-stage or a version-id, not both");
  }
  return absl::OkStatus();
}

absl::StatusOr<SecretReference> ParseArn(absl::string_view value_from) {
  // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE[:suffixes]
  std::vector<std::string> fields = absl::StrSplit(value_from, ':');
  if (fields.size() < 6) return Malformed(value_from, "not an ARN");
  SecretReference out;
  if (fields[2] == "ssm") {
    absl::string_view resource = value_from;
    for (int i = 0; i < 5; ++i) resource.remove_prefix(resource.find(':') + 1);
    if (!absl::ConsumePrefix(&resource, "parameter") || resource.size() < 2 ||
        resource.front() != '/' || absl::StrContains(resource, ':')) {
      return Malformed(value_from, "an SSM ARN ends in parameter/NAME");
    }
    out.service = SecretReference::Service::kParameterStore;
    // parameter/name is "name"; parameter/a/b is "/a/b".
    const absl::string_view rest = resource.substr(1);
    out.id = absl::StrContains(rest, '/') ? std::string(resource) : std::string(rest);
    return out;
  }
  if (fields[2] != "secretsmanager") {
    return Malformed(value_from, "an ARN of secretsmanager or ssm is needed");
  }
  if (fields[5] != "secret" || fields.size() < 7 || fields[6].empty()) {
    return Malformed(value_from, "a Secrets Manager ARN is ...:secret:NAME");
  }
  out.service = SecretReference::Service::kSecretsManager;
  out.id = absl::StrJoin(std::vector<std::string>(fields.begin(), fields.begin() + 7), ":");
  if (absl::Status s = TakeSuffixes(value_from, fields, 7, &out); !s.ok()) return s;
  return out;
}

}  // namespace

absl::StatusOr<SecretReference> ParseValueFrom(absl::string_view value_from) {
  if (value_from.empty()) return Malformed(value_from, "must not be empty");
  if (absl::StartsWith(value_from, "arn:")) return ParseArn(value_from);
  std::vector<std::string> fields = absl::StrSplit(value_from, ':');
  if (fields[0].empty()) return Malformed(value_from, "the name is empty");
  SecretReference out;
  out.id = fields[0];
  if (absl::Status s = TakeSuffixes(value_from, fields, 1, &out); !s.ok()) return s;
  return out;
}

}  // namespace skiff::secrets
