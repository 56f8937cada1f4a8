#include "skiff/logs/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "skiff/base/status_macros.h"

namespace skiff::logs {
namespace {

// Bytes per read: large enough that a syscall moves a useful amount, small enough that a short
// tail of a big file costs little.
constexpr int64_t kBlockBytes = 64 << 10;
// How many bytes before the read position the follower remembers to recognise its file. Longer
// tells apart more files whose recent output differs; the cost is one extra small read per call.
constexpr int64_t kFingerprintBytes = 128;

absl::Status IoError(absl::string_view op, const std::string& path, int err) {
  std::string message = absl::StrCat(op, " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  return absl::UnavailableError(message);
}

// Owns one file descriptor; -1 when the file was absent.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    if (this != &other) {
      Close();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() { Close(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

// Opens path (read-only unless flags say otherwise; created 0600 with O_CREAT, the caller sets
// the mode it wants); an invalid ScopedFd, not an error, when it does not exist, because every
// caller here treats a missing file as "nothing there".
absl::StatusOr<ScopedFd> OpenIfExists(const std::string& path, int flags = O_RDONLY) {
  int fd;
  do {
    fd = open(path.c_str(), flags | O_CLOEXEC, 0600);
  } while (fd < 0 && errno == EINTR);
  if (fd >= 0) return ScopedFd(fd);
  if (errno == ENOENT) return ScopedFd();
  return IoError("open", path, errno);
}

absl::StatusOr<int64_t> SizeOfFd(int fd, const std::string& path) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return IoError("stat", path, errno);
  return static_cast<int64_t>(st.st_size);
}

// Reads up to `length` bytes at `offset`; fewer only at end of file (which may move while we
// read, since the shim keeps appending).
absl::StatusOr<std::string> ReadAt(int fd, const std::string& path, int64_t offset,
                                   int64_t length) {
  std::string out(static_cast<size_t>(length), '\0');
  int64_t done = 0;
  while (done < length) {
    ssize_t n = pread(fd, out.data() + done, static_cast<size_t>(length - done), offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("read", path, errno);
    if (n == 0) break;
    done += n;
  }
  out.resize(static_cast<size_t>(done));
  return out;
}

absl::Status WriteAll(int fd, const std::string& path, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("write", path, errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

std::string Rotated(const std::string& path, int n) { return absl::StrCat(path, ".", n); }

absl::Status RemoveIfExists(const std::string& path) {
  if (unlink(path.c_str()) == 0 || errno == ENOENT) return absl::OkStatus();
  return IoError("remove", path, errno);
}

// Makes room for a new path.1: drops path.<keep> and anything past it (left over from a larger
// keep), then moves path.N to path.N+1. Gaps are fine; a missing file is skipped.
absl::Status ShiftRotated(const std::string& path, int keep) {
  SKIFF_RETURN_IF_ERROR(RemoveIfExists(Rotated(path, std::max(keep, 1))));
  for (int n = std::max(keep, 1) + 1;; ++n) {
    std::string stale = Rotated(path, n);
    if (unlink(stale.c_str()) == 0) continue;
    if (errno == ENOENT) break;
    return IoError("remove", stale, errno);
  }
  for (int n = keep - 1; n >= 1; --n) {
    std::string from = Rotated(path, n);
    std::string to = Rotated(path, n + 1);
    if (rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
      return IoError("rename", from, errno);
    }
  }
  return absl::OkStatus();
}

// Copies from `src` until end of file, including what the shim appends meanwhile, so that as
// little as possible is written between the copy and the truncation.
absl::Status CopyToEnd(int src, const std::string& src_path, int dst, const std::string& dst_path) {
  for (int64_t offset = 0;;) {
    SKIFF_ASSIGN_OR_RETURN(std::string block, ReadAt(src, src_path, offset, kBlockBytes));
    if (block.empty()) return absl::OkStatus();
    SKIFF_RETURN_IF_ERROR(WriteAll(dst, dst_path, block));
    offset += static_cast<int64_t>(block.size());
  }
}

// Copies the live file to path.1 through a temporary name, so that path.1 is never seen half
// written: a reader that finds the live file truncated finds the whole copy in path.1.
absl::Status CopyToFirstRotated(int live, const std::string& path, mode_t mode) {
  std::string tmp = absl::StrCat(path, ".1.tmp");
  SKIFF_ASSIGN_OR_RETURN(ScopedFd out, OpenIfExists(tmp, O_WRONLY | O_CREAT | O_TRUNC));
  // The copy holds the same output as the original; the umask must not widen or narrow who
  // may read it.
  if (fchmod(out.get(), mode & 07777) != 0) return IoError("chmod", tmp, errno);
  absl::Status copied = CopyToEnd(live, path, out.get(), tmp);
  if (!copied.ok()) {
    unlink(tmp.c_str());
    return copied;
  }
  std::string first = Rotated(path, 1);
  if (rename(tmp.c_str(), first.c_str()) != 0) {
    int err = errno;
    unlink(tmp.c_str());
    return IoError("rename", tmp, err);
  }
  return absl::OkStatus();
}

// Scans the byte stream formed by `files` (oldest first) backwards from its end, a block at a
// time, and returns it from the start of its last `lines` lines (all of it when lines < 0).
// Reads only the blocks it returns, so a short tail of a big file costs one block.
absl::StatusOr<std::string> TailOf(const std::vector<std::pair<ScopedFd, std::string>>& files,
                                   int64_t lines) {
  std::vector<std::string> blocks;  // Newest first.
  int64_t newlines = 0;
  bool at_stream_end = true;
  bool done = false;
  for (auto it = files.rbegin(); it != files.rend() && !done; ++it) {
    const auto& [fd, path] = *it;
    SKIFF_ASSIGN_OR_RETURN(int64_t pos, SizeOfFd(fd.get(), path));
    while (pos > 0 && !done) {
      int64_t start = std::max<int64_t>(0, pos - kBlockBytes);
      SKIFF_ASSIGN_OR_RETURN(std::string block, ReadAt(fd.get(), path, start, pos - start));
      if (static_cast<int64_t>(block.size()) < pos - start) {
        // Truncated under us by a rotation: what we have is still the end of the stream,
        // just fewer lines than asked.
        done = true;
        break;
      }
      pos = start;
      size_t keep_from = 0;
      for (size_t i = block.size(); i-- > 0;) {
        if (block[i] != '\n') {
          at_stream_end = false;
          continue;
        }
        // The newline that ends the stream ends the last line; it separates nothing.
        if (at_stream_end) {
          at_stream_end = false;
          continue;
        }
        if (++newlines == lines) {
          keep_from = i + 1;
          done = true;
          break;
        }
      }
      blocks.push_back(block.substr(keep_from));
    }
  }
  std::string out;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) out += *it;
  return out;
}

}  // namespace

absl::StatusOr<bool> RotateIfLarger(const std::string& path, const RotationPolicy& policy) {
  SKIFF_ASSIGN_OR_RETURN(ScopedFd live, OpenIfExists(path, O_RDWR));
  if (!live.valid()) return false;
  struct stat st {};
  if (fstat(live.get(), &st) != 0) return IoError("stat", path, errno);
  if (st.st_size <= policy.max_bytes) return false;

  SKIFF_RETURN_IF_ERROR(ShiftRotated(path, policy.keep));
  if (policy.keep >= 1) SKIFF_RETURN_IF_ERROR(CopyToFirstRotated(live.get(), path, st.st_mode));
  // Through the fd we copied from, so a file replaced at `path` meanwhile is not the one cut.
  // Bytes the shim writes between the end of the copy and this call are lost: copy-truncate
  // cannot avoid that, only keep the window to a rename.
  if (ftruncate(live.get(), 0) != 0) return IoError("truncate", path, errno);
  return true;
}

absl::StatusOr<std::string> ReadTail(const std::string& path, int64_t lines, int keep) {
  // Open everything before reading anything: that narrows the window in which a concurrent
  // rotation makes the tail repeat or miss lines to the opens themselves.
  std::vector<std::pair<ScopedFd, std::string>> files;  // Oldest first once reversed.
  for (int n = 0; n <= std::max(keep, 0); ++n) {
    std::string name = n == 0 ? path : Rotated(path, n);
    SKIFF_ASSIGN_OR_RETURN(ScopedFd fd, OpenIfExists(name));
    files.emplace_back(std::move(fd), std::move(name));
  }
  if (!files[0].first.valid() && (files.size() < 2 || !files[1].first.valid())) {
    return absl::NotFoundError(absl::StrCat("no log file at ", path));
  }
  std::reverse(files.begin(), files.end());
  std::erase_if(files, [](const auto& f) { return !f.first.valid(); });
  if (lines == 0) return std::string();
  return TailOf(files, lines < 0 ? -1 : lines);
}

LogFollower::LogFollower(std::string path, int64_t from)
    : path_(std::move(path)), offset_(std::max<int64_t>(from, 0)) {}

absl::StatusOr<LogFollower::Chunk> LogFollower::ReadFrom(const std::string& path,
                                                         int64_t max_bytes) const {
  Chunk chunk;
  SKIFF_ASSIGN_OR_RETURN(ScopedFd fd, OpenIfExists(path));
  if (!fd.valid()) return chunk;
  int64_t before = static_cast<int64_t>(fingerprint_.size());
  SKIFF_ASSIGN_OR_RETURN(std::string bytes,
                         ReadAt(fd.get(), path, offset_ - before, before + max_bytes));
  chunk.exists = true;
  // Checked apart from the bytes: with nothing remembered yet, no bytes are compared.
  SKIFF_ASSIGN_OR_RETURN(int64_t size, SizeOfFd(fd.get(), path));
  if (size < offset_ || static_cast<int64_t>(bytes.size()) < before ||
      absl::string_view(bytes).substr(0, before) != fingerprint_) {
    return chunk;  // Shorter than our position, or other bytes before it: not our file.
  }
  chunk.ours = true;
  chunk.data = bytes.substr(before);
  chunk.at_end = static_cast<int64_t>(chunk.data.size()) < max_bytes;
  return chunk;
}

void LogFollower::Advance(const std::string& data) {
  offset_ += static_cast<int64_t>(data.size());
  constexpr size_t kKeep = kFingerprintBytes;
  if (data.size() >= kKeep) {
    fingerprint_.assign(data, data.size() - kKeep, kKeep);
    return;
  }
  fingerprint_ += data;
  if (fingerprint_.size() > kKeep) fingerprint_.erase(0, fingerprint_.size() - kKeep);
}

void LogFollower::StartOver() {
  offset_ = 0;
  fingerprint_.clear();
  reading_rotated_ = false;
}

absl::StatusOr<std::string> LogFollower::ReadNew(int64_t max_bytes) {
  std::string out;
  // Once `out` holds bytes the position has moved past them: a later error must not drop them.
  // It is returned by the next call, which meets it again.
  auto read = [&](const std::string& path) -> absl::StatusOr<Chunk> {
    return ReadFrom(path, max_bytes - static_cast<int64_t>(out.size()));
  };
  auto take = [&](const Chunk& chunk) {
    Advance(chunk.data);
    out += chunk.data;
  };
  if (max_bytes <= 0) return out;
  const std::string first_rotated = absl::StrCat(path_, ".1");

  if (reading_rotated_) {
    absl::StatusOr<Chunk> old = read(first_rotated);
    if (!old.ok()) return old.status();
    if (old->ours) {
      take(*old);
      if (!old->at_end) return out;
    }
    // Read to its end, or rotated again meanwhile (what it held is now out of reach): on to
    // the live file, which holds what the shim wrote after the copy.
    StartOver();
  }

  absl::StatusOr<Chunk> live = read(path_);
  if (!live.ok()) {
    if (out.empty()) return live.status();
    return out;
  }
  if (!live->exists) {
    if (!out.empty()) return out;
    return absl::NotFoundError(absl::StrCat("no log file at ", path_));
  }
  if (live->ours) {
    // The first read after construction has no fingerprint yet and takes the file on trust.
    take(*live);
    return out;
  }

  // Truncated by a rotation since the last read. Its copy is path.1 if one rotation ran and the
  // bytes before our position match there; then finish that copy before the live file.
  if (!fingerprint_.empty()) {
    absl::StatusOr<Chunk> old = read(first_rotated);
    if (!old.ok()) return old.status();  // out is empty here: nothing read this call yet.
    if (old->ours) {
      reading_rotated_ = true;
      take(*old);
      if (!old->at_end) return out;
    }
  }
  StartOver();
  absl::StatusOr<Chunk> fresh = read(path_);
  if (!fresh.ok()) {
    if (out.empty()) return fresh.status();
    return out;
  }
  if (fresh->ours) take(*fresh);
  return out;
}

int64_t LogFollower::SizeOf(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

}  // namespace skiff::logs
