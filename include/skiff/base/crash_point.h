// Crash points for the crash-safety tests. When the environment variable SKIFF_CRASH_AT names a
// point, skiffd kills itself with SIGKILL the first time it gets there, exactly as a kill -9 or a
// power cut would: no destructor, no flush, no cleanup. Unset (always, outside those tests), a
// crash point costs one comparison.
//
// Points: task-persisted, network-attached, container-created, container-started, rolling-update,
// store-transaction. Safe from any thread.
#ifndef SKIFF_BASE_CRASH_POINT_H_
#define SKIFF_BASE_CRASH_POINT_H_

#include "absl/strings/string_view.h"

namespace skiff {

inline constexpr char kCrashPointEnv[] = "SKIFF_CRASH_AT";

void CrashPoint(absl::string_view point);

}  // namespace skiff

#endif  // SKIFF_BASE_CRASH_POINT_H_
