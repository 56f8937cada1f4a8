// RegistryClient: the client half of the OCI distribution protocol (what `docker pull` speaks)
// for one repository, over libcurl: manifests by tag or digest, blobs from an offset on (HTTP
// Range, so an interrupted layer resumes where the registry allows it), and the auth dance: a
// 401 with a WWW-Authenticate challenge is answered with an anonymous or credentialed bearer
// token (Docker token auth) or with basic auth, then the request is retried once.
//
// HTTPS with the system CA store; plain HTTP only for loopback registries (localhost, 127.x,
// [::1]) and the hosts RegistryOptions marks insecure. The client does not hash: callers verify
// digests. Errors: NotFound (the registry does not know the manifest or blob), PermissionDenied
// (authentication refused or missing), Unavailable (cannot connect, connection dropped,
// 5xx/429), FailedPrecondition (other refusals); the message carries the registry's own error
// code and text. Credentials never appear in messages or logs.
//
// Made per pull by its owner and used by one thread at a time; it keeps the connection (and the
// token) for the requests of that pull.
#ifndef SKIFF_REGISTRY_REGISTRY_CLIENT_H_
#define SKIFF_REGISTRY_REGISTRY_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "skiff/registry/auth.h"
#include "skiff/registry/reference.h"

namespace skiff::registry {

struct RegistryOptions {
  // Registries (host[:port], as in image references) reached over plain HTTP.
  std::vector<std::string> insecure_registries;
  absl::Duration connect_timeout = absl::Seconds(15);
  // A transfer that moves less than 1 KiB/s for this long is given up (Unavailable).
  absl::Duration stall_timeout = absl::Seconds(30);
};

struct FetchedManifest {
  std::string media_type;  // From Content-Type (may be empty or generic).
  std::string body;
};

class RegistryClient {
 public:
  using Sink = std::function<absl::Status(absl::string_view data)>;

  // `credentials`: used for basic auth and to ask the token service; nullopt is anonymous.
  RegistryClient(Reference reference, RegistryOptions options,
                 std::optional<Credentials> credentials);
  ~RegistryClient();
  RegistryClient(const RegistryClient&) = delete;
  RegistryClient& operator=(const RegistryClient&) = delete;

  const Reference& reference() const { return reference_; }
  // "https://host" or "http://host" for this registry.
  std::string BaseUrl() const;

  // The manifest or index `identifier` (a tag or a digest) names; at most 4 MiB.
  absl::StatusOr<FetchedManifest> GetManifest(const std::string& identifier);
  // The blob's bytes from `offset` on, handed to `sink` as they arrive. A sink error ends the
  // transfer and is returned as it is.
  absl::Status FetchBlob(const std::string& digest, int64_t offset, const Sink& sink);

  struct Response;  // Of one HTTP request; defined in the .cc.

 private:
  absl::StatusOr<Response> Get(const std::string& url, const std::vector<std::string>& headers,
                               int64_t offset, const Sink* sink);
  // GET with this client's auth, answering one 401 challenge.
  absl::StatusOr<Response> AuthorizedGet(const std::string& url,
                                         std::vector<std::string> headers, int64_t offset,
                                         const Sink* sink);
  absl::Status Authorize(const std::string& challenge_header);

  Reference reference_;
  RegistryOptions options_;
  std::optional<Credentials> credentials_;
  std::string authorization_;  // "Authorization: ..." once a challenge was answered.
  void* curl_;                 // CURL*, reused so the connection is kept.
};

// A registry error body ({"errors": [{"code": ..., "message": ...}]}) as "CODE: message; ...",
// or the start of the body when it is not one.
std::string DescribeRegistryError(absl::string_view body);

}  // namespace skiff::registry

#endif  // SKIFF_REGISTRY_REGISTRY_CLIENT_H_
