// Process-wide logging setup on spdlog. Called once by each binary's main before any thread
// starts; afterwards spdlog's default logger is used from any thread.
#ifndef SKIFF_BASE_LOGGING_H_
#define SKIFF_BASE_LOGGING_H_


#include "absl/strings/string_view.h"
#include "absl/status/statusor.h"
#include "spdlog/common.h"

namespace skiff {

// Parses trace, debug, info, warn or error.
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(absl::string_view name);

// Logs to stderr, with colour only when stderr is a terminal.
void InitLogging(spdlog::level::level_enum level);

}  // namespace skiff

#endif  // SKIFF_BASE_LOGGING_H_
