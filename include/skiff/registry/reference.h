// Image references as the OCI distribution protocol needs them: the registry host to talk to,
// the repository path on it, and a tag or digest. Parsing validates what Docker's
// distribution/reference grammar rejects and normalizes as Docker does ("nginx" is
// docker.io/library/nginx:latest), so Reference::Name() is the same string as
// runtime::NormalizeImageReference gives. Plain values and pure functions; any thread.
#ifndef SKIFF_REGISTRY_REFERENCE_H_
#define SKIFF_REGISTRY_REFERENCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff::registry {

struct Reference {
  std::string domain;      // "docker.io", "localhost:5000", "127.0.0.1:5000".
  std::string repository;  // "library/nginx", "team/app".
  std::string tag;         // Empty when a digest is given (Docker drops the tag then).
  std::string digest;      // "sha256:<hex>" or empty.

  // What the manifest is fetched by: the digest when there is one, else the tag.
  const std::string& Identifier() const { return digest.empty() ? tag : digest; }
  // The normalized reference: "docker.io/library/nginx:latest", "localhost:5000/x@sha256:...".
  std::string Name() const;
  // The host the API is served on: Docker Hub's API lives at registry-1.docker.io.
  std::string ApiHost() const;
};

// InvalidArgument naming the part that is wrong (empty, upper-case repository, bad tag, digest
// that is not sha256:<64 hex>).
absl::StatusOr<Reference> ParseReference(absl::string_view reference);

// Whether the registry at `domain` (host[:port]) is a loopback one, reachable over plain HTTP
// without configuration: localhost, 127.0.0.0/8 or [::1].
bool IsLoopbackRegistry(absl::string_view domain);

}  // namespace skiff::registry

#endif  // SKIFF_REGISTRY_REFERENCE_H_
