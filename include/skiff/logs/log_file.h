// Container log files: STATE_DIR/tasks/<task-id>/<container>.log, written by containerd's shim
// (opened O_APPEND, stdout and stderr interleaved). Skiff caps their size by rotation
// (copy-truncate, since the shim keeps its file open) and reads them back for `skiff logs`.
//
// Free functions and a small reader; no shared state. Callers: the control loop's rotation timer
// and the API's log streams, each on its own files, on any thread.
#ifndef SKIFF_LOGS_LOG_FILE_H_
#define SKIFF_LOGS_LOG_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skiff::logs {

struct RotationPolicy {
  int64_t max_bytes = 10 << 20;  // Rotate once the live file is larger than this.
  int keep = 1;                  // Rotated files kept: path.1 (newest) .. path.<keep>.
};

// If the file at path is larger than policy.max_bytes: shifts path.N -> path.N+1 (dropping
// those past policy.keep), copies path to path.1 and truncates path to 0. Returns whether it
// rotated. Ok(false) when the file does not exist.
absl::StatusOr<bool> RotateIfLarger(const std::string& path, const RotationPolicy& policy);

// The last `lines` lines across path.<keep>..path.1 and path (oldest first); lines < 0 for all.
// A last line without '\n' counts as a line. NotFound when neither path nor path.1 exists.
absl::StatusOr<std::string> ReadTail(const std::string& path, int64_t lines, int keep = 1);

// Reads what is appended to one log file from a position on, across copy-truncate rotation (a
// file shorter than the position was truncated: continue from its start). One reader per
// stream; not thread-safe.
class LogFollower {
 public:
  // Starts at byte offset `from` of the live file (its size when following after a tail).
  LogFollower(std::string path, int64_t from);

  // Whatever was appended since the last call, up to max_bytes; "" when nothing new.
  absl::StatusOr<std::string> ReadNew(int64_t max_bytes = 1 << 20);

  // Size of the file now (0 when absent); for starting a follower at the end.
  static int64_t SizeOf(const std::string& path);

 private:
  std::string path_;
  int64_t offset_;
};

}  // namespace skiff::logs

#endif  // SKIFF_LOGS_LOG_FILE_H_
