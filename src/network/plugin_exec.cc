#include "network/plugin_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "network/cni_result.h"

namespace skiff::network {
namespace {

absl::Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

absl::StatusOr<std::string> RunPlugin(const PluginCall& call) {
  const std::string path = absl::StrCat(call.plugin_dir, "/", call.type);
  std::vector<std::string> env_strings = {
      absl::StrCat("CNI_COMMAND=", call.command),
      absl::StrCat("CNI_CONTAINERID=", call.container_id),
      absl::StrCat("CNI_NETNS=", call.netns),
      absl::StrCat("CNI_IFNAME=", call.ifname),
      absl::StrCat("CNI_PATH=", call.plugin_dir),
      // The plugins run iptables, ip and sysctl-like helpers from the usual places.
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  };
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string argv0 = path;
  char* argv[] = {argv0.data(), nullptr};

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  absl::Cleanup close_all = [&] {
    for (int* p : {in, out, err}) {
      CloseFd(p[0]);
      CloseFd(p[1]);
    }
  };
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    return Errno("pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("CNI plugin ", path, ": ", std::strerror(spawned),
                     " (install Debian's containernetworking-plugins)"));
  }
  CloseFd(in[0]);
  CloseFd(out[1]);
  CloseFd(err[1]);
  // The configuration is a few KiB, well under a pipe's buffer: written whole before reading.
  const char* data = call.config.data();
  size_t left = call.config.size();
  while (left > 0) {
    const ssize_t n = write(in[1], data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // The plugin closed stdin; its exit status tells why.
    data += n;
    left -= static_cast<size_t>(n);
  }
  CloseFd(in[1]);

  std::string stdout_data, stderr_data;
  const absl::Time deadline = absl::Now() + call.timeout;
  bool timed_out = false;
  while (out[0] >= 0 || err[0] >= 0) {
    pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    const int wait_ms =
        static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    const int ready = poll(fds, 2, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = true;
      break;
    }
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[k].fd, buffer, sizeof(buffer));
      if (n > 0) {
        (k == 0 ? stdout_data : stderr_data).append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        CloseFd(k == 0 ? out[0] : err[0]);
      }
    }
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  const std::string what = absl::StrCat("CNI ", call.type, " ", call.command);
  if (timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": no answer after ", absl::FormatDuration(call.timeout)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat(what, ": ", PluginErrorMessage(stdout_data, stderr_data, status)));
  }
  return stdout_data;
}

}  // namespace skiff::network
