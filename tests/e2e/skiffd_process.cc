#include "skiffd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "skiff/network/cni_network.h"
#include "support/host_state.h"

namespace skiff::e2e {
namespace {

// Polling interval for waits on a child; e2e tests may poll, unit tests never sleep.
constexpr absl::Duration kPoll = absl::Milliseconds(20);

}  // namespace

absl::StatusOr<std::unique_ptr<SkiffdProcess>> SkiffdProcess::Create() {
  absl::StatusOr<std::unique_ptr<skiff::testing::TestSubnet>> subnet =
      skiff::testing::TestSubnet::Claim();
  if (!subnet.ok()) return subnet.status();
  char tmpl[] = "/tmp/skiffd-e2e.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  return std::unique_ptr<SkiffdProcess>(new SkiffdProcess(tmpl, *std::move(subnet)));
}

void SkiffdProcess::RemoveNetwork() {
  // What skiffd does at start for a crash's leftovers: CNI DEL in reverse, then the namespace.
  absl::StatusOr<std::unique_ptr<network::TaskNetwork>> cni =
      network::NewCniNetwork({.bridge = bridge(),
                              .subnet = subnet(),
                              .state_dir = state_dir() + "/network",
                              .netns_dir = state_dir() + "/netns"});
  if (cni.ok()) {
    absl::StatusOr<std::vector<std::string>> ids = (*cni)->List();
    for (const std::string& id : ids.ok() ? *ids : std::vector<std::string>{}) {
      (*cni)->Detach(id).IgnoreError();
    }
  }
  skiff::testing::RunCommand({"ip", "link", "del", bridge()}, absl::Seconds(10)).IgnoreError();
}

SkiffdProcess::~SkiffdProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  RemoveNetwork();
  // The load balancers' HAProxy and discovery's skiff-dns outlive skiffd by design (each runs
  // in a session of its own): the test started them, so the test stops them, HAProxy's master
  // and workers alike. A child that skiffd forked and that has not exec'd yet is still named
  // skiffd, and becomes a skiff-dns after the first look: look again until none is left.
  for (int round = 0; round < 20; ++round) {
    bool killed = false;
    for (const pid_t pid : skiff::testing::ProcessesReferencing(dir_)) {
      std::ifstream comm(absl::StrCat("/proc/", pid, "/comm"));
      std::string name;
      if (std::getline(comm, name) &&
          (name == "haproxy" || name == "skiff-dns" || name == "skiffd")) {
        killed = kill(pid, SIGKILL) == 0 || killed;
      }
    }
    if (!killed) break;
    absl::SleepFor(absl::Milliseconds(50));
  }
  // A skiffd killed while it had an image mounted (to read its users) leaves the mount; detach
  // it first, or remove_all would stop at the read-only mount and leave both behind.
  for (const std::string& point : MountsUnder(dir_)) umount2(point.c_str(), MNT_DETACH);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::vector<std::string> SkiffdProcess::MountsUnder(const std::string& dir) {
  std::vector<std::string> points;
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    if (fields >> id >> parent >> device >> root >> point && absl::StartsWith(point, dir + "/")) {
      points.push_back(point);
    }
  }
  std::sort(points.rbegin(), points.rend());  // Deepest first.
  return points;
}

absl::Status SkiffdProcess::Start(const std::vector<std::string>& extra_flags,
                                  const std::vector<std::string>& env) {
  if (pid_ > 0) return absl::FailedPreconditionError("skiffd already running");
  ++starts_;
  const std::string log = absl::StrCat(dir_, "/skiffd.", starts_, ".log");
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError("open log");
  skiff::testing::ChildSpec spec;
  spec.path = SKIFFD_BINARY;
  spec.argv = {SKIFFD_BINARY, "--state-dir", state_dir(), "--socket", socket()};
  if (network_flags_.empty()) {
    spec.argv.insert(spec.argv.end(), {"--bridge", bridge(), "--subnet", subnet()});
  } else {
    spec.argv.insert(spec.argv.end(), network_flags_.begin(), network_flags_.end());
  }
  spec.argv.insert(spec.argv.end(), extra_flags.begin(), extra_flags.end());
  // Daemons of parallel tests each publish dynamic host ports from a range of their own (by
  // their subnet's index, below the kernel's ephemeral ports): two daemons handing out the same
  // port would each install a DNAT rule for it, and one test's requests would reach the
  // other's task.
  if (std::find(extra_flags.begin(), extra_flags.end(), "--dynamic-host-ports") ==
      extra_flags.end()) {
    const int low = 20000 + subnet_->index() * 40;
    spec.argv.insert(spec.argv.end(),
                     {"--dynamic-host-ports", absl::StrCat(low, "-", low + 39)});
  }
  // Traffic stays on loopback: listeners bind 127.0.0.1 unless a test says otherwise.
  if (std::find(extra_flags.begin(), extra_flags.end(), "--lb-address") == extra_flags.end()) {
    spec.argv.insert(spec.argv.end(), {"--lb-address", "127.0.0.1"});
  }
  // Tests run side by side: each daemon's AWS API takes a free port (HttpEndpoint()).
  if (std::find(extra_flags.begin(), extra_flags.end(), "--http-address") == extra_flags.end()) {
    spec.argv.insert(spec.argv.end(), {"--http-address", "127.0.0.1:0"});
  }
  // ... and its task metadata endpoint another (127.0.0.1:51679 is one per host).
  if (std::find(extra_flags.begin(), extra_flags.end(), "--metadata-port") == extra_flags.end()) {
    spec.argv.insert(spec.argv.end(), {"--metadata-port", "0"});
  }
  spec.stdout_fd = fd;
  spec.stderr_fd = fd;
  spec.die_with_parent = true;
  spec.env = env;
  absl::StatusOr<pid_t> pid = skiff::testing::Spawn(spec);
  close(fd);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  return absl::OkStatus();
}

std::string SkiffdProcess::HttpEndpoint() const {
  const std::string kMarker = "serving the AWS API on ";
  const std::string log = Log();
  const size_t at = log.rfind(kMarker);
  if (at == std::string::npos) return "";
  const size_t start = at + kMarker.size();
  return log.substr(start, log.find(' ', start) - start);
}

std::string SkiffdProcess::Log() const {
  std::ifstream in(absl::StrCat(dir_, "/skiffd.", starts_, ".log"));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::Status SkiffdProcess::WaitReady(absl::string_view marker, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (absl::StrContains(Log(), marker)) return absl::OkStatus();
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("skiffd exited before ready:\n", Log()));
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(kPoll));
  }
  return absl::DeadlineExceededError(absl::StrCat("skiffd not ready:\n", Log()));
}

absl::StatusOr<int> SkiffdProcess::WaitExit(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(kPoll));
  }
  return absl::DeadlineExceededError(absl::StrCat("skiffd did not exit:\n", Log()));
}

absl::StatusOr<int> SkiffdProcess::Signal(int signal, absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("skiffd not running");
  kill(pid_, signal);
  return WaitExit(timeout);
}

skiff::testing::CommandResult SkiffdProcess::Skiff(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {SKIFF_BINARY, "--socket", socket()};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<skiff::testing::CommandResult> result =
      skiff::testing::RunCommand(argv, absl::Seconds(60));
  if (!result.ok()) return {.exit_code = -1, .stderr_text = std::string(result.status().message())};
  return *std::move(result);
}

}  // namespace skiff::e2e
