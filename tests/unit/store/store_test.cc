#include "skiff/store/store.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "fakes/temp_dir.h"
#include "gtest/gtest.h"

namespace skiff::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StoreTest : public ::testing::Test {
 protected:

  static StoredTaskDefinition Record(const std::string& family, int revision,
                                     const std::string& status = "ACTIVE") {
    StoredTaskDefinition r;
    r.definition.set_family(family);
    r.definition.set_revision(revision);
    r.definition.set_status(status);
    r.definition.set_task_definition_arn(
        "arn:aws:ecs:local:000000000000:task-definition/" + family + ":" +
        std::to_string(revision));
    r.definition.add_container_definitions()->set_name("app");
    v1::Tag tag;
    tag.set_key("team");
    tag.set_value("core");
    r.tags.push_back(tag);
    return r;
  }

  fakes::TempDir root_;
  std::string dir_ = root_.path() + "/state";
};

TEST_F(StoreTest, CreatesThePrivateStateDirAndTheSchema) {
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), Store::kSchemaVersion);
  struct stat st {};
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/skiff.db"));
}

TEST_F(StoreTest, LeavesTheModeOfAnExistingStateDirAlone) {
  std::filesystem::create_directories(dir_);
  ASSERT_EQ(chmod(dir_.c_str(), 0750), 0);
  ASSERT_TRUE(Store::Open(dir_).ok());
  struct stat st {};
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0750u);
}

TEST_F(StoreTest, RefusesAWorldWritableStateDir) {
  std::filesystem::create_directories(dir_);
  ASSERT_EQ(chmod(dir_.c_str(), 01777), 0);
  auto store = Store::Open(dir_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("writable by everyone"));
  struct stat st {};
  ASSERT_EQ(stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 01777u);  // Not touched.
}

TEST_F(StoreTest, RecordsSurviveReopening) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->InsertTaskDefinition(Record("web", 1)).ok());
    ASSERT_TRUE((*store)->InsertTaskDefinition(Record("web", 2)).ok());
  }
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->LastRevision("web"), 2);
  auto got = (*store)->GetTaskDefinition("web", 1);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->definition.container_definitions(0).name(), "app");
  ASSERT_EQ((*got)->tags.size(), 1u);
  EXPECT_EQ((*got)->tags[0].value(), "core");
}

