#include "skiff/scheduler/task_definition_registry.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/task_definition.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kArn = "arn:aws:ecs:local:000000000000:task-definition/";

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    registry_.reset();
    store_.reset();
    auto store = store::Store::Open(dir_.path() + "/state");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    registry_ = std::make_unique<TaskDefinitionRegistry>(store_.get(), &clock_, model::ArnScope{});
  }

  v1::RegisterTaskDefinitionResponse Register(const std::string& family,
                                              const std::string& extra = "") {
    v1::RegisterTaskDefinitionRequest request;
    absl::Status s = model::DecodeMessageText(
        R"({"family": ")" + family + R"(", )" + extra +
            R"("containerDefinitions": [{"name": "app", "image": "busybox", "memory": 32}]})",
        &request);
    EXPECT_TRUE(s.ok()) << s;
    auto response = registry_->Register(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.value_or(v1::RegisterTaskDefinitionResponse{});
  }

  // Deregisters `reference` (family:revision), which must succeed.
  void Deregister(const std::string& reference) {
    v1::DeregisterTaskDefinitionRequest request;
    request.set_task_definition(reference);
    auto response = registry_->Deregister(request);
    ASSERT_TRUE(response.ok()) << response.status();
  }

  fakes::TempDir dir_;  // Declared first: outlives the store.
  SimulatedClock clock_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TaskDefinitionRegistry> registry_;
};

TEST_F(RegistryTest, RevisionsCountUpPerFamily) {
  EXPECT_EQ(Register("web").task_definition().revision(), 1);
  EXPECT_EQ(Register("web").task_definition().revision(), 2);
  EXPECT_EQ(Register("api").task_definition().revision(), 1);
  auto three = Register("web");
  EXPECT_EQ(three.task_definition().revision(), 3);
  EXPECT_EQ(three.task_definition().task_definition_arn(), kArn + "web:3");
  EXPECT_DOUBLE_EQ(three.task_definition().registered_at(),
                   model::ToEpochSeconds(clock_.Now()));
}

TEST_F(RegistryTest, InvalidDefinitionIsAClientExceptionWithThePath) {
  v1::RegisterTaskDefinitionRequest request;
  request.set_family("web");
  auto* c = request.add_container_definitions();
  c->set_name("app");
  c->set_image("busybox");
  c->set_memory(2);
  auto response = registry_->Register(request);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(response.status().message(),
            "containerDefinitions[0].memory: must be at least 6 MiB; got 2");
  EXPECT_EQ(model::EcsExceptionName(response.status()), "ClientException");
  EXPECT_EQ(*store_->LastRevision("web"), 0);  // Nothing stored.
}

TEST_F(RegistryTest, DescribeFindsLatestActiveOrTheNamedRevision) {
  Register("web", R"("tags": [{"key": "team", "value": "core"}], )");
  Register("web");
  v1::DescribeTaskDefinitionRequest request;
  request.set_task_definition("web");
  EXPECT_EQ(registry_->Describe(request)->task_definition().revision(), 2);
  request.set_task_definition(kArn + "web:1");
  request.add_include("TAGS");
  auto described = registry_->Describe(request);
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->task_definition().revision(), 1);
  ASSERT_EQ(described->tags_size(), 1);
  EXPECT_EQ(described->tags(0).key(), "team");

  request.add_include("TAGS");  // Asking twice returns the tags once.
  EXPECT_EQ(registry_->Describe(request)->tags_size(), 1);

  request.set_task_definition("web:9");
  auto missing = registry_->Describe(request);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(model::EcsExceptionName(missing.status()), "ClientException");
}

