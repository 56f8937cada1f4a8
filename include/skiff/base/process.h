// Processes that skiffd starts and that outlive it (the node's resolver, skiff-dns): how to start
// one in a session of its own, and how to tell later, from a pid file, whether the pid there is
// still that program or by now an unrelated process. Blocking; any thread.
#ifndef SKIFF_BASE_PROCESS_H_
#define SKIFF_BASE_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skiff {

// The argv of a live process from /proc/PID/cmdline; empty when there is no such process, it
// is a zombie or a kernel thread. A process in the middle of execve(2) shows an empty command
// line for a moment: this asks again for up to ~200 ms before answering "empty".
std::vector<std::string> LiveCommandLine(pid_t pid);

// The parent pid from /proc/PID/stat, or -1 when there is no such process.
pid_t ParentPid(pid_t pid);

// Starts argv[0] (an absolute path) in a new session with stdin from /dev/null, stdout and
// stderr to `output_fd`, no other descriptor of ours, default signal dispositions and an empty
// signal mask: a signal to our process group never reaches it and it holds none of our files.
absl::StatusOr<pid_t> SpawnInNewSession(const std::vector<std::string>& argv, int output_fd);

// The same in a process group of its own (it leads it) within our session: for a child that
// must not outlive us, which we kill as a group on a timeout.
absl::StatusOr<pid_t> SpawnInNewGroup(const std::vector<std::string>& argv, int output_fd);

// The pid in `path` (a decimal number and optional white space); NotFound when the file is
// missing or holds no pid greater than 1.
absl::StatusOr<pid_t> ReadPidFile(const std::string& path);

}  // namespace skiff

#endif  // SKIFF_BASE_PROCESS_H_
