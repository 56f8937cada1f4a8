// Docker's reference normalization (distribution/reference ParseDockerRef), which containerd's
// importer and ctr apply too, so that "busybox" and "docker.io/library/busybox:latest" name the
// same image record.
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {
namespace {

constexpr absl::string_view kDefaultDomain = "docker.io";
constexpr absl::string_view kLegacyDefaultDomain = "index.docker.io";
constexpr absl::string_view kOfficialRepoPrefix = "library/";

// Whether the first path component names a registry rather than a Docker Hub user: it has a
// '.' (a host name) or a ':' (a port), is "localhost", or has upper case (which repository
// names cannot).
bool IsDomain(absl::string_view component) {
  return absl::StrContains(component, '.') || absl::StrContains(component, ':') ||
         component == "localhost" || absl::AsciiStrToLower(component) != component;
}

}  // namespace

std::string NormalizeImageReference(const std::string& reference) {
  if (reference.empty()) return reference;
  absl::string_view rest = reference;
  std::string digest;
  if (const size_t at = rest.find('@'); at != absl::string_view::npos) {
    digest = std::string(rest.substr(at));
    rest = rest.substr(0, at);
  }
  std::string tag;
  const size_t last_slash = rest.rfind('/');
  if (const size_t colon = rest.rfind(':');
      colon != absl::string_view::npos &&
      (last_slash == absl::string_view::npos || colon > last_slash)) {
    tag = std::string(rest.substr(colon));
    rest = rest.substr(0, colon);
  }

  std::string domain(kDefaultDomain);
  absl::string_view path = rest;
  if (const size_t slash = rest.find('/');
      slash != absl::string_view::npos && IsDomain(rest.substr(0, slash))) {
    domain = std::string(rest.substr(0, slash));
    path = rest.substr(slash + 1);
  }
  if (domain == kLegacyDefaultDomain) domain = std::string(kDefaultDomain);
  std::string name = absl::StrCat(domain, "/", path);
  if (domain == kDefaultDomain && !absl::StrContains(path, '/')) {
    name = absl::StrCat(domain, "/", kOfficialRepoPrefix, path);
  }
  // A digest pins the content; docker drops a tag given alongside it.
  if (!digest.empty()) return absl::StrCat(name, digest);
  return absl::StrCat(name, tag.empty() ? ":latest" : tag);
}

}  // namespace skiff::runtime