TEST_F(RegistryTest, DeregisterMakesInactiveAndKeepsTheRevision) {
  Register("web");
  Register("web");
  clock_.Advance(absl::Minutes(5));
  v1::DeregisterTaskDefinitionRequest request;
  request.set_task_definition("web:2");
  auto response = registry_->Deregister(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->task_definition().status(), "INACTIVE");
  EXPECT_DOUBLE_EQ(response->task_definition().deregistered_at(),
                   model::ToEpochSeconds(clock_.Now()));

  v1::DescribeTaskDefinitionRequest latest;
  latest.set_task_definition("web");
  EXPECT_EQ(registry_->Describe(latest)->task_definition().revision(), 1);
  // The next registration does not reuse revision 2.
  EXPECT_EQ(Register("web").task_definition().revision(), 3);

  request.set_task_definition("web");  // A revision is required.
  EXPECT_EQ(registry_->Deregister(request).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryTest, ListsAsEcsDoes) {
  Register("web");
  Register("web");
  Register("api");
  Deregister("api:1");

  v1::ListTaskDefinitionsRequest list;
  EXPECT_THAT(registry_->List(list)->task_definition_arns(),
              ElementsAre(kArn + "web:1", kArn + "web:2"));  // ACTIVE by default.
  list.set_status("INACTIVE");
  EXPECT_THAT(registry_->List(list)->task_definition_arns(), ElementsAre(kArn + "api:1"));
  list.clear_status();
  list.set_sort("DESC");
  list.set_max_results(1);
  auto page = registry_->List(list);
  EXPECT_THAT(page->task_definition_arns(), ElementsAre(kArn + "web:2"));
  list.set_next_token(page->next_token());
  EXPECT_THAT(registry_->List(list)->task_definition_arns(), ElementsAre(kArn + "web:1"));

  v1::ListTaskDefinitionFamiliesRequest families;
  EXPECT_THAT(registry_->ListFamilies(families)->families(), ElementsAre("api", "web"));
  families.set_status("ACTIVE");
  EXPECT_THAT(registry_->ListFamilies(families)->families(), ElementsAre("web"));
}

TEST_F(RegistryTest, EverythingSurvivesAReopen) {
  Register("web");
  Register("web");
  Reopen();
  EXPECT_EQ(Register("web").task_definition().revision(), 3);
  v1::DescribeTaskDefinitionRequest request;
  request.set_task_definition("web:1");
  auto described = registry_->Describe(request);
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->task_definition().container_definitions(0).image(), "busybox");
  EXPECT_TRUE(described->task_definition().container_definitions(0).essential());
}

v1::DeleteTaskDefinitionsRequest DeleteRequest(const std::vector<std::string>& references) {
  v1::DeleteTaskDefinitionsRequest request;
  for (const std::string& r : references) request.add_task_definitions(r);
  return request;
}

TEST_F(RegistryTest, DeleteNeedsOneToTenTaskDefinitions) {
  auto none = registry_->Delete(DeleteRequest({}));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model::EcsExceptionName(none.status()), "ClientException");
  EXPECT_THAT(none.status().message(), HasSubstr("taskDefinitions"));
  auto eleven = registry_->Delete(DeleteRequest(std::vector<std::string>(11, "web:1")));
  EXPECT_EQ(eleven.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(model::EcsExceptionName(eleven.status()), "ClientException");
  EXPECT_EQ(eleven.status().message(),
            "taskDefinitions: at most 10 task definitions at a time; got 11");
}

