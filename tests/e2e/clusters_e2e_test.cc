// Clusters, the node as a container instance, and tags as a user meets them: the skiff CLI
// against a real skiffd and a private containerd, across a restart of skiffd.
#include <signal.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "skiffd_process.h"
#include "support/containerd_fixture.h"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr char kPrefix[] = "arn:aws:ecs:local:000000000000:";

class ClustersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_ROOT_AND_CONTAINERD();
    auto containerd = skiff::testing::PrivateContainerd::Start();
    ASSERT_TRUE(containerd.ok()) << containerd.status();
    containerd_ = *std::move(containerd);
    auto skiffd = SkiffdProcess::Create();
    ASSERT_TRUE(skiffd.ok()) << skiffd.status();
    skiffd_ = *std::move(skiffd);
    ns_ = containerd_->UniqueNamespace("skiff-clusters");
  }

  void StartSkiffd() {
    ASSERT_TRUE(skiffd_
                    ->Start({"--containerd-address", containerd_->socket_path(), "--namespace",
                             ns_, "--runc-root", containerd_->runc_root()})
                    .ok());
    absl::Status ready = skiffd_->WaitReady();
    ASSERT_TRUE(ready.ok()) << ready;
  }

  void Restart() {
    absl::StatusOr<int> exited = skiffd_->Signal(SIGTERM);
    ASSERT_TRUE(exited.ok()) << exited.status();
    ASSERT_EQ(*exited, 0);
    StartSkiffd();
  }

  json Ok(const std::vector<std::string>& args) {
    skiff::testing::CommandResult r = skiffd_->Skiff(args);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.stderr_text;
    json out = json::parse(r.stdout_text.empty() ? "{}" : r.stdout_text, nullptr, false);
    EXPECT_FALSE(out.is_discarded()) << r.stdout_text;
    return out;
  }

  // A command the daemon refuses: exit 1 and `error: (EXCEPTION) ...` on stderr.
  void Refused(const std::vector<std::string>& args, const std::string& says) {
    skiff::testing::CommandResult r = skiffd_->Skiff(args);
    EXPECT_EQ(r.exit_code, 1) << absl::StrJoin(args, " ") << ": " << r.stderr_text;
    EXPECT_THAT(r.stderr_text, HasSubstr(says)) << absl::StrJoin(args, " ");
  }

  std::unique_ptr<skiff::testing::PrivateContainerd> containerd_;
  std::unique_ptr<SkiffdProcess> skiffd_;
  std::string ns_;
};

TEST_F(ClustersTest, ClusterLifeWithATaskInIt) {
  StartSkiffd();
  absl::StatusOr<std::string> tarball = skiff::testing::TestImageTarball();
  ASSERT_TRUE(tarball.ok()) << tarball.status();
  Ok({"load-image", "--input", *tarball});

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
  EXPECT_EQ(skiffd_->Skiff({"delete-cluster"}).exit_code, 2);

  Restart();
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
  Restart();
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
