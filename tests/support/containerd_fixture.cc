#include "support/containerd_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

#ifndef SKIFF_SOURCE_DIR
#error "SKIFF_SOURCE_DIR must name the repository root (set by tests/support/CMakeLists.txt)"
#endif

namespace skiff::testing {
namespace {

constexpr absl::Duration kPollInterval = absl::Milliseconds(20);
constexpr absl::Duration kStartupTimeout = absl::Seconds(20);
constexpr absl::Duration kStopTimeout = absl::Seconds(10);
constexpr absl::Duration kCleanupCtrTimeout = absl::Seconds(30);
constexpr int kLogTailLines = 40;

// containerd 1.6 keeps the state of each task's shim here, one <namespace>/<id> directory each.
constexpr char kTaskStateSubdir[] = "/io.containerd.runtime.v2.task";

void Note(absl::string_view message) {
  std::cerr << "[PrivateContainerd] " << message << std::endl;
}

absl::Status WriteFile(const std::string& path, absl::string_view contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return absl::ErrnoToStatus(errno, absl::StrCat("write ", path));
  return absl::OkStatus();
}

std::vector<std::string> NonEmptyLines(absl::string_view text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) lines.emplace_back(line);
  }
  return lines;
}

// Task bundle directories of a daemon: state/io.containerd.runtime.v2.task/<ns>/<id>.
std::vector<std::string> TaskBundles(const std::string& state_dir) {
  std::vector<std::string> bundles;
  const std::string tasks = state_dir + kTaskStateSubdir;
  for (const std::string& ns : ListDir(tasks)) {
    for (const std::string& id : ListDir(absl::StrCat(tasks, "/", ns))) {
      bundles.push_back(absl::StrCat(tasks, "/", ns, "/", id));
    }
  }
  return bundles;
}

// The shim sockets of the daemon's tasks. containerd 1.6 puts them in /run/containerd/s
// whatever its state dir; a killed shim leaves its socket there.
std::vector<std::string> ShimSockets(const std::vector<std::string>& bundles) {
  std::vector<std::string> sockets;
  for (const std::string& bundle : bundles) {
    absl::StatusOr<std::string> address = ReadFile(bundle + "/address");
    if (!address.ok()) continue;
    absl::string_view path = absl::StripAsciiWhitespace(*address);
    if (absl::ConsumePrefix(&path, "unix://")) sockets.emplace_back(path);
  }
  return sockets;
}

// The cgroupsPath of each task's OCI spec, e.g. /skiff-test/web-1, followed by its parent.
// runc removes the task's cgroup when the task is deleted; when we had to kill the task
// ourselves nobody does.
std::vector<std::string> TaskCgroups(const std::vector<std::string>& bundles) {
  constexpr char kKey[] = "\"cgroupsPath\":\"";
  std::vector<std::string> cgroups;
  for (const std::string& bundle : bundles) {
    absl::StatusOr<std::string> spec = ReadFile(bundle + "/config.json");
    if (!spec.ok()) continue;
    const size_t start = spec->find(kKey);
    if (start == std::string::npos) continue;
    const size_t value = start + std::strlen(kKey);
    const size_t end = spec->find('"', value);
    if (end == std::string::npos) continue;
    std::string path = spec->substr(value, end - value);
    // "slice:prefix:name" is the systemd driver's form; it names no directory we could remove.
    if (absl::StartsWith(path, "/") && !absl::StrContains(path, ':') &&
        !absl::StrContains(path, "..")) {
      const std::string parent = path.substr(0, path.rfind('/'));
      cgroups.push_back(std::move(path));
      if (!parent.empty()) cgroups.push_back(parent);
    }
  }
  return cgroups;
}

// SIGKILLs what runs in the daemon's containers and its shims until none is left. Container
// processes first, so none outlives its shim and gets adopted by init.
absl::Status KillLeftovers(const std::string& dir, const std::string& socket) {
  const absl::Time deadline = absl::Now() + kStopTimeout;
  while (true) {
    const std::vector<pid_t> containers = ContainerProcessesUnder(dir);
    const std::vector<pid_t> shims = ShimProcessesOf(socket);
    if (containers.empty() && shims.empty()) return absl::OkStatus();
    if (absl::Now() > deadline) {
      return absl::InternalError(absl::StrCat("still alive after SIGKILL: container processes [",
                                              absl::StrJoin(containers, ","), "], shims [",
                                              absl::StrJoin(shims, ","), "]"));
    }
    for (pid_t pid : containers) kill(pid, SIGKILL);
    for (pid_t pid : shims) kill(pid, SIGKILL);
    absl::SleepFor(kPollInterval);
  }
}