TEST_F(StoreTest, UpdatingAMissingRecordIsNotFound) {
  auto store = Store::Open(dir_);
  EXPECT_EQ((*store)->UpdateTaskDefinition(Record("web", 1).definition).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, UsesWriteAheadLogging) {
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->InsertTaskDefinition(Record("web", 1)).ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/skiff.db-wal"));
}

TEST_F(StoreTest, RevisionsAreUniquePerFamily) {
  auto store = Store::Open(dir_);
  ASSERT_TRUE((*store)->InsertTaskDefinition(Record("web", 1)).ok());
  EXPECT_EQ((*store)->InsertTaskDefinition(Record("web", 1)).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*(*store)->LastRevision("other"), 0);
}

TEST_F(StoreTest, LatestActiveSkipsInactiveRevisions) {
  auto store = Store::Open(dir_);
  ASSERT_TRUE((*store)->InsertTaskDefinition(Record("web", 1)).ok());
  ASSERT_TRUE((*store)->InsertTaskDefinition(Record("web", 2)).ok());
  auto two = Record("web", 2, "INACTIVE");
  ASSERT_TRUE((*store)->UpdateTaskDefinition(two.definition).ok());
  auto latest = (*store)->LatestActiveTaskDefinition("web");
  ASSERT_TRUE(latest.ok() && latest->has_value());
  EXPECT_EQ((*latest)->definition.revision(), 1);
  EXPECT_EQ(*(*store)->LastRevision("web"), 2);  // Revisions are never reused.
}

TEST_F(StoreTest, ListsByFamilyStatusAndOrder) {
  auto store = Store::Open(dir_);
  for (auto r : {Record("api", 1), Record("web", 1), Record("web", 2, "INACTIVE"),
                 Record("worker", 1, "INACTIVE")}) {
    ASSERT_TRUE((*store)->InsertTaskDefinition(r).ok());
  }
  const std::string p = "arn:aws:ecs:local:000000000000:task-definition/";
  EXPECT_THAT(*(*store)->ListTaskDefinitionArns({}),
              ElementsAre(p + "api:1", p + "web:1", p + "web:2", p + "worker:1"));
  EXPECT_THAT(*(*store)->ListTaskDefinitionArns({.status = "ACTIVE", .descending = true}),
              ElementsAre(p + "web:1", p + "api:1"));
  EXPECT_THAT(*(*store)->ListTaskDefinitionArns({.family = "web"}),
              ElementsAre(p + "web:1", p + "web:2"));
  EXPECT_THAT(*(*store)->ListFamilies("", "ALL"), ElementsAre("api", "web", "worker"));
  EXPECT_THAT(*(*store)->ListFamilies("w", "ACTIVE"), ElementsAre("web"));
  EXPECT_THAT(*(*store)->ListFamilies("", "INACTIVE"), ElementsAre("worker"));
  // A prefix is a prefix, not a LIKE pattern.
  EXPECT_THAT(*(*store)->ListFamilies("%", "ALL"), ElementsAre());
}

TEST_F(StoreTest, TaskDefinitionTagsAreReplacedInPlace) {
  auto store = Store::Open(dir_);
  ASSERT_TRUE((*store)->InsertTaskDefinition(Record("web", 1)).ok());
  std::vector<v1::Tag> tags(2);
  tags[0].set_key("a");
  tags[1].set_key("b");
  tags[1].set_value("2");
  ASSERT_TRUE((*store)->UpdateTaskDefinitionTags("web", 1, tags).ok());
  auto got = (*store)->GetTaskDefinition("web", 1);
  ASSERT_TRUE(got.ok() && got->has_value());
  ASSERT_EQ((*got)->tags.size(), 2u);
  EXPECT_EQ((*got)->tags[1].value(), "2");
  EXPECT_EQ((*got)->definition.family(), "web");  // The body is untouched.
  EXPECT_EQ((*store)->UpdateTaskDefinitionTags("web", 2, tags).code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ClustersSurviveReopeningAndDeletion) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    for (const char* name : {"prod", "default"}) {
      StoredCluster record;
      record.cluster.set_cluster_name(name);
      record.cluster.set_status("ACTIVE");
      v1::Tag* tag = record.cluster.add_tags();
      tag->set_key("env");
      tag->set_value(name);
      record.registered_at = 1700000000.5;
      ASSERT_TRUE((*store)->PutCluster(record).ok());
    }
    ASSERT_TRUE((*store)->DeleteCluster("prod").ok());
  }
  auto store = Store::Open(dir_);
  auto clusters = (*store)->LoadClusters();
  ASSERT_TRUE(clusters.ok()) << clusters.status();
  ASSERT_EQ(clusters->size(), 1u);
  EXPECT_EQ((*clusters)[0].cluster.cluster_name(), "default");
  EXPECT_EQ((*clusters)[0].cluster.tags(0).value(), "default");
  EXPECT_EQ((*clusters)[0].registered_at, 1700000000.5);
}

TEST_F(StoreTest, MigratesVersion3ClustersWithoutARegistrationTime) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    StoredCluster record;
    record.cluster.set_cluster_name("default");
    record.registered_at = 5;
    ASSERT_TRUE((*store)->PutCluster(record).ok());
  }
  // Back to what schema version 3 wrote.
  const std::string cmd = "sqlite3 " + dir_ +
                          "/skiff.db 'DROP TABLE deleted_task_definitions; "
                          "DROP TABLE autoscaling_objects; "
                          "ALTER TABLE tasks DROP COLUMN restarts; "
                          "ALTER TABLE tasks DROP COLUMN protected_until_ms; "
                          "DROP TABLE elb_objects; "
                          "ALTER TABLE clusters DROP COLUMN registered_at; "
                          "ALTER TABLE services DROP COLUMN last_completed; "
                          "ALTER TABLE services DROP COLUMN history; "
                          "PRAGMA user_version = 3' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "needs the sqlite3 shell (scripts/install-deps.sh)";
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), Store::kSchemaVersion);
  auto clusters = (*store)->LoadClusters();
  ASSERT_TRUE(clusters.ok()) << clusters.status();
  ASSERT_EQ(clusters->size(), 1u);
  EXPECT_EQ((*clusters)[0].registered_at, 0);
}

