// ECS-style pagination of list results: maxResults and an opaque nextToken. Pure functions.
#ifndef SKIFF_MODEL_PAGINATION_H_
#define SKIFF_MODEL_PAGINATION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skiff::model {

struct Page {
  std::vector<std::string> items;
  std::optional<std::string> next_token;
};

// Cuts one page out of the full, stably ordered result. max_results defaults to 100 (ECS's
// limit); a token that is not one of ours is InvalidArgument. Tokens are offsets: a listing that
// changes between pages may repeat or skip an item, as ECS's may.
absl::StatusOr<Page> Paginate(std::vector<std::string> all, std::optional<int> max_results,
                              const std::optional<std::string>& next_token);

}  // namespace skiff::model

#endif  // SKIFF_MODEL_PAGINATION_H_
