#include "skiff/base/check.h"

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace skiff {

void CheckFailed(absl::string_view what, const char* file, int line) {
  // Straight to stderr: the logger may buffer, and nothing else should run.
  const std::string message =
      std::string("check failed: ") + std::string(what) + " at " + file + ":" +
      std::to_string(line) + "\n";
  (void)!write(STDERR_FILENO, message.data(), message.size());
  std::abort();
}

}  // namespace skiff
