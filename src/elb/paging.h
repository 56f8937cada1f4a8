// Marker/PageSize paging of ELBv2's Describe operations. Private to elb.
#ifndef SKIFF_SRC_ELB_PAGING_H_
#define SKIFF_SRC_ELB_PAGING_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "elb/errors.h"

namespace skiff::elb {

// The page of `items` that Marker and PageSize (1-400, ELBv2's bound) name, each handed to
// `add`; `out` gets a NextMarker when more follow. The marker is an index: the API's lists are
// in ARN order, so a page is stable while nothing is created or deleted.
template <typename T, typename Output, typename Add>
absl::Status Paginate(const std::vector<T>& items, const std::string& marker, int page_size,
                      bool has_page_size, Output* out, Add add) {
  if (has_page_size && (page_size < 1 || page_size > 400)) {
    return OutOfRange("PageSize", page_size, 1, 400);
  }
  size_t start = 0;
  if (!marker.empty() && (!absl::SimpleAtoi(marker, &start) || start > items.size())) {
    return Invalid("Marker: not a marker this API returned");
  }
  const size_t size = has_page_size ? static_cast<size_t>(page_size) : 400;
  const size_t end = std::min(items.size(), start + size);
  for (size_t i = start; i < end; ++i) add(items[i]);
  if (end < items.size()) out->set_next_marker(absl::StrCat(end));
  return absl::OkStatus();
}

}  // namespace skiff::elb

#endif  // SKIFF_SRC_ELB_PAGING_H_
