// The path segment that names one container to the task metadata endpoint:
// "<task id>-<index>-<mac>", where mac is the first 16 bytes, in hex, of HMAC-SHA256 under the
// node's metadata key of "<task id>-<index>". Only a holder of the key can make one, so a
// container cannot name another's, yet the endpoint keeps no table of them: the same key gives
// the same paths after a restart of skiffd, and running containers keep theirs. Private to the
// api component; pure and thread-safe.
#ifndef SKIFF_SRC_API_METADATA_TOKEN_H_
#define SKIFF_SRC_API_METADATA_TOKEN_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace skiff::api {

struct MetadataSubject {
  std::string task_id;  // 32 hex digits.
  int index = 0;        // The container's place in its task definition.
};

std::string MakeMetadataToken(absl::string_view key, const std::string& task_id, int index);

// The container a token names; nullopt when it is malformed or its mac is not the key's.
std::optional<MetadataSubject> ParseMetadataToken(absl::string_view key, absl::string_view token);

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_METADATA_TOKEN_H_
