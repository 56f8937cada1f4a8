// PrivateContainerd is a containerd daemon that belongs to one test: its own root, state and
// socket under a fresh /tmp directory, started as a child of the test process and torn down
// with everything it made (tasks, shims, mounts, cgroups of its containers, files) when the
// object is destroyed, whether or not the test passed. Integration tests create one per test or
// per suite, talk to it over socket_path() and drive it with ctr through Ctr().
//
// Not thread-safe: create, use and destroy it from the test's main thread. The daemon dies
// with the thread that started it (PR_SET_PDEATHSIG), so call Start() and Restart() from a
// thread that outlives the object.
//
// Inside namespace skiff, `testing::` now names skiff::testing; spell gtest's `::testing::`.
//
// Isolation notes for ctr users. containerd 1.6 puts a few things under /run/containerd no
// matter how it is configured: shim sockets (/run/containerd/s, shared but content-addressed by
// our socket path), and, unless the client says otherwise, runc state and IO fifos. Pass
// `--runc-root runc_root()` and `--fifo-dir fifo_dir()` to `ctr run`/`ctr tasks exec` to keep
// those inside this daemon's directory. Never use `ctr tasks exec --user NAME` or `--user UID`
// on a running container: ctr 1.6 resolves them by mounting the container's live snapshot a
// second time, which resets overlayfs' work dir and breaks copy-up (writes into lower-layer
// directories then fail with ENOENT). `--user UID:GID` does not mount and is safe.

#ifndef SKIFF_TESTS_SUPPORT_CONTAINERD_FIXTURE_H_
#define SKIFF_TESTS_SUPPORT_CONTAINERD_FIXTURE_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
// Re-exported: tests that use the fixture check for leaks with host_state.h and run other
// programs with subprocess.h.
#include "support/host_state.h"  // IWYU pragma: export
#include "support/subprocess.h"  // IWYU pragma: export

namespace skiff::testing {

// The reference that scripts/build-test-image.sh gives the busybox test image by default.
inline constexpr char kTestImageRef[] = "skiff.local/busybox:test";

class PrivateContainerd {
 public:
  // Creates the directory, writes config.toml and starts containerd. Returns once the daemon
  // answers `ctr version` and its task service and overlayfs snapshotter loaded. Fails with
  // DeadlineExceeded (never became ready), Internal (exited) or FailedPrecondition (a plugin
  // did not load, e.g. overlayfs on an overlayfs /tmp), the message carrying the tail of
  // containerd.log. On failure nothing is left behind.
  static absl::StatusOr<std::unique_ptr<PrivateContainerd>> Start();

  PrivateContainerd(const PrivateContainerd&) = delete;
  PrivateContainerd& operator=(const PrivateContainerd&) = delete;

  // Calls Stop(); a failed cleanup is reported as a test failure (ADD_FAILURE), and if the
  // running test has failed the tail of containerd.log goes to stderr, since the log itself is
  // deleted with the directory.
  ~PrivateContainerd();

  // Removes everything this daemon made, in order: tasks, containers, images, snapshots and
  // namespaces through ctr (best effort; skipped if the daemon is already dead), then SIGTERM to
  // the daemon's process group (SIGKILL after 10s), SIGKILL to any process left in one of its
  // containers and to its shims, then the cgroups of its containers, the mounts under dir() and
  // dir() itself. Returns the first step that left something behind; ctr errors alone do not
  // count, the later steps repair them. Idempotent.
  absl::Status Stop();

  // Removes everything in namespace `ns` through ctr (tasks, containers, images, leases,
  // snapshots) and the namespace itself, as Stop() does for every namespace: for tests that
  // share one daemon, each in its own namespace. OK if there is no such namespace. Returns the
  // first ctr error (the rest is still tried); the cgroups a hybrid cgroup v1 host keeps go in
  // Stop().
  absl::Status DeleteNamespace(absl::string_view ns);

  // Stops the daemon (SIGTERM, then SIGKILL) and starts it again on the same directories. Shims
  // and their tasks keep running across the restart, as with a real containerd upgrade.
  absl::Status Restart();
  // Restart() in two steps, for an outage of a chosen length: Pause() stops the daemon (shims and
  // their tasks keep running), Resume() starts it again and waits until it answers.
  absl::Status Pause();
  absl::Status Resume();

  // Runs `ctr --address socket_path() ARGS...`. Returns OK if ctr exited 0 and stores its stdout
  // in *output (if not null). Otherwise Internal with ctr's exit status and stderr, or
  // DeadlineExceeded if it ran longer than `timeout` (it is then killed).
  absl::Status Ctr(const std::vector<std::string>& args, std::string* output = nullptr,
                   absl::Duration timeout = absl::Seconds(60));

