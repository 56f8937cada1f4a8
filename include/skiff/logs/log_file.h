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
// path.<keep> and any older file left by a larger keep), copies path to path.1 and truncates
// path to 0; with keep <= 0 it only truncates. Returns whether it rotated; Ok(false) when the
// file does not exist. path.1 appears whole (copied under a temporary name, then renamed) before
// the truncation. Bytes the writer appends between the end of the copy and the truncation (a
// rename's time) are lost: inherent to copy-truncate, the price of not reopening the shim's fd.
// Unavailable on I/O errors. One rotator per path.
absl::StatusOr<bool> RotateIfLarger(const std::string& path, const RotationPolicy& policy);

// The last `lines` lines of path.<keep>, ..., path.1, path read as one stream (oldest first, so a
// line split by a rotation is one line); lines < 0 for all, 0 for "". A last line without '\n'
// counts as a line. Reads backwards in blocks, so a short tail of a big file reads little.
// Concurrent with a rotation it may repeat or miss lines. NotFound when neither path
// nor path.1 exists; Unavailable on I/O errors.
absl::StatusOr<std::string> ReadTail(const std::string& path, int64_t lines, int keep = 1);

// Reads what is appended to one log file from a position on, across copy-truncate rotation.
// One reader per stream; not thread-safe.
//
// Guarantee. The follower remembers the last bytes it returned (up to 128) and checks before
// each read that the file still holds them just before its position; a file shorter than the
// position, or with other bytes there, has been rotated since. Then:
//  - if path.1 holds those bytes at the same position, exactly one rotation ran between the two
//    reads and path.1 is its copy: the follower returns the rest of path.1, then the live file
//    from its start. Nothing is lost or repeated (beyond the rotation's own window, see
//    RotateIfLarger).
//  - otherwise (two or more rotations between reads, or path.1 replaced again while the rest of
//    it was being returned) it cannot tell which copy was its file: it continues from the start
//    of the live file and what was rotated past it is skipped.
// It cannot tell a rotation from none when the file regrew past the position with the same
// 128 bytes before it (a container repeating one line): it then misses the rotated-away rest.
// The first read after construction takes the file on trust (nothing remembered yet): a
// rotation between construction and that read restarts at the live file's start.
class LogFollower {
 public:
  // Starts at byte offset `from` of the live file (its size when following after a tail).
  LogFollower(std::string path, int64_t from);

  // Whatever was appended since the last call, up to max_bytes; "" when nothing new. NotFound
  // when the live file does not exist (not yet created, or the task's directory removed);
  // Unavailable on I/O errors. Bytes already read in a call that then fails are returned
  // instead of the error, which the next call meets again; so retrying loses nothing.
  absl::StatusOr<std::string> ReadNew(int64_t max_bytes = 1 << 20);

  // Size of the file now (0 when absent); for starting a follower at the end.
  static int64_t SizeOf(const std::string& path);

 private:
  // What one file holds at our position.
  struct Chunk {
    bool exists = false;  // The file is there.
    bool ours = false;    // It holds fingerprint_ just before offset_: the file we were reading.
    std::string data;     // From offset_ on, when ours.
    bool at_end = false;  // data reaches its end of file.
  };
  absl::StatusOr<Chunk> ReadFrom(const std::string& path, int64_t max_bytes) const;
  void Advance(const std::string& data);
  void StartOver();  // At the start of the live file.

  std::string path_;
  int64_t offset_;               // In path_, or in path_.1 while reading_rotated_.
  std::string fingerprint_;      // The bytes just before offset_ (up to 128), "" at the start.
  bool reading_rotated_ = false; // Returning the rest of path_.1 after a rotation.
};

}  // namespace skiff::logs

#endif  // SKIFF_LOGS_LOG_FILE_H_
