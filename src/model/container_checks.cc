#include "skiff/model/container_checks.h"

#include <vector>

#include "skiff/base/paths.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace skiff::model {
namespace {

std::optional<std::string> IdProblem(absl::string_view what, absl::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;  // A name.
  }
  constexpr absl::string_view kMax = "2147483647";
  absl::string_view digits = text;
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  if (digits.size() > kMax.size() || (digits.size() == kMax.size() && digits > kMax)) {
    return absl::StrCat(what, " ", text, " is outside 0..", kMax);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> WorkingDirectoryProblem(absl::string_view path) {
  if (!absl::StartsWith(path, "/")) return std::string("must be an absolute path");
  if (IsAtOrUnder(CleanAbsolutePath(path), "/proc")) {
    return std::string("must not be /proc or under it");
  }
  return std::nullopt;
}

std::optional<std::string> ContainerMountPathProblem(absl::string_view path) {
  if (!absl::StartsWith(path, "/")) return std::string("must be an absolute path");
  const std::string clean = CleanAbsolutePath(path);
  if (clean == "/") return std::string("must not be the container's root directory");
  if (IsAtOrUnder(clean, "/proc")) {
    return std::string("must not be /proc or under it (runc mounts nothing there)");
  }
  return std::nullopt;
}

std::optional<std::string> UserProblem(absl::string_view user) {
  std::vector<absl::string_view> parts = absl::StrSplit(user, ':');
  if (parts.size() > 2) return std::string("must be user, user:group, uid or uid:gid");
  if (auto problem = IdProblem("uid", parts[0])) return problem;
  if (parts.size() == 2) return IdProblem("gid", parts[1]);
  return std::nullopt;
}

bool IsReservedLabelKey(absl::string_view key) {
  return absl::StartsWith(key, "skiff.") || absl::StartsWith(key, "containerd.io/") ||
         absl::StartsWith(key, "io.containerd.");
}

}  // namespace skiff::model
