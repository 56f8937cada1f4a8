// Tests of the integration-test harness itself: that PrivateContainerd gives a working,
// isolated containerd that really runs busybox under runc, and that destroying it leaves no
// process, mount, cgroup or file behind, even after the daemon crashed.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "support/containerd_fixture.h"

namespace {

using ::skiff::testing::ContainerProcessesUnder;
using ::skiff::testing::MountsUnder;
using ::skiff::testing::PrivateContainerd;
using ::skiff::testing::ProcessesReferencing;

#define ASSERT_OK(expr)                         \
  do {                                          \
    const absl::Status status_ = (expr);        \
    ASSERT_TRUE(status_.ok()) << status_;       \
  } while (false)

// For failure messages: "1234 (containerd-shim-runc-v2 -namespace ...)".
std::string Describe(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t pid : pids) {
    std::string cmdline;
    if (FILE* file = fopen(absl::StrCat("/proc/", pid, "/cmdline").c_str(), "r")) {
      for (int c; (c = fgetc(file)) != EOF;) {
        cmdline.push_back(c == '\0' ? ' ' : static_cast<char>(c));
      }
      fclose(file);
    }
    absl::StrAppend(&out, pid, " (", absl::StripTrailingAsciiWhitespace(cmdline), ") ");
  }
  return out;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// The server half of `ctr version`: "Server:\n  Version:  1.6.20~ds1\n...".
std::string ServerVersion(absl::string_view ctr_version_output) {
  bool in_server = false;
  for (absl::string_view line : absl::StrSplit(ctr_version_output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line == "Server:") in_server = true;
    if (in_server && absl::ConsumePrefix(&line, "Version:")) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return "";
}

// Whether the cgroup runc made for container `id` (ctr's default path /NS/ID) still exists in
// any hierarchy, v1 (/sys/fs/cgroup/<controller>/NS/ID) or v2 (/sys/fs/cgroup/NS/ID).
bool CgroupExists(const std::string& ns, const std::string& id) {
  const std::string suffix = absl::StrCat("/", ns, "/", id);
  if (PathExists("/sys/fs/cgroup" + suffix)) return true;
  for (const char* controller :
       {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd",
        "unified"}) {
    if (PathExists(absl::StrCat("/sys/fs/cgroup/", controller, suffix))) return true;
  }
  return false;
}

class HarnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_ROOT_AND_CONTAINERD();
    absl::StatusOr<std::unique_ptr<PrivateContainerd>> started = PrivateContainerd::Start();
    ASSERT_TRUE(started.ok()) << started.status();
    containerd_ = *std::move(started);
    ns_ = containerd_->UniqueNamespace("skiff-harness");
    absl::StatusOr<std::string> ref = containerd_->ImportTestImage(ns_);
    ASSERT_TRUE(ref.ok()) << ref.status();
    image_ = *ref;
  }

  // `ctr run` with runc state and IO fifos kept inside the daemon's directory.
  std::vector<std::string> RunArgs(std::vector<std::string> flags, const std::string& id,
                                   std::vector<std::string> command) const {
    std::vector<std::string> args = {"-n", ns_, "run", "--runc-root",
                                     containerd_->runc_root(), "--fifo-dir",
                                     containerd_->fifo_dir()};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back(image_);
    args.push_back(id);
    args.insert(args.end(), command.begin(), command.end());
    return args;
  }

  // Everything Stop() promises, checked from the outside once the fixture is gone.
  void ExpectNothingLeft(const std::string& dir, pid_t daemon_pid,
                         const std::string& container_id) const {
    EXPECT_EQ(MountsUnder(dir), std::vector<std::string>{});
    EXPECT_EQ(Describe(ProcessesReferencing(dir)), "");
    EXPECT_EQ(Describe(ContainerProcessesUnder(dir)), "");
    EXPECT_FALSE(PathExists(dir)) << dir;
    EXPECT_NE(kill(daemon_pid, 0), 0) << "containerd " << daemon_pid << " still running";
    EXPECT_FALSE(CgroupExists(ns_, container_id)) << container_id;
    EXPECT_FALSE(CgroupExists(ns_, "")) << "namespace cgroup /" << ns_;
  }

  std::unique_ptr<PrivateContainerd> containerd_;
  std::string ns_;
  std::string image_;
};

