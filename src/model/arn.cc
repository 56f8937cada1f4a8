#include "absl/strings/string_view.h"
#include "skiff/model/arn.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "skiff/model/errors.h"

namespace skiff::model {

std::string ArnScope::Prefix() const {
  return absl::StrCat("arn:", partition, ":ecs:", region, ":", account, ":");
}

std::string TaskDefinitionArn(const ArnScope& scope, absl::string_view family, int revision) {
  return absl::StrCat(scope.Prefix(), "task-definition/", family, ":", revision);
}

std::string ClusterArn(const ArnScope& scope, absl::string_view cluster) {
  return absl::StrCat(scope.Prefix(), "cluster/", cluster);
}

std::string TaskArn(const ArnScope& scope, absl::string_view cluster, absl::string_view task_id) {
  return absl::StrCat(scope.Prefix(), "task/", cluster, "/", task_id);
}

std::string ContainerArn(const ArnScope& scope, absl::string_view cluster,
                         absl::string_view task_id, absl::string_view container) {
  return absl::StrCat(scope.Prefix(), "container/", cluster, "/", task_id, "/", container);
}

std::string ServiceArn(const ArnScope& scope, absl::string_view cluster,
                       absl::string_view service) {
  return absl::StrCat(scope.Prefix(), "service/", cluster, "/", service);
}

std::string ContainerInstanceArn(const ArnScope& scope, absl::string_view cluster) {
  return absl::StrCat(scope.Prefix(), "container-instance/", cluster, "/", scope.instance_id);
}

absl::StatusOr<std::string> ParseServiceRef(const ArnScope& scope, absl::string_view text,
                                            absl::string_view field) {
  absl::string_view name = text;
  if (absl::StartsWith(name, "arn:")) {
    const std::string prefix = absl::StrCat(scope.Prefix(), "service/");
    if (!absl::StartsWith(name, prefix)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": a service ARN must start with ", prefix, "; got ", QuoteValue(text)));
    }
    name.remove_prefix(prefix.size());
    const size_t slash = name.rfind('/');
    if (slash != absl::string_view::npos) name.remove_prefix(slash + 1);
  }
  if (!IsValidName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be 1-255 letters, digits, hyphens or underscores; got ", QuoteValue(text)));
  }
  return std::string(name);
}

absl::StatusOr<std::string> ParseTaskRef(const ArnScope& scope, absl::string_view text,
                                         absl::string_view field) {
  absl::string_view id = text;
  if (absl::StartsWith(id, "arn:")) {
    const std::string prefix = absl::StrCat(scope.Prefix(), "task/");
    if (!absl::StartsWith(id, prefix)) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": a task ARN must start with ", prefix, "; got ", QuoteValue(text)));
    }
    id.remove_prefix(prefix.size());
    const size_t slash = id.rfind('/');
    if (slash != absl::string_view::npos) id.remove_prefix(slash + 1);
  }
  if (id.size() != 32 || id.find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": a task is its 32-hex-digit id or its ARN; got ", QuoteValue(text)));
  }
  return std::string(id);
}

absl::StatusOr<std::string> ParseClusterRef(const ArnScope& scope, absl::string_view text) {
  absl::string_view name = text;
  if (name.empty()) return std::string("default");
  if (absl::StartsWith(name, "arn:")) {
    const std::string prefix = absl::StrCat(scope.Prefix(), "cluster/");
    if (!absl::StartsWith(name, prefix)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cluster: a cluster ARN must start with ", prefix, "; got ", QuoteValue(text)));
    }
    name.remove_prefix(prefix.size());
  }
  if (!IsValidName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cluster: must be 1-255 letters, digits, hyphens or underscores; got ", QuoteValue(text)));
  }
  return std::string(name);
}

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

absl::StatusOr<TaskDefinitionRef> ParseTaskDefinitionRef(const ArnScope& scope,
                                                         absl::string_view text,
                                                         absl::string_view field) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", why, "; got ", QuoteValue(text)));
  };
  absl::string_view rest = text;
  if (absl::StartsWith(rest, "arn:")) {
    const std::string prefix = absl::StrCat(scope.Prefix(), "task-definition/");
    if (!absl::StartsWith(rest, prefix)) {
      return invalid(absl::StrCat("a task definition ARN must start with ", prefix));
    }
    rest.remove_prefix(prefix.size());
  }
  TaskDefinitionRef ref;
  const size_t colon = rest.rfind(':');
  if (colon != absl::string_view::npos) {
    int revision = 0;
    const absl::string_view digits = rest.substr(colon + 1);
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != absl::string_view::npos ||
        !absl::SimpleAtoi(digits, &revision) || revision < 1) {
      return invalid("revision must be a positive integer");
    }
    ref.revision = revision;
    rest = rest.substr(0, colon);
  } else if (absl::StartsWith(text, "arn:")) {
    return invalid("a task definition ARN must end with :REVISION");
  }
  if (!IsValidName(rest)) {
    return invalid("family must be 1-255 letters, digits, hyphens or underscores");
  }
  ref.family = std::string(rest);
  return ref;
}

}  // namespace skiff::model
