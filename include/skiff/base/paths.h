// Lexical path checks shared by validation (model) and the OCI spec (runtime): container paths
// are judged by what they name, so "/x/../proc" and "//proc/" count as /proc. Pure functions.
#ifndef SKIFF_BASE_PATHS_H_
#define SKIFF_BASE_PATHS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace skiff {

// The absolute path that `path` names, without ".", "..", repeated or trailing slashes. A
// relative path is taken from "/". Never touches the filesystem.
std::string CleanAbsolutePath(absl::string_view path);

// True when path is root or below it (both clean).
bool IsAtOrUnder(absl::string_view path, absl::string_view root);

}  // namespace skiff

#endif  // SKIFF_BASE_PATHS_H_
