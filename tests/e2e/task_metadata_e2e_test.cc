// The task metadata endpoint with real containers (issue 22, part 5): from inside a bridge, an
// awsvpc and a host task, busybox wget reads ${ECS_CONTAINER_METADATA_URI_V4} (the container),
// /task, /stats and /task/stats, and the v3 variable; another task cannot read the first's
// (its address is not the container's) nor forge a path; and a restarted skiffd serves the
// same URIs to the containers it adopted.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/containerd_fixture.h"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;

class TaskMetadataTest : public E2eTest {
 protected:
  TaskMetadataTest() { namespace_prefix_ = "skiff-metadata"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    // Stats every second, so that /stats has two samples within the test.
    ASSERT_NO_FATAL_FAILURE(StartSkiffd({"--stats-interval", "1"}));
    ASSERT_NO_FATAL_FAILURE(LoadTestImage());
  }

  // A running task of one container "app" in `mode`; its id.
  std::string Sleeper(const std::string& mode) {
    RegisterTaskDefinition(
        {{"family", "sleeper-" + mode},
         {"networkMode", mode},
         {"containerDefinitions",
          json::array({{{"name", "app"},
                        {"image", skiff::testing::kTestImageRef},
                        {"memory", 32},
                        {"command", json::array({"sleep", "3600"})}}})}});
    const std::string id = RunTask("sleeper-" + mode);
    EXPECT_EQ(WaitForTaskStatus(id, "RUNNING", absl::Seconds(60)).last_status(), "RUNNING");
    return id;
  }

  // `command` through sh in the task's container: exit status and what it printed.
  skiff::testing::CommandResult InTask(const std::string& id, const std::string& command) {
    return Skiff({"execute-command", "--task", id, "--container", "app", "--command",
                  "sh -c '" + command + "'"});  // No ' in the tests' commands.
  }

  // GET ${variable}`path` from inside the task, parsed.
  json Get(const std::string& id, const std::string& path,
           const std::string& variable = "ECS_CONTAINER_METADATA_URI_V4") {
    const skiff::testing::CommandResult r =
        InTask(id, "wget -qO- \"${" + variable + "}" + path + "\"");
    EXPECT_EQ(r.exit_code, 0) << path << ": " << r.stdout_text << r.stderr_text;
    json parsed = json::parse(r.stdout_text, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << path << ": " << r.stdout_text;
    return parsed;
  }

  std::string Uri(const std::string& id) {
    return std::string(absl::StripAsciiWhitespace(
        InTask(id, "echo $ECS_CONTAINER_METADATA_URI_V4").stdout_text));
  }
};

TEST_F(TaskMetadataTest, EachNetworkModeReadsItsOwnTaskAndContainer) {
  for (const std::string mode : {"bridge", "awsvpc", "host"}) {
    SCOPED_TRACE(mode);
    const std::string id = Sleeper(mode);
    const json described = DescribeTaskJson(id);
    const json task = Get(id, "/task");
    EXPECT_EQ(task["TaskARN"], described["taskArn"]);
    EXPECT_EQ(task["Cluster"], described["clusterArn"]);
    EXPECT_EQ(task["Family"], "sleeper-" + mode);
    EXPECT_EQ(task["Revision"], "1");
    EXPECT_EQ(task["KnownStatus"], "RUNNING");
    ASSERT_EQ(task["Containers"].size(), 1u);
    const json container = Get(id, "");
    EXPECT_EQ(container, task["Containers"][0]);
    EXPECT_EQ(container["Name"], "app");
    EXPECT_EQ(container["DockerId"], described["containers"][0]["runtimeId"]);
    EXPECT_EQ(container["ContainerARN"], described["containers"][0]["containerArn"]);
    EXPECT_EQ(container["Networks"][0]["NetworkMode"], mode);
    if (mode != "host") {
      const std::string ip =
          described["containers"][0]["networkInterfaces"][0]["privateIpv4Address"];
      EXPECT_EQ(container["Networks"][0]["IPv4Addresses"], json::array({ip}));
      EXPECT_THAT(Uri(id), StartsWith("http://" + skiffd_->network().gateway() + ":"));
    } else {
      EXPECT_THAT(Uri(id), StartsWith("http://127.0.0.1:"));
    }
    // v3 gives the same answers.
    EXPECT_EQ(Get(id, "/task", "ECS_CONTAINER_METADATA_URI")["TaskARN"], described["taskArn"]);
  }
}

TEST_F(TaskMetadataTest, StatsInDockersShape) {
  const std::string id = Sleeper("bridge");
  InTask(id, "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done");  // Some CPU to count.
  json stats;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  // Two rounds of sampling after the start: a previous sample for CPU.
  while (absl::Now() < deadline) {
    stats = Get(id, "/stats");
    if (stats.is_object() && stats["preread"] != "0001-01-01T00:00:00Z") break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_TRUE(stats.is_object()) << stats.dump();
  const std::string runtime_id = DescribeTaskJson(id)["containers"][0]["runtimeId"];
  EXPECT_EQ(stats["id"], runtime_id);
  EXPECT_GT(stats["cpu_stats"]["cpu_usage"]["total_usage"].get<double>(), 0);
  EXPECT_GE(stats["cpu_stats"]["system_cpu_usage"].get<double>(),
            stats["precpu_stats"]["system_cpu_usage"].get<double>());
  EXPECT_GT(stats["memory_stats"]["usage"].get<double>(), 0);
  EXPECT_EQ(stats["memory_stats"]["limit"].get<double>(), 32.0 * 1024 * 1024);
  EXPECT_GE(stats["pids_stats"]["current"].get<int>(), 1);
  const json task_stats = Get(id, "/task/stats");
  ASSERT_TRUE(task_stats.contains(runtime_id)) << task_stats.dump();
  EXPECT_EQ(task_stats[runtime_id]["id"], runtime_id);
}

TEST_F(TaskMetadataTest, AContainerReadsOnlyItsOwnTask) {
  const std::string first = Sleeper("bridge");
  const std::string second = Sleeper("awsvpc");
  const std::string uri = Uri(first);
  ASSERT_THAT(uri, StartsWith("http://"));
  // The first's own path, asked from the second's address.
  skiff::testing::CommandResult r = InTask(second, "wget -qO- " + uri + "/task 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.stdout_text, HasSubstr("403"));
  // A path the second makes up from the first's: the MAC does not match.
  std::string forged = uri;
  forged.back() = forged.back() == '0' ? '1' : '0';
  r = InTask(first, "wget -qO- " + forged + "/task 2>&1");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.stdout_text, HasSubstr("404"));
  // The second still reads its own.
  EXPECT_EQ(Get(second, "/task")["TaskARN"], DescribeTaskJson(second)["taskArn"]);
}

TEST_F(TaskMetadataTest, ARestartedSkiffdServesTheSameUris) {
  const std::string id = Sleeper("bridge");
  const std::string uri = Uri(id);
  ASSERT_NO_FATAL_FAILURE(RestartSkiffd());
  EXPECT_EQ(Uri(id), uri);  // The container's environment, as it was.
  EXPECT_EQ(Get(id, "")["Name"], "app");
}

}  // namespace
}  // namespace skiff::e2e
