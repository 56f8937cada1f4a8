#include "skiff/secrets/secrets_manager.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "skiff/base/files.h"
#include "secrets/errors.h"
#include "secrets/secret_files.h"

namespace skiff::secrets {
namespace {

constexpr int kMaxVersions = 100;  // AWS keeps about 100 versions; older unlabelled ones go.
constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

std::string FilePath(const std::string& dir) {
  return (std::filesystem::path(dir) / "secretsmanager.json").string();
}

absl::Status NotFound() {
  return Error(absl::StatusCode::kNotFound, kResourceNotFoundException,
               "Secrets Manager can't find the specified secret.");
}

absl::Status Invalid(absl::string_view message) {
  return InvalidParameter(kSmInvalidParameterException, message);
}

absl::Status MarkedForDeletion(absl::string_view operation) {
  return Error(absl::StatusCode::kFailedPrecondition, kInvalidRequestException,
               absl::StrCat("You can't perform this operation on the secret because it was "
                            "marked for deletion. (", operation, ")"));
}

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 512) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           absl::StrContains("/_+=.@-", c);
  });
}

// Labels `version` with `stages`, taking each from the version that had it. A version that
// loses AWSCURRENT gets AWSPREVIOUS.
void MoveStages(Secret& secret, const std::string& version_id,
                const std::vector<std::string>& stages) {
  const bool takes_current =
      std::find(stages.begin(), stages.end(), kAwsCurrent) != stages.end();
  for (SecretVersion& v : secret.versions) {
    if (v.id == version_id) continue;
    const bool had_current = takes_current && std::find(v.stages.begin(), v.stages.end(),
                                                        kAwsCurrent) != v.stages.end();
    std::erase_if(v.stages, [&](const std::string& stage) {
      return std::find(stages.begin(), stages.end(), stage) != stages.end() ||
             (takes_current && stage == kAwsPrevious);
    });
    if (had_current) v.stages.push_back(kAwsPrevious);
  }
  for (SecretVersion& v : secret.versions) {
    if (v.id != version_id) continue;
    for (const std::string& stage : stages) {
      if (std::find(v.stages.begin(), v.stages.end(), stage) == v.stages.end()) {
        v.stages.push_back(stage);
      }
    }
  }
  // Keep the newest kMaxVersions; an unlabelled version is dropped first.
  while (static_cast<int>(secret.versions.size()) > kMaxVersions) {
    auto it = std::find_if(secret.versions.begin(), secret.versions.end(),
                           [](const SecretVersion& v) { return v.stages.empty(); });
    if (it == secret.versions.end()) break;
    secret.versions.erase(it);
  }
}

absl::Status CheckValue(bool has_string, bool has_binary) {
  if (has_string && has_binary) {
    return Invalid("You can't specify both a binary secret value and a string secret value in "
                   "the same secret.");
  }
  return absl::OkStatus();
}

}  // namespace

const SecretVersion* FindVersion(const Secret& secret, const std::string& version_id,
                                 const std::string& version_stage) {
  const std::string stage = version_id.empty() && version_stage.empty() ? kAwsCurrent
                                                                        : version_stage;
  for (const SecretVersion& v : secret.versions) {
    if (!version_id.empty() && v.id != version_id) continue;
    if (!stage.empty() && std::find(v.stages.begin(), v.stages.end(), stage) == v.stages.end()) {
      continue;
    }
    return &v;
  }
  return nullptr;
}

