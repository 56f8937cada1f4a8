// Autoscaling with real containers: skiffd samples every second (--stats-interval 1); a service
// of busybox tasks with cpu 256 (a CFS quota of a quarter core) burns CPU while a file exists
// in a host directory that every task mounts, so one file on the host turns the load on and
// off for all of them. A target tracking policy on ECSServiceAverageCPUUtilization (target 50)
// scales the service out from 1 to its maximum 3, then, once the file is gone, back in to 1,
// skipping the task under scale-in protection; the policy and the activities survive a
// SIGKILL of skiffd.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

constexpr char kAs[] = "application-autoscaling";

class AutoscalingTest : public E2eTest {
 protected:
  AutoscalingTest() { namespace_prefix_ = "skiff-as"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(StartSkiffd({"--stats-interval", "1"}));
    ASSERT_NO_FATAL_FAILURE(LoadTestImage());
    load_dir_ = skiffd_->dir() + "/load";
    std::filesystem::create_directories(load_dir_);
  }

  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove(load_dir_ + "/burn", ec);  // Whatever happened, the load stops.
    E2eTest::TearDown();
  }

  void SetLoad(bool on) {
    if (on) {
      std::ofstream(load_dir_ + "/burn") << "1";
    } else {
      std::filesystem::remove(load_dir_ + "/burn");
    }
  }

  // Every flag of the scalable target's identity, then `args`.
  static std::vector<std::string> On(std::vector<std::string> args) {
    args.insert(args.begin(), kAs);
    for (const char* flag : {"--service-namespace", "ecs", "--scalable-dimension",
                             "ecs:service:DesiredCount", "--resource-id",
                             "service/default/hot"}) {
      args.push_back(flag);
    }
    return args;
  }

  json Service() { return Ok({"describe-services", "--services", "hot"})["services"][0]; }
  json Activities() {
    return Ok({kAs, "describe-scaling-activities", "--service-namespace", "ecs"})
        ["ScalingActivities"];
  }

  // Polls (every 500 ms, at most `timeout`) until `done` holds of the service; false on timeout.
  bool WaitFor(absl::Duration timeout, const std::function<bool(const json&)>& done,
               json* last) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      *last = Service();
      if (done(*last)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return false;
  }

  std::vector<std::string> RunningTasks() {
    std::vector<std::string> out;
    const json tasks = Ok({"list-tasks", "--service-name", "hot", "--desired-status",
                           "RUNNING"});
    for (const json& arn : tasks["taskArns"]) out.push_back(arn.get<std::string>());
    return out;
  }

  std::string load_dir_;
};

