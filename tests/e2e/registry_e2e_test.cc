// Registry pulls through skiffd and the skiff CLI, against a private containerd and a real
// Debian docker-registry on 127.0.0.1 (behind a logging loopback proxy): a task whose image the
// registry lacks stops with a reason naming the image and the registry's error; two tasks of
// one image share one pull; `skiff pull-image` shows bytes per blob on a terminal (script(1)
// gives it one) and is quiet off one; `skiff prune-images` keeps what running tasks use and
// removes it once they stopped.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/local_registry.h"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class RegistryE2eTest : public E2eTest {
 protected:
  RegistryE2eTest() { namespace_prefix_ = "skiff-reg"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    SKIFF_REQUIRE_REGISTRY_TOOLS();
    absl::Status started = skiff::testing::StartRegistryBehindProxy({}, &registry_, &proxy_);
    ASSERT_TRUE(started.ok()) << started;
    auto tarball = skiff::testing::TestImageTarball();
    ASSERT_TRUE(tarball.ok()) << tarball.status();
    ASSERT_TRUE(registry_->Push("oci-archive:" + *tarball, "skiff/busybox:1").ok());
    tarball_ = *tarball;
    StartSkiffd(skiffd_flags_);
  }

  void TearDown() override {
    E2eTest::TearDown();  // skiffd first: it may be pulling through the proxy.
    proxy_.reset();
    registry_.reset();
  }

  std::vector<std::string> RunTask(const std::string& family, const std::string& image,
                                   int count) {
    json definition = {
        {"family", family},
        {"networkMode", "none"},
        {"containerDefinitions",
         json::array({{{"name", "app"}, {"image", image}, {"memory", 32},
                       {"linuxParameters", {{"initProcessEnabled", true}}},
                       {"command", json::array({"sleep", "1000"})}}})}};
    Ok({"register-task-definition", "--cli-input-json", definition.dump()});
    json run = Ok({"run-task", "--task-definition", family, "--count", std::to_string(count)});
    std::vector<std::string> ids;
    for (const json& t : run["tasks"]) ids.push_back(TaskIdOf(t["taskArn"].get<std::string>()));
    return ids;
  }

  json Describe(const std::string& id) { return DescribeTaskJson(id); }

  std::unique_ptr<skiff::testing::LocalRegistry> registry_;
  std::unique_ptr<skiff::testing::LoopbackProxy> proxy_;
  std::string tarball_;  // The test image, pushed as skiff/busybox:1.
  std::vector<std::string> skiffd_flags_;
};

// Every task pulls its image (ECS_IMAGE_PULL_BEHAVIOR=always): without versionConsistency a
// task started after a push would run what was pushed.
class AlwaysPullingRegistryE2eTest : public RegistryE2eTest {
 protected:
  AlwaysPullingRegistryE2eTest() { skiffd_flags_ = {"--image-pull-behavior", "always"}; }

  std::string Digest(const std::string& task_arn) {
    return Describe(TaskIdOf(task_arn))["containers"][0].value("imageDigest", "");
  }
  std::vector<std::string> Tasks() {
    const json listed = Ok({"list-tasks", "--service-name", "pinned"});
    std::vector<std::string> arns;
    for (const json& arn : listed["taskArns"]) arns.push_back(arn);
    return arns;
  }
};

TEST_F(RegistryE2eTest, AnUnknownImageStopsTheTaskWithTheRegistrysReason) {
  const std::string image = proxy_->host() + "/skiff/nothing:here";
  std::vector<std::string> ids = RunTask("ghost", image, 1);
  ASSERT_EQ(ids.size(), 1u);
  Ok({"wait", "tasks-stopped", "--tasks", ids[0], "--timeout", "60"});
  json task = Describe(ids[0]);
  EXPECT_EQ(task["stopCode"], "TaskFailedToStart");
  const std::string reason = task["stoppedReason"];
  EXPECT_THAT(reason, HasSubstr("CannotPullContainerError"));
  EXPECT_THAT(reason, HasSubstr(image));
  EXPECT_THAT(reason, HasSubstr("MANIFEST_UNKNOWN"));
  EXPECT_TRUE(task.contains("pullStartedAt"));
  EXPECT_TRUE(task.contains("pullStoppedAt"));
}

TEST_F(RegistryE2eTest, TwoTasksShareOnePullAndPruneKeepsWhatRuns) {
  const std::string image = proxy_->host() + "/skiff/busybox:1";
  std::vector<std::string> ids = RunTask("shared", image, 2);
  ASSERT_EQ(ids.size(), 2u);
  Ok({"wait", "tasks-running", "--tasks", ids[0], ids[1], "--timeout", "60"});
  int layer_gets = 0, manifest_gets = 0;
  for (const std::string& r : proxy_->requests()) {
    if (absl::StrContains(r, "/blobs/")) ++layer_gets;
    if (absl::StrContains(r, "/manifests/1")) ++manifest_gets;
  }
  // One config and one layer blob, one manifest: one pull for both tasks.
  EXPECT_EQ(layer_gets, 2) << absl::StrJoin(proxy_->requests(), "\n");
  EXPECT_EQ(manifest_gets, 1) << absl::StrJoin(proxy_->requests(), "\n");
  json task = Describe(ids[0]);
  EXPECT_GE(task["pullStoppedAt"].get<double>(), task["pullStartedAt"].get<double>());

  // pull-image off a terminal: the image's JSON, nothing on stderr, no blob fetched again.
  proxy_->ClearRequests();
  skiff::testing::CommandResult pulled = Skiff({"pull-image", "--image", image});
  EXPECT_EQ(pulled.exit_code, 0) << pulled.stderr_text;
  EXPECT_EQ(pulled.stderr_text, "");
  json out = json::parse(pulled.stdout_text, nullptr, false);
  EXPECT_EQ(out["image"]["name"], image) << pulled.stdout_text;
  for (const std::string& r : proxy_->requests()) EXPECT_THAT(r, ::testing::Not(HasSubstr("/blobs/")));

  json pruned = Ok({"prune-images"});
  EXPECT_TRUE(!pruned.contains("images") || pruned["images"].empty()) << pruned.dump();
  Ok({"stop-task", "--task", ids[0]});
  Ok({"stop-task", "--task", ids[1]});
  Ok({"wait", "tasks-stopped", "--tasks", ids[0], ids[1], "--timeout", "60"});
  pruned = Ok({"prune-images"});
  ASSERT_EQ(pruned["images"].size(), 1u) << pruned.dump();
  EXPECT_EQ(pruned["images"][0]["name"], image);
  json listed = Ok({"list-images"});
  EXPECT_TRUE(!listed.contains("images") || listed["images"].empty()) << listed.dump();
}

