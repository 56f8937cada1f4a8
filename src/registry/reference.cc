#include "skiff/registry/reference.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace skiff::registry {
namespace {

constexpr absl::string_view kDefaultDomain = "docker.io";

bool IsDomain(absl::string_view component) {
  return absl::StrContains(component, '.') || absl::StrContains(component, ':') ||
         component == "localhost" || absl::AsciiStrToLower(component) != component;
}

// A path component: [a-z0-9]+ separated by '.', '_', '__' or '-'s.
bool IsPathComponent(absl::string_view c) {
  if (c.empty() || !absl::ascii_isalnum(c.front()) || !absl::ascii_isalnum(c.back())) return false;
  for (char ch : c) {
    if (absl::ascii_isupper(ch)) return false;
    if (!absl::ascii_isalnum(ch) && ch != '.' && ch != '_' && ch != '-') return false;
  }
  return true;
}

// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
bool IsTag(absl::string_view tag) {
  if (tag.empty() || tag.size() > 128 || tag.front() == '.' || tag.front() == '-') return false;
  for (char ch : tag) {
    if (!absl::ascii_isalnum(ch) && ch != '_' && ch != '.' && ch != '-') return false;
  }
  return true;
}

bool IsSha256(absl::string_view digest) {
  if (!absl::ConsumePrefix(&digest, "sha256:") || digest.size() != 64) return false;
  for (char ch : digest) {
    if (!absl::ascii_isdigit(ch) && (ch < 'a' || ch > 'f')) return false;
  }
  return true;
}

}  // namespace

std::string Reference::Name() const {
  if (!digest.empty()) return absl::StrCat(domain, "/", repository, "@", digest);
  return absl::StrCat(domain, "/", repository, ":", tag);
}

std::string Reference::ApiHost() const {
  return domain == kDefaultDomain ? std::string("registry-1.docker.io") : domain;
}

absl::StatusOr<Reference> ParseReference(absl::string_view text) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("image reference \"", text, "\": ", why));
  };
  if (text.empty()) return invalid("empty");
  if (text.size() > 4096) return invalid("too long");
  Reference ref;
  absl::string_view rest = text;
  if (const size_t at = rest.find('@'); at != absl::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!IsSha256(ref.digest)) return invalid("digest must be sha256: and 64 lower-case hex digits");
  }
  const size_t last_slash = rest.rfind('/');
  std::string tag;
  if (const size_t colon = rest.rfind(':');
      colon != absl::string_view::npos &&
      (last_slash == absl::string_view::npos || colon > last_slash)) {
    tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!IsTag(tag)) return invalid(absl::StrCat("bad tag \"", tag, "\""));
  }
  ref.domain = std::string(kDefaultDomain);
  absl::string_view path = rest;
  if (const size_t slash = rest.find('/');
      slash != absl::string_view::npos && IsDomain(rest.substr(0, slash))) {
    ref.domain = absl::AsciiStrToLower(rest.substr(0, slash));
    path = rest.substr(slash + 1);
  }
  if (ref.domain == "index.docker.io") ref.domain = std::string(kDefaultDomain);
  if (path.empty()) return invalid("no repository");
  for (absl::string_view component : absl::StrSplit(path, '/')) {
    if (!IsPathComponent(component)) {
      return invalid(absl::StrCat("repository component \"", component,
                                  "\" must be lower-case letters and digits, separated by . _ -"));
    }
  }
  ref.repository = std::string(path);
  if (ref.domain == kDefaultDomain && !absl::StrContains(path, '/')) {
    ref.repository = absl::StrCat("library/", path);
  }
  if (ref.digest.empty()) ref.tag = tag.empty() ? "latest" : tag;
  return ref;
}

bool IsLoopbackRegistry(absl::string_view domain) {
  absl::string_view host = domain;
  if (absl::StartsWith(host, "[")) {
    return absl::StartsWith(host, "[::1]");
  }
  if (const size_t colon = host.find(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host == "localhost") return true;
  // 127.x.y.z literally, not a host name that happens to start with "127.".
  return absl::StartsWith(host, "127.") &&
         host.find_first_not_of("0123456789.") == absl::string_view::npos &&
         std::count(host.begin(), host.end(), '.') == 3;
}

}  // namespace skiff::registry
