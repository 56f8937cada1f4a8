// Application Auto Scaling's errors and the NextToken paging of its Describe operations.
// Private to scaling.
#ifndef SKIFF_SRC_SCALING_AUTO_SCALING_ERRORS_H_
#define SKIFF_SRC_SCALING_AUTO_SCALING_ERRORS_H_

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "skiff/model/errors.h"
#include "skiff/scaling/auto_scaling_manager.h"

namespace skiff::scaling {

inline absl::Status Invalid(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, kValidationException, message);
}

inline absl::Status ObjectNotFound(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kNotFound, kObjectNotFoundException, message);
}

// AWS's words for a target that is not registered.
inline absl::Status TargetNotFound(absl::string_view resource_id) {
  return ObjectNotFound(absl::StrCat("No scalable target registered for service namespace: ",
                                     kEcsNamespace, ", resource ID: ", resource_id,
                                     ", scalable dimension: ", kEcsDesiredCount));
}

// The page of `items` that NextToken and MaxResults (1-`max`, `max` when absent) name, each
// handed to `add`; `set_next` gets a token when more follow. The token is an offset into the
// list, which is in a stable order (by name, or newest first for activities): a page repeats or
// skips an item only when the list changed between calls, as AWS's may.
template <typename T, typename Add, typename SetNext>
absl::Status Paginate(const std::vector<T>& items, bool has_max, int max_results, int max,
                      const std::string& token, Add add, SetNext set_next) {
  if (has_max && (max_results < 1 || max_results > max)) {
    return Invalid(absl::StrCat("MaxResults: must be between 1 and ", max, "; got ",
                                max_results));
  }
  size_t start = 0;
  if (!token.empty() && (!absl::SimpleAtoi(token, &start) || start > items.size())) {
    return model::EcsError(absl::StatusCode::kInvalidArgument, kInvalidNextTokenException,
                           "NextToken: not a token this API returned");
  }
  const size_t end = std::min(items.size(), start + static_cast<size_t>(has_max ? max_results
                                                                                : max));
  for (size_t i = start; i < end; ++i) add(items[i]);
  if (end < items.size()) set_next(absl::StrCat(end));
  return absl::OkStatus();
}

// A Describe request's ResourceId, when it has one.
template <typename Request>
std::optional<std::string> ResourceIdOf(const Request& request) {
  if (!request.has_resource_id()) return std::nullopt;
  return request.resource_id();
}

// The members (`member` of each target: its policies or scheduled actions) of the targets that
// `resource_id` names (every target when it is absent) whose names are in `names` (every name
// when empty), by target, then by name: what a Describe operation lists.
template <typename Value, typename Names>
std::vector<const Value*> MembersNamed(
    const std::map<std::string, ScalableTargetState>& targets,
    const std::optional<std::string>& resource_id, const Names& names,
    std::map<std::string, Value> ScalableTargetState::*member) {
  std::vector<const Value*> matching;
  for (const auto& [id, state] : targets) {
    if (resource_id && *resource_id != id) continue;
    for (const auto& [name, value] : state.*member) {
      if (!names.empty() && std::find(names.begin(), names.end(), name) == names.end()) continue;
      matching.push_back(&value);
    }
  }
  return matching;
}

}  // namespace skiff::scaling

#endif  // SKIFF_SRC_SCALING_AUTO_SCALING_ERRORS_H_