TEST_F(RegistryE2eTest, PullImageShowsProgressOnATerminal) {
  const std::string image = proxy_->host() + "/skiff/busybox:1";
  // script(1) runs the CLI on a pseudo-terminal; its stdout is what the terminal showed.
  auto on_terminal = [&] {
    std::string command = absl::StrCat("'", SKIFF_BINARY, "' --socket '", skiffd_->socket(),
                                       "' pull-image --image '", image, "'");
    absl::StatusOr<skiff::testing::CommandResult> r = skiff::testing::RunCommand(
        {"script", "--quiet", "--return", "--command", command, "/dev/null"}, absl::Seconds(60));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return std::string();
    EXPECT_EQ(r->exit_code, 0) << r->stdout_text << r->stderr_text;
    return r->stdout_text;
  };
  const std::string first = on_terminal();
  // One line per blob, redrawn in place, ending with the byte count of each.
  EXPECT_THAT(first, HasSubstr("\033[K"));
  EXPECT_THAT(first, ::testing::ContainsRegex("layer sha256:[0-9a-f]{12}: done [0-9.]+ [KM]iB"));
  EXPECT_THAT(first, ::testing::ContainsRegex("image config sha256:[0-9a-f]{12}: done"));
  EXPECT_THAT(first, HasSubstr("\"name\": \"" + image + "\""));
  // Again: every blob is there already.
  const std::string second = on_terminal();
  EXPECT_THAT(second, ::testing::ContainsRegex("layer sha256:[0-9a-f]{12}: already present"));
  EXPECT_THAT(second, ::testing::Not(HasSubstr(": done")));
}

TEST_F(AlwaysPullingRegistryE2eTest, AServiceKeepsItsDigestWhenTheTagIsPushedAgain) {
  const std::string image = proxy_->host() + "/skiff/busybox:1";
  json definition = {
      {"family", "pinned"},
      {"networkMode", "none"},
      {"containerDefinitions",
       json::array({{{"name", "app"}, {"image", image}, {"memory", 32},
                     {"linuxParameters", {{"initProcessEnabled", true}}},
                     {"command", json::array({"sleep", "1000"})}}})}};
  Ok({"register-task-definition", "--cli-input-json", definition.dump()});
  Ok({"create-service", "--service-name", "pinned", "--task-definition", "pinned",
      "--desired-count", "1"});
  Ok({"wait", "services-stable", "--services", "pinned"});
  const std::vector<std::string> first = Tasks();
  ASSERT_EQ(first.size(), 1u);
  const std::string digest = Digest(first[0]);
  ASSERT_THAT(digest, ::testing::StartsWith("sha256:"));

  // The same image as a Docker schema 2 manifest: the tag now names another digest.
  ASSERT_TRUE(registry_->Push("oci-archive:" + tarball_, "skiff/busybox:1",
                              {"--format", "v2s2"}).ok());
  Ok({"update-service", "--service", "pinned", "--desired-count", "2"});
  Ok({"wait", "services-stable", "--services", "pinned"});
  for (const std::string& arn : Tasks()) EXPECT_EQ(Digest(arn), digest) << arn;
  // The service revision shows what its deployment established, as ECS's does.
  const json deployments = Ok({"list-service-deployments", "--service", "pinned"});
  ASSERT_EQ(deployments["serviceDeployments"].size(), 1u) << deployments.dump(2);
  const json revisions =
      Ok({"describe-service-revisions", "--service-revision-arns",
          deployments["serviceDeployments"][0]["targetServiceRevisionArn"].get<std::string>()});
  const json expected = json::array(
      {{{"containerName", "app"}, {"imageDigest", digest}, {"image", image}}});
  EXPECT_EQ(revisions["serviceRevisions"][0]["containerImages"], expected) << revisions.dump(2);

  // A new deployment runs what the tag names now.
  Ok({"update-service", "--service", "pinned", "--force-new-deployment"});
  Ok({"wait", "services-stable", "--services", "pinned"});
  const std::vector<std::string> now = Tasks();
  ASSERT_EQ(now.size(), 2u);
  for (const std::string& arn : now) {
    EXPECT_THAT(Digest(arn), ::testing::StartsWith("sha256:")) << arn;
    EXPECT_NE(Digest(arn), digest) << arn;
  }
}

}  // namespace
}  // namespace skiff::e2e
