// Application Auto Scaling's inputs of the service scheduler: the desired count it sets
// (ServiceManager::SetDesiredCountForScaling) and task scale-in protection
// (TaskManager::UpdateTaskProtection), on the real managers in simulated time.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service_fixture.h"
#include "skiff/model/errors.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAreArray;

class ServiceScalingTest : public ServiceManagerTest {
 protected:
  void CreateWeb(int desired) {
    ASSERT_TRUE(Create(absl::StrCat(R"({"serviceName": "web", "taskDefinition": "web",
                                        "desiredCount": )", desired, "}")).ok());
    Settle();
  }

  absl::StatusOr<v1::UpdateTaskProtectionResponse> Protect(
      const std::vector<std::string>& ids, bool on, const std::string& extra = "") {
    std::string json = R"({"cluster": "default", "protectionEnabled": )";
    absl::StrAppend(&json, on ? "true" : "false", extra, R"(, "tasks": [)");
    for (size_t i = 0; i < ids.size(); ++i) {
      absl::StrAppend(&json, i == 0 ? "" : ", ", "\"", ids[i], "\"");
    }
    absl::StrAppend(&json, "]}");
    return tasks_->UpdateTaskProtection(Parse<v1::UpdateTaskProtectionRequest>(json));
  }
};

TEST_F(ServiceScalingTest, ADesiredCountSetForScalingScalesOutWithoutANewDeployment) {
  CreateWeb(1);
  const std::string deployment = Describe().deployments(0).id();
  ASSERT_TRUE(services_->SetDesiredCountForScaling("default", "web", 3,
                                                   "monitor alarm TargetTracking in state ALARM")
                  .ok());
  Settle();
  const v1::Service s = Describe();
  EXPECT_EQ(s.desired_count(), 3);
  EXPECT_EQ(s.running_count(), 3);
  ASSERT_EQ(s.deployments_size(), 1);
  EXPECT_EQ(s.deployments(0).id(), deployment);
  EXPECT_EQ(s.deployments(0).desired_count(), 3);
  EXPECT_TRUE(HasEvent(Events(), "(service web) has updated its desired count from 1 to 3: "
                                 "monitor alarm TargetTracking in state ALARM"));
  Open();  // A restart keeps what autoscaling set.
  EXPECT_EQ(Describe().desired_count(), 3);
}

TEST_F(ServiceScalingTest, ScalableServiceShowsWhatTheScalerNeeds) {
  CreateWeb(2);
  auto view = services_->ScalableService("default", "web");
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(view->desired_count, 2);
  EXPECT_EQ(view->running_count, 2);
  EXPECT_EQ(view->status, "ACTIVE");
  EXPECT_EQ(view->task_definition.family(), "web");
  EXPECT_EQ(view->task_definition.container_definitions(0).memory(), 32);
  EXPECT_EQ(services_->ScalableService("default", "nope").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(services_->SetDesiredCountForScaling("default", "web", -1, "x").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ServiceScalingTest, AScaleInSkipsAProtectedTaskAndWaitsForItsExpiry) {
  CreateWeb(2);
  const std::vector<std::string> ids = TaskIds();
  ASSERT_THAT(ids, SizeIs(2));
  auto protected_tasks = Protect(ids, true, R"(, "expiresInMinutes": 1)");
  ASSERT_TRUE(protected_tasks.ok()) << protected_tasks.status();
  ASSERT_THAT(protected_tasks->protected_tasks(), SizeIs(2));
  EXPECT_TRUE(protected_tasks->protected_tasks(0).protection_enabled());
  EXPECT_DOUBLE_EQ(protected_tasks->protected_tasks(0).expiration_date(),
                   absl::ToDoubleSeconds(clock_.Now() + absl::Minutes(1) - absl::UnixEpoch()));
  Open();  // The protection survives a restart.
  ASSERT_TRUE(services_->SetDesiredCountForScaling("default", "web", 0, "scale in").ok());
  Settle();
  EXPECT_THAT(TaskIds(), UnorderedElementsAreArray(ids));
  EXPECT_TRUE(HasEvent(Events(), "was unable to scale in due to (reason: 2 tasks under "
                                 "protection)."));
  Advance(absl::Minutes(1));  // Both protections end: the scale-in goes on by itself.
  EXPECT_THAT(TaskIds(), SizeIs(0));
}

TEST_F(ServiceScalingTest, RemovingAProtectionLetsTheWaitingScaleInGoOn) {
  CreateWeb(2);
  const std::vector<std::string> ids = TaskIds();
  ASSERT_TRUE(Protect({ids[0]}, true).ok());
  ASSERT_TRUE(services_->SetDesiredCountForScaling("default", "web", 0, "scale in").ok());
  Settle();
  EXPECT_THAT(TaskIds(), ElementsAre(ids[0]));
  auto removed = Protect({ids[0]}, false);
  ASSERT_TRUE(removed.ok());
  EXPECT_FALSE(removed->protected_tasks(0).protection_enabled());
  EXPECT_FALSE(removed->protected_tasks(0).has_expiration_date());
  Settle();
  EXPECT_THAT(TaskIds(), SizeIs(0));
}

TEST_F(ServiceScalingTest, ProtectionFailuresAreAnsweredAsECSDoes) {
  CreateWeb(1);
  v1::RunTaskRequest run;
  run.set_task_definition("web");
  auto standalone = tasks_->RunTask(run);
  ASSERT_TRUE(standalone.ok()) << standalone.status();
  const std::string standalone_arn = standalone->tasks(0).task_arn();
  auto response = Protect({"0123456789abcdef0123456789abcdef", standalone_arn, TaskIds()[0]}, true);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_THAT(response->failures(), SizeIs(2));
  EXPECT_EQ(response->failures(0).reason(), "MISSING");
  EXPECT_EQ(response->failures(0).arn(), "arn:aws:ecs:local:000000000000:task/default/"
                                         "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(response->failures(1).reason(), "TASK_NOT_VALID");
  EXPECT_EQ(response->failures(1).arn(), standalone_arn);
  EXPECT_THAT(response->protected_tasks(), SizeIs(1));

  auto out_of_range = Protect(TaskIds(), true, R"(, "expiresInMinutes": 2881)");
  EXPECT_EQ(out_of_range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out_of_range.status().message(),
            "expiresInMinutes: must be between 1 and 2880; got 2881");
  EXPECT_EQ(model::EcsExceptionName(out_of_range.status()), "InvalidParameterException");

  v1::GetTaskProtectionRequest get;
  get.set_cluster("default");
  get.add_tasks(TaskIds()[0]);
  auto got = tasks_->GetTaskProtection(get);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_THAT(got->protected_tasks(), SizeIs(1));
  EXPECT_TRUE(got->protected_tasks(0).protection_enabled());
  EXPECT_DOUBLE_EQ(got->protected_tasks(0).expiration_date(),
                   absl::ToDoubleSeconds(clock_.Now() + absl::Minutes(120) - absl::UnixEpoch()));
}

}  // namespace
}  // namespace skiff::scheduler
