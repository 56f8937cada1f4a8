// agentConnected follows containerd: a real skiffd on a private containerd that the test stops
// and starts again. describe-container-instances must say false within 2 s of containerd
// stopping and true within 2 s of its socket answering again (issue 17).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "e2e_test.h"

namespace skiff::e2e {
namespace {

using json = nlohmann::json;

constexpr absl::Duration kBudget = absl::Seconds(2);
// How long the test looks before it gives up: past the budget, to report how late it was.
constexpr absl::Duration kGiveUp = absl::Seconds(15);
constexpr absl::Duration kPoll = absl::Milliseconds(20);
// How long containerd stays down: long enough for gRPC's reconnect backoff to grow past the
// budget, so coming back is not seen only thanks to a short outage.
constexpr absl::Duration kOutage = absl::Seconds(6);

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

// Records when a Unix socket first accepts a connection, watching from another thread while
// the test thread restarts the daemon behind it. Bounded: gives up after kGiveUp.
class SocketWatch {
 public:
  explicit SocketWatch(std::string path)
      : thread_([this, path = std::move(path)] {
          const absl::Time deadline = absl::Now() + kGiveUp;
          while (!stop_.load() && absl::Now() < deadline) {
            if (SocketAccepts(path)) {
              absl::MutexLock lock(&mu_);
              answered_at_ = absl::Now();
              return;
            }
            absl::SleepFor(absl::Milliseconds(5));
          }
        }) {}
  ~SocketWatch() {
    stop_ = true;
    thread_.join();
  }
  // When it first answered; nullopt if it has not (yet).
  std::optional<absl::Time> answered_at() {
    absl::MutexLock lock(&mu_);
    return answered_at_;
  }

 private:
  absl::Mutex mu_;
  std::optional<absl::Time> answered_at_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Stops and starts containerd, so each test has a containerd of its own (E2eTest's rule).
class AgentTest : public E2eTest {
 protected:
  AgentTest() { namespace_prefix_ = "skiff-agent"; }
  static void SetUpTestSuite() {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(E2eTest::SetUp());
    if (IsSkipped()) return;
    ASSERT_NO_FATAL_FAILURE(StartSkiffd());
    std::string machine_id;
    std::ifstream("/etc/machine-id") >> machine_id;
    instance_ = machine_id.size() == 32 ? machine_id : std::string(32, '0');
  }

  // agentConnected as describe-container-instances says it; nullopt (with a failure) when the
  // CLI fails.
  std::optional<bool> AgentConnected() {
    skiff::testing::CommandResult r =
        Skiff({"describe-container-instances", "--container-instances", instance_});
    if (r.exit_code != 0) {
      ADD_FAILURE() << "describe-container-instances: exit " << r.exit_code << ": "
                    << r.stderr_text;
      return std::nullopt;
    }
    json out = json::parse(r.stdout_text, nullptr, false);
    if (out.is_discarded() || out["containerInstances"].size() != 1) {
      ADD_FAILURE() << "describe-container-instances: " << r.stdout_text;
      return std::nullopt;
    }
    return out["containerInstances"][0]["agentConnected"].get<bool>();
  }

  // Polls until agentConnected is `want`; returns when it first was, or nullopt after kGiveUp.
  std::optional<absl::Time> WaitForAgentConnected(bool want) {
    const absl::Time deadline = absl::Now() + kGiveUp;
    while (absl::Now() < deadline) {
      std::optional<bool> connected = AgentConnected();
      if (!connected.has_value()) return std::nullopt;
      if (*connected == want) return absl::Now();
      absl::SleepFor(kPoll);
    }
    return std::nullopt;
  }

  std::string instance_;
};

TEST_F(AgentTest, AgentConnectedFollowsContainerdWithinTwoSeconds) {
  ASSERT_EQ(AgentConnected(), std::optional<bool>(true));

  // Stopped: Pause() returns once containerd has exited (its shims would keep running).
  const absl::Time stopping = absl::Now();
  absl::Status paused = containerd_->Pause();
  ASSERT_TRUE(paused.ok()) << paused;
  const absl::Time stopped = absl::Now();
  std::optional<absl::Time> disconnected = WaitForAgentConnected(false);
  ASSERT_TRUE(disconnected.has_value())
      << "agentConnected still true " << absl::FormatDuration(kGiveUp)
      << " after containerd stopped\n" << skiffd_->Log();
  EXPECT_LE(*disconnected - stopped, kBudget)
      << "containerd took " << absl::FormatDuration(stopped - stopping) << " to stop\n"
      << skiffd_->Log();
  RecordProperty("disconnected_after_ms",
                 static_cast<int>(absl::ToInt64Milliseconds(*disconnected - stopped)));
  std::cerr << "agentConnected false " << absl::FormatDuration(*disconnected - stopped)
            << " after containerd stopped (it took " << absl::FormatDuration(stopped - stopping)
            << " to stop)" << std::endl;

  // While it is down, it stays down: no stale answer flips it back.
  const absl::Time outage_end = absl::Now() + kOutage;
  while (absl::Now() < outage_end) {
    std::optional<bool> down = AgentConnected();
    ASSERT_EQ(down, std::optional<bool>(false)) << skiffd_->Log();
    absl::SleepFor(absl::Milliseconds(200));
  }

  // Started again: the clock runs from the moment its socket accepts a connection.
  std::optional<absl::Time> answered;
  {
    SocketWatch watch(containerd_->socket_path());
    absl::Status resumed = containerd_->Resume();
    ASSERT_TRUE(resumed.ok()) << resumed;
    answered = watch.answered_at();
  }
  ASSERT_TRUE(answered.has_value()) << "containerd's socket never answered after Resume()";
  std::optional<absl::Time> connected = WaitForAgentConnected(true);
  ASSERT_TRUE(connected.has_value())
      << "agentConnected still false " << absl::FormatDuration(kGiveUp)
      << " after containerd came back\n" << skiffd_->Log();
  EXPECT_LE(*connected - *answered, kBudget) << skiffd_->Log();
  RecordProperty("connected_after_ms",
                 static_cast<int>(absl::ToInt64Milliseconds(*connected - *answered)));
  std::cerr << "agentConnected true " << absl::FormatDuration(*connected - *answered)
            << " after containerd's socket answered" << std::endl;

  // And it is the same truth that launches see: the daemon is serving normally again.
  EXPECT_EQ(Skiff({"list-tasks"}).exit_code, 0);
}

}  // namespace
}  // namespace skiff::e2e