bool SocketAccepts(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return ok;
}

std::string ConfigToml(const std::string& dir) {
  return absl::StrCat(R"(# Written by skiff::testing::PrivateContainerd.
version = 2
root = ")", dir, R"(/root"
state = ")", dir, R"(/state"
# containerd's temporary mounts (image unpack, user lookup) go here, not under /tmp.
temp = ")", dir, R"(/tmp"

# Not needed by Skiff, or would touch the host outside this directory (the CRI plugin starts
# its own network and pods; opt creates /opt/containerd). The legacy runtime plugin
# io.containerd.runtime.v1.linux must stay: containerd 1.6's tasks service refuses to load
# without it.
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
]

[grpc]
  address = ")", dir, R"(/containerd.sock"

[ttrpc]
  address = ")", dir, R"(/containerd.sock.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.monitor.v1.cgroups"]
  no_prometheus = true
)");
}

}  // namespace

std::string MissingRootOrContainerd() {
  if (geteuid() != 0) return absl::StrCat("needs root to run containerd (euid ", geteuid(), ")");
  for (const char* binary : {"containerd", "ctr", "runc", "containerd-shim-runc-v2"}) {
    if (FindInPath(binary).empty()) {
      return absl::StrCat(binary, " not found in PATH (apt-get install containerd runc)");
    }
  }
  return "";
}

bool RunningInCi() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr || *ci == '\0') return false;
  const std::string value = absl::AsciiStrToLower(ci);
  return value != "0" && value != "false";
}

absl::StatusOr<std::string> TestImageTarball() {
  struct Cache {
    std::string dir;
    absl::StatusOr<std::string> tarball;
    // A static with a destructor, on purpose: the tarball must outlive every test and be
    // deleted at exit so runs leave nothing in /tmp.
    ~Cache() {
      if (!dir.empty()) RemoveTree(dir).IgnoreError();
    }
  };
  static Cache cache = [] {
    Cache built;
    char dir[] = "/tmp/skiff-testimg.XXXXXX";
    if (mkdtemp(dir) == nullptr) {
      built.tarball = absl::ErrnoToStatus(errno, "mkdtemp");
      return built;
    }
    built.dir = dir;
    const std::string tarball = built.dir + "/busybox.tar";
    absl::StatusOr<CommandResult> result =
        RunCommand({"bash", SKIFF_SOURCE_DIR "/scripts/build-test-image.sh", tarball,
                    kTestImageRef},
                   absl::Seconds(120));
    if (!result.ok()) {
      built.tarball = result.status();
    } else if (result->exit_code != 0) {
      built.tarball = absl::InternalError(absl::StrCat(
          "scripts/build-test-image.sh exited ", result->exit_code, ": ", result->stderr_text));
    } else {
      built.tarball = tarball;
    }
    return built;
  }();
  return cache.tarball;
}

absl::StatusOr<std::unique_ptr<PrivateContainerd>> PrivateContainerd::Start() {
  // Short on purpose: a unix socket path must fit in 108 bytes.
  char dir[] = "/tmp/skiff-ctrd.XXXXXX";
  if (mkdtemp(dir) == nullptr) return absl::ErrnoToStatus(errno, "mkdtemp /tmp/skiff-ctrd.*");
  std::unique_ptr<PrivateContainerd> daemon(new PrivateContainerd(dir));

  absl::Status status = [&] {
    for (const std::string& sub : {daemon->dir_ + "/tmp", daemon->runc_root(),
                                   daemon->fifo_dir()}) {
      if (mkdir(sub.c_str(), 0700) != 0) return absl::ErrnoToStatus(errno, "mkdir " + sub);
    }
    absl::Status written = WriteFile(daemon->config_path(), ConfigToml(daemon->dir_));
    if (!written.ok()) return written;
    return daemon->StartDaemon();
  }();
  if (!status.ok()) {
    absl::Status cleanup = daemon->Stop();
    if (!cleanup.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(status.message(), "; cleanup also failed: ",
                                       cleanup.message()));
    }
    return status;
  }
  return daemon;
}

