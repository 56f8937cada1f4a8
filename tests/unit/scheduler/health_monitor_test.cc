#include "skiff/scheduler/health_monitor.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "fakes/fake_runtime.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/json_codec.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Optional;

v1::HealthCheck Check(const std::string& json) {
  v1::HealthCheck check;
  EXPECT_TRUE(model::DecodeMessageText(json, &check).ok()) << json;
  return check;
}

HealthCheckResult Result(bool passed, absl::Time at) {
  return {.passed = passed, .exit_code = passed ? 0 : 1, .at = at};
}

TEST(HealthCheckSpecTest, CmdRunsTheProgramAndCmdShellRunsTheShell) {
  std::optional<HealthCheckSpec> cmd = HealthCheckSpecOf(Check(
      R"({"command": ["CMD", "curl", "-f", "http://127.0.0.1/"], "interval": 10, "timeout": 3,
          "retries": 2, "startPeriod": 20})"));
  ASSERT_TRUE(cmd.has_value());
  EXPECT_THAT(cmd->argv, ElementsAre("curl", "-f", "http://127.0.0.1/"));
  EXPECT_EQ(cmd->interval, absl::Seconds(10));
  EXPECT_EQ(cmd->timeout, absl::Seconds(3));
  EXPECT_EQ(cmd->retries, 2);
  EXPECT_EQ(cmd->start_period, absl::Seconds(20));

  std::optional<HealthCheckSpec> shell =
      HealthCheckSpecOf(Check(R"({"command": ["CMD-SHELL", "test -f /ok", "|| exit 1"]})"));
  ASSERT_TRUE(shell.has_value());
  EXPECT_THAT(shell->argv, ElementsAre("/bin/sh", "-c", "test -f /ok || exit 1"));
  // ECS's defaults.
  EXPECT_EQ(shell->interval, absl::Seconds(30));
  EXPECT_EQ(shell->timeout, absl::Seconds(5));
  EXPECT_EQ(shell->retries, 3);
  EXPECT_EQ(shell->start_period, absl::ZeroDuration());

  EXPECT_FALSE(HealthCheckSpecOf(Check(R"({"command": ["NONE"]})")).has_value());
}

TEST(HealthTrackerTest, RetriesFailuresInARowMakeItUnhealthyAndAPassResets) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  HealthTracker tracker(HealthCheckSpec{.retries = 3}, start);
  EXPECT_EQ(tracker.report().status, HealthStatus::kUnknown);
  EXPECT_TRUE(tracker.Record(Result(true, start + absl::Seconds(30))));
  EXPECT_EQ(tracker.report().status, HealthStatus::kHealthy);
  EXPECT_FALSE(tracker.Record(Result(false, start + absl::Seconds(60))));
  EXPECT_FALSE(tracker.Record(Result(false, start + absl::Seconds(90))));
  EXPECT_EQ(tracker.report().consecutive_failures, 2);
  EXPECT_EQ(tracker.report().status, HealthStatus::kHealthy);  // Not yet: 2 of 3.
  EXPECT_TRUE(tracker.Record(Result(false, start + absl::Seconds(120))));
  EXPECT_EQ(tracker.report().status, HealthStatus::kUnhealthy);
  EXPECT_TRUE(tracker.Record(Result(true, start + absl::Seconds(150))));
  EXPECT_EQ(tracker.report().status, HealthStatus::kHealthy);
  EXPECT_EQ(tracker.report().consecutive_failures, 0);
}

TEST(HealthTrackerTest, FailuresInsideTheStartPeriodDoNotCountUntilAPass) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  HealthTracker tracker(HealthCheckSpec{.start_period = absl::Seconds(60), .retries = 1}, start);
  EXPECT_FALSE(tracker.Record(Result(false, start + absl::Seconds(10))));
  EXPECT_FALSE(tracker.Record(Result(false, start + absl::Seconds(59))));
  EXPECT_EQ(tracker.report().consecutive_failures, 0);
  EXPECT_EQ(tracker.report().status, HealthStatus::kUnknown);
  EXPECT_TRUE(tracker.Record(Result(false, start + absl::Seconds(60))));  // Period over.
  EXPECT_EQ(tracker.report().status, HealthStatus::kUnhealthy);

  // A pass inside the start period ends it: the next failure counts.
  HealthTracker early(HealthCheckSpec{.start_period = absl::Seconds(60), .retries = 1}, start);
  EXPECT_TRUE(early.Record(Result(true, start + absl::Seconds(5))));
  EXPECT_TRUE(early.Record(Result(false, start + absl::Seconds(10))));
  EXPECT_EQ(early.report().status, HealthStatus::kUnhealthy);
}

