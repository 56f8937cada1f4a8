// Running programs from tests: RunCommand for short commands whose output a test checks (ctr,
// the build-test-image script), Spawn for long-lived children such as a private containerd.
// Both are safe to call from any thread of a multithreaded test binary: everything the child
// needs is prepared before fork(), and the child gets its own process group, default signal
// dispositions and an empty signal mask whatever the test process has set.

#ifndef SKIFF_TESTS_SUPPORT_SUBPROCESS_H_
#define SKIFF_TESTS_SUPPORT_SUBPROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace skiff::testing {

struct CommandResult {
  int exit_code = -1;  // 128 + signal number if killed by a signal.
  std::string stdout_text;
  std::string stderr_text;
};

// Runs argv[0] (looked up in PATH) with stdin from /dev/null and waits for it. A non-zero exit
// is a result, not an error; errors are NotFound (no such program), DeadlineExceeded (ran
// longer than `timeout`; its process group was then SIGKILLed) or the errno of fork/pipe.
absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout);

struct ChildSpec {
  std::string path;  // Absolute; see FindInPath.
  std::vector<std::string> argv;
  // Become the child's stdin/stdout/stderr. The caller keeps (and closes) its copies.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
  // SIGKILL the child when the thread that spawned it dies (PR_SET_PDEATHSIG), so a test binary
  // killed by ctest's timeout does not leave a daemon behind. Spawn from a thread that lives
  // as long as the child should.
  bool die_with_parent = false;
  // Added to the parent's environment ("NAME=value").
  std::vector<std::string> env;
};

// Starts a child in its own process group (pgid == pid) and returns its pid without waiting.
// The caller must reap it (waitpid).
absl::StatusOr<pid_t> Spawn(const ChildSpec& spec);

// The first executable `name` in PATH, `name` itself if it contains a '/', or "" if none.
std::string FindInPath(absl::string_view name);

}  // namespace skiff::testing

#endif  // SKIFF_TESTS_SUPPORT_SUBPROCESS_H_