TEST_F(HarnessTest, ServerAnswersVersion) {
  std::string output;
  ASSERT_OK(containerd_->Ctr({"version"}, &output));
  EXPECT_NE(ServerVersion(output), "") << output;
}

TEST_F(HarnessTest, RunsBusyboxAsRoot) {
  std::string output;
  ASSERT_OK(containerd_->Ctr(RunArgs({"--rm"}, "as-root", {"sh", "-c", "echo hello; id -u"}),
                             &output));
  EXPECT_EQ(output, "hello\n0\n");
}

// ctr 1.6's `run` has no --user, so the process runs through `tasks exec` in a running
// container. The user is given as UID:GID because ctr resolves a bare UID or a name by
// mounting the live rootfs a second time, which breaks the container's overlayfs (see
// containerd_fixture.h); the write into /tmp would then fail.
TEST_F(HarnessTest, RunsProcessAsImageUser) {
  ASSERT_OK(containerd_->Ctr(RunArgs({"--detach"}, "as-app", {"sleep", "300"})));
  std::string output;
  ASSERT_OK(containerd_->Ctr({"-n", ns_, "tasks", "exec", "--exec-id", "probe",
                              "--fifo-dir", containerd_->fifo_dir(), "--user", "1000:1000",
                              "as-app", "sh", "-c",
                              "id -un; id -u; id -g; echo x > /tmp/probe && echo wrote"},
                             &output));
  EXPECT_EQ(output, "app\n1000\n1000\nwrote\n");
  // The running task is left to the fixture's cleanup.
}

TEST_F(HarnessTest, DestroyLeavesNothingBehind) {
  ASSERT_OK(containerd_->Ctr(RunArgs({"--detach"}, "leaky", {"sleep", "300"})));
  const std::string dir = containerd_->dir();
  const pid_t daemon_pid = containerd_->pid();
  // Preconditions, so the checks below cannot pass vacuously.
  ASSERT_FALSE(MountsUnder(dir).empty());
  ASSERT_FALSE(ContainerProcessesUnder(dir).empty());
  ASSERT_TRUE(CgroupExists(ns_, "leaky"));

  containerd_.reset();

  ExpectNothingLeft(dir, daemon_pid, "leaky");
}

// The path a crashing Skiff test takes: containerd dies with a task running, so nothing can be
// deleted through ctr and the fixture must kill the shim and the container itself.
TEST_F(HarnessTest, DestroyAfterContainerdCrashLeavesNothingBehind) {
  ASSERT_OK(containerd_->Ctr(RunArgs({"--detach"}, "orphan", {"sleep", "300"})));
  const std::string dir = containerd_->dir();
  const pid_t daemon_pid = containerd_->pid();
  std::string shim_address;
  {
    std::string address_file = absl::StrCat(containerd_->state_dir(),
                                             "/io.containerd.runtime.v2.task/", ns_,
                                             "/orphan/address");
    FILE* file = fopen(address_file.c_str(), "r");
    ASSERT_NE(file, nullptr) << address_file;
    char buffer[256] = {};
    ASSERT_NE(fgets(buffer, sizeof(buffer), file), nullptr);
    fclose(file);
    shim_address = buffer;
  }
  absl::string_view shim_socket = absl::StripAsciiWhitespace(shim_address);
  ASSERT_TRUE(absl::ConsumePrefix(&shim_socket, "unix://")) << shim_address;
  ASSERT_TRUE(PathExists(std::string(shim_socket)));

  ASSERT_EQ(kill(daemon_pid, SIGKILL), 0);
  containerd_.reset();

  ExpectNothingLeft(dir, daemon_pid, "orphan");
  EXPECT_FALSE(PathExists(std::string(shim_socket))) << shim_socket;
}

TEST_F(HarnessTest, RestartKeepsTasksRunning) {
  ASSERT_OK(containerd_->Ctr(RunArgs({"--detach"}, "survivor", {"sleep", "300"})));
  const pid_t before = containerd_->pid();

  ASSERT_OK(containerd_->Restart());

  EXPECT_NE(containerd_->pid(), before);
  std::string tasks;
  ASSERT_OK(containerd_->Ctr({"-n", ns_, "tasks", "ls"}, &tasks));
  EXPECT_TRUE(absl::StrContains(tasks, "RUNNING")) << tasks;
}

}  // namespace