TEST_F(AutoscalingTest, ScalesOutUnderLoadAndBackInSkippingAProtectedTask) {
  // Burns while the host's file exists, idles otherwise; exits at once on SIGTERM.
  RegisterTaskDefinition(
      {{"family", "burner"},
       {"networkMode", "host"},
       {"cpu", "256"},
       {"memory", "64"},
       {"volumes", json::array({{{"name", "load"}, {"host", {{"sourcePath", load_dir_}}}}})},
       {"containerDefinitions",
        json::array({{{"name", "main"},
                      {"image", skiff::testing::kTestImageRef},
                      {"stopTimeout", 2},
                      {"mountPoints", json::array({{{"sourceVolume", "load"},
                                                    {"containerPath", "/load"}}})},
                      {"command", json::array({"sh", "-c",
                                               "trap 'exit 0' TERM; while :; do "
                                               "while [ -e /load/burn ]; do :; done; "
                                               "sleep 1; done"})}}})}});
  Ok({"create-service", "--service-name", "hot", "--task-definition", "burner",
      "--desired-count", "1"});
  Ok({"wait", "services-stable", "--services", "hot", "--timeout", "30"});
  Ok(On({"register-scalable-target", "--min-capacity", "1", "--max-capacity", "3"}));
  Ok(On({"put-scaling-policy", "--policy-name", "cpu50", "--policy-type",
         "TargetTrackingScaling", "--target-tracking-scaling-policy-configuration",
         R"({"TargetValue": 50, "PredefinedMetricSpecification":
             {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
             "ScaleOutCooldown": 5, "ScaleInCooldown": 10})"}));

  // Load: one task at its quarter core is 100% of its reservation, twice the target.
  const absl::Time load_start = absl::Now();
  SetLoad(true);
  json service;
  ASSERT_TRUE(WaitFor(absl::Seconds(35), [](const json& s) {
    return s["desiredCount"] == 3 && s["runningCount"] == 3;
  }, &service)) << service.dump(2) << SkiffdLogTail(30);
  std::cout << "1 -> 3 tasks RUNNING " << absl::ToDoubleSeconds(absl::Now() - load_start)
            << " s after the load started\n";
  json activities = Activities();
  ASSERT_GE(activities.size(), 1u) << activities.dump(2);
  const json& first = activities[activities.size() - 1];  // Newest first.
  // ceil(1 × ~100 / 50) = 2; 3 only if the quota let the task run above its quarter core.
  EXPECT_THAT(first["Description"].get<std::string>(),
              ::testing::MatchesRegex("Setting desired count to [23]\\."));
  EXPECT_EQ(first["StatusCode"], "Successful");
  EXPECT_THAT(first["Cause"].get<std::string>(),
              HasSubstr("monitor TargetTracking-service/default/hot-High-cpu50 in state ALARM "
                        "triggered policy cpu50 (ECSServiceAverageCPUUtilization"));
  EXPECT_EQ(activities[0]["Description"], "Setting desired count to 3.");
  bool event = false;
  for (const json& e : service["events"]) {
    event = event || absl::StrContains(e["message"].get<std::string>(),
                                       "(service hot) has updated its desired count from 1 to ");
  }
  EXPECT_TRUE(event) << service["events"].dump(2);

  // Protect one task, then stop the load: the service goes back to 1, and that task stays.
  const std::vector<std::string> running = RunningTasks();
  ASSERT_EQ(running.size(), 3u);
  const std::string kept = running[1];
  Ok({"update-task-protection", "--tasks", kept, "--protection-enabled"});
  SetLoad(false);
  const absl::Time load_end = absl::Now();
  ASSERT_TRUE(WaitFor(absl::Seconds(40), [](const json& s) {
    return s["desiredCount"] == 1 && s["runningCount"] == 1;
  }, &service)) << service.dump(2) << SkiffdLogTail(30);
  std::cout << "3 -> 1 task " << absl::ToDoubleSeconds(absl::Now() - load_end)
            << " s after the load stopped\n";
  EXPECT_EQ(RunningTasks(), std::vector<std::string>{kept});
  EXPECT_EQ(DescribeTaskJson(kept)["lastStatus"], "RUNNING");
  activities = Activities();
  EXPECT_EQ(activities[0]["Description"], "Setting desired count to 1.");
  EXPECT_THAT(activities[0]["Cause"].get<std::string>(),
              HasSubstr("every policy with scale-in enabled agrees"));

  // kill -9: the policy and every activity are still there.
  client_.reset();
  absl::StatusOr<int> killed = skiffd_->Signal(SIGKILL);
  ASSERT_TRUE(killed.ok()) << killed.status();
  ASSERT_NO_FATAL_FAILURE(StartSkiffd({"--stats-interval", "1"}));
  const json policies = Ok({kAs, "describe-scaling-policies", "--service-namespace", "ecs"});
  ASSERT_EQ(policies["ScalingPolicies"].size(), 1u) << policies.dump(2);
  EXPECT_EQ(policies["ScalingPolicies"][0]["PolicyName"], "cpu50");
  EXPECT_EQ(Activities(), activities);
  EXPECT_EQ(Service()["desiredCount"], 1);
}

// A scheduled action at() a few seconds ahead, in UTC: at its time the bounds change and the
// desired count follows the new minimum, as two activities; a malformed cron() is refused by
// its member's name; nothing runs twice across a restart.
TEST_F(AutoscalingTest, AScheduledActionSetsTheBoundsAtItsTime) {
  RegisterTaskDefinition(
      {{"family", "idle"},
       {"networkMode", "host"},
       {"containerDefinitions",
        json::array({{{"name", "main"},
                      {"image", skiff::testing::kTestImageRef},
                      {"memory", 32},
                      {"stopTimeout", 2},
                      {"command", json::array({"sh", "-c", "trap 'exit 0' TERM; "
                                                           "while :; do sleep 1; done"})}}})}});
  Ok({"create-service", "--service-name", "hot", "--task-definition", "idle",
      "--desired-count", "1"});
  Ok(On({"register-scalable-target", "--min-capacity", "1", "--max-capacity", "3"}));
  // Whole seconds: at() has no fraction. 3 s leaves the CLI call time to land first.
  const absl::Time at = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()) + 3);
  auto schedule = [](absl::Time t) {
    return absl::StrCat("at(", absl::FormatTime("%Y-%m-%dT%H:%M:%S", t, absl::UTCTimeZone()),
                        ")");
  };
  Ok(On({"put-scheduled-action", "--scheduled-action-name", "raise", "--schedule",
         schedule(at), "--scalable-target-action", R"({"MinCapacity": 2, "MaxCapacity": 4})"}));
  Refused(On({"put-scheduled-action", "--scheduled-action-name", "bad", "--schedule",
              "cron(0 25 * * ? *)", "--scalable-target-action", R"({"MinCapacity": 2})"}),
          1, "Schedule: ");

  json service;
  ASSERT_TRUE(WaitFor(absl::Seconds(20), [](const json& s) {
    return s["desiredCount"] == 2 && s["runningCount"] == 2;
  }, &service)) << service.dump(2) << SkiffdLogTail(30);
  const json activities = Activities();
  ASSERT_EQ(activities.size(), 2u) << activities.dump(2);
  EXPECT_EQ(activities[1]["Description"], "Setting min capacity to 2 and max capacity to 4");
  EXPECT_EQ(activities[1]["Cause"], "scheduled action name raise was triggered");
  EXPECT_EQ(activities[0]["Description"], "Setting desired count to 2.");
  EXPECT_EQ(activities[0]["Cause"], "scheduled action name raise was triggered, desired count "
                                    "1 was below the new minimum capacity 2");
  // It ran at its time, not before (whole seconds: the activity's time is the timer's).
  const double started = activities[1]["StartTime"].get<double>();
  EXPECT_GE(started, absl::ToUnixSeconds(at));
  EXPECT_LT(started, absl::ToUnixSeconds(at) + 3);
  const json target = Ok({kAs, "describe-scalable-targets", "--service-namespace", "ecs"})
                          ["ScalableTargets"][0];
  EXPECT_EQ(target["MinCapacity"], 2);
  EXPECT_EQ(target["MaxCapacity"], 4);

  // A restart does not run the passed occurrence again.
  Ok({"update-service", "--service", "hot", "--desired-count", "3"});
  client_.reset();
  ASSERT_NO_FATAL_FAILURE(RestartSkiffd());
  absl::SleepFor(absl::Seconds(2));  // Two stats rounds and the schedule timer's first run.
  EXPECT_EQ(Activities().size(), 2u);
  EXPECT_EQ(Service()["desiredCount"], 3);
}

}  // namespace
}  // namespace skiff::e2e
