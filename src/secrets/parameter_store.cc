#include "skiff/secrets/parameter_store.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "skiff/base/files.h"
#include "secrets/errors.h"
#include "secrets/secret_files.h"

namespace skiff::secrets {
namespace {

constexpr int kMaxVersions = 100;   // SSM keeps the last 100 versions.
constexpr int kMaxLevels = 15;      // Hierarchy depth.
constexpr size_t kMaxValue = 4096;  // Standard tier.

std::string FilePath(const std::string& dir) {
  return (std::filesystem::path(dir) / "ssm.json").string();
}

absl::Status Validation(absl::string_view message) {
  return InvalidParameter(kValidationException, message);
}

absl::Status NotFound(absl::string_view name) {
  return Error(absl::StatusCode::kNotFound, kParameterNotFound,
               absl::StrCat("Parameter ", name, " not found."));
}

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

absl::Status CheckName(const std::string& name) {
  if (name.empty() || name.size() > 1011) {
    return Validation("Name: must be 1-1011 characters");
  }
  const bool chars_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || absl::StrContains("_.-/", c);
  });
  if (!chars_ok) {
    return Validation("Parameter name: can't be prefixed with \"aws\" or \"ssm\" "
                      "(case-insensitive), and may hold only a-zA-Z0-9_.-/");
  }
  const std::string first =
      absl::AsciiStrToLower(std::string(absl::StripPrefix(name, "/")).substr(0, 3));
  if (first == "aws" || first == "ssm") {
    return Validation("Parameter name: can't be prefixed with \"aws\" or \"ssm\" "
                      "(case-insensitive).");
  }
  if (name.back() == '/' || absl::StrContains(name, "//") ||
      (absl::StrContains(name, '/') && name.front() != '/')) {
    return Validation("Parameter name: a hierarchy is /a/b/name (fully qualified, no empty "
                      "levels)");
  }
  if (std::count(name.begin(), name.end(), '/') > kMaxLevels) {
    return Error(absl::StatusCode::kInvalidArgument, kHierarchyLevelLimitExceeded,
                 "A hierarchy can have a maximum of 15 levels.");
  }
  return absl::OkStatus();
}

}  // namespace