TEST(HealthTrackerTest, AnAdoptedContainerKeepsItsStatus) {
  HealthTracker tracker(HealthCheckSpec{.retries = 2}, absl::FromUnixSeconds(0),
                        HealthStatus::kHealthy);
  EXPECT_EQ(tracker.report().status, HealthStatus::kHealthy);
  EXPECT_FALSE(tracker.Record(Result(false, absl::FromUnixSeconds(5))));
  EXPECT_TRUE(tracker.Record(Result(false, absl::FromUnixSeconds(10))));
}

class HealthMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    monitor_.SetListener([this](const std::string& id, HealthStatus status) {
      changes_.push_back(absl::StrCat(id, " ", HealthStatusName(status)));
    });
  }
  int Execs(const std::string& id) const {
    int n = 0;
    for (const std::string& call : runtime_.calls()) {
      n += absl::StartsWith(call, absl::StrCat("Exec ", id, " "));
    }
    return n;
  }
  // Moves time on in steps, letting the executor answer the checks as they come due.
  void Advance(absl::Duration d) {
    for (absl::Duration done; done < d; done += absl::Seconds(1)) {
      loop_.AdvanceTime(std::min(absl::Seconds(1), d - done));
      while (loop_.RunPending() + executor_.RunAll() > 0) {
      }
    }
  }

  SimulatedClock clock_;
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  fakes::FakeRuntime runtime_;
  HealthMonitor monitor_{&loop_, &executor_, &runtime_, &clock_};
  std::vector<std::string> changes_;
  const HealthCheckSpec spec_{.argv = {"/bin/sh", "-c", "true"},
                              .interval = absl::Seconds(10),
                              .timeout = absl::Seconds(2),
                              .retries = 2};
};

TEST_F(HealthMonitorTest, TheFirstCheckRunsOneIntervalAfterTheStartThenEveryInterval) {
  monitor_.Watch("c1", spec_);
  Advance(absl::Seconds(9));
  EXPECT_EQ(Execs("c1"), 0);
  Advance(absl::Seconds(1));
  EXPECT_EQ(Execs("c1"), 1);
  EXPECT_THAT(changes_, ElementsAre("c1 HEALTHY"));
  Advance(absl::Seconds(10));
  EXPECT_EQ(Execs("c1"), 2);
  EXPECT_THAT(changes_, ElementsAre("c1 HEALTHY"));  // Told only of changes.
  const HealthReport* report = monitor_.Find("c1");
  ASSERT_NE(report, nullptr);
  ASSERT_TRUE(report->last.has_value());
  EXPECT_EQ(report->last->exit_code, 0);
  EXPECT_EQ(report->last->output, "/bin/sh -c true");  // The fake echoes argv.
}

TEST_F(HealthMonitorTest, FailuresTimeoutsAndOutputAreRecorded) {
  runtime_.ScriptExec("c1", runtime::ExecResult{.exit_code = 3, .stdout_data = "no\n",
                                                .stderr_data = "broken\n"});
  monitor_.Watch("c1", spec_);
  Advance(absl::Seconds(10));
  EXPECT_THAT(changes_, testing::IsEmpty());
  EXPECT_EQ(monitor_.Find("c1")->consecutive_failures, 1);
  EXPECT_EQ(monitor_.Find("c1")->last->exit_code, 3);
  EXPECT_EQ(monitor_.Find("c1")->last->output, "no\nbroken\n");

  runtime_.ScriptExec("c1", absl::DeadlineExceededError("still ran after 2s; killed"));
  Advance(absl::Seconds(10));
  EXPECT_THAT(changes_, ElementsAre("c1 UNHEALTHY"));
  EXPECT_EQ(monitor_.Find("c1")->last->exit_code, -1);
  EXPECT_THAT(monitor_.Find("c1")->last->output, HasSubstr("timed out after 2s"));
}

TEST_F(HealthMonitorTest, OutputIsCutAtFourKilobytes) {
  runtime_.ScriptExec("c1", runtime::ExecResult{.exit_code = 0,
                                                .stdout_data = std::string(3000, 'o'),
                                                .stderr_data = std::string(3000, 'e')});
  monitor_.Watch("c1", spec_);
  Advance(absl::Seconds(10));
  const std::string& output = monitor_.Find("c1")->last->output;
  EXPECT_LT(output.size(), kHealthOutputLimit + 64);
  EXPECT_EQ(output.substr(0, 3000), std::string(3000, 'o'));
  EXPECT_THAT(output, HasSubstr("[skiff: output truncated]"));
}