PrivateContainerd::~PrivateContainerd() {
  if (!stopped_ && ::testing::Test::HasFailure()) {
    std::cerr << "[PrivateContainerd] test failed; last lines of " << log_path() << ":\n"
              << LogTail(kLogTailLines) << std::endl;
  }
  absl::Status status = Stop();
  if (!status.ok()) ADD_FAILURE() << "PrivateContainerd cleanup of " << dir_ << ": " << status;
}

absl::Status PrivateContainerd::StartDaemon() {
  if (socket_path().size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path too long: ", socket_path()));
  }
  const int log_fd = open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::ErrnoToStatus(errno, "open " + log_path());
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ChildSpec spec;
  spec.path = FindInPath("containerd");
  spec.argv = {"containerd", "--config", config_path()};
  spec.stdin_fd = devnull;
  spec.stdout_fd = log_fd;
  spec.stderr_fd = log_fd;
  spec.die_with_parent = true;
  absl::StatusOr<pid_t> pid = spec.path.empty()
                                  ? absl::NotFoundError("containerd not found in PATH")
                                  : Spawn(spec);
  close(log_fd);
  if (devnull >= 0) close(devnull);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;

  absl::Status ready = WaitUntilReady(kStartupTimeout);
  if (!ready.ok()) {
    StopDaemon().IgnoreError();
    return absl::Status(ready.code(),
                        absl::StrCat(ready.message(), "\n--- last lines of ", log_path(),
                                     " ---\n", LogTail(kLogTailLines)));
  }
  return absl::OkStatus();
}

absl::Status PrivateContainerd::WaitUntilReady(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last_error = "socket never appeared";
  while (true) {
    if (!DaemonAlive()) return absl::InternalError("containerd exited during startup");
    if (SocketAccepts(socket_path())) {
      absl::StatusOr<CommandResult> version =
          RunCommand({"ctr", "--address", socket_path(), "version"}, absl::Seconds(5));
      if (version.ok() && version->exit_code == 0) break;
      last_error = version.ok() ? version->stderr_text : version.status().ToString();
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("containerd not ready after ",
                                                      absl::FormatDuration(timeout), ": ",
                                                      last_error));
    }
    absl::SleepFor(kPollInterval);
  }

  // containerd serves even when plugins failed to load; say which one instead of letting the
  // first `ctr run` fail obscurely (e.g. overlayfs on a /tmp that is itself overlayfs).
  std::string plugins;
  absl::Status listed = Ctr({"plugins", "ls"}, &plugins, absl::Seconds(10));
  if (!listed.ok()) return listed;
  const std::vector<std::pair<std::string, std::string>> required = {
      {"io.containerd.grpc.v1", "tasks"},
      {"io.containerd.runtime.v2", "task"},
      {"io.containerd.snapshotter.v1", "overlayfs"},
  };
  for (const auto& [type, id] : required) {
    bool ok = false;
    for (const std::string& line : NonEmptyLines(plugins)) {
      std::vector<absl::string_view> columns = absl::StrSplit(line, ' ', absl::SkipWhitespace());
      if (columns.size() >= 4 && columns[0] == type && columns[1] == id) {
        ok = columns.back() == "ok";
      }
    }
    if (!ok) {
      return absl::FailedPreconditionError(
          absl::StrCat("containerd plugin ", type, ".", id, " did not load"));
    }
  }
  return absl::OkStatus();
}

bool PrivateContainerd::DaemonAlive() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t waited = waitpid(pid_, &status, WNOHANG);
  if (waited == 0) return true;
  // Exited (now reaped), or ECHILD: someone else reaped it; either way it is gone.
  pid_ = -1;
  return false;
}