ParameterStore::ParameterStore(ParameterStoreOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ParameterStore>> ParameterStore::Create(
    ParameterStoreOptions options) {
  std::unique_ptr<ParameterStore> store(new ParameterStore(std::move(options)));
  if (absl::Status s = store->Load(); !s.ok()) return s;
  return store;
}

absl::Status ParameterStore::Load() {
  if (absl::Status s = EnsurePrivateDir(options_.dir); !s.ok()) return s;
  const std::string path = FilePath(options_.dir);
  absl::StatusOr<std::string> text = ReadIfExists(path);
  if (!text.ok()) return text.status();
  absl::StatusOr<std::map<std::string, StoredParameter>> parameters =
      DecodeParameters(*text, path);
  if (!parameters.ok()) return parameters.status();
  parameters_ = *std::move(parameters);
  return absl::OkStatus();
}

absl::Status ParameterStore::Commit(const std::string& name,
                                    std::optional<StoredParameter> before) {
  absl::Status written =
      WriteFileAtomically(FilePath(options_.dir), EncodeParameters(parameters_));
  if (written.ok()) return written;
  if (before) {
    parameters_[name] = *std::move(before);
  } else {
    parameters_.erase(name);
  }
  return Error(absl::StatusCode::kInternal, kInternalServerError,
               absl::StrCat("cannot keep the parameter: ", written.message()));
}

std::string ParameterStore::NameOf(const std::string& name_or_arn) const {
  absl::string_view rest = name_or_arn;
  if (!absl::ConsumePrefix(&rest, "arn:")) return name_or_arn;
  const size_t at = rest.find(":parameter/");
  if (at == absl::string_view::npos) return name_or_arn;
  rest.remove_prefix(at + std::string(":parameter").size());  // "/name" or "/a/b".
  const absl::string_view tail = rest.substr(1);
  return absl::StrContains(tail, '/') ? std::string(rest) : std::string(tail);
}

std::string ParameterStore::ArnOf(const std::string& name) const {
  return absl::StrCat("arn:", options_.scope.partition, ":ssm:", options_.scope.region, ":",
                      options_.scope.account, ":parameter",
                      absl::StartsWith(name, "/") ? "" : "/", name);
}

ssm::Parameter ParameterStore::Shape(const StoredParameter& parameter,
                                     const ParameterVersion& version,
                                     bool with_decryption) const {
  ssm::Parameter out;
  out.set_name(parameter.name);
  out.set_type(version.type);
  out.set_value(version.type == "SecureString" && !with_decryption ? kEncryptedPlaceholder
                                                                   : version.value);
  out.set_version(version.version);
  out.set_last_modified_date(Seconds(version.modified));
  out.set_arn(ArnOf(parameter.name));
  out.set_data_type(version.data_type);
  return out;
}

const ParameterVersion* ParameterStore::FindCurrent(const std::string& name_or_arn) const {
  auto it = parameters_.find(NameOf(name_or_arn));
  if (it == parameters_.end() || it->second.versions.empty()) return nullptr;
  return &it->second.versions.back();
}

absl::StatusOr<ssm::Parameter> ParameterStore::Lookup(const std::string& selector,
                                                      bool with_decryption) const {
  std::string name = NameOf(selector);
  int64_t wanted = 0;
  if (const size_t colon = name.rfind(':'); colon != std::string::npos) {
    if (!absl::SimpleAtoi(name.substr(colon + 1), &wanted) || wanted < 1) {
      return Validation(absl::StrCat("Parameter selector ", name.substr(colon),
                                     ": a version number is expected"));
    }
    name = name.substr(0, colon);
  }
  auto it = parameters_.find(name);
  if (it == parameters_.end()) return NotFound(name);
  const StoredParameter& parameter = it->second;
  if (wanted == 0) return Shape(parameter, parameter.versions.back(), with_decryption);
  for (const ParameterVersion& v : parameter.versions) {
    if (v.version != wanted) continue;
    ssm::Parameter out = Shape(parameter, v, with_decryption);
    out.set_selector(absl::StrCat(":", wanted));
    return out;
  }
  return Error(absl::StatusCode::kNotFound, kParameterVersionNotFound,
               absl::StrCat("Systems Manager could not find version ", wanted,
                            " of ", name, "."));
}

absl::StatusOr<ssm::PutParameterResult> ParameterStore::PutParameter(
    const ssm::PutParameterRequest& request) {
  const std::string name = NameOf(request.name());
  if (absl::Status s = CheckName(name); !s.ok()) return s;
  if (request.value().empty() || request.value().size() > kMaxValue) {
    return Validation("Value: must be 1-4096 characters (Standard tier)");
  }
  if (request.has_tier() && request.tier() != "Standard") {
    return Validation("Tier: a node has the Standard tier only");
  }
  auto it = parameters_.find(name);
  const bool exists = it != parameters_.end();
  if (exists && !request.overwrite()) {
    return Error(absl::StatusCode::kAlreadyExists, kParameterAlreadyExists,
                 "The parameter already exists. To overwrite this value, set the overwrite "
                 "option in the request to true.");
  }
  if (!exists && !request.has_type()) {
    return Validation("Type: required when a parameter is created");
  }
  std::optional<StoredParameter> before;
  if (exists) before = it->second;
  StoredParameter& parameter = parameters_[name];
  parameter.name = name;
  const ParameterVersion* last = exists ? &parameter.versions.back() : nullptr;
  ParameterVersion version{
      .version = last != nullptr ? last->version + 1 : 1,
      .type = request.has_type() ? request.type() : last->type,
      .value = request.value(),
      .description = request.has_description() ? request.description()
                                               : (last != nullptr ? last->description : ""),
      .data_type = request.has_data_type() ? request.data_type() : "text",
      .modified = options_.clock->Now()};
  parameter.versions.push_back(std::move(version));
  if (static_cast<int>(parameter.versions.size()) > kMaxVersions) {
    parameter.versions.erase(parameter.versions.begin());
  }
  ssm::PutParameterResult result;
  result.set_version(parameter.versions.back().version);
  result.set_tier("Standard");
  if (absl::Status s = Commit(name, std::move(before)); !s.ok()) return s;
  return result;
}

absl::StatusOr<ssm::GetParameterResult> ParameterStore::GetParameter(
    const ssm::GetParameterRequest& request) {
  absl::StatusOr<ssm::Parameter> parameter =
      Lookup(request.name(), request.with_decryption());
  if (!parameter.ok()) return parameter.status();
  ssm::GetParameterResult result;
  *result.mutable_parameter() = *std::move(parameter);
  return result;
}

absl::StatusOr<ssm::GetParametersResult> ParameterStore::GetParameters(
    const ssm::GetParametersRequest& request) {
  if (request.names_size() > 10) {
    return Validation("Names: at most 10 names per request");
  }
  ssm::GetParametersResult result;
  for (const std::string& name : request.names()) {
    absl::StatusOr<ssm::Parameter> parameter = Lookup(name, request.with_decryption());
    if (parameter.ok()) {
      *result.add_parameters() = *std::move(parameter);
    } else if (absl::IsNotFound(parameter.status())) {
      result.add_invalid_parameters(name);
    } else {
      return parameter.status();
    }
  }
  return result;
}

absl::StatusOr<ssm::GetParametersByPathResult> ParameterStore::GetParametersByPath(
    const ssm::GetParametersByPathRequest& request) {
  const std::string& path = request.path();
  if (path.empty() || path.front() != '/') {
    return Validation("Path: must start with /");
  }
  if (request.has_max_results() && (request.max_results() < 1 || request.max_results() > 10)) {
    return Validation("MaxResults: must be between 1 and 10");
  }
  const std::string prefix = absl::EndsWith(path, "/") ? path : absl::StrCat(path, "/");
  std::vector<const StoredParameter*> found;
  for (const auto& entry : parameters_) {
    const std::string& name = entry.first;
    if (!absl::StartsWith(name, prefix)) continue;
    if (!request.recursive() && absl::StrContains(name.substr(prefix.size()), '/')) continue;
    found.push_back(&entry.second);
  }
  size_t start = 0;
  if (request.has_next_token() &&
      (!absl::SimpleAtoi(request.next_token(), &start) || start > found.size())) {
    return Error(absl::StatusCode::kInvalidArgument, kSsmInvalidNextToken,
                 "The specified token isn't valid.");
  }
  const size_t end =
      std::min(found.size(), start + (request.has_max_results() ? request.max_results() : 10));
  ssm::GetParametersByPathResult result;
  for (size_t i = start; i < end; ++i) {
    *result.add_parameters() =
        Shape(*found[i], found[i]->versions.back(), request.with_decryption());
  }
  if (end < found.size()) result.set_next_token(absl::StrCat(end));
  return result;
}

absl::StatusOr<ssm::DeleteParameterResult> ParameterStore::DeleteParameter(
    const ssm::DeleteParameterRequest& request) {
  const std::string name = NameOf(request.name());
  auto it = parameters_.find(name);
  if (it == parameters_.end()) return NotFound(name);
  StoredParameter before = std::move(it->second);
  parameters_.erase(it);
  if (absl::Status s = Commit(name, std::move(before)); !s.ok()) return s;
  return ssm::DeleteParameterResult();
}

}  // namespace skiff::secrets
