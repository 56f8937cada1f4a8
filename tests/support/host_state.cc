#include "support/host_state.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace skiff::testing {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

bool IsInside(absl::string_view path, absl::string_view dir) {
  return path == dir || (absl::StartsWith(path, dir) && path.size() > dir.size() &&
                         path[dir.size()] == '/');
}

struct MountEntry {
  std::string root;         // Path of the mount's root inside its filesystem.
  std::string mount_point;
  std::string fs_type;
  std::string super_options;
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string UnescapeMountField(absl::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const absl::string_view digits = field.substr(i + 1, 3);
      if (std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        out.push_back(static_cast<char>((digits[0] - '0') * 64 + (digits[1] - '0') * 8 +
                                        (digits[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

std::vector<MountEntry> ParseMountInfo(absl::string_view text) {
  std::vector<MountEntry> mounts;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    auto separator = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 5 || separator == fields.end() || fields.end() - separator < 4) continue;
    mounts.push_back({UnescapeMountField(fields[3]), UnescapeMountField(fields[4]),
                      std::string(separator[1]), std::string(separator[3])});
  }
  return mounts;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  for (const std::string& name : ListDir("/proc")) {
    if (std::all_of(name.begin(), name.end(), absl::ascii_isdigit)) {
      pids.push_back(static_cast<pid_t>(std::strtol(name.c_str(), nullptr, 10)));
    }
  }
  return pids;
}

// Empty for zombies, kernel threads and processes that are gone.
std::vector<std::string> CommandLine(pid_t pid) {
  absl::StatusOr<std::string> raw = ReadFile(absl::StrCat("/proc/", pid, "/cmdline"));
  if (!raw.ok()) return {};
  std::vector<std::string> argv = absl::StrSplit(*raw, '\0');
  if (!argv.empty() && argv.back().empty()) argv.pop_back();
  return argv;
}

// A zombie cannot be killed again and is not ours to reap (its parent was the daemon or init).
bool Exited(pid_t pid) {
  absl::StatusOr<std::string> stat = ReadFile(absl::StrCat("/proc/", pid, "/stat"));
  if (!stat.ok()) return true;
  const size_t paren = stat->rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat->size()) return true;
  const char state = (*stat)[paren + 2];
  return state == 'Z' || state == 'X';
}

// "mnt:[4026531841]", or "" if the process is gone. `proc_dir` is /proc/PID or /proc/self.
std::string MountNamespace(const std::string& proc_dir) {
  char target[64] = {};
  const std::string link = proc_dir + "/ns/mnt";
  const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : "";
}

thread_local std::string remove_tree_error;

int RemoveEntry(const char* path, const struct stat*, int type, FTW*) {
  const int rc = (type == FTW_DP) ? rmdir(path) : unlink(path);
  if (rc != 0 && errno != ENOENT && remove_tree_error.empty()) {
    remove_tree_error = absl::StrCat(path, ": ", std::strerror(errno));
  }
  return 0;  // Keep going: remove as much as we can.
}

}  // namespace

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return names;
  while (dirent* entry = readdir(dir)) {
    absl::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> MountsUnder(absl::string_view dir) {
  absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return {};
  std::vector<std::string> mounts;
  for (MountEntry& mount : ParseMountInfo(*mountinfo)) {
    if (IsInside(mount.mount_point, dir)) mounts.push_back(std::move(mount.mount_point));
  }
  // Deepest first; among equals the later (upper) mount first.
  std::reverse(mounts.begin(), mounts.end());
  std::stable_sort(mounts.begin(), mounts.end(), [](const std::string& a, const std::string& b) {
    return std::count(a.begin(), a.end(), '/') > std::count(b.begin(), b.end(), '/');
  });
  return mounts;
}

std::vector<pid_t> ProcessesReferencing(absl::string_view dir) {
  std::vector<pid_t> found;
  const pid_t self = getpid();
  for (pid_t pid : AllPids()) {
    if (pid == self) continue;
    for (const std::string& arg : CommandLine(pid)) {
      // Also --flag=PATH forms.
      const size_t equals = arg.find('=');
      const absl::string_view value = equals == std::string::npos
                                          ? absl::string_view()
                                          : absl::string_view(arg).substr(equals + 1);
      if (IsInside(arg, dir) || (!value.empty() && IsInside(value, dir))) {
        found.push_back(pid);
        break;
      }
    }
  }
  return found;
}

std::vector<pid_t> ContainerProcessesUnder(absl::string_view dir) {
  const std::string own_namespace = MountNamespace("/proc/self");
  // Every process of a container shares its mount namespace; look at each namespace once.
  std::map<std::string, bool> namespace_matches;
  std::vector<pid_t> found;
  for (pid_t pid : AllPids()) {
    const std::string ns = MountNamespace(absl::StrCat("/proc/", pid));
    if (ns.empty() || ns == own_namespace || Exited(pid)) continue;
    auto [it, inserted] = namespace_matches.try_emplace(ns, false);
    if (inserted) {
      absl::StatusOr<std::string> mountinfo = ReadFile(absl::StrCat("/proc/", pid, "/mountinfo"));
      if (!mountinfo.ok()) {
        namespace_matches.erase(it);
        continue;
      }
      const std::string layer_prefix = absl::StrCat(dir, "/");
      for (const MountEntry& mount : ParseMountInfo(*mountinfo)) {
        if (mount.mount_point != "/") continue;
        // overlay names its layers in the super options; a bind mount (native snapshotter)
        // shows the source directory as its root.
        it->second = absl::StrContains(mount.super_options, layer_prefix) ||
                     IsInside(mount.root, dir);
        break;
      }
    }
    if (it->second) found.push_back(pid);
  }
  return found;
}

std::vector<pid_t> ShimProcessesOf(absl::string_view socket) {
  // containerd starts each as `containerd-shim-runc-v2 -namespace NS -id ID -address SOCKET`.
  std::vector<pid_t> shims;
  for (pid_t pid : AllPids()) {
    const std::vector<std::string> argv = CommandLine(pid);
    if (argv.empty()) continue;
    const absl::string_view path = argv[0];
    const absl::string_view program = path.substr(path.rfind('/') + 1);
    if (!absl::StartsWith(program, "containerd-shim")) continue;
    for (size_t i = 1; i < argv.size(); ++i) {
      const bool flag = argv[i] == "-address" || argv[i] == "--address";
      if ((flag && i + 1 < argv.size() && argv[i + 1] == socket) ||
          argv[i] == absl::StrCat("-address=", socket) ||
          argv[i] == absl::StrCat("--address=", socket)) {
        shims.push_back(pid);
        break;
      }
    }
  }
  return shims;
}

absl::Status UnmountAllUnder(const std::string& dir) {
  std::string first_error;
  // Stacked mounts need one umount each, hence the rounds.
  for (int round = 0; round < 8; ++round) {
    const std::vector<std::string> mounts = MountsUnder(dir);
    if (mounts.empty()) return absl::OkStatus();
    for (const std::string& mount_point : mounts) {
      // MNT_DETACH: a process we could not kill may still hold it busy; detaching still frees
      // the path so the directory can go.
      if (umount2(mount_point.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT &&
          first_error.empty()) {
        first_error = absl::StrCat(" (umount ", mount_point, ": ", std::strerror(errno), ")");
      }
    }
  }
  const std::vector<std::string> left = MountsUnder(dir);
  if (left.empty()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("still mounted: ", absl::StrJoin(left, ", "), first_error));
}

absl::Status RemoveTree(const std::string& dir) {
  remove_tree_error.clear();
  nftw(dir.c_str(), RemoveEntry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0 && errno == ENOENT) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("could not remove ", dir, ": ",
                                          remove_tree_error.empty() ? "?" : remove_tree_error));
}

void RemoveCgroups(const std::vector<std::string>& cgroups) {
  if (cgroups.empty()) return;
  absl::StatusOr<std::string> mountinfo = ReadFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return;
  std::vector<std::string> hierarchies;
  for (const MountEntry& mount : ParseMountInfo(*mountinfo)) {
    if (mount.fs_type == "cgroup" || mount.fs_type == "cgroup2") {
      hierarchies.push_back(mount.mount_point);
    }
  }
  // The kernel frees a cgroup shortly after its last process dies, so a cgroup of a task we
  // just killed may be busy for a moment. One short deadline for all: a cgroup that is busy
  // because someone else uses it must not hold us up per hierarchy.
  const absl::Time deadline = absl::Now() + absl::Seconds(2);
  for (const std::string& cgroup : cgroups) {
    for (const std::string& hierarchy : hierarchies) {
      const std::string path = hierarchy + cgroup;
      while (rmdir(path.c_str()) != 0 && errno == EBUSY && absl::Now() < deadline) {
        absl::SleepFor(kPollInterval);
      }
    }
  }
}

}  // namespace skiff::testing
