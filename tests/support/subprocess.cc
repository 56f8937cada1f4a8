#include "support/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace skiff::testing {

std::string FindInPath(absl::string_view name) {
  if (absl::StrContains(name, '/')) return std::string(name);
  const char* path_env = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path_env ? path_env : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

absl::StatusOr<pid_t> Spawn(const ChildSpec& spec) {
  std::vector<char*> argv;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  // The environment is built before fork: the child of a threaded process must not allocate.
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (const std::string& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    setpgid(0, 0);
    if (spec.die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(126);
    }
    // Blocked and ignored signals survive exec; a test that blocks SIGTERM for a signalfd
    // would otherwise start a containerd that ignores our SIGTERM.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
    dup2(spec.stdin_fd, STDIN_FILENO);
    dup2(spec.stdout_fd, STDOUT_FILENO);
    dup2(spec.stderr_fd, STDERR_FILENO);
    close_range(3, ~0U, 0);
    execve(spec.path.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  // Also in the parent, so the group exists before we might signal it.
  setpgid(pid, pid);
  return pid;
}

absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                         absl::Duration timeout) {
  if (argv.empty()) return absl::InvalidArgumentError("RunCommand: empty argv");
  ChildSpec spec;
  spec.path = FindInPath(argv[0]);
  if (spec.path.empty()) return absl::NotFoundError(absl::StrCat(argv[0], " not found in PATH"));
  spec.argv = argv;

  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  if (pipe2(err, O_CLOEXEC) != 0) {
    const int saved = errno;
    close(out[0]);
    close(out[1]);
    return absl::ErrnoToStatus(saved, "pipe2");
  }
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  spec.stdin_fd = devnull;
  spec.stdout_fd = out[1];
  spec.stderr_fd = err[1];
  absl::StatusOr<pid_t> pid = Spawn(spec);
  close(out[1]);
  close(err[1]);
  if (devnull >= 0) close(devnull);
  if (!pid.ok()) {
    close(out[0]);
    close(err[0]);
    return pid.status();
  }

  CommandResult result;
  bool timed_out = false;
  const absl::Time deadline = absl::Now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.stdout_text, &result.stderr_text};
  int open_fds = 2;
  while (open_fds > 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration() && !timed_out) {
      // Kill the whole group: ctr's children would otherwise keep the pipes open.
      timed_out = true;
      kill(-*pid, SIGKILL);
    }
    const int wait_ms = timed_out ? 1000 : static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
    const int ready = poll(fds, 2, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      if (timed_out) break;  // Someone outside the group holds the pipe; stop reading.
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (const pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(absl::StrJoin(argv, " "), ": no exit after ",
                                                    absl::FormatDuration(timeout), "; stderr: ",
                                                    result.stderr_text));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace skiff::testing
