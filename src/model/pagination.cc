#include "absl/strings/string_view.h"
#include "skiff/model/pagination.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace skiff::model {
namespace {
constexpr int kDefaultMaxResults = 100;
constexpr absl::string_view kTokenPrefix = "skiff-page:";
}  // namespace

absl::StatusOr<Page> Paginate(std::vector<std::string> all, std::optional<int> max_results,
                              const std::optional<std::string>& next_token) {
  const int limit = max_results.value_or(kDefaultMaxResults);
  if (limit < 1 || limit > kDefaultMaxResults) {
    return absl::InvalidArgumentError(
        absl::StrCat("maxResults: must be between 1 and 100; got ", limit));
  }
  size_t offset = 0;
  if (next_token) {
    std::string decoded;
    absl::string_view rest;
    if (absl::WebSafeBase64Unescape(*next_token, &decoded)) rest = decoded;
    if (!absl::ConsumePrefix(&rest, kTokenPrefix) || !absl::SimpleAtoi(rest, &offset)) {
      return absl::InvalidArgumentError("nextToken: not a token this listing returned");
    }
  }
  Page page;
  offset = std::min(offset, all.size());
  const size_t end = std::min(all.size(), offset + static_cast<size_t>(limit));
  page.items.assign(std::make_move_iterator(all.begin() + offset),
                    std::make_move_iterator(all.begin() + end));
  if (end < all.size()) {
    page.next_token = absl::WebSafeBase64Escape(absl::StrCat(kTokenPrefix, end));
  }
  return page;
}

}  // namespace skiff::model
