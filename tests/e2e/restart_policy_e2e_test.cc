// Restart policies with real containers: a container with restartPolicy {enabled, period 60}
// that exits after 61 s of running is started again in the same container (its rootfs and its
// log file kept) and its task stays RUNNING. ECS's minimum period is 60 s, so this test takes
// about 65 s once; every wait has a deadline.
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/subprocess.h"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class RestartPolicyTest : public E2eTest {
 protected:
  RestartPolicyTest() { namespace_prefix_ = "skiff-restart"; }

  json Describe(const std::string& id) { return DescribeTaskJson(id); }

  // The task's restarts column as the store keeps it (JSON), read with the sqlite3 shell.
  std::string StoredRestarts(const std::string& id) {
    absl::StatusOr<skiff::testing::CommandResult> result = skiff::testing::RunCommand(
        {"sqlite3", "-readonly", skiffd_->state_dir() + "/skiff.db",
         "SELECT restarts FROM tasks WHERE id = '" + id + "'"},
        absl::Seconds(10));
    if (!result.ok()) return result.status().ToString();
    return result->stdout_text;
  }
};

TEST_F(RestartPolicyTest, AContainerThatExitsAfterThePeriodIsRestartedInPlace) {
  StartSkiffd();
  LoadTestImage();
  // Each run counts itself in a file of its rootfs and says so: the second run's "run 2" shows
  // the same rootfs, and both lines in one log show the log appended to.
  const std::string script =
      "n=$(cat /runs 2>/dev/null || echo 0); n=$((n + 1)); echo $n > /runs; "
      "echo run $n; sleep 61; exit 3";
  json definition = {
      {"family", "restarts"},
      {"networkMode", "host"},
      {"containerDefinitions",
       json::array({{{"name", "app"},
                     {"image", skiff::testing::kTestImageRef},
                     {"memory", 64},
                     {"linuxParameters", {{"initProcessEnabled", true}}},
                     {"command", json::array({"sh", "-c", script})},
                     {"stopTimeout", 5},
                     {"restartPolicy", {{"enabled", true}, {"restartAttemptPeriod", 60}}}}})}};
  Ok({"register-task-definition", "--cli-input-json", definition.dump()});
  json run = Ok({"run-task", "--task-definition", "restarts"});
  ASSERT_EQ(run["tasks"].size(), 1u) << run.dump();
  const std::string arn = run["tasks"][0]["taskArn"];
  const std::string id = arn.substr(arn.rfind('/') + 1);
  Ok({"wait", "tasks-running", "--tasks", id, "--timeout", "60"});

  // 61 s of the first run, then the restart: poll the log until the second run speaks.
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  std::string logs;
  while (absl::Now() < deadline && !absl::StrContains(logs, "run 2")) {
    absl::SleepFor(absl::Seconds(1));
    logs = Skiff({"logs", "--task", id}).stdout_text;
    if (Describe(id)["lastStatus"] != "RUNNING") break;
  }
  EXPECT_EQ(logs, "run 1\nrun 2\n") << SkiffdLogTail(30);
  json task = Describe(id);
  EXPECT_EQ(task["lastStatus"], "RUNNING");
  EXPECT_EQ(task["desiredStatus"], "RUNNING");
  EXPECT_EQ(task["containers"][0]["lastStatus"], "RUNNING");
  EXPECT_FALSE(task["containers"][0].contains("exitCode"));
  EXPECT_THAT(StoredRestarts(id), HasSubstr(R"("containerName":"app","restartCount":1)"));
  EXPECT_THAT(SkiffdLogTail(200), HasSubstr("restarting it (restart 1)"));

  // A stop is not undone by the policy: the container stays stopped.
  Ok({"stop-task", "--task", id});
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  task = Describe(id);
  EXPECT_EQ(task["stopCode"], "UserInitiated");
  EXPECT_EQ(task["containers"][0]["exitCode"], 143);
}

}  // namespace
}  // namespace skiff::e2e
