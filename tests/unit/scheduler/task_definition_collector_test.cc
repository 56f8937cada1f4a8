// DeleteTaskDefinitions end to end in the scheduler: the refusals for new tasks and services, and
// the TaskDefinitionCollector deleting a DELETE_IN_PROGRESS revision once no task or service uses
// it, across a restart too. On the ServiceManagerTest fixture (fake runtime, simulated time).
#include "skiff/scheduler/task_definition_collector.h"

#include <memory>
#include <string>
#include <vector>

#include "service_fixture.h"
#include "skiff/model/errors.h"

namespace skiff::scheduler {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

const std::string kWeb1 = "arn:aws:ecs:local:000000000000:task-definition/web:1";

class TaskDefinitionCollectorTest : public ServiceManagerTest {
 protected:
  void SetUp() override {
    ServiceManagerTest::SetUp();
    StartCollector();
  }

  // A restart of skiffd: the store reopened, the managers and the collector built anew.
  void Restart() {
    collector_.reset();
    Open();
    StartCollector();
  }

  void StartCollector() {
    collector_ = std::make_unique<TaskDefinitionCollector>(&loop_, registry_, tasks_, services_);
    collector_->Start();
    Settle();
  }

  void Deregister(const std::string& reference) {
    v1::DeregisterTaskDefinitionRequest request;
    request.set_task_definition(reference);
    ASSERT_TRUE(registry_->Deregister(request).ok());
  }

  v1::DeleteTaskDefinitionsResponse Delete(const std::vector<std::string>& references) {
    v1::DeleteTaskDefinitionsRequest request;
    for (const std::string& r : references) request.add_task_definitions(r);
    auto response = registry_->Delete(request);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.value_or(v1::DeleteTaskDefinitionsResponse{});
  }

  // Both steps a user takes to delete `reference`.
  void DeregisterAndDelete(const std::string& reference) {
    Deregister(reference);
    Delete({reference});
  }

  // Service "web" of one task on web:1, which is then deregistered and deleted.
  void ServiceOnADeletedRevision() {
    ASSERT_TRUE(
        Create(R"({"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 1})").ok());
    Settle();
    DeregisterAndDelete("web:1");
    Settle();
  }

  // The revision's status, or "gone" once it is deleted for good.
  std::string StatusOf(const std::string& reference) {
    v1::DescribeTaskDefinitionRequest request;
    request.set_task_definition(reference);
    auto response = registry_->Describe(request);
    if (absl::IsNotFound(response.status())) return "gone";
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? response->task_definition().status() : "";
  }

  absl::StatusOr<v1::RunTaskResponse> Run(const std::string& reference) {
    v1::RunTaskRequest run;
    run.set_task_definition(reference);
    return tasks_->RunTask(run);
  }

  static std::string IdOf(const v1::Task& task) {
    return task.task_arn().substr(task.task_arn().rfind('/') + 1);
  }

  // The fake runtime's containers ignore signals: the tasks being stopped exit here.
  void ExitStoppingTasks() {
    std::vector<std::string> stopping;
    tasks_->ForEachTask([&stopping](const store::StoredTask& t) {
      if (t.task.desired_status() == "STOPPED" && t.task.last_status() != "STOPPED") {
        stopping.push_back(t.id);
      }
    });
    for (const std::string& id : stopping) Kill(id, 143);
  }

  int NextRevision() {
    Register(R"({"family": "web", "networkMode": "host", "containerDefinitions": [
        {"name": "app", "image": "skiff.local/busybox:test", "memory": 32}]})");
    return *store_->LastRevision("web");
  }

  std::unique_ptr<TaskDefinitionCollector> collector_;  // Before the stack goes.
};

TEST_F(TaskDefinitionCollectorTest, AnUnusedRevisionIsDeletedAndItsNumberNotReused) {
  Deregister("web:1");
  const v1::DeleteTaskDefinitionsResponse deleted = Delete({"web:1"});
  ASSERT_THAT(deleted.task_definitions(), SizeIs(1));
  EXPECT_EQ(deleted.task_definitions(0).status(), "DELETE_IN_PROGRESS");
  EXPECT_EQ(StatusOf("web:1"), "DELETE_IN_PROGRESS");  // Until the sweep runs.
  Settle();
  EXPECT_EQ(StatusOf("web:1"), "gone");
  v1::ListTaskDefinitionFamiliesRequest families;
  EXPECT_THAT(registry_->ListFamilies(families)->families(), SizeIs(0));
  EXPECT_EQ(NextRevision(), 2);
}

