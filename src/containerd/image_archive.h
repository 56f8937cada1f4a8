// TarArchive: a read-only index of the entries of a tar file on disk, for image import. Open()
// reads every header once (ustar, GNU long names and long links, pax 'x' and 'g' path/linkpath/
// size records) and checks the archive as a whole: header checksums, truncation, and paths
// that are absolute or contain ".." ("escapes the root"). Entry data is then read in place by
// offset, never extracted to disk. Every problem with the file's contents is InvalidArgument,
// with a message that names the entry.
//
// The object owns the open file. It is not thread-safe for mutation, but all const methods use
// pread and may be called from several threads at once.
#ifndef SKIFF_SRC_CONTAINERD_IMAGE_ARCHIVE_H_
#define SKIFF_SRC_CONTAINERD_IMAGE_ARCHIVE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace skiff::runtime {

struct TarEntry {
  enum class Type { kRegular, kDirectory, kSymlink, kHardLink, kOther };

  std::string path;  // Cleaned and relative: "blobs/sha256/ab12...", never "./x" or "x/".
  Type type = Type::kOther;
  int64_t offset = 0;  // Of the entry's data in the file.
  int64_t size = 0;
  // For links: the target as a cleaned path from the archive root.
  std::string link_target;
};

class TarArchive {
 public:
  // Largest GNU long-name or pax header we accept; real ones are a few hundred bytes.
  static constexpr int64_t kMaxExtendedHeaderSize = 1 << 20;

  // NotFound if the file does not exist, InvalidArgument if it is not a well-formed tar.
  static absl::StatusOr<std::unique_ptr<TarArchive>> Open(const std::string& path);

  TarArchive(const TarArchive&) = delete;
  TarArchive& operator=(const TarArchive&) = delete;
  ~TarArchive();

  const std::string& path() const { return path_; }
  // In archive order; a later entry with the same path replaces an earlier one in Find().
  const std::vector<TarEntry>& entries() const { return entries_; }

  // The regular file at `path` ("./index.json" and "index.json" are the same), following
  // symbolic and hard links inside the archive; nullptr if there is none.
  const TarEntry* Find(absl::string_view path) const;

  // The whole data of a regular entry; InvalidArgument naming the entry if it is larger than
  // `max_size` (metadata files are read whole, so they are capped).
  absl::StatusOr<std::string> ReadFile(const TarEntry& entry, int64_t max_size) const;

  // Reads `size` bytes at `offset` within the entry's data into `buffer`.
  absl::Status ReadAt(const TarEntry& entry, int64_t offset, char* buffer, size_t size) const;

 private:
  TarArchive(std::string path, int fd, int64_t file_size)
      : path_(std::move(path)), fd_(fd), file_size_(file_size) {}

  absl::Status Scan();
  absl::Status ReadRaw(int64_t offset, char* buffer, size_t size) const;

  std::string path_;
  int fd_;
  int64_t file_size_;
  std::vector<TarEntry> entries_;
  std::map<std::string, size_t, std::less<>> by_path_;  // Index into entries_.
};

// The cleaned form of a path inside an archive: no leading "./", no "." components, no
// repeated or trailing '/'. InvalidArgument if it is absolute or has a ".." component.
absl::StatusOr<std::string> CleanArchivePath(absl::string_view path);

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_IMAGE_ARCHIVE_H_