absl::Status PrivateContainerd::StopDaemon() {
  if (!DaemonAlive()) return absl::OkStatus();
  const pid_t group = pid_;
  kill(-group, SIGTERM);
  absl::Time deadline = absl::Now() + kStopTimeout;
  while (DaemonAlive() && absl::Now() < deadline) absl::SleepFor(kPollInterval);
  if (!DaemonAlive()) return absl::OkStatus();
  Note(absl::StrCat("containerd ", group, " ignored SIGTERM for ",
                    absl::FormatDuration(kStopTimeout), "; sending SIGKILL"));
  kill(-group, SIGKILL);
  deadline = absl::Now() + kStopTimeout;
  while (DaemonAlive() && absl::Now() < deadline) absl::SleepFor(kPollInterval);
  if (!DaemonAlive()) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("containerd ", group, " survived SIGKILL"));
}

absl::Status PrivateContainerd::Pause() {
  if (stopped_) return absl::FailedPreconditionError("PrivateContainerd already stopped");
  return StopDaemon();
}

absl::Status PrivateContainerd::Resume() {
  if (stopped_) return absl::FailedPreconditionError("PrivateContainerd already stopped");
  if (DaemonAlive()) return absl::OkStatus();
  return StartDaemon();
}

absl::Status PrivateContainerd::Restart() {
  if (stopped_) return absl::FailedPreconditionError("PrivateContainerd already stopped");
  absl::Status stopped = StopDaemon();
  if (!stopped.ok()) return stopped;
  return StartDaemon();
}

absl::Status PrivateContainerd::Ctr(const std::vector<std::string>& args, std::string* output,
                                    absl::Duration timeout) {
  std::vector<std::string> argv = {"ctr", "--address", socket_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> result = RunCommand(argv, timeout);
  if (!result.ok()) return result.status();
  if (output != nullptr) *output = result->stdout_text;
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat("ctr ", absl::StrJoin(args, " "), " exited ",
                                            result->exit_code, ": ",
                                            absl::StripAsciiWhitespace(result->stderr_text)));
  }
  return absl::OkStatus();
}

std::string PrivateContainerd::UniqueNamespace(absl::string_view prefix) const {
  // mkdtemp's suffix is [A-Za-z0-9], valid in a containerd namespace name.
  return absl::StrCat(prefix, "-", dir_.substr(dir_.rfind('.') + 1));
}

absl::StatusOr<std::string> PrivateContainerd::ImportTestImage(absl::string_view ns) {
  absl::StatusOr<std::string> tarball = TestImageTarball();
  if (!tarball.ok()) return tarball.status();
  const std::string name(ns);
  absl::Status imported =
      Ctr({"-n", name, "images", "import", *tarball}, nullptr, absl::Seconds(120));
  if (!imported.ok()) return imported;
  std::string images;
  absl::Status listed = Ctr({"-n", name, "images", "ls", "-q"}, &images);
  if (!listed.ok()) return listed;
  const std::vector<std::string> refs = NonEmptyLines(images);
  if (std::find(refs.begin(), refs.end(), kTestImageRef) == refs.end()) {
    return absl::NotFoundError(absl::StrCat("import did not create ", kTestImageRef,
                                            "; images in ", name, ": ", absl::StrJoin(refs, " ")));
  }
  return std::string(kTestImageRef);
}

absl::Status PrivateContainerd::DeleteNamespace(absl::string_view ns) {
  std::string output;
  if (absl::Status s = Ctr({"namespaces", "ls", "-q"}, &output, kCleanupCtrTimeout); !s.ok()) {
    return s;
  }
  const std::vector<std::string> namespaces = NonEmptyLines(output);
  if (std::find(namespaces.begin(), namespaces.end(), ns) == namespaces.end()) {
    return absl::OkStatus();
  }
  absl::Status status = EmptyAndRemoveNamespace(std::string(ns));
  if (status.ok()) deleted_namespaces_.emplace_back(ns);
  return status;
}

