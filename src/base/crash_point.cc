#include "skiff/base/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace skiff {

void CrashPoint(absl::string_view point) {
  static const std::string target = [] {
    const char* value = std::getenv(kCrashPointEnv);
    return std::string(value == nullptr ? "" : value);
  }();
  if (target.empty() || target != point) return;
  // Straight to stderr: the logger may buffer, and nothing else may run.
  const std::string line = "skiffd: crash point " + target + ": SIGKILL\n";
  (void)!write(STDERR_FILENO, line.data(), line.size());
  kill(getpid(), SIGKILL);
}

}  // namespace skiff
