// The parts of the containerd adapter that touch the host directly: exec (FIFOs for the
// process's output) and reading an image's account files through a short mount.
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "google/protobuf/empty.pb.h"
#include "skiff/base/status_macros.h"
#include "skiff/containerd/containerd_runtime.h"
#include "containerd/containerd_containers.h"

namespace skiff::runtime {
namespace {

namespace tasks_api = containerd::services::tasks::v1;

constexpr absl::Duration kCallTimeout = absl::Seconds(30);
constexpr char kProcessTypeUrl[] = "types.containerd.io/opencontainers/runtime-spec/1/Process";
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

// The parent of each process on the host, from /proc/<pid>/stat (fields after the command name,
// which may itself hold spaces and parentheses).
std::map<pid_t, std::vector<pid_t>> ChildrenOnHost() {
  std::map<pid_t, std::vector<pid_t>> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    if (!absl::SimpleAtoi(name, &pid)) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(absl::string_view(stat).substr(close_paren + 1), ' ', absl::SkipEmpty());
    pid_t ppid = 0;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &ppid)) children[ppid].push_back(pid);
  }
  return children;
}

// SIGKILLs pid and everything it started. An exec'd command that timed out may have forked
// (`sh -c "a | b"`, a daemonizing check); killing only its pid would leave the rest running
// inside the container. Children are collected first, so none is reparented away meanwhile.
void KillProcessTree(pid_t root) {
  const std::map<pid_t, std::vector<pid_t>> children = ChildrenOnHost();
  std::vector<pid_t> tree{root};
  for (size_t i = 0; i < tree.size(); ++i) {
    auto it = children.find(tree[i]);
    if (it != children.end()) tree.insert(tree.end(), it->second.begin(), it->second.end());
  }
  for (pid_t pid : tree) kill(pid, SIGKILL);
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
  SKIFF_ASSIGN_OR_RETURN(std::string process,
                         BuildExecProcessSpec(container.spec().value(), argv));

  const std::string exec_id = absl::StrCat("exec-", RandomHex(*options_.random, 16));
  const std::string dir = absl::StrCat(options_.work_dir, "/", exec_id);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("create ", dir, ": ", ec.message()));
  absl::Cleanup remove_dir = [&dir] { std::filesystem::remove_all(dir); };
  const std::string out_path = dir + "/stdout";
  const std::string err_path = dir + "/stderr";
  for (const std::string& path : {out_path, err_path}) {
    if (mkfifo(path.c_str(), 0600) != 0) return absl::ErrnoToStatus(errno, "mkfifo " + path);
  }
  // Readers first, non-blocking, so the shim's blocking open for writing finds them.
  const int out_fd = open(out_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  const int err_fd = open(err_path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  absl::Cleanup close_fds = [out_fd, err_fd] {
    if (out_fd >= 0) close(out_fd);
    if (err_fd >= 0) close(err_fd);
  };
  if (out_fd < 0 || err_fd < 0) return absl::ErrnoToStatus(errno, "open exec fifos in " + dir);

  auto tasks = tasks_api::Tasks::NewStub(connection_.channel());
  tasks_api::ExecProcessRequest exec;
  exec.set_container_id(id);
  exec.set_exec_id(exec_id);
  exec.set_stdout(out_path);
  exec.set_stderr(err_path);
  exec.mutable_spec()->set_type_url(kProcessTypeUrl);
  exec.mutable_spec()->set_value(process);
  google::protobuf::Empty empty;
  grpc::Status status = tasks->Exec(connection_.NewContext(kCallTimeout).get(), exec, &empty);
  if (!status.ok()) return connection_.ToStatus(status, "Tasks.Exec " + id);
  absl::Cleanup delete_process = [&] {
    tasks_api::DeleteProcessRequest remove;
    remove.set_container_id(id);
    remove.set_exec_id(exec_id);
    tasks_api::DeleteResponse removed;
    tasks->DeleteProcess(connection_.NewContext(kCallTimeout).get(), remove, &removed);
  };
  tasks_api::StartRequest start;
  start.set_container_id(id);
  start.set_exec_id(exec_id);
  tasks_api::StartResponse started;
  status = tasks->Start(connection_.NewContext(kCallTimeout).get(), start, &started);
  if (!status.ok()) return connection_.ToStatus(status, "Tasks.Start (exec) " + id);

  // The shim opened the write ends while starting the process: EOF on both means it is done.
  ExecResult result;
  bool truncated = false;
  std::array<pollfd, 2> fds{pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}};
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
  if (timed_out) {
    if (started.pid() > 0) KillProcessTree(static_cast<pid_t>(started.pid()));
    tasks_api::KillRequest kill;
    kill.set_container_id(id);
    kill.set_exec_id(exec_id);
    kill.set_signal(SIGKILL);
    tasks->Kill(connection_.NewContext(kCallTimeout).get(), kill, &empty);
  }
  tasks_api::WaitRequest wait;
  wait.set_container_id(id);
  wait.set_exec_id(exec_id);
  tasks_api::WaitResponse waited;
  status = tasks->Wait(connection_.NewContext(kCallTimeout).get(), wait, &waited);
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("command in ", id, " still ran after ",
                                                    absl::FormatDuration(timeout), "; killed"));
  }
  if (!status.ok()) return connection_.ToStatus(status, "Tasks.Wait (exec) " + id);
  result.exit_code = static_cast<int>(waited.exit_status());
  if (truncated) {
    absl::StrAppend(&result.stderr_data, "\n[skiff: output truncated at ", max_output,
                    " bytes]\n");
  }
  return result;
}

}  // namespace skiff::runtime