TEST_F(HealthMonitorTest, ChecksThatCannotRunSayNothingAboutHealth) {
  runtime_.ScriptExec("c1", absl::UnavailableError("containerd unavailable"));
  monitor_.Watch("c1", spec_);
  Advance(absl::Seconds(60));
  EXPECT_GE(Execs("c1"), 5);  // Still tried every interval.
  EXPECT_EQ(monitor_.Find("c1")->consecutive_failures, 0);
  EXPECT_FALSE(monitor_.Find("c1")->last.has_value());
  runtime_.ScriptExec("c1", absl::NotFoundError("no running task"));
  Advance(absl::Seconds(30));
  EXPECT_EQ(monitor_.Find("c1")->consecutive_failures, 0);
  EXPECT_THAT(changes_, testing::IsEmpty());
}

TEST_F(HealthMonitorTest, AtMostOneCheckPerContainerIsInFlight) {
  // Hundreds of containers whose checks are slow to come back: each has one check queued, the
  // loop stays free, and the next check of each waits for its last to end.
  for (int i = 0; i < 300; ++i) monitor_.Watch(absl::StrCat("c", i), spec_);
  for (int k = 0; k < 10; ++k) {
    loop_.AdvanceTime(absl::Seconds(10));  // The executor does not run: checks hang.
  }
  EXPECT_EQ(monitor_.in_flight(), 300);
  EXPECT_EQ(executor_.RunAll(), 300);
  loop_.RunPending();
  EXPECT_EQ(monitor_.in_flight(), 0);
  EXPECT_EQ(changes_.size(), 300u);
  loop_.AdvanceTime(absl::Seconds(9));
  EXPECT_EQ(monitor_.in_flight(), 0);  // Timed from the end of the last check.
  loop_.AdvanceTime(absl::Seconds(1));
  EXPECT_EQ(monitor_.in_flight(), 300);
}

TEST_F(HealthMonitorTest, AResultForAContainerNoLongerWatchedIsDropped) {
  runtime_.ScriptExec("c1", runtime::ExecResult{.exit_code = 1});
  monitor_.Watch("c1", spec_);
  loop_.AdvanceTime(absl::Seconds(10));
  monitor_.Unwatch("c1");
  executor_.RunAll();
  loop_.RunPending();
  EXPECT_EQ(monitor_.Find("c1"), nullptr);
  EXPECT_EQ(monitor_.in_flight(), 0);
  Advance(absl::Minutes(5));
  EXPECT_EQ(Execs("c1"), 1);  // No timer of the old watch goes on.

  // Watched again: it starts over, and the old watch's timer does not double the checks.
  monitor_.Watch("c1", spec_);
  monitor_.Watch("c1", spec_);
  EXPECT_EQ(loop_.pending_timers(), 1u);
  Advance(absl::Seconds(10));
  EXPECT_EQ(Execs("c1"), 2);
}

TEST_F(HealthMonitorTest, UnwatchingCancelsTheNextCheckAtOnce) {
  monitor_.Watch("c1", spec_);
  EXPECT_EQ(loop_.pending_timers(), 1u);
  monitor_.Unwatch("c1");
  EXPECT_EQ(loop_.pending_timers(), 0u);  // Not left to fire and find nothing.
  loop_.AdvanceTime(absl::Minutes(5));
  EXPECT_EQ(executor_.pending(), 0u);
}

TEST_F(HealthMonitorTest, AResultOfAnEarlierWatchIsNotCounted) {
  runtime_.ScriptExec("c1", runtime::ExecResult{.exit_code = 1});
  monitor_.Watch("c1", spec_);
  loop_.AdvanceTime(absl::Seconds(10));  // A failing check is in flight...
  monitor_.Watch("c1", spec_, HealthStatus::kHealthy);  // ...when the container is re-watched.
  executor_.RunAll();
  loop_.RunPending();
  ASSERT_NE(monitor_.Find("c1"), nullptr);
  EXPECT_EQ(monitor_.Find("c1")->consecutive_failures, 0);
  EXPECT_FALSE(monitor_.Find("c1")->last.has_value());
  EXPECT_EQ(monitor_.in_flight(), 0);
}

TEST(HealthStatusTest, NamesAsEcsSpellsThem) {
  EXPECT_EQ(HealthStatusName(HealthStatus::kHealthy), "HEALTHY");
  EXPECT_EQ(HealthStatusName(HealthStatus::kUnhealthy), "UNHEALTHY");
  EXPECT_EQ(HealthStatusName(HealthStatus::kUnknown), "UNKNOWN");
  EXPECT_EQ(ParseHealthStatus("UNHEALTHY"), HealthStatus::kUnhealthy);
  EXPECT_EQ(ParseHealthStatus(""), HealthStatus::kUnknown);
}

}  // namespace
}  // namespace skiff::scheduler
