// CrashTest is the fixture of the crash-safety end-to-end tests (crash_e2e_test and
// crash_soak_e2e_test), on E2eTest: one private containerd per test (the tests restart and
// pause it), a real skiffd (SkiffdProcess) that the test starts, SIGKILLs and restarts on the
// same state dir, a gRPC stub on it, and the check that
// after a restart the store and containerd match one to one. NotifySocket plays systemd's side of
// sd_notify, so tests can read what skiffd says on NOTIFY_SOCKET.
//
// Test-thread only, except where a method says otherwise. Every wait is bounded.
#ifndef SKIFF_TESTS_E2E_CRASH_FIXTURE_H_
#define SKIFF_TESTS_E2E_CRASH_FIXTURE_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "e2e_test.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::e2e {

// A datagram socket bound at a path, as systemd binds the one it names in NOTIFY_SOCKET. Each
// sd_notify() call of the daemon is one datagram. Closed (and unlinked) on destruction.
class NotifySocket {
 public:
  struct Message {
    absl::Time at;     // When the test received it.
    std::string text;  // E.g. "READY=1\nSTATUS=serving".
  };

  static absl::StatusOr<std::unique_ptr<NotifySocket>> Bind(const std::string& path);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // The next datagram; DeadlineExceeded if none comes within `timeout`.
  absl::StatusOr<Message> Next(absl::Duration timeout);
  // Reads datagrams until one contains `text` and returns it; DeadlineExceeded (naming what did
  // come) if none does within `timeout`. Every datagram read on the way is kept in seen().
  absl::StatusOr<Message> WaitFor(absl::string_view text, absl::Duration timeout);

  // Every datagram read so far, in order.
  const std::vector<Message>& seen() const { return seen_; }
  const std::string& path() const { return path_; }

 private:
  NotifySocket(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_;
  std::string path_;
  std::vector<Message> seen_;
};

class CrashTest : public E2eTest {
 protected:
  // The family that Setup() and RegisterSleeper() register.
  static constexpr char kFamily[] = "sleeper";

  CrashTest() { namespace_prefix_ = "skiff-crash"; }
  // Hides E2eTest's: a containerd per test, since tests restart and pause it.
  static void SetUpTestSuite() {}

  // A fresh skiffd (own state dir and namespace) on the same containerd.
  void NewSkiffd();
  // Starts skiffd on the current state dir with `env` added, and (if `wait`) waits until ready.
  void Start(const std::vector<std::string>& env = {}, bool wait = true);
  // SIGKILL, and waits until the process is gone.
  void Kill9();

  // Loads the test image and registers `revisions` revisions of kFamily (sleep 3600, 3601, ...).
  void Setup(int revisions = 1);
  // Registers one more revision of kFamily whose container has the environment variable
  // SKIFF_SOAK=`env_value` and returns its revision number.
  absl::StatusOr<int> RegisterSleeper(const std::string& env_value);

  grpc::Status CreateService(const std::string& name, int count,
                             const std::string& task_definition = "sleeper:1");
  // UpdateService with only the given fields set.
  grpc::Status UpdateService(const std::string& name, std::optional<int> desired_count,
                             std::optional<std::string> task_definition = std::nullopt);
  absl::StatusOr<v1::Service> DescribeService(const std::string& name);

  // Bounded: polls every 100 ms until one deployment runs exactly the desired count.
  void WaitStable(const std::string& name, absl::Duration timeout = absl::Seconds(60));

  // Task ids of the cluster by desired status (every page of ListTasks).
  std::vector<std::string> Tasks(const std::string& desired, const std::string& service = "");
  v1::Task DescribeTask(const std::string& id);

  // Container id → pid of the running tasks in skiffd's namespace, from ctr.
  std::map<std::string, int> Pids();
  // SIGKILLs the process of the task's container from outside and waits (bounded) until
  // containerd no longer reports it running.
  void KillContainer(const std::string& task_id);
  // The lines of a ctr command's output.
  std::set<std::string> Lines(const std::vector<std::string>& args);

  // The store and containerd agree, one to one, once orphans are removed (bounded wait):
  // - every task the store wants RUNNING has its container, labelled skiff.task/container/
  //   cluster (and skiff.service for a service task), with a running process;
  // - every container of the namespace that carries skiff.task belongs to a task the store knows
  //   (a task that failed before its container was created has none), under that task's name;
  // - no process runs for a task the store holds STOPPED;
  // - the active snapshots are exactly the containers' snapshot keys, one each;
  // - nothing is mounted in skiffd's state dir (a killed skiffd's leftovers are cleared).
  void ExpectStoreMatchesContainerd();

  std::unique_ptr<v1::Ecs::Stub> stub_;
  int instances_ = 1;  // E2eTest::SetUp() made the first.

 private:
  // One pass of ExpectStoreMatchesContainerd's check; empty if it holds, else what is wrong.
  std::string StoreVersusContainerd();
};

}  // namespace skiff::e2e

#endif  // SKIFF_TESTS_E2E_CRASH_FIXTURE_H_