TEST_F(RegistryTest, DeleteMarksInactiveRevisionsAndFailsTheOthers) {
  Register("web");
  Register("web");
  Register("api");
  Deregister("web:2");
  int told = 0;
  registry_->AddDeletionListener([&told] { ++told; });

  auto response = registry_->Delete(
      DeleteRequest({"web:1", kArn + "web:2", "web", "web:9", "web:2", "not a:ref:x"}));
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->task_definitions_size(), 1);  // web:2 named twice, listed once.
  EXPECT_EQ(response->task_definitions(0).task_definition_arn(), kArn + "web:2");
  EXPECT_EQ(response->task_definitions(0).status(), "DELETE_IN_PROGRESS");
  EXPECT_GT(response->task_definitions(0).deregistered_at(), 0);
  ASSERT_EQ(response->failures_size(), 4);
  EXPECT_EQ(response->failures(0).arn(), kArn + "web:1");
  EXPECT_EQ(response->failures(0).reason(), "ACTIVE");
  EXPECT_THAT(response->failures(0).detail(), HasSubstr("deregister it"));
  EXPECT_EQ(response->failures(1).arn(), "web");
  EXPECT_EQ(response->failures(1).reason(), "MISSING_REVISION");
  EXPECT_EQ(response->failures(2).arn(), kArn + "web:9");
  EXPECT_EQ(response->failures(2).reason(), "MISSING");
  EXPECT_EQ(response->failures(2).detail(), "The specified task definition does not exist");
  EXPECT_EQ(response->failures(3).reason(), "INVALID_REFERENCE");
  EXPECT_EQ(told, 1);

  // Still described and listed under its status; no longer INACTIVE.
  v1::DescribeTaskDefinitionRequest describe;
  describe.set_task_definition("web:2");
  EXPECT_EQ(registry_->Describe(describe)->task_definition().status(), "DELETE_IN_PROGRESS");
  v1::ListTaskDefinitionsRequest list;
  list.set_status("DELETE_IN_PROGRESS");
  EXPECT_THAT(registry_->List(list)->task_definition_arns(), ElementsAre(kArn + "web:2"));
  list.set_status("INACTIVE");
  EXPECT_THAT(registry_->List(list)->task_definition_arns(), ::testing::IsEmpty());
  EXPECT_THAT(*registry_->DeleteInProgress(), ElementsAre(kArn + "web:2"));

  // Again: the same answer, and the listeners hear of it again.
  response = registry_->Delete(DeleteRequest({"web:2"}));
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->task_definitions(0).status(), "DELETE_IN_PROGRESS");
  EXPECT_EQ(told, 2);
  // Only failures: nothing to tell.
  ASSERT_TRUE(registry_->Delete(DeleteRequest({"web:1"})).ok());
  EXPECT_EQ(told, 2);
}

TEST_F(RegistryTest, ARevisionBeingDeletedIsRefusedToNewUsesOnly) {
  Register("web");
  Deregister("web:1");
  EXPECT_TRUE(registry_->ResolveForNewUse("web:1", "taskDefinition").ok());  // INACTIVE.
  ASSERT_TRUE(registry_->Delete(DeleteRequest({"web:1"})).ok());
  EXPECT_TRUE(registry_->Resolve("web:1", "taskDefinition").ok());
  auto refused = registry_->ResolveForNewUse("web:1", "taskDefinition");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(model::EcsExceptionName(refused.status()), "ClientException");
  EXPECT_THAT(refused.status().message(),
              HasSubstr("taskDefinition: " + kArn + "web:1 is DELETE_IN_PROGRESS"));
}

TEST_F(RegistryTest, PurgeDeletesForGoodWithoutReusingTheRevision) {
  Register("web");
  Register("web");
  Register("api");
  Deregister("web:2");
  EXPECT_EQ(registry_->Purge(kArn + "web:2").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(registry_->Delete(DeleteRequest({"web:2"})).ok());
  Reopen();  // DELETE_IN_PROGRESS is in the store.
  EXPECT_THAT(*registry_->DeleteInProgress(), ElementsAre(kArn + "web:2"));
  ASSERT_TRUE(registry_->Purge(kArn + "web:2").ok());
  EXPECT_EQ(registry_->Purge(kArn + "web:2").code(), absl::StatusCode::kNotFound);

  v1::DescribeTaskDefinitionRequest describe;
  describe.set_task_definition("web:2");
  EXPECT_EQ(registry_->Describe(describe).status().code(), absl::StatusCode::kNotFound);
  v1::ListTaskDefinitionsRequest list;
  list.clear_status();
  list.set_status("DELETE_IN_PROGRESS");
  EXPECT_THAT(registry_->List(list)->task_definition_arns(), ::testing::IsEmpty());
  EXPECT_THAT(*registry_->DeleteInProgress(), ::testing::IsEmpty());
  Reopen();
  EXPECT_EQ(Register("web").task_definition().revision(), 3);  // Not 2 again.

  // A family whose every revision is gone is in no list of families.
  Deregister("api:1");
  ASSERT_TRUE(registry_->Delete(DeleteRequest({"api:1"})).ok());
  ASSERT_TRUE(registry_->Purge(kArn + "api:1").ok());
  v1::ListTaskDefinitionFamiliesRequest families;
  EXPECT_THAT(registry_->ListFamilies(families)->families(), ElementsAre("web"));
  EXPECT_EQ(Register("api").task_definition().revision(), 2);
}

}  // namespace
}  // namespace skiff::scheduler
