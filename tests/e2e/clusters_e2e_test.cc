// Clusters, the node as a container instance, and tags as a user meets them: the skiff CLI
// against a real skiffd and a private containerd, across a restart of skiffd.
#include <fstream>
#include <string>
#include <vector>

#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr char kPrefix[] = "arn:aws:ecs:local:000000000000:";

class ClustersTest : public E2eTest {
 protected:
  ClustersTest() { namespace_prefix_ = "skiff-clusters"; }

  // A command the daemon refuses: exit 1 and `error: (EXCEPTION) ...` on stderr.
  void Refused(const std::vector<std::string>& args, const std::string& says) {
    E2eTest::Refused(args, 1, says);
  }
};

TEST_F(ClustersTest, ClusterLifeWithATaskInIt) {
  StartSkiffd();
  absl::StatusOr<std::string> tarball = skiff::testing::TestImageTarball();
  ASSERT_TRUE(tarball.ok()) << tarball.status();
  Ok({"load-image", "--input", *tarball});  // Through the CLI, as a user loads it.

  EXPECT_EQ(Ok({"list-clusters"})["clusterArns"], json::array({std::string(kPrefix) +
                                                               "cluster/default"}));
  json created = Ok({"create-cluster", "--cluster-name", "prod", "--tags",
                     R"([{"key": "env", "value": "prod"}])"});
  EXPECT_EQ(created["cluster"]["clusterArn"], std::string(kPrefix) + "cluster/prod");
  EXPECT_EQ(created["cluster"]["status"], "ACTIVE");
  Refused({"create-cluster", "--cluster-name", "no way"},
          "error: (InvalidParameterException) clusterName: must be 1-255");
  Refused({"--cluster", "staging", "list-tasks"},
          "error: (ClusterNotFoundException) Cluster not found.");

  json definition = {{"family", "sleeper"},
                     {"networkMode", "host"},
                     {"containerDefinitions",
                      json::array({{{"name", "app"},
                                    {"image", skiff::testing::kTestImageRef},
                                    {"memory", 64},
                                    {"linuxParameters", {{"initProcessEnabled", true}}},
                                    {"command", json::array({"sleep", "1000"})}}})}};
  Ok({"register-task-definition", "--cli-input-json", definition.dump()});
  json run = Ok({"--cluster", "prod", "run-task", "--task-definition", "sleeper"});
  ASSERT_EQ(run["tasks"].size(), 1u) << run.dump();
  const std::string arn = run["tasks"][0]["taskArn"];
  const std::string id = arn.substr(arn.rfind('/') + 1);
  Ok({"--cluster", "prod", "wait", "tasks-running", "--tasks", id, "--timeout", "60"});

  json described = Ok({"describe-clusters", "--clusters", "prod", "default", "--include", "TAGS"});
  ASSERT_EQ(described["clusters"].size(), 2u) << described.dump();
  EXPECT_EQ(described["clusters"][0]["runningTasksCount"], 1);
  EXPECT_EQ(described["clusters"][0]["tags"][0]["value"], "prod");
  EXPECT_EQ(described["clusters"][1]["runningTasksCount"], 0);

  // The node, by its machine id when it has one.
  std::string machine_id;
  std::ifstream("/etc/machine-id") >> machine_id;
  json instances = Ok({"describe-container-instances", "--cluster", "prod",
                       "--container-instances",
                       machine_id.size() == 32 ? machine_id : std::string(32, '0')});
  ASSERT_EQ(instances["containerInstances"].size(), 1u) << instances.dump();
  const json& node = instances["containerInstances"][0];
  EXPECT_TRUE(node["agentConnected"].get<bool>());
  EXPECT_EQ(node["runningTasksCount"], 1);
  EXPECT_THAT(node["versionInfo"]["dockerVersion"].get<std::string>(), HasSubstr("containerd"));
  int registered = 0;
  int remaining = 0;
  for (const json& r : node["registeredResources"]) {
    if (r["name"] == "MEMORY") registered = r["integerValue"];
  }
  for (const json& r : node["remainingResources"]) {
    if (r["name"] == "MEMORY") remaining = r["integerValue"];
  }
  EXPECT_GT(registered, 64);
  EXPECT_EQ(registered - remaining, 64);

  Refused({"delete-cluster", "--cluster", "prod"}, "error: (ClusterContainsTasksException)");
  Ok({"--cluster", "prod", "stop-task", "--task", id});
  Ok({"--cluster", "prod", "wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  json deleted = Ok({"delete-cluster", "--cluster", "prod"});
  EXPECT_EQ(deleted["cluster"]["status"], "INACTIVE");
  // Naming the cluster to delete is not optional.
  EXPECT_EQ(Skiff({"delete-cluster"}).exit_code, 2);

  RestartSkiffd();
  EXPECT_EQ(Ok({"list-clusters"})["clusterArns"], json::array({std::string(kPrefix) +
                                                               "cluster/default"}));
  Refused({"describe-container-instances", "--cluster", "prod", "--container-instances", "x"},
          "error: (ClusterNotFoundException)");
}

TEST_F(ClustersTest, TagsOfClustersAndTaskDefinitionsSurviveARestart) {
  StartSkiffd();
  const std::string cluster = std::string(kPrefix) + "cluster/default";
  const std::string revision = std::string(kPrefix) + "task-definition/tagged:1";
  Ok({"register-task-definition", "--cli-input-json",
      R"({"family": "tagged", "containerDefinitions": [{"name": "a", "image": "x", "memory": 8}],
          "tags": [{"key": "team", "value": "core"}]})"});
  Ok({"tag-resource", "--resource-arn", cluster, "--tags", R"([{"key": "k", "value": "v"}])"});
  Ok({"tag-resource", "--resource-arn", revision, "--tags",
      R"([{"key": "team", "value": "edge"}, {"key": "tier", "value": "1"}])"});
  Ok({"untag-resource", "--resource-arn", revision, "--tag-keys", "tier"});
  RestartSkiffd();
  EXPECT_EQ(Ok({"list-tags-for-resource", "--resource-arn", cluster})["tags"],
            json::parse(R"([{"key": "k", "value": "v"}])"));
  EXPECT_EQ(Ok({"list-tags-for-resource", "--resource-arn", revision})["tags"],
            json::parse(R"([{"key": "team", "value": "edge"}])"));
  Refused({"tag-resource", "--resource-arn", cluster, "--tags", R"([{"key": "aws:x"}])"},
          "error: (InvalidParameterException) tags[0].key: the aws: prefix is reserved");
  Refused({"list-tags-for-resource", "--resource-arn", std::string(kPrefix) + "cluster/none"},
          "error: (ClusterNotFoundException) Cluster not found.");
}

}  // namespace
}  // namespace skiff::e2e
