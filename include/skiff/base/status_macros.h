// Early return on error, for functions that return absl::Status.
#ifndef SKIFF_BASE_STATUS_MACROS_H_
#define SKIFF_BASE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"

#define SKIFF_RETURN_IF_ERROR(expr)        \
  do {                                     \
    ::absl::Status skiff_status_ = (expr); \
    if (!skiff_status_.ok()) return skiff_status_; \
  } while (0)

// SKIFF_ASSIGN_OR_RETURN(auto x, StatusOrExpr()): x is the value, or the function returns the
// error. One use per line.
#define SKIFF_ASSIGN_OR_RETURN(lhs, expr) \
  SKIFF_ASSIGN_OR_RETURN_IMPL_(SKIFF_CONCAT_(skiff_statusor_, __LINE__), lhs, expr)
#define SKIFF_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(*tmp)
#define SKIFF_CONCAT_(a, b) SKIFF_CONCAT_INNER_(a, b)
#define SKIFF_CONCAT_INNER_(a, b) a##b

#endif  // SKIFF_BASE_STATUS_MACROS_H_
