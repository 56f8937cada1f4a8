#include "network/plugin_exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

void WriteAll(int fd, const std::string& input) {
  const char* data = input.data();
  size_t left = input.size();
  while (left > 0) {
    const ssize_t n = write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // The process closed stdin; its exit status tells why.
    data += n;
    left -= static_cast<size_t>(n);
  }
}

// Reads both pipes until the process closes them (true) or the deadline passes (false).
bool ReadUntilClosed(int& out, int& err, absl::Time deadline, ExecResult& result) {
  while (out >= 0 || err >= 0) {
    pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    const int wait_ms =
        static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
    const int ready = poll(fds, 2, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[k].fd, buffer, sizeof(buffer));
      if (n > 0) {
        (k == 0 ? result.out : result.err).append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        CloseFd(k == 0 ? out : err);
      }
    }
  }
  return true;
}

}  // namespace

absl::StatusOr<ExecResult> Execute(const ExecCall& call) {
  std::vector<std::string> argv_strings = call.argv;
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = call.env;
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

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
  const int spawned =
      posix_spawn(&pid, call.path.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    return absl::FailedPreconditionError(absl::StrCat(call.path, ": ", std::strerror(spawned)));
  }
  CloseFd(in[0]);
  CloseFd(out[1]);
  CloseFd(err[1]);
  // The input is a few KiB, well under a pipe's buffer: written whole before reading.
  WriteAll(in[1], call.input);
  CloseFd(in[1]);

  ExecResult result;
  result.timed_out = !ReadUntilClosed(out[0], err[0], absl::Now() + call.timeout, result);
  if (result.timed_out) kill(pid, SIGKILL);
  while (waitpid(pid, &result.status, 0) < 0 && errno == EINTR) {
  }
  return result;
}

absl::StatusOr<std::string> RunPlugin(const PluginCall& call) {
  const std::string path = absl::StrCat(call.plugin_dir, "/", call.type);
  absl::StatusOr<ExecResult> result = Execute({
      .path = path,
      .argv = {path},
      .env = {absl::StrCat("CNI_COMMAND=", call.command),
              absl::StrCat("CNI_CONTAINERID=", call.container_id),
              absl::StrCat("CNI_NETNS=", call.netns), absl::StrCat("CNI_IFNAME=", call.ifname),
              absl::StrCat("CNI_PATH=", call.plugin_dir),
              // The plugins run iptables, ip and sysctl-like helpers from the usual places.
              "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      .input = call.config,
      .timeout = call.timeout,
  });
  if (!result.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "CNI plugin ", result.status().message(), " (install Debian's containernetworking-plugins)"));
  }
  const std::string what = absl::StrCat("CNI ", call.type, " ", call.command);
  if (result->timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat(what, ": no answer after ", absl::FormatDuration(call.timeout)));
  }
  if (!WIFEXITED(result->status) || WEXITSTATUS(result->status) != 0) {
    return absl::InternalError(absl::StrCat(
        what, ": ", PluginErrorMessage(result->out, result->err, result->status)));
  }
  return std::move(result->out);
}

}  // namespace skiff::network
