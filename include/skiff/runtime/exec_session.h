// ExecSession: one command running in a container with its standard streams open to the caller
// (`skiff execute-command --interactive`), made by ContainerRuntime::StartExecSession. The caller
// owns it; the api layer pumps a gRPC stream through it.
//
// Threads: the input side (WriteStdin, CloseStdin, Resize) is called from one thread, the output
// side (Read) from another, Kill from any; the object is destroyed once neither side calls any
// more. Destroying it kills the process (and whatever it started) if it still runs, reaps it and
// removes everything the session made (FIFOs), so a client that goes away leaves nothing behind.
#ifndef SKIFF_RUNTIME_EXEC_SESSION_H_
#define SKIFF_RUNTIME_EXEC_SESSION_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace skiff::runtime {

// A terminal's size in character cells.
struct WindowSize {
  uint16_t columns = 0;
  uint16_t rows = 0;
};

struct ExecSessionOptions {
  // A pseudo-terminal for the process (stdin, stdout and stderr all on it; Resize applies), or
  // three plain streams (stdout and stderr apart).
  bool tty = false;
  // With tty: the terminal's first size; zeros leave the runtime's default (80x24 for runc).
  WindowSize window;
};

// How the command ended.
struct ExecExit {
  int exit_code = 0;  // 128 + the signal's number when a signal ended it.
  // The container's main process had exited too: the command was killed because the container
  // stopped, not by itself.
  bool container_stopped = false;
};

// What one Read returns: output (either stream may be empty), or, exactly once and last, the
// exit, which comes only after every byte of output the runtime delivered has been returned.
struct ExecSessionOutput {
  std::string stdout_data;  // With a terminal, everything the process wrote.
  std::string stderr_data;  // Always empty with a terminal.
  std::optional<ExecExit> exit;
};

class ExecSession {
 public:
  virtual ~ExecSession() = default;

  // --- Input side ---
  // Blocks until all of `data` went to the process's stdin, or fails: FailedPrecondition once
  // stdin is closed or the process has ended or was killed (the rest of data is dropped).
  virtual absl::Status WriteStdin(absl::string_view data) = 0;
  // End of input: the process reads EOF once it has read what was written. Idempotent.
  virtual absl::Status CloseStdin() = 0;
  // The terminal's new size (the process gets SIGWINCH). FailedPrecondition without a tty.
  virtual absl::Status Resize(WindowSize window) = 0;

  // --- Output side ---
  // Waits up to `wait` for output or the exit; an empty result (no data, no exit) when neither
  // came. Unavailable when the runtime cannot tell how the command ended. Not called again
  // after it returned the exit or an error.
  virtual absl::StatusOr<ExecSessionOutput> Read(absl::Duration wait) = 0;

  // --- Any thread ---
  // SIGKILLs the process and everything it started; a pending or later WriteStdin fails, and
  // Read soon returns the exit. Idempotent.
  virtual void Kill() = 0;
};

}  // namespace skiff::runtime

#endif  // SKIFF_RUNTIME_EXEC_SESSION_H_
