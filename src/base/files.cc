#include "skiff/base/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace skiff {
namespace {

absl::Status Errno(int error, absl::string_view what) { return absl::ErrnoToStatus(error, what); }

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

absl::StatusOr<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& data, mode_t mode) {
  const std::string dir = DirOf(path);
  std::string temp = absl::StrCat(path, ".XXXXXX");
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return Errno(errno, absl::StrCat("mkostemp in ", dir));
  absl::Cleanup remove_temp = [&] { unlink(temp.c_str()); };
  absl::Cleanup close_fd = [fd] { close(fd); };
  absl::string_view rest = data;
  while (!rest.empty()) {
    const ssize_t n = write(fd, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno(errno, absl::StrCat("write ", temp));
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (fchmod(fd, mode) != 0) return Errno(errno, absl::StrCat("chmod ", temp));
  if (fsync(fd) != 0) return Errno(errno, absl::StrCat("fsync ", temp));
  std::move(close_fd).Cancel();
  if (close(fd) != 0) return Errno(errno, absl::StrCat("close ", temp));
  if (rename(temp.c_str(), path.c_str()) != 0) {
    return Errno(errno, absl::StrCat("rename to ", path));
  }
  std::move(remove_temp).Cancel();
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  return absl::OkStatus();
}

}  // namespace skiff
