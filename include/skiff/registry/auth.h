// Registry authentication: the WWW-Authenticate challenge a registry answers 401 with (RFC 7235,
// as Docker's token auth uses it: `Bearer realm="...",service="...",scope="..."` or
// `Basic realm="..."`), the credentials a pull may carry, and the credentials file that stands
// in for AWS Secrets Manager when a task definition names repositoryCredentials.
//
// The credentials file is JSON, readable by skiffd only (0600 recommended):
//
//   {
//     "secrets": {
//       "arn:aws:secretsmanager:local:000000000000:secret:registry-x": {
//         "username": "deploy", "password": "s3cret"
//       }
//     },
//     "registries": {
//       "127.0.0.1:5000": {"username": "deploy", "password": "s3cret"}
//     }
//   }
//
// "secrets" maps a container definition's repositoryCredentials.credentialsParameter (an ARN or
// a bare secret name, looked up as given) to the secret's value, the {"username", "password"}
// object ECS's private registry authentication stores in Secrets Manager. "registries" gives
// credentials for pulls that name none (skiff pull-image, tasks without repositoryCredentials),
// by registry host[:port]. Both members are optional. Plain values, parsed once; any thread.
// Credentials are never logged: Credentials has no printer, and errors name only the key.
#ifndef SKIFF_REGISTRY_AUTH_H_
#define SKIFF_REGISTRY_AUTH_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff::registry {

struct Credentials {
  std::string username;
  std::string password;
};

struct Challenge {
  std::string scheme;                         // Lower case: "bearer", "basic".
  std::map<std::string, std::string> params;  // Keys lower case: "realm", "service", "scope".
};

// InvalidArgument for a header that is not `scheme [param=value|param="quoted", ...]`.
absl::StatusOr<Challenge> ParseWwwAuthenticate(absl::string_view header);

class CredentialsFile {
 public:
  CredentialsFile() = default;  // No credentials at all.

  // InvalidArgument naming the file and the JSON path of a bad member; NotFound when the file
  // does not exist.
  static absl::StatusOr<CredentialsFile> Load(const std::string& path);
  static absl::StatusOr<CredentialsFile> Parse(absl::string_view json, absl::string_view what);

  // NotFound naming the parameter (never its value) when the file has no such secret.
  absl::StatusOr<Credentials> ForSecret(const std::string& credentials_parameter) const;
  std::optional<Credentials> ForRegistry(const std::string& domain) const;

 private:
  std::string path_;
  std::map<std::string, Credentials> secrets_;
  std::map<std::string, Credentials> registries_;
};

}  // namespace skiff::registry

#endif  // SKIFF_REGISTRY_AUTH_H_
