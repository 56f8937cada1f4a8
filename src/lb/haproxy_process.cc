#include "skiff/lb/haproxy_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "lb/admin_commands.h"
#include "skiff/base/files.h"
#include "skiff/base/process.h"
#include "skiff/base/status_macros.h"
#include "skiff/lb/haproxy_admin.h"


namespace skiff::lb {
namespace {

// How often the bounded waits below look again: HAProxy starts or reloads in tens of ms.
constexpr absl::Duration kPollInterval = absl::Milliseconds(10);
// `haproxy -c` of a config with thousands of servers takes well under a second.
constexpr absl::Duration kValidateTimeout = absl::Seconds(30);

absl::Status Errno(absl::string_view what) { return absl::ErrnoToStatus(errno, what); }

void Pause() { absl::SleepFor(kPollInterval); }

absl::Status MakeDirs(const std::string& dir) {
  std::string path;
  for (const absl::string_view part : absl::StrSplit(dir, '/', absl::SkipEmpty())) {
    absl::StrAppend(&path, "/", part);
    if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
      return Errno(absl::StrCat("mkdir ", path));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> ProcCmdline(pid_t pid) {
  absl::StatusOr<std::string> raw = ReadWholeFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!raw.ok()) return {};
  return absl::StrSplit(*raw, '\0', absl::SkipEmpty());
}

// Whether `pid` is a live HAProxy started on `config` (`haproxy ... -f CONFIG ...`). A zombie
// has an empty command line and does not count.
bool IsHaproxyOf(pid_t pid, const std::string& config) {
  if (pid <= 0) return false;
  const std::vector<std::string> argv = LiveCommandLine(pid);
  if (argv.empty()) return false;
  const absl::string_view program = argv[0];
  const size_t slash = program.rfind('/');
  const absl::string_view base =
      slash == absl::string_view::npos ? program : program.substr(slash + 1);
  if (base != "haproxy") return false;
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == "-f" && argv[i + 1] == config) return true;
  }
  return false;
}

// The children of `parent` that are HAProxy on `config`: the master's workers.
std::vector<pid_t> WorkersOf(pid_t parent, const std::string& config) {
  std::vector<pid_t> workers;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return workers;
  while (dirent* entry = readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid <= 0) continue;
    if (ParentPid(pid) == parent && IsHaproxyOf(pid, config)) workers.push_back(pid);
  }
  closedir(proc);
  return workers;
}

// Waits until none of `pids` is HAProxy on `config` any more, or `deadline`. True when gone.
bool WaitGone(const std::vector<pid_t>& pids, const std::string& config, absl::Time deadline) {
  while (true) {
    bool any = false;
    for (const pid_t pid : pids) any = any || IsHaproxyOf(pid, config);
    if (!any) return true;
    if (absl::Now() >= deadline) return false;
    Pause();
  }
}

// Reaps `pid`, waiting until `deadline`; then kills it (its group too, when it leads one).
// Returns its wait status, or DeadlineExceeded.
absl::StatusOr<int> ReapChild(pid_t pid, absl::Time deadline, bool kill_group) {
  while (true) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return Errno("waitpid");
    if (absl::Now() >= deadline) {
      kill(kill_group ? -pid : pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return absl::DeadlineExceededError(absl::StrCat("process ", pid, " did not exit in time"));
    }
    Pause();
  }
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

// HAProxy's diagnostics without its NOTICE banner ("haproxy version is", "path to executable").
std::string Diagnostics(absl::string_view output) {
  std::vector<absl::string_view> kept;
  for (const absl::string_view line : absl::StrSplit(output, '\n', absl::SkipWhitespace())) {
    if (absl::StrContains(line, "[NOTICE]")) continue;
    kept.push_back(absl::StripAsciiWhitespace(line));
  }
  return kept.empty() ? std::string(absl::StripAsciiWhitespace(output))
                      : absl::StrJoin(kept, "\n");
}

void RemoveIfPresent(const std::string& path) { unlink(path.c_str()); }

}  // namespace

HaproxyProcess::HaproxyProcess(HaproxyPaths paths) : paths_(std::move(paths)) {}

