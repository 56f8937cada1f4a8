// The parts of the containerd adapter that touch the host directly: exec (FIFOs for the
// process's streams, exec_process.h) and reading an image's account files through a short mount.
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "skiff/base/status_macros.h"
#include "skiff/containerd/containerd_runtime.h"
#include "containerd/containerd_containers.h"
#include "containerd/containerd_exec_session.h"
#include "containerd/exec_process.h"

namespace skiff::runtime {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(30);
constexpr size_t kMaxAccountFile = 1 << 20;

// Reads what is available on fd into out, keeping at most `cap` bytes (the rest is read and
// dropped, so the process never blocks on a full pipe); false on EOF or error.
bool Drain(int fd, size_t cap, std::string* out, bool* truncated) {
  std::array<char, 65536> buffer;
  while (true) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n > 0) {
      const size_t room = cap - std::min(cap, out->size());
      out->append(buffer.data(), std::min(room, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) > room) *truncated = true;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
    return false;
  }
}

// A file of the mounted image root, resolved inside that root (an image's symlink to
// "/../../etc/shadow" stays in the image), "" when absent.
absl::StatusOr<std::string> ReadInRoot(const std::string& root, const char* path) {
  const int root_fd = open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return absl::ErrnoToStatus(errno, "open " + root);
  absl::Cleanup close_root = [root_fd] { close(root_fd); };
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const int fd = static_cast<int>(syscall(SYS_openat2, root_fd, path, &how, sizeof(how)));
  if (fd < 0) {
    if (errno == ENOENT || errno == ELOOP) return std::string();
    return absl::ErrnoToStatus(errno, absl::StrCat("read the image's ", path));
  }
  absl::Cleanup close_fd = [fd] { close(fd); };
  std::string data;
  std::array<char, 65536> buffer;
  while (data.size() < kMaxAccountFile) {
    const ssize_t n = read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read the image's ", path));
    if (n == 0) break;
    data.append(buffer.data(), static_cast<size_t>(n));
  }
  return data;
}

}  // namespace

absl::StatusOr<ImageAccounts> ContainerdRuntime::ReadAccounts(const std::vector<MountSpec>& mounts) {
  if (mounts.size() != 1) {
    return absl::InternalError(absl::StrCat("snapshot has ", mounts.size(), " mounts; expected 1"));
  }
  const MountSpec& m = mounts.front();
  unsigned long flags = MS_RDONLY;
  std::vector<std::string> data;
  for (const std::string& option : m.options) {
    if (option == "ro" || option == "rw") continue;
    if (option == "bind") {
      flags |= MS_BIND;
    } else if (option == "rbind") {
      flags |= MS_BIND | MS_REC;
    } else {
      data.push_back(option);
    }
  }
  const std::string target =
      absl::StrCat(options_.work_dir, "/accounts-", RandomHex(*options_.random, 16));
  std::error_code ec;
  std::filesystem::create_directories(target, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("create ", target, ": ", ec.message()));
  absl::Cleanup remove_target = [&target] { rmdir(target.c_str()); };
  const std::string joined = absl::StrJoin(data, ",");
  if (mount(m.source.c_str(), target.c_str(), m.type.c_str(), flags, joined.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mount the image to read its users at ", target));
  }
  absl::Cleanup unmount = [&target] { umount2(target.c_str(), MNT_DETACH); };
  ImageAccounts accounts;
  SKIFF_ASSIGN_OR_RETURN(accounts.passwd, ReadInRoot(target, "/etc/passwd"));
  SKIFF_ASSIGN_OR_RETURN(accounts.group, ReadInRoot(target, "/etc/group"));
  return accounts;
}

absl::StatusOr<ExecResult> ContainerdRuntime::Exec(const std::string& id,
                                                   const std::vector<std::string>& argv,
                                                   absl::Duration timeout, size_t max_output) {
  const absl::Time deadline = absl::Now() + timeout;
  SKIFF_ASSIGN_OR_RETURN(const containerd::services::containers::v1::Container container,
                         GetContainer(connection_, id, kCallTimeout));
  SKIFF_ASSIGN_OR_RETURN(std::string process_spec,
                         BuildExecProcessSpec(container.spec().value(), argv));
  SKIFF_ASSIGN_OR_RETURN(
      std::unique_ptr<ExecProcess> process,
      ExecProcess::Start(&connection_, options_.work_dir, *options_.random,
                         {.container_id = id, .process_spec = std::move(process_spec)}));

  // The shim opened the write ends while starting the process: EOF on both means it is done.
  ExecResult result;
  bool truncated = false;
  std::array<pollfd, 2> fds{pollfd{process->stdout_fd(), POLLIN, 0},
                            pollfd{process->stderr_fd(), POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.stdout_data, &result.stderr_data};
  int open_streams = 2;
  bool timed_out = false;
  while (open_streams > 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      timed_out = true;
      break;
    }
    const int ready = poll(fds.data(), fds.size(),
                           static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1,
                                                              1000)));
    if (ready < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "poll exec output");
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      if (!Drain(fds[i].fd, max_output, sinks[i], &truncated)) {
        fds[i].fd = -1;
        --open_streams;
      }
    }
  }
  if (timed_out) process->Kill();
  absl::StatusOr<uint32_t> exit_status = process->Wait(connection_.NewContext(kCallTimeout).get());
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("command in ", id, " still ran after ",
                                                    absl::FormatDuration(timeout), "; killed"));
  }
  if (!exit_status.ok()) return exit_status.status();
  result.exit_code = static_cast<int>(*exit_status);
  if (truncated) {
    absl::StrAppend(&result.stderr_data, "\n[skiff: output truncated at ", max_output,
                    " bytes]\n");
  }
  return result;
}

absl::StatusOr<std::unique_ptr<ExecSession>> ContainerdRuntime::StartExecSession(
    const std::string& id, const std::vector<std::string>& argv,
    const ExecSessionOptions& options) {
  SKIFF_ASSIGN_OR_RETURN(const containerd::services::containers::v1::Container container,
                         GetContainer(connection_, id, kCallTimeout));
  SKIFF_ASSIGN_OR_RETURN(std::string process_spec,
                         BuildExecProcessSpec(container.spec().value(), argv, options));
  SKIFF_ASSIGN_OR_RETURN(std::unique_ptr<ExecProcess> process,
                         ExecProcess::Start(&connection_, options_.work_dir, *options_.random,
                                            {.container_id = id,
                                             .process_spec = std::move(process_spec),
                                             .with_stdin = true,
                                             .tty = options.tty}));
  return ContainerdExecSession::Create(&connection_, std::move(process), options);
}

}  // namespace skiff::runtime