SecretsManager::SecretsManager(SecretsManagerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<SecretsManager>> SecretsManager::Create(
    SecretsManagerOptions options) {
  std::unique_ptr<SecretsManager> manager(new SecretsManager(std::move(options)));
  if (absl::Status s = manager->Load(); !s.ok()) return s;
  return manager;
}

absl::Status SecretsManager::Load() {
  if (absl::Status s = EnsurePrivateDir(options_.dir); !s.ok()) return s;
  const std::string path = FilePath(options_.dir);
  absl::StatusOr<std::string> text = ReadIfExists(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::map<std::string, Secret>> secrets = DecodeSecrets(*text, path);
  if (!secrets.ok()) return secrets.status();
  secrets_ = *std::move(secrets);
  return absl::OkStatus();
}

absl::Status SecretsManager::Commit(const std::string& name, std::optional<Secret> before) {
  absl::Status written = WriteFileAtomically(FilePath(options_.dir), EncodeSecrets(secrets_));
  if (written.ok()) return written;
  if (before) {
    secrets_[name] = *std::move(before);
  } else {
    secrets_.erase(name);
  }
  return Error(absl::StatusCode::kInternal, kInternalServiceError,
               absl::StrCat("cannot keep the secret: ", written.message()));
}

void SecretsManager::PurgeDeleted() {
  const absl::Time now = options_.clock->Now();
  const size_t before = secrets_.size();
  std::erase_if(secrets_, [now](const auto& entry) { return entry.second.deletion_date <= now; });
  // A failed write leaves them in the file; the next load purges them again.
  if (secrets_.size() != before) {
    (void)WriteFileAtomically(FilePath(options_.dir), EncodeSecrets(secrets_));
  }
}

const Secret* SecretsManager::Find(const std::string& secret_id) {
  PurgeDeleted();
  auto by_name = secrets_.find(secret_id);
  if (by_name != secrets_.end()) return &by_name->second;
  for (const auto& entry : secrets_) {
    const Secret& s = entry.second;
    // The full ARN, or the partial one without "-XXXXXX".
    if (s.arn == secret_id || s.arn.substr(0, s.arn.size() - 7) == secret_id) return &s;
  }
  return nullptr;
}

absl::StatusOr<Secret*> SecretsManager::Live(const std::string& secret_id,
                                             absl::string_view operation) {
  const Secret* found = Find(secret_id);
  if (found == nullptr) return NotFound();
  if (found->deletion_date != absl::InfiniteFuture()) return MarkedForDeletion(operation);
  return &secrets_[found->name];
}

std::string SecretsManager::NewVersionId(const std::string& token) const {
  return token.empty() ? RandomUuid(*options_.random) : token;
}

absl::StatusOr<sm::CreateSecretResponse> SecretsManager::CreateSecret(
    const sm::CreateSecretRequest& request) {
  if (!ValidName(request.name())) {
    return Invalid("Name: 1-512 characters of letters, digits and /_+=.@-");
  }
  if (absl::Status s = CheckValue(request.has_secret_string(), request.has_secret_binary());
      !s.ok()) {
    return s;
  }
  if (const Secret* existing = Find(request.name()); existing != nullptr) {
    if (existing->deletion_date != absl::InfiniteFuture()) {
      return Error(absl::StatusCode::kFailedPrecondition, kInvalidRequestException,
                   "You can't create this secret because a secret with this name is already "
                   "scheduled for deletion.");
    }
    return Error(absl::StatusCode::kAlreadyExists, kResourceExistsException,
                 absl::StrCat("The operation failed because the secret ", request.name(),
                              " already exists."));
  }
  const absl::Time now = options_.clock->Now();
  Secret secret{.name = request.name(),
                .arn = absl::StrCat("arn:", options_.scope.partition, ":secretsmanager:",
                                    options_.scope.region, ":", options_.scope.account,
                                    ":secret:", request.name(), "-"),
                .description = request.description(),
                .kms_key_id = request.kms_key_id(),
                .created = now,
                .last_changed = now};
  for (int i = 0; i < 6; ++i) secret.arn.push_back(kAlphabet[options_.random->Next() % 62]);
  for (const sm::Tag& tag : request.tags()) secret.tags.emplace_back(tag.key(), tag.value());
  sm::CreateSecretResponse response;
  if (request.has_secret_string() || request.has_secret_binary()) {
    SecretVersion version{.id = NewVersionId(request.client_request_token()),
                          .stages = {kAwsCurrent},
                          .created = now};
    if (request.has_secret_string()) version.string_value = request.secret_string();
    if (request.has_secret_binary()) version.binary_value = request.secret_binary();
    response.set_version_id(version.id);
    secret.versions.push_back(std::move(version));
  }
  response.set_arn(secret.arn);
  response.set_name(secret.name);
  secrets_[secret.name] = std::move(secret);
  if (absl::Status s = Commit(request.name(), std::nullopt); !s.ok()) return s;
  return response;
}

absl::StatusOr<sm::PutSecretValueResponse> SecretsManager::PutSecretValue(
    const sm::PutSecretValueRequest& request) {
  if (absl::Status s = CheckValue(request.has_secret_string(), request.has_secret_binary());
      !s.ok()) {
    return s;
  }
  if (!request.has_secret_string() && !request.has_secret_binary()) {
    return Invalid("You must provide either SecretString or SecretBinary.");
  }
  absl::StatusOr<Secret*> live = Live(request.secret_id(), "PutSecretValue");
  if (!live.ok()) return live.status();
  Secret& secret = **live;
  const std::vector<std::string> stages =
      request.version_stages_size() > 0
          ? std::vector<std::string>(request.version_stages().begin(),
                                     request.version_stages().end())
          : std::vector<std::string>{kAwsCurrent};
  sm::PutSecretValueResponse response;
  response.set_arn(secret.arn);
  response.set_name(secret.name);
  const std::string id = NewVersionId(request.client_request_token());
  for (const SecretVersion& v : secret.versions) {
    if (v.id != id) continue;
    // The same token again: the same value is a retry, another value a conflict.
    const bool same = v.string_value == (request.has_secret_string()
                                             ? std::optional(request.secret_string())
                                             : std::nullopt) &&
                      v.binary_value == (request.has_secret_binary()
                                             ? std::optional(request.secret_binary())
                                             : std::nullopt);
    if (!same) {
      return Error(absl::StatusCode::kAlreadyExists, kResourceExistsException,
                   "A version with this ClientRequestToken already exists with another value.");
    }
    response.set_version_id(v.id);
    for (const std::string& stage : v.stages) response.add_version_stages(stage);
    return response;
  }
  const Secret before = secret;
  const absl::Time now = options_.clock->Now();
  SecretVersion version{.id = id, .created = now};
  if (request.has_secret_string()) version.string_value = request.secret_string();
  if (request.has_secret_binary()) version.binary_value = request.secret_binary();
  secret.versions.push_back(std::move(version));
  MoveStages(secret, id, stages);
  secret.last_changed = now;
  response.set_version_id(id);
  for (const std::string& stage : stages) response.add_version_stages(stage);
  if (absl::Status s = Commit(secret.name, before); !s.ok()) return s;
  return response;
}

absl::StatusOr<sm::GetSecretValueResponse> SecretsManager::GetSecretValue(
    const sm::GetSecretValueRequest& request) {
  absl::StatusOr<Secret*> live = Live(request.secret_id(), "GetSecretValue");
  if (!live.ok()) return live.status();
  Secret& secret = **live;
  const SecretVersion* version =
      FindVersion(secret, request.version_id(), request.version_stage());
  if (version == nullptr) {
    return Error(absl::StatusCode::kNotFound, kResourceNotFoundException,
                 absl::StrCat("Secrets Manager can't find the specified secret value for ",
                              request.has_version_id()
                                  ? absl::StrCat("VersionId: ", request.version_id())
                                  : absl::StrCat("staging label: ",
                                                 request.has_version_stage()
                                                     ? request.version_stage()
                                                     : kAwsCurrent)));
  }
  sm::GetSecretValueResponse response;
  response.set_arn(secret.arn);
  response.set_name(secret.name);
  response.set_version_id(version->id);
  if (version->string_value) response.set_secret_string(*version->string_value);
  if (version->binary_value) response.set_secret_binary(*version->binary_value);
  for (const std::string& stage : version->stages) response.add_version_stages(stage);
  response.set_created_date(Seconds(version->created));
  // AWS keeps the day of the last access only; a read changes nothing else, so no write.
  secret.last_accessed = absl::FromUnixSeconds(
      absl::ToUnixSeconds(options_.clock->Now()) / 86400 * 86400);
  return response;
}

namespace {

template <typename Shape>
void FillMetadata(const Secret& secret, Shape& out) {
  out.set_arn(secret.arn);
  out.set_name(secret.name);
  if (!secret.description.empty()) out.set_description(secret.description);
  if (!secret.kms_key_id.empty()) out.set_kms_key_id(secret.kms_key_id);
  out.set_created_date(Seconds(secret.created));
  out.set_last_changed_date(Seconds(secret.last_changed));
  if (secret.last_accessed != absl::InfinitePast()) {
    out.set_last_accessed_date(Seconds(secret.last_accessed));
  }
  if (secret.deletion_date != absl::InfiniteFuture()) {
    out.set_deleted_date(Seconds(secret.deletion_date));
  }
  for (const auto& tag : secret.tags) {
    sm::Tag* t = out.add_tags();
    t->set_key(tag.first);
    t->set_value(tag.second);
  }
}

}  // namespace

absl::StatusOr<sm::DescribeSecretResponse> SecretsManager::DescribeSecret(
    const sm::DescribeSecretRequest& request) {
  const Secret* secret = Find(request.secret_id());
  if (secret == nullptr) return NotFound();
  sm::DescribeSecretResponse response;
  FillMetadata(*secret, response);
  for (const SecretVersion& v : secret->versions) {
    if (v.stages.empty()) continue;  // AWS lists the labelled versions.
    auto& list = (*response.mutable_version_ids_to_stages())[v.id];
    for (const std::string& stage : v.stages) list.add_values(stage);
  }
  return response;
}

namespace {

bool Matches(const Secret& secret, const sm::Filter& filter) {
  auto any = [&](auto test) {
    return std::any_of(filter.values().begin(), filter.values().end(), test);
  };
  const std::string& key = filter.key();
  return any([&](const std::string& value) {
    const bool negate = absl::StartsWith(value, "!");
    const std::string v = negate ? value.substr(1) : value;
    bool hit = false;
    if (key == "name" || key == "all") hit |= absl::StartsWith(secret.name, v);
    if (key == "description" || key == "all") hit |= absl::StartsWith(secret.description, v);
    for (const auto& tag : secret.tags) {
      if (key == "tag-key" || key == "all") hit |= absl::StartsWith(tag.first, v);
      if (key == "tag-value" || key == "all") hit |= absl::StartsWith(tag.second, v);
    }
    return hit != negate;
  });
}

}  // namespace

absl::StatusOr<sm::ListSecretsResponse> SecretsManager::ListSecrets(
    const sm::ListSecretsRequest& request) {
  if (request.has_max_results() && (request.max_results() < 1 || request.max_results() > 100)) {
    return Invalid("MaxResults: must be between 1 and 100");
  }
  PurgeDeleted();
  std::vector<const Secret*> listed;
  for (const auto& entry : secrets_) {
    const Secret& s = entry.second;
    if (s.deletion_date != absl::InfiniteFuture() && !request.include_planned_deletion()) {
      continue;
    }
    const bool all = std::all_of(request.filters().begin(), request.filters().end(),
                                 [&](const sm::Filter& f) { return Matches(s, f); });
    if (all) listed.push_back(&s);
  }
  if (request.sort_by() != "name") {  // AWS's default order: created date.
    std::stable_sort(listed.begin(), listed.end(), [](const Secret* a, const Secret* b) {
      return a->created < b->created;
    });
  }
  if (request.sort_order() == "desc") std::reverse(listed.begin(), listed.end());
  size_t start = 0;
  if (request.has_next_token() &&
      (!absl::SimpleAtoi(request.next_token(), &start) || start > listed.size())) {
    return Error(absl::StatusCode::kInvalidArgument, kInvalidNextTokenException,
                 "NextToken: not a token this API returned");
  }
  const size_t end = std::min(listed.size(),
                              start + (request.has_max_results() ? request.max_results() : 100));
  sm::ListSecretsResponse response;
  for (size_t i = start; i < end; ++i) {
    sm::SecretListEntry* entry = response.add_secret_list();
    FillMetadata(*listed[i], *entry);
    for (const SecretVersion& v : listed[i]->versions) {
      if (v.stages.empty()) continue;
      auto& list = (*entry->mutable_secret_versions_to_stages())[v.id];
      for (const std::string& stage : v.stages) list.add_values(stage);
    }
  }
  if (end < listed.size()) response.set_next_token(absl::StrCat(end));
  return response;
}

absl::StatusOr<sm::DeleteSecretResponse> SecretsManager::DeleteSecret(
    const sm::DeleteSecretRequest& request) {
  const bool force = request.force_delete_without_recovery();
  if (force && request.has_recovery_window_in_days()) {
    return Invalid("You can't use ForceDeleteWithoutRecovery in conjunction with "
                   "RecoveryWindowInDays.");
  }
  const int64_t days = request.has_recovery_window_in_days()
                           ? request.recovery_window_in_days() : 30;
  if (days < 7 || days > 30) {
    return Invalid("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
  }
  const Secret* found = Find(request.secret_id());
  if (found == nullptr) return NotFound();
  if (found->deletion_date != absl::InfiniteFuture() && !force) {
    return MarkedForDeletion("DeleteSecret");
  }
  const Secret before = *found;
  sm::DeleteSecretResponse response;
  response.set_arn(before.arn);
  response.set_name(before.name);
  const absl::Time now = options_.clock->Now();
  if (force) {
    secrets_.erase(before.name);
    response.set_deletion_date(Seconds(now));
  } else {
    Secret& secret = secrets_[before.name];
    secret.deletion_date = now + absl::Hours(24 * days);
    response.set_deletion_date(Seconds(secret.deletion_date));
  }
  if (absl::Status s = Commit(before.name, before); !s.ok()) return s;
  return response;
}

}  // namespace skiff::secrets