TEST_F(StoreTest, MigratesVersion4ServicesWithoutACompletedDeployment) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    StoredService record;
    record.cluster = "default";
    record.service.set_service_name("web");
    record.launch_failures = 2;
    record.last_completed_task_definition = "arn:aws:ecs:local:000000000000:task-definition/web:2";
    auto* entry = record.history.add_entries();
    entry->set_deployment_id("ecs-svc/1");
    entry->mutable_deployment()->set_status("SUCCESSFUL");
    ASSERT_TRUE((*store)->PutService(record).ok());
    auto loaded = (*store)->LoadServices();
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    ASSERT_EQ(loaded->size(), 1u);
    EXPECT_EQ((*loaded)[0].last_completed_task_definition, record.last_completed_task_definition);
    ASSERT_EQ((*loaded)[0].history.entries_size(), 1);
    EXPECT_EQ((*loaded)[0].history.entries(0).deployment().status(), "SUCCESSFUL");
  }
  const std::string cmd = "sqlite3 " + dir_ +
                          "/skiff.db 'DROP TABLE deleted_task_definitions; "
                          "DROP TABLE autoscaling_objects; "
                          "ALTER TABLE tasks DROP COLUMN restarts; "
                          "ALTER TABLE tasks DROP COLUMN protected_until_ms; "
                          "DROP TABLE elb_objects; "
                          "ALTER TABLE services DROP COLUMN last_completed; "
                          "ALTER TABLE services DROP COLUMN history; "
                          "PRAGMA user_version = 4' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "needs the sqlite3 shell (scripts/install-deps.sh)";
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), Store::kSchemaVersion);
  auto services = (*store)->LoadServices();
  ASSERT_TRUE(services.ok()) << services.status();
  ASSERT_EQ(services->size(), 1u);
  EXPECT_EQ((*services)[0].launch_failures, 2);
  EXPECT_EQ((*services)[0].last_completed_task_definition, "");
  EXPECT_EQ((*services)[0].history.entries_size(), 0);
}

TEST_F(StoreTest, MigratesVersion6ToAnEmptyAutoscalingTable) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    const StoredElbObject group{.arn = "arn:tg", .kind = "targetgroup", .body = "{}"};
    ASSERT_TRUE((*store)->PutElbObject(group).ok());
    StoredTask task{.id = "t1", .cluster = "default", .service = "web"};
    task.protected_until_ms = 1'700'000'000'000;
    ASSERT_TRUE((*store)->PutTask(task).ok());
    auto tasks = (*store)->LoadTasks();
    ASSERT_TRUE(tasks.ok());
    EXPECT_EQ((*tasks)[0].protected_until_ms, 1'700'000'000'000);
  }
  // Back to what schema version 6 wrote.
  const std::string cmd = "sqlite3 " + dir_ +
                          "/skiff.db 'DROP TABLE deleted_task_definitions; "
                          "DROP TABLE autoscaling_objects; "
                          "ALTER TABLE tasks DROP COLUMN restarts; "
                          "ALTER TABLE tasks DROP COLUMN protected_until_ms; "
                          "PRAGMA user_version = 6' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "needs the sqlite3 shell (scripts/install-deps.sh)";
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), Store::kSchemaVersion);
  auto objects = (*store)->LoadAutoscalingObjects();
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_TRUE(objects->empty());
  auto elb = (*store)->LoadElbObjects();
  ASSERT_TRUE(elb.ok()) << elb.status();
  EXPECT_EQ(elb->size(), 1u);  // What version 6 had stays.
  auto tasks = (*store)->LoadTasks();
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ((*tasks)[0].protected_until_ms, 0);  // Version 6 knew no protection.
}

TEST_F(StoreTest, TaskRestartsSurviveReopeningAndMigrateFromVersion7AsNone) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    StoredTask task{.id = "t1", .cluster = "default", .service = ""};
    auto* entry = task.restarts.add_containers();
    entry->set_container_name("app");
    entry->set_restart_count(2);
    entry->set_last_started_at(1'700'000'000.5);
    ASSERT_TRUE((*store)->PutTask(task).ok());
  }
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    auto tasks = (*store)->LoadTasks();
    ASSERT_TRUE(tasks.ok()) << tasks.status();
    ASSERT_EQ(tasks->size(), 1u);
    ASSERT_EQ((*tasks)[0].restarts.containers_size(), 1);
    EXPECT_EQ((*tasks)[0].restarts.containers(0).container_name(), "app");
    EXPECT_EQ((*tasks)[0].restarts.containers(0).restart_count(), 2);
    EXPECT_EQ((*tasks)[0].restarts.containers(0).last_started_at(), 1'700'000'000.5);
  }
  // Back to what schema version 7 wrote.
  const std::string cmd = "sqlite3 " + dir_ +
                          "/skiff.db 'DROP TABLE deleted_task_definitions; "
                          "ALTER TABLE tasks DROP COLUMN restarts; "
                          "PRAGMA user_version = 7' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "needs the sqlite3 shell (scripts/install-deps.sh)";
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), Store::kSchemaVersion);
  auto tasks = (*store)->LoadTasks();
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), 1u);
  EXPECT_EQ((*tasks)[0].restarts.containers_size(), 0);
}

