// Checks of what cannot happen (a bug, never input or the environment; see STYLE.md's error
// policy). SKIFF_DCHECK(cond) aborts with the condition and its place in debug and sanitizer
// builds and costs nothing in release builds, where the caller handles the case as it can
// (logs and counts it). Any thread.
#ifndef SKIFF_BASE_CHECK_H_
#define SKIFF_BASE_CHECK_H_

#include "absl/strings/string_view.h"

namespace skiff {

#if !defined(NDEBUG) || defined(SKIFF_SANITIZE)
inline constexpr bool kDebugChecks = true;
#else
inline constexpr bool kDebugChecks = false;
#endif

// Writes "check failed: WHAT at FILE:LINE" to stderr and aborts.
[[noreturn]] void CheckFailed(absl::string_view what, const char* file, int line);

}  // namespace skiff

#define SKIFF_DCHECK(condition)                                          \
  do {                                                                   \
    if (::skiff::kDebugChecks && !(condition)) {                         \
      ::skiff::CheckFailed(#condition, __FILE__, __LINE__);              \
    }                                                                    \
  } while (false)

#endif  // SKIFF_BASE_CHECK_H_
