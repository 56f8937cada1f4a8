// Whole-file reads and crash-safe whole-file writes, for the files skiffd hands to the processes
// it owns (HAProxy's config, the resolver's records). Blocking; any thread.
#ifndef SKIFF_BASE_FILES_H_
#define SKIFF_BASE_FILES_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skiff {

// The contents of `path`; NotFound when it cannot be opened.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path);

// Writes `data` to `path` through a temporary file in the same directory, fsync and rename(2),
// so that a reader sees the old file or the new one, never a part, and a crash leaves one of
// them. The file gets `mode`. Nothing is left behind on error.
absl::Status WriteFileAtomically(const std::string& path, const std::string& data,
                                 mode_t mode = 0600);

}  // namespace skiff

#endif  // SKIFF_BASE_FILES_H_
