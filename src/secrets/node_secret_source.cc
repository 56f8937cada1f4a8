#include "skiff/secrets/node_secret_source.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "skiff/secrets/value_from.h"

namespace skiff::secrets {
namespace {

using json = nlohmann::json;

// The member `key` of the JSON object `text`, as ECS gives it: a string as is, anything else as
// its JSON text.
absl::StatusOr<std::string> JsonKey(const std::string& text, const std::string& key,
                                    const std::string& value_from) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "asm: secret ", value_from, ": the SecretString is not a JSON object, so it has no key ",
        key));
  }
  auto it = doc.find(key);
  if (it == doc.end()) {
    return absl::NotFoundError(
        absl::StrCat("asm: secret ", value_from, ": the SecretString has no JSON key ", key));
  }
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace

absl::StatusOr<std::string> NodeSecretSource::Resolve(const std::string& value_from) {
  absl::StatusOr<SecretReference> ref = ParseValueFrom(value_from);
  if (!ref.ok()) return ref.status();
  const bool plain_name = ref->service == SecretReference::Service::kByName &&
                          ref->json_key.empty() && ref->version_stage.empty() &&
                          ref->version_id.empty();
  if (ref->service == SecretReference::Service::kParameterStore || plain_name) {
    if (const ParameterVersion* p = parameters_->FindCurrent(ref->id); p != nullptr) {
      return p->value;
    }
    if (ref->service == SecretReference::Service::kParameterStore) {
      return absl::NotFoundError(
          absl::StrCat("ssm: invalid parameters: ", ref->id, " (ParameterNotFound)"));
    }
  }
  const Secret* secret = secrets_->Find(ref->id);
  if (secret == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        plain_name ? "ssm, asm: no parameter or secret " : "asm: secret ", value_from,
        plain_name ? "" : ": ResourceNotFoundException: Secrets Manager can't find the "
                          "specified secret."));
  }
  if (secret->deletion_date != absl::InfiniteFuture()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "asm: secret ", value_from, ": InvalidRequestException: it is marked for deletion"));
  }
  const SecretVersion* version = FindVersion(*secret, ref->version_id, ref->version_stage);
  if (version == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "asm: secret ", value_from, ": ResourceNotFoundException: no version ",
        ref->version_id.empty() ? "with stage " : "", ref->version_id.empty()
            ? (ref->version_stage.empty() ? kAwsCurrent : ref->version_stage)
            : ref->version_id));
  }
  if (!version->string_value) {
    return absl::FailedPreconditionError(
        absl::StrCat("asm: secret ", value_from, ": it holds no SecretString"));
  }
  if (ref->json_key.empty()) return *version->string_value;
  return JsonKey(*version->string_value, ref->json_key, value_from);
}

}  // namespace skiff::secrets