TEST_F(StoreTest, DeletedTaskDefinitionsKeepTheirRevisionsAcrossReopening) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    Store& s = **store;
    for (int revision = 1; revision <= 3; ++revision) {
      ASSERT_TRUE(s.InsertTaskDefinition(Record("web", revision, "INACTIVE")).ok());
    }
    ASSERT_TRUE(s.InsertTaskDefinition(Record("api", 1, "DELETE_IN_PROGRESS")).ok());
    EXPECT_THAT(*s.TaskDefinitionsWithStatus("INACTIVE"),
                ElementsAre(TaskDefinitionKey{"web", 1}, TaskDefinitionKey{"web", 2},
                            TaskDefinitionKey{"web", 3}));
    EXPECT_THAT(*s.TaskDefinitionsWithStatus("DELETE_IN_PROGRESS"),
                ElementsAre(TaskDefinitionKey{"api", 1}));
    ASSERT_TRUE(s.DeleteTaskDefinition("api", 1).ok());
    ASSERT_TRUE(s.DeleteTaskDefinition("web", 3).ok());
    ASSERT_TRUE(s.DeleteTaskDefinition("web", 1).ok());  // A lower one does not lower the mark.
    EXPECT_EQ(s.DeleteTaskDefinition("web", 3).code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(*s.LastRevision("web"), 3);
    EXPECT_FALSE(s.GetTaskDefinition("web", 3)->has_value());
  }
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  Store& s = **store;
  EXPECT_EQ(*s.LastRevision("web"), 3);
  ASSERT_TRUE(s.DeleteTaskDefinition("web", 2).ok());
  EXPECT_EQ(*s.LastRevision("web"), 3);  // Every row gone: the family still counts on.
  EXPECT_THAT(*s.ListFamilies("", "ALL"), ::testing::IsEmpty());
  EXPECT_THAT(*s.ListTaskDefinitionArns({}), ::testing::IsEmpty());
}

TEST_F(StoreTest, MigratesVersion8WithItsRevisionsAndNoDeletions) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->InsertTaskDefinition(Record("web", 1)).ok());
    ASSERT_TRUE((*store)->InsertTaskDefinition(Record("web", 2, "INACTIVE")).ok());
  }
  // Back to what schema version 8 wrote.
  const std::string cmd = "sqlite3 " + dir_ +
                          "/skiff.db 'DROP TABLE deleted_task_definitions; "
                          "PRAGMA user_version = 8' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "needs the sqlite3 shell (scripts/install-deps.sh)";
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  Store& s = **store;
  EXPECT_EQ(s.schema_version(), Store::kSchemaVersion);
  EXPECT_EQ(*s.LastRevision("web"), 2);
  ASSERT_TRUE(s.DeleteTaskDefinition("web", 2).ok());
  EXPECT_EQ(*s.LastRevision("web"), 2);
  EXPECT_TRUE(s.GetTaskDefinition("web", 1)->has_value());  // What version 8 had stays.
}

TEST_F(StoreTest, AutoscalingObjectsSurviveReopeningAndGoWithTheirTarget) {
  const std::string web = "service/default/web";
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    Store& s = **store;
    ASSERT_TRUE(s.PutAutoscalingObject({"target", web, web, R"({"MinCapacity":1})"}).ok());
    ASSERT_TRUE(s.PutAutoscalingObject({"policy", "p1", web, "{}"}).ok());
    ASSERT_TRUE(s.PutAutoscalingObject({"policy", "p2", "service/default/api", "{}"}).ok());
    // Replaced, not added.
    ASSERT_TRUE(s.PutAutoscalingObject({"target", web, web, R"({"MinCapacity":2})"}).ok());
  }
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok());
  auto objects = (*store)->LoadAutoscalingObjects();
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 3u);
  EXPECT_EQ((*objects)[0].key, "p1");
  EXPECT_EQ((*objects)[2].kind, "target");
  EXPECT_EQ((*objects)[2].body, R"({"MinCapacity":2})");
  ASSERT_TRUE((*store)->DeleteAutoscalingObjectsOf(web).ok());
  ASSERT_TRUE((*store)->DeleteAutoscalingObject("policy", "p2").ok());
  objects = (*store)->LoadAutoscalingObjects();
  ASSERT_TRUE(objects.ok());
  EXPECT_TRUE(objects->empty());
}

TEST_F(StoreTest, SecondOpenerOfTheSameStateDirIsRefused) {
  auto first = Store::Open(dir_);
  ASSERT_TRUE(first.ok());
  // flock is per open file description, so a second Open in this process conflicts as a second
  // process would.
  auto second = Store::Open(dir_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("in use by another skiffd (pid "));
  first->reset();
  EXPECT_TRUE(Store::Open(dir_).ok());  // The lock goes with its holder.
}

