#include "skiff/base/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "skiff/base/files.h"

extern char** environ;

namespace skiff {
namespace {

// "PID (COMM) STATE PPID ...": the fields after COMM, which may hold spaces and parentheses.
std::vector<std::string> StatFields(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadWholeFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return {};
  const size_t close_paren = stat->rfind(')');
  if (close_paren == std::string::npos) return {};
  return absl::StrSplit(absl::string_view(*stat).substr(close_paren + 1), ' ',
                        absl::SkipEmpty());
}

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, int output_fd,
                            bool new_session) {
  if (argv.empty()) return absl::InvalidArgumentError("spawn: no program");
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&] { posix_spawn_file_actions_destroy(&actions); };
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, output_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, output_fd, STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  absl::Cleanup destroy_attr = [&] { posix_spawnattr_destroy(&attr); };
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  flags |= new_session ? POSIX_SPAWN_SETSID : POSIX_SPAWN_SETPGROUP;
  posix_spawnattr_setflags(&attr, flags);
  if (!new_session) posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  if (rc != 0) return absl::ErrnoToStatus(rc, absl::StrCat("spawn ", argv[0]));
  return pid;
}

}  // namespace

std::vector<std::string> LiveCommandLine(pid_t pid) {
  if (pid <= 0) return {};
  for (int attempt = 0; attempt < 20; ++attempt) {
    absl::StatusOr<std::string> raw = ReadWholeFile(absl::StrCat("/proc/", pid, "/cmdline"));
    if (!raw.ok()) return {};
    if (!raw->empty()) return absl::StrSplit(*raw, '\0', absl::SkipEmpty());
    const std::vector<std::string> fields = StatFields(pid);
    if (fields.size() < 2) return {};
    if (fields[0] == "Z" || fields[0] == "X") return {};  // A zombie.
    if (fields[1] == "2") return {};                       // A kernel thread (kthreadd's child).
    absl::SleepFor(absl::Milliseconds(10));
  }
  return {};
}

absl::StatusOr<pid_t> SpawnInNewSession(const std::vector<std::string>& argv, int output_fd) {
  return Spawn(argv, output_fd, /*new_session=*/true);
}

absl::StatusOr<pid_t> SpawnInNewGroup(const std::vector<std::string>& argv, int output_fd) {
  return Spawn(argv, output_fd, /*new_session=*/false);
}

pid_t ParentPid(pid_t pid) {
  const std::vector<std::string> fields = StatFields(pid);
  pid_t ppid = -1;
  if (fields.size() < 2 || !absl::SimpleAtoi(fields[1], &ppid)) return -1;
  return ppid;
}

absl::StatusOr<pid_t> ReadPidFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return absl::NotFoundError(absl::StrCat("no pid file at ", path));
  pid_t pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &pid) || pid <= 1) {
    return absl::NotFoundError(absl::StrCat("the pid file ", path, " holds no pid: \"", *text,
                                            "\""));
  }
  return pid;
}

}  // namespace skiff
