#include "network/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

namespace skiff::network {
namespace {

absl::Status Errno(const std::string& what, int error) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(error)));
}

}  // namespace

absl::Status CreateNetns(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) {
    if (errno == EEXIST) return absl::AlreadyExistsError(absl::StrCat(path, " exists"));
    return Errno(absl::StrCat("create ", path), errno);
  }
  close(fd);
  // unshare moves only the calling thread into the new namespace; a thread of its own keeps
  // every other thread of skiffd where it is. The bind mount outlives the thread.
  absl::Status status;
  std::thread worker([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      status = Errno("unshare(CLONE_NEWNET)", errno);
      return;
    }
    if (mount("/proc/thread-self/ns/net", path.c_str(), "none", MS_BIND, nullptr) != 0) {
      status = Errno(absl::StrCat("bind the namespace at ", path), errno);
    }
  });
  worker.join();
  if (!status.ok()) unlink(path.c_str());
  return status;
}

bool IsNetns(const std::string& path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 && static_cast<unsigned long>(fs.f_type) == NSFS_MAGIC;
}

absl::Status RemoveNetns(const std::string& path) {
  if (IsNetns(path) && umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL) {
    return Errno(absl::StrCat("unmount ", path), errno);
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return Errno(absl::StrCat("remove ", path), errno);
  return absl::OkStatus();
}

}  // namespace skiff::network