TEST_F(StoreTest, RefusesAStoreFromANewerSkiff) {
  ASSERT_TRUE(Store::Open(dir_).ok());
  const std::string cmd =
      "sqlite3 " + dir_ + "/skiff.db 'PRAGMA user_version = 99' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "needs the sqlite3 shell (scripts/install-deps.sh)";
  auto store = Store::Open(dir_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("newer"));
}

TEST_F(StoreTest, ReportsACorruptDatabase) {
  std::filesystem::create_directories(dir_);
  {
    std::FILE* f = std::fopen((dir_ + "/skiff.db").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("this is not a database, just some bytes that are long enough to matter......", f);
    std::fclose(f);
  }
  auto store = Store::Open(dir_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
}

TEST_F(StoreTest, ServicesKeepTheirBackOffAcrossReopening) {
  {
    auto store = Store::Open(dir_);
    ASSERT_TRUE(store.ok());
    StoredService web;
    web.cluster = "default";
    web.service.set_service_name("web");
    web.service.set_desired_count(3);
    web.service.add_events()->set_message("(service web) has reached a steady state.");
    web.launch_failures = 4;
    web.next_launch_at = 1234.5;
    ASSERT_TRUE((*store)->PutService(web).ok());
    StoredService other = web;
    other.cluster = "staging";  // Same name, another cluster: another service.
    other.launch_failures = 0;
    ASSERT_TRUE((*store)->PutService(other).ok());
    web.service.set_desired_count(5);  // Replaces the first.
    ASSERT_TRUE((*store)->PutService(web).ok());
  }
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto services = (*store)->LoadServices();
  ASSERT_TRUE(services.ok()) << services.status();
  ASSERT_EQ(services->size(), 2u);
  const StoredService& web = (*services)[0];
  EXPECT_EQ(web.cluster, "default");
  EXPECT_EQ(web.service.desired_count(), 5);
  EXPECT_EQ(web.launch_failures, 4);
  EXPECT_DOUBLE_EQ(web.next_launch_at, 1234.5);
  EXPECT_EQ(web.service.events(0).message(), "(service web) has reached a steady state.");
  EXPECT_EQ((*services)[1].cluster, "staging");
  ASSERT_TRUE((*store)->DeleteService("default", "web").ok());
  services = (*store)->LoadServices();
  ASSERT_TRUE(services.ok());
  ASSERT_EQ(services->size(), 1u);
  EXPECT_EQ((*services)[0].cluster, "staging");
}

TEST_F(StoreTest, ClustersArePutLoadedAndDeleted) {
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok());
  StoredCluster cluster;
  cluster.cluster.set_cluster_name("staging");
  cluster.cluster.set_status("ACTIVE");
  ASSERT_TRUE((*store)->PutCluster(cluster).ok());
  auto clusters = (*store)->LoadClusters();
  ASSERT_TRUE(clusters.ok());
  ASSERT_EQ(clusters->size(), 1u);
  EXPECT_EQ((*clusters)[0].cluster.status(), "ACTIVE");
  ASSERT_TRUE((*store)->DeleteCluster("staging").ok());
  clusters = (*store)->LoadClusters();
  ASSERT_TRUE(clusters.ok());
  EXPECT_TRUE(clusters->empty());
}

TEST_F(StoreTest, ElbObjectsArePutReplacedLoadedAndDeletedByArn) {
  auto store = Store::Open(dir_);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->PutElbObject({.arn = "arn:b", .kind = "listener", .body = "{}"}).ok());
  ASSERT_TRUE((*store)->PutElbObject({.arn = "arn:a", .kind = "targetgroup", .body = "{1}"}).ok());
  ASSERT_TRUE((*store)->PutElbObject({.arn = "arn:a", .kind = "targetgroup", .body = "{2}"}).ok());
  store->reset();
  store = Store::Open(dir_);  // What was written survives a restart.
  ASSERT_TRUE(store.ok()) << store.status();
  auto loaded = (*store)->LoadElbObjects();
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 2u);
  EXPECT_EQ((*loaded)[0].arn, "arn:a");
  EXPECT_EQ((*loaded)[0].kind, "targetgroup");
  EXPECT_EQ((*loaded)[0].body, "{2}");
  EXPECT_EQ((*loaded)[1].arn, "arn:b");
  ASSERT_TRUE((*store)->DeleteElbObject("arn:a").ok());
  loaded = (*store)->LoadElbObjects();
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].arn, "arn:b");
}

}  // namespace
}  // namespace skiff::store