absl::Status PrivateContainerd::EmptyAndRemoveNamespace(const std::string& n) {
  absl::Status first;
  auto run = [&](const std::vector<std::string>& args, std::string* output = nullptr) {
    absl::Status status = Ctr(args, output, kCleanupCtrTimeout);
    if (!status.ok()) Note(status.ToString());
    first.Update(status);
    return status.ok();
  };
  auto list = [&](const std::vector<std::string>& args) {
    std::string output;
    return run(args, &output) ? NonEmptyLines(output) : std::vector<std::string>{};
  };
  // Kills what still runs, deletes the task and thereby stops its shim.
  for (const std::string& task : list({"-n", n, "tasks", "ls", "-q"})) {
    run({"-n", n, "tasks", "rm", "-f", task});
  }
  for (const std::string& container : list({"-n", n, "containers", "ls", "-q"})) {
    run({"-n", n, "containers", "rm", container});
  }
  std::vector<std::string> images = list({"-n", n, "images", "ls", "-q"});
  if (!images.empty()) {
    std::vector<std::string> args = {"-n", n, "images", "rm", "--sync"};
    args.insert(args.end(), images.begin(), images.end());
    run(args);
  }
  for (const std::string& lease : list({"-n", n, "leases", "ls", "-q"})) {
    run({"-n", n, "leases", "rm", lease});
  }
  // Children before parents; `ctr snapshots ls` has no --quiet, so skip its header.
  for (int round = 0; round < 5; ++round) {
    std::vector<std::string> lines = list({"-n", n, "snapshots", "ls"});
    if (lines.size() <= 1) break;
    for (size_t i = 1; i < lines.size(); ++i) {
      const std::string key = lines[i].substr(0, lines[i].find(' '));
      Ctr({"-n", n, "snapshots", "rm", key}, nullptr, kCleanupCtrTimeout).IgnoreError();
    }
  }
  // --cgroup also removes the namespace's parent cgroup (/NS) that runc leaves behind, though
  // on a hybrid cgroup v1 host not the one in the unified hierarchy; Stop() does that.
  run({"namespaces", "rm", "--cgroup", n});
  return first;
}

std::vector<std::string> PrivateContainerd::DeleteEverythingThroughCtr() {
  std::string output;
  absl::Status listed = Ctr({"namespaces", "ls", "-q"}, &output, kCleanupCtrTimeout);
  if (!listed.ok()) Note(listed.ToString());
  std::vector<std::string> namespaces = NonEmptyLines(output);
  for (const std::string& ns : namespaces) EmptyAndRemoveNamespace(ns).IgnoreError();
  return namespaces;
}

absl::Status PrivateContainerd::Stop() {
  if (stopped_) return absl::OkStatus();
  stopped_ = true;
  std::vector<std::string> namespaces;
  if (DaemonAlive()) namespaces = DeleteEverythingThroughCtr();

  // Whatever is still in the state dir after the ctr pass was not cleaned by containerd; note
  // it now, the directory goes away below.
  const std::vector<std::string> bundles = TaskBundles(state_dir());
  const std::vector<std::string> shim_sockets = ShimSockets(bundles);
  std::vector<std::string> cgroups = TaskCgroups(bundles);
  // ctr's default cgroup parent per namespace, as `ctr namespaces rm --cgroup` would remove it.
  for (const std::string& ns : namespaces) cgroups.push_back("/" + ns);
  for (const std::string& ns : deleted_namespaces_) {
    if (std::find(namespaces.begin(), namespaces.end(), ns) == namespaces.end()) {
      cgroups.push_back("/" + ns);
    }
  }

  absl::Status status = StopDaemon();
  status.Update(KillLeftovers(dir_, socket_path()));
  for (const std::string& socket : shim_sockets) {
    struct stat st;
    if (lstat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(socket.c_str());
  }
  RemoveCgroups(cgroups);
  status.Update(UnmountAllUnder(dir_));
  status.Update(RemoveTree(dir_));
  return status;
}

std::string PrivateContainerd::LogTail(int lines) const {
  absl::StatusOr<std::string> log = ReadFile(log_path());
  if (!log.ok()) return log.status().ToString();
  absl::string_view text = absl::StripTrailingAsciiWhitespace(*log);
  size_t start = text.size();
  for (int i = 0; i < lines && start > 0; ++i) {
    const size_t newline = text.rfind('\n', start - 1);
    if (newline == absl::string_view::npos) {
      start = 0;
      break;
    }
    start = newline;
  }
  return std::string(absl::StripLeadingAsciiWhitespace(text.substr(start)));
}

}  // namespace skiff::testing
