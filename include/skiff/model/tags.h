// ECS resource tags: the rules every taggable resource shares (clusters, services, task
// definitions, tasks) and the merge that TagResource and UntagResource perform.
//
// Errors are InvalidArgument statuses whose message starts with the JSON path of the offending
// field, e.g. `tags[2].key: must be 1-128 characters`. Pure functions; safe from any thread.
#ifndef SKIFF_MODEL_TAGS_H_
#define SKIFF_MODEL_TAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::model {

// ECS's limit of tags per resource.
inline constexpr int kMaxTagsPerResource = 50;

// Checks one tag key: 1-128 characters of letters, digits, spaces and `+ - = . _ : / @` (any
// non-ASCII UTF-8 counts as a letter), without the reserved `aws:` prefix. `path` names it.
absl::Status ValidateTagKey(absl::string_view key, absl::string_view path);

// Checks a list of tags as a request carries them: at most 50, each key valid and unique, each
// value at most 256 characters of the same alphabet. `path` is the list's path ("tags").
absl::Status ValidateTags(const google::protobuf::RepeatedPtrField<skiff::v1::Tag>& tags,
                          absl::string_view path);

// TagResource: `added` over `existing`. A key that exists keeps its place and takes the new
// value; new keys are appended in request order.
std::vector<skiff::v1::Tag> MergeTags(
    std::vector<skiff::v1::Tag> existing,
    const google::protobuf::RepeatedPtrField<skiff::v1::Tag>& added);

// UntagResource: `existing` without the tags whose key is in `keys` (absent keys are ignored).
std::vector<skiff::v1::Tag> RemoveTags(std::vector<skiff::v1::Tag> existing,
                                       const google::protobuf::RepeatedPtrField<std::string>& keys);

}  // namespace skiff::model

#endif  // SKIFF_MODEL_TAGS_H_
