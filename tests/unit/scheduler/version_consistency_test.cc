// versionConsistency: the tasks of one service deployment run the image content its first task
// got, though the tag moved on (the rest pull REPOSITORY@DIGEST); a container that opts out, and
// the next deployment, take the tag as it is now.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "service_fixture.h"

namespace skiff::scheduler {
namespace {

const std::string kTag = "registry.test/app:v1";
const std::string kFirst = "sha256:" + std::string(64, 'a');
const std::string kMoved = "sha256:" + std::string(64, 'b');

class VersionConsistencyTest : public ServiceManagerTest {
 protected:
  void SetUp() override {
    ServiceManagerTest::SetUp();
    runtime_.AddImage(kTag, {}, kFirst);
    runtime_.AddImage("registry.test/app@" + kFirst, {}, kFirst);  // As a pull by digest.
    Register(absl::StrCat(R"({"family": "pinned", "networkMode": "host", "containerDefinitions": [
        {"name": "app", "image": ")", kTag, R"(", "memory": 32},
        {"name": "side", "image": ")", kTag, R"(", "memory": 32,
         "versionConsistency": "disabled"}]})"));
  }

  // The new task's id among the service's tasks.
  std::string NewTask(const std::vector<std::string>& before) {
    for (const std::string& id : TaskIds("pinned")) {
      if (std::find(before.begin(), before.end(), id) == before.end()) return id;
    }
    ADD_FAILURE() << "no new task";
    return "";
  }
};

TEST_F(VersionConsistencyTest, ADeploymentKeepsItsFirstDigestAfterTheTagMoves) {
  ASSERT_TRUE(Create(R"({"serviceName": "pinned", "taskDefinition": "pinned",
                         "desiredCount": 1})").ok());
  Settle();
  const std::vector<std::string> first = TaskIds("pinned");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(runtime_.SpecOf(first[0] + "-app").image, kTag);

  runtime_.AddImage(kTag, {}, kMoved);  // The tag is pushed again.
  ASSERT_TRUE(Update(R"({"service": "pinned", "desiredCount": 2})").ok());
  Settle();
  const std::string second = NewTask(first);
  EXPECT_EQ(runtime_.SpecOf(second + "-app").image, "registry.test/app@" + kFirst);
  EXPECT_EQ(runtime_.SpecOf(second + "-side").image, kTag);  // versionConsistency disabled.
  tasks_->ForEachTask([&](const store::StoredTask& t) {
    if (t.id != second) return;
    EXPECT_EQ(t.task.containers(0).image_digest(), kFirst);
    EXPECT_EQ(t.task.containers(1).image_digest(), kMoved);
  });
  const v1::Service service = Describe("pinned");
  EXPECT_EQ(service.running_count(), 2);

  // A new deployment takes the tag as it is now.
  ASSERT_TRUE(Update(R"({"service": "pinned", "forceNewDeployment": true})").ok());
  Advance(absl::Seconds(30));
  std::vector<std::string> now = TaskIds("pinned");
  ASSERT_EQ(now.size(), 2u);
  for (const std::string& id : now) {
    EXPECT_NE(id, first[0]);
    EXPECT_NE(id, second);
    EXPECT_EQ(runtime_.SpecOf(id + "-app").image, kTag) << id;
  }
}

TEST_F(VersionConsistencyTest, TheRevisionRecordsTheDigestsWhichOutliveTheDeploymentsTasks) {
  ASSERT_TRUE(Create(R"({"serviceName": "pinned", "taskDefinition": "pinned",
                         "desiredCount": 1})").ok());
  Settle();
  auto deployments = services_->ListServiceDeployments(
      Parse<v1::ListServiceDeploymentsRequest>(R"({"service": "pinned"})"));
  ASSERT_TRUE(deployments.ok()) << deployments.status();
  ASSERT_EQ(deployments->service_deployments_size(), 1);
  v1::DescribeServiceRevisionsRequest request;
  request.add_service_revision_arns(
      deployments->service_deployments(0).target_service_revision_arn());
  auto revisions = services_->DescribeServiceRevisions(request);
  ASSERT_TRUE(revisions.ok()) << revisions.status();
  ASSERT_EQ(revisions->service_revisions_size(), 1);
  const v1::ServiceRevision& revision = revisions->service_revisions(0);
  ASSERT_EQ(revision.container_images_size(), 2) << revision.DebugString();
  EXPECT_EQ(revision.container_images(0).container_name(), "app");
  EXPECT_EQ(revision.container_images(0).image(), kTag);
  EXPECT_EQ(revision.container_images(0).image_digest(), kFirst);
  EXPECT_EQ(revision.container_images(1).container_name(), "side");

  // Every task of the deployment stops and is forgotten, the tag moves, skiffd restarts: the
  // deployment's next task still runs what its first one did.
  const std::vector<std::string> first = TaskIds("pinned");
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(Update(R"({"service": "pinned", "desiredCount": 0})").ok());
  Settle();
  for (const char* name : {"-app", "-side"}) runtime_.Exit(first[0] + name, 143, clock_.Now());
  Advance(absl::Hours(1) + absl::Minutes(1));
  int remembered = 0;
  tasks_->ForEachTask([&](const store::StoredTask&) { ++remembered; });
  ASSERT_EQ(remembered, 0);
  runtime_.AddImage(kTag, {}, kMoved);
  Open();
  ASSERT_TRUE(Update(R"({"service": "pinned", "desiredCount": 1})").ok());
  Settle();
  const std::vector<std::string> now = TaskIds("pinned");
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(runtime_.SpecOf(now[0] + "-app").image, "registry.test/app@" + kFirst);
  EXPECT_EQ(runtime_.SpecOf(now[0] + "-side").image, kTag);  // versionConsistency disabled.
}

TEST_F(VersionConsistencyTest, ATagThatDidNotMoveIsUsedAsItIs) {
  ASSERT_TRUE(Create(R"({"serviceName": "pinned", "taskDefinition": "pinned",
                         "desiredCount": 1})").ok());
  Settle();
  const std::vector<std::string> first = TaskIds("pinned");
  ASSERT_TRUE(Update(R"({"service": "pinned", "desiredCount": 2})").ok());
  Settle();
  EXPECT_EQ(runtime_.SpecOf(NewTask(first) + "-app").image, kTag);
}

}  // namespace
}  // namespace skiff::scheduler