TEST_F(TaskDefinitionCollectorTest, ARevisionBeingDeletedRunsNoNewTaskOrService) {
  ASSERT_TRUE(Create(R"({"serviceName": "api", "taskDefinition": "web:1", "desiredCount": 0})")
                  .ok());
  ASSERT_EQ(NextRevision(), 2);
  Deregister("web:2");
  Delete({"web:2"});
  ASSERT_EQ(StatusOf("web:2"), "DELETE_IN_PROGRESS");

  auto ran = Run("web:2");
  EXPECT_EQ(ran.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(model::EcsExceptionName(ran.status()), "ClientException");
  EXPECT_THAT(ran.status().message(),
              HasSubstr("taskDefinition: arn:aws:ecs:local:000000000000:task-definition/web:2 "
                        "is DELETE_IN_PROGRESS"));
  absl::Status created =
      Create(R"({"serviceName": "web", "taskDefinition": "web:2", "desiredCount": 1})");
  EXPECT_EQ(created.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(created.message(), HasSubstr("taskDefinition: "));
  absl::Status updated = Update(R"({"service": "api", "taskDefinition": "web:2"})");
  EXPECT_EQ(updated.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(updated.message(), HasSubstr("is DELETE_IN_PROGRESS"));
  EXPECT_EQ(model::EcsExceptionName(updated), "ClientException");
}

TEST_F(TaskDefinitionCollectorTest, ARunningTaskKeepsItsRevisionUntilItStops) {
  auto ran = Run("web:1");
  ASSERT_TRUE(ran.ok()) << ran.status();
  Settle();
  DeregisterAndDelete("web:1");
  Settle();
  EXPECT_EQ(StatusOf("web:1"), "DELETE_IN_PROGRESS");
  // Listed under its status, and still described.
  v1::ListTaskDefinitionsRequest list;
  list.set_status("DELETE_IN_PROGRESS");
  EXPECT_THAT(registry_->List(list)->task_definition_arns(), ::testing::ElementsAre(kWeb1));

  Kill(IdOf(ran->tasks(0)), 0);
  EXPECT_EQ(StatusOf("web:1"), "gone");
  EXPECT_THAT(registry_->List(list)->task_definition_arns(), SizeIs(0));
  EXPECT_EQ(NextRevision(), 2);
}

TEST_F(TaskDefinitionCollectorTest, AServiceKeepsItsRevisionUntilItsDeploymentsMoveOn) {
  ASSERT_NO_FATAL_FAILURE(ServiceOnADeletedRevision());
  EXPECT_EQ(StatusOf("web:1"), "DELETE_IN_PROGRESS");
  // The service still scales, and replaces its tasks, with it.
  ASSERT_TRUE(Update(R"({"service": "web", "desiredCount": 2})").ok());
  Settle();
  ASSERT_THAT(TaskIds(), SizeIs(2));
  Kill(TaskIds()[0]);
  Settle();
  EXPECT_THAT(TaskIds(), SizeIs(2));
  EXPECT_EQ(Describe().running_count(), 2);
  EXPECT_EQ(StatusOf("web:1"), "DELETE_IN_PROGRESS");

  ASSERT_EQ(NextRevision(), 2);
  ASSERT_TRUE(Update(R"({"service": "web", "taskDefinition": "web:2"})").ok());
  // The new deployment replaces the old one's tasks and completes.
  for (int i = 0; i < 20 && Describe().deployments_size() > 1; ++i) {
    Advance(absl::Seconds(1));
    ExitStoppingTasks();
  }
  ASSERT_EQ(Describe().deployments_size(), 1);
  EXPECT_EQ(Describe().deployments(0).rollout_state(), "COMPLETED");
  EXPECT_EQ(StatusOf("web:1"), "gone");
  EXPECT_EQ(StatusOf("web:2"), "ACTIVE");
}

TEST_F(TaskDefinitionCollectorTest, ADeletedServiceLetsItsRevisionGo) {
  ASSERT_NO_FATAL_FAILURE(ServiceOnADeletedRevision());
  ASSERT_EQ(StatusOf("web:1"), "DELETE_IN_PROGRESS");
  v1::DeleteServiceRequest remove;
  remove.set_service("web");
  remove.set_force(true);
  ASSERT_TRUE(services_->DeleteService(remove).ok());
  Settle();
  EXPECT_EQ(StatusOf("web:1"), "DELETE_IN_PROGRESS");  // DRAINING: its task still stops.
  ExitStoppingTasks();
  ASSERT_EQ(Describe().status(), "INACTIVE");
  EXPECT_EQ(StatusOf("web:1"), "gone");
}

TEST_F(TaskDefinitionCollectorTest, ARestartKeepsARevisionInUseAndDeletesOneThatIsNot) {
  auto ran = Run("web:1");
  ASSERT_TRUE(ran.ok()) << ran.status();
  Settle();
  DeregisterAndDelete("web:1");
  // An earlier run marked web:2 and went down before its sweep.
  ASSERT_EQ(NextRevision(), 2);
  auto two = store_->GetTaskDefinition("web", 2);
  ASSERT_TRUE(two.ok() && two->has_value());
  (*two)->definition.set_status("DELETE_IN_PROGRESS");
  ASSERT_TRUE(store_->UpdateTaskDefinition((*two)->definition).ok());

  Restart();
  EXPECT_EQ(StatusOf("web:1"), "DELETE_IN_PROGRESS");  // Its task still runs.
  EXPECT_EQ(StatusOf("web:2"), "gone");
  Kill(IdOf(ran->tasks(0)), 0);
  EXPECT_EQ(StatusOf("web:1"), "gone");
  EXPECT_EQ(NextRevision(), 3);
}

}  // namespace
}  // namespace skiff::scheduler