absl::Status HaproxyProcess::Validate(const std::string& config) const {
  // In the state dir when it exists, so relative paths in the config read as they will.
  struct stat st;
  const std::string dir =
      stat(paths_.dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) ? paths_.dir : "/tmp";
  std::string temp = dir + "/.haproxy-check.XXXXXX";
  const int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return Errno(absl::StrCat("mkostemp in ", dir));
  absl::Cleanup remove_temp = [&] { unlink(temp.c_str()); };
  {
    absl::Cleanup close_fd = [fd] { close(fd); };
    absl::string_view rest = config;
    while (!rest.empty()) {
      const ssize_t n = write(fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno(absl::StrCat("write ", temp));
      rest.remove_prefix(static_cast<size_t>(n));
    }
  }

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe2");
  absl::Cleanup close_read = [&] { close(out[0]); };
  // A group of its own, which is killed as a whole on timeout.
  absl::StatusOr<pid_t> pid = SpawnInNewGroup({paths_.binary, "-c", "-f", temp}, out[1]);
  close(out[1]);
  if (!pid.ok()) return pid.status();

  const absl::Time deadline = absl::Now() + kValidateTimeout;
  std::string output;
  char buffer[4096];
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    pollfd p{out[0], POLLIN, 0};
    const int n = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const ssize_t r = read(out[0], buffer, sizeof(buffer));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (output.size() < (1 << 20)) output.append(buffer, static_cast<size_t>(r));
  }
  SKIFF_ASSIGN_OR_RETURN(const int status, ReapChild(*pid, deadline, /*kill_group=*/true));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  // Name the config by what it is, not by our temporary file.
  const std::string message =
      absl::StrReplaceAll(Diagnostics(output), {{temp, "haproxy.cfg (candidate)"}});
  return absl::InvalidArgumentError(absl::StrCat("haproxy -c rejected the config (",
                                                 DescribeExit(status), "): ", message));
}

absl::StatusOr<pid_t> HaproxyProcess::MasterPid() const {
  absl::StatusOr<std::string> text = ReadWholeFile(paths_.pid_file());
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat("no HAProxy pid file at ", paths_.pid_file()));
  }
  pid_t pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 1) {
    return absl::NotFoundError(absl::StrCat("the pid file ", paths_.pid_file(),
                                            " holds no pid: \"", *text, "\""));
  }
  // A stale pid file names a dead process, or by now an unrelated one: only a HAProxy started on
  // our config is ours, and only its master (a worker's parent is that master).
  if (!IsHaproxyOf(pid, paths_.config()) || IsHaproxyOf(ParentPid(pid), paths_.config())) {
    return absl::NotFoundError(absl::StrCat(
        "pid ", pid, " of ", paths_.pid_file(), " is not a HAProxy master on ", paths_.config(),
        " (command line \"", absl::StrJoin(ProcCmdline(pid), " "), "\", parent ",
        ParentPid(pid), ")"));
  }
  return pid;
}

absl::Status HaproxyProcess::Apply(const std::string& config, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  SKIFF_RETURN_IF_ERROR(Validate(config));
  SKIFF_RETURN_IF_ERROR(MakeDirs(paths_.dir));
  SKIFF_RETURN_IF_ERROR(WriteFileAtomically(paths_.config(), config));
  if (absl::StatusOr<pid_t> master = MasterPid(); master.ok()) {
    return Reload(*master, deadline);
  }
  return Start(deadline);
}

absl::Status HaproxyProcess::Start(absl::Time deadline) {
  // What HAProxy says before it detaches (bind errors, say) goes to a file: the daemon keeps
  // no descriptor of ours, and a pipe could be held open by it.
  const std::string log = paths_.dir + "/haproxy.start.log";
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Errno(absl::StrCat("open ", log));
  // A session of its own from the first instant: a signal to our process group (a terminal's
  // ^C, ctest's timeout) never reaches HAProxy, which outlives us.
  absl::StatusOr<pid_t> launcher = SpawnInNewSession(
      {paths_.binary, "-W", "-D", "-f", paths_.config(), "-p", paths_.pid_file(), "-S",
       paths_.master_socket()},
      fd);
  close(fd);
  if (!launcher.ok()) return launcher.status();
  // With -D the launcher forks the master and exits once the workers have started.
  absl::StatusOr<int> status = ReapChild(*launcher, deadline, /*kill_group=*/false);
  const auto start_log = [&] { return Diagnostics(ReadWholeFile(log).value_or("")); };
  if (!status.ok()) {
    return absl::DeadlineExceededError(
        absl::StrCat("HAProxy did not detach in time: ", start_log()));
  }
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "HAProxy did not start (", DescribeExit(*status), "): ", start_log()));
  }
  return WaitForWorker("", deadline);
}