  // Imports the busybox test image (built once per process by scripts/build-test-image.sh) into
  // `ns` and unpacks it for the default snapshotter. Returns the image reference, kTestImageRef.
  absl::StatusOr<std::string> ImportTestImage(absl::string_view ns);

  // `prefix` plus this daemon's unique suffix, e.g. skiff-test-AbC123. Use it as the containerd
  // namespace when tests may run in parallel: ctr (and runc) name a task's cgroup /NAMESPACE/ID,
  // so two daemons running the same container id in the same namespace would share a cgroup.
  std::string UniqueNamespace(absl::string_view prefix) const;

  // The daemon's directory, e.g. /tmp/skiff-ctrd.AbC123; everything below it is removed by Stop().
  const std::string& dir() const { return dir_; }
  // The gRPC socket; also what `ctr --address` and the shims' -address argument name.
  std::string socket_path() const { return dir_ + "/containerd.sock"; }
  std::string ttrpc_socket_path() const { return dir_ + "/containerd.sock.ttrpc"; }
  std::string root_dir() const { return dir_ + "/root"; }
  std::string state_dir() const { return dir_ + "/state"; }
  std::string config_path() const { return dir_ + "/config.toml"; }
  std::string log_path() const { return dir_ + "/containerd.log"; }
  // Where to point `ctr run --runc-root` and `--fifo-dir`; see the header comment.
  std::string runc_root() const { return dir_ + "/runc"; }
  std::string fifo_dir() const { return dir_ + "/fifo"; }
  // The daemon's pid (also its process group), or -1 once stopped. Tests may signal it to
  // simulate a crash; Stop() still cleans up.
  pid_t pid() const { return pid_; }

 private:
  explicit PrivateContainerd(std::string dir) : dir_(std::move(dir)) {}

  absl::Status StartDaemon();
  absl::Status WaitUntilReady(absl::Duration timeout);
  // SIGTERM, bounded wait, SIGKILL; reaps the child. OK if the daemon is gone afterwards.
  absl::Status StopDaemon();
  // Whether the child is still running; reaps it if it exited.
  bool DaemonAlive();
  // DeleteNamespace() of a namespace that exists; the first ctr error.
  absl::Status EmptyAndRemoveNamespace(const std::string& ns);
  // The ctr pass of Stop(); returns the namespaces it found. Errors are only logged: the
  // daemon may be dead on purpose.
  std::vector<std::string> DeleteEverythingThroughCtr();
  std::string LogTail(int lines) const;

  std::string dir_;
  // Namespaces DeleteNamespace() removed, whose cgroups Stop() removes too.
  std::vector<std::string> deleted_namespaces_;
  pid_t pid_ = -1;
  bool stopped_ = false;
};

// Builds the busybox OCI image tarball once per process and returns its path. The file lives in
// a temporary directory removed at process exit.
absl::StatusOr<std::string> TestImageTarball();

// Empty if this process can run a private containerd (root, and containerd, ctr, runc and
// containerd-shim-runc-v2 in PATH); otherwise why not.
std::string MissingRootOrContainerd();
// Whether we run under CI (env CI set and not "false"/"0"), where a missing prerequisite is a
// failure rather than a reason to skip.
bool RunningInCi();

}  // namespace skiff::testing

// Put first in a test body or SetUp() (any function returning void): `missing` is a string
// expression that names what the machine lacks ("" when nothing). Skips the test when it is not
// empty, except in CI, where that is a (fatal) failure: a CI job that silently skips its
// integration tests passes without testing anything.
#define SKIFF_REQUIRE_NOTHING_MISSING(missing)                                   \
  do {                                                                           \
    if (const std::string skiff_missing_ = (missing); !skiff_missing_.empty()) { \
      if (::skiff::testing::RunningInCi()) {                                     \
        GTEST_FAIL() << skiff_missing_ << " (CI is set, so this is a failure)"; \
      }                                                                          \
      GTEST_SKIP() << skiff_missing_;                                            \
    }                                                                            \
  } while (false)

// Root and containerd, as above.
#define SKIFF_REQUIRE_ROOT_AND_CONTAINERD() \
  SKIFF_REQUIRE_NOTHING_MISSING(::skiff::testing::MissingRootOrContainerd())

#endif  // SKIFF_TESTS_SUPPORT_CONTAINERD_FIXTURE_H_
