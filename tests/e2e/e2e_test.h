// E2eTest is the base fixture of the end-to-end tests: a private containerd (support/
// containerd_fixture.h), a real skiffd on it with its own state dir, socket, bridge and /24
// (SkiffdProcess), the busybox test image, an EcsClient on the daemon and the helpers the tests
// share (the skiff CLI runner, run a task and wait for it). Everything it starts is torn down
// whether or not the test passed: skiffd is SIGKILLed (and its network undone) before
// containerd removes every container, shim, mount and cgroup it made.
//
// containerd is started once per test suite (SetUpTestSuite), since a start costs a second or
// two, and each test gets its own namespace in it ("<prefix>-<n>"), emptied when the test ends.
// A suite whose tests stop, pause or restart containerd declares
//   static void SetUpTestSuite() {}
// which hides this one, and then each test starts a containerd of its own in SetUp(). Under
// ctest every test is a process of its own (gtest_discover_tests), so there the two are the
// same; running a test binary by hand shares one containerd among its tests.
//
// Test-thread only. Subclasses set namespace_prefix_ in their constructor and call
// StartSkiffd() (and LoadTestImage()) in their SetUp() or test body.
#ifndef SKIFF_TESTS_E2E_E2E_TEST_H_
#define SKIFF_TESTS_E2E_E2E_TEST_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ecs_client.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "skiff/v1/skiff.grpc.pb.h"
#include "skiffd_process.h"
#include "support/containerd_fixture.h"

namespace skiff::e2e {

class E2eTest : public ::testing::Test {
 protected:
  // One containerd for the suite (see the header comment); skipped without root.
  static void SetUpTestSuite();
  static void TearDownTestSuite();

  // Skips (fails in CI) without root and containerd. Then the suite's containerd or a new one,
  // a skiffd not started yet and this test's namespace ns_.
  void SetUp() override;
  // After a failure, the tail of skiffd's log on stderr. Then skiffd goes (SIGKILL) and, on a
  // shared containerd, everything in ns_ with it.
  void TearDown() override;

  // --containerd-address, --namespace and --runc-root for this test's containerd and ns_.
  std::vector<std::string> ContainerdFlags() const;
  // Starts skiffd with ContainerdFlags() and `extra`, `env` added to its environment, waits
  // until it is ready and connects client_. Fatal failures: call through ASSERT_NO_FATAL_FAILURE
  // where the rest of a test depends on it.
  void StartSkiffd(const std::vector<std::string>& extra = {},
                   const std::vector<std::string>& env = {});
  // SIGTERM, which must exit 0, then StartSkiffd() with the flags of the last start.
  void RestartSkiffd();
  // Streams the busybox test image to skiffd (Node.LoadImage).
  void LoadTestImage();

  // The skiff CLI against skiffd's socket.
  skiff::testing::CommandResult Skiff(const std::vector<std::string>& args) const;
  // A command that must exit 0; its output parsed as JSON (null when it printed nothing, as
  // the waiters do).
  nlohmann::json Ok(const std::vector<std::string>& args);
  // A command the daemon or the CLI refuses: `exit_code` and `says` on stderr.
  skiff::testing::CommandResult Refused(const std::vector<std::string>& args, int exit_code,
                                        absl::string_view says);
  // `describe-tasks --tasks id`'s task, or {} if there is none.
  nlohmann::json DescribeTaskJson(const std::string& id);

  // RegisterTaskDefinition through the API, `definition` as the ECS JSON request.
  void RegisterTaskDefinition(const nlohmann::json& definition);
  // RunTask of the family's latest revision; the task id, or "" after a test failure.
  std::string RunTask(const std::string& family);
  // Polls DescribeTasks until lastStatus is `status` (or STOPPED, which ends a wait for
  // RUNNING early); the task then, or {} after a test failure.
  v1::Task WaitForTaskStatus(const std::string& id, absl::string_view status,
                             absl::Duration timeout);

  // The last `lines` lines of skiffd's log.
  std::string SkiffdLogTail(int lines) const;

  // The containerd namespace of this test is namespace_prefix_ + "-" + a number, made unique
  // on the machine by the containerd's own suffix.
  std::string namespace_prefix_ = "skiff-e2e";
  // This test's containerd (the suite's or its own); its tests may restart it.
  skiff::testing::PrivateContainerd* containerd_ = nullptr;
  // Destroyed in TearDown(), before the containerd.
  std::unique_ptr<SkiffdProcess> skiffd_;
  std::unique_ptr<EcsClient> client_;
  std::string ns_;

 private:
  static std::unique_ptr<skiff::testing::PrivateContainerd>& SuiteContainerd();

  std::unique_ptr<skiff::testing::PrivateContainerd> own_containerd_;
  std::vector<std::string> last_extra_;
  std::vector<std::string> last_env_;
};

}  // namespace skiff::e2e

#endif  // SKIFF_TESTS_E2E_E2E_TEST_H_