absl::Status HaproxyProcess::Reload(pid_t master, absl::Time deadline) {
  const HaproxyAdmin admin(paths_.admin_socket(), absl::Milliseconds(500));
  // The current worker, to tell the new one by; "" when none answers now (then any answer
  // after the signal is from the new one).
  absl::StatusOr<std::string> info = admin.Execute("show info");
  const std::string old_worker = info.ok() ? ShowInfoField(*info, "Pid") : "";
  if (kill(master, SIGUSR2) != 0) return Errno(absl::StrCat("SIGUSR2 to HAProxy ", master));
  return WaitForWorker(old_worker, deadline);
}

absl::Status HaproxyProcess::WaitForWorker(const std::string& old_worker, absl::Time deadline) {
  const HaproxyAdmin admin(paths_.admin_socket(), absl::Milliseconds(500));
  absl::Status last = absl::UnavailableError("not asked yet");
  while (true) {
    // The master writes its pid file after the launcher has exited: an empty or missing file
    // is "not yet", a pid that is not our HAProxy is a master that died.
    absl::StatusOr<pid_t> master = MasterPid();
    if (!master.ok()) {
      const std::string pid_text(
          absl::StripAsciiWhitespace(ReadWholeFile(paths_.pid_file()).value_or("")));
      if (!pid_text.empty()) {
        return absl::UnavailableError(
            absl::StrCat("HAProxy's master is gone: ", master.status().message(), "; start log: ",
                         ReadWholeFile(paths_.dir + "/haproxy.start.log").value_or("")));
      }
    }
    absl::StatusOr<std::string> info = admin.Execute("show info");
    if (info.ok()) {
      const std::string pid = ShowInfoField(*info, "Pid");
      if (!pid.empty() && pid != old_worker) return absl::OkStatus();
      last = absl::UnavailableError(absl::StrCat("the old worker ", pid, " still answers"));
    } else {
      last = info.status();
    }
    if (absl::Now() >= deadline) break;
    Pause();
  }
  // The master's view (a failed reload shows in its counters) helps whoever reads this.
  const HaproxyAdmin master_cli(paths_.master_socket(), absl::Milliseconds(500));
  absl::StatusOr<std::string> processes = master_cli.Execute("show proc");
  return absl::DeadlineExceededError(absl::StrCat(
      "no new HAProxy worker answered on ", paths_.admin_socket(), " in time (",
      last.message(), "); master: ",
      processes.ok() ? *processes : std::string(processes.status().message())));
}

absl::Status HaproxyProcess::Stop(absl::Duration grace) {
  absl::Status result = absl::OkStatus();
  if (absl::StatusOr<pid_t> master = MasterPid(); master.ok()) {
    // The workers too: should the master die first, they would serve on without it.
    std::vector<pid_t> pids = WorkersOf(*master, paths_.config());
    pids.push_back(*master);
    if (kill(*master, SIGTERM) != 0 && errno != ESRCH) {
      result = Errno(absl::StrCat("SIGTERM to HAProxy ", *master));
    }
    if (!WaitGone(pids, paths_.config(), absl::Now() + grace)) {
      for (const pid_t pid : pids) {
        if (IsHaproxyOf(pid, paths_.config())) kill(pid, SIGKILL);
      }
      if (!WaitGone(pids, paths_.config(), absl::Now() + absl::Seconds(5))) {
        result = absl::InternalError(
            absl::StrCat("HAProxy ", *master, " outlived SIGKILL on ", paths_.config()));
      }
    }
  }
  RemoveIfPresent(paths_.pid_file());
  RemoveIfPresent(paths_.admin_socket());
  RemoveIfPresent(paths_.master_socket());
  return result;
}

}  // namespace skiff::lb
