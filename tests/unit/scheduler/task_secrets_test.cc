// A task's secrets at launch (task_secrets.h), through TaskManager with a fake SecretSource and
// the fake runtime: resolved secrets reach the container's environment; one that cannot be
// resolved stops the task before the runtime is asked anything, with ECS's stop code and reason,
// naming the secret and never a value; s3 environmentFiles come from the configured directory.
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "fakes/fake_runtime.h"
#include "fakes/fake_runtime_health.h"
#include "fakes/manual_event_loop.h"
#include "fakes/manual_executor.h"
#include "fakes/scheduler_stack.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/secret_source.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::scheduler {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kImage[] = "skiff.local/busybox:test";
constexpr char kDbArn[] = "arn:aws:secretsmanager:local:000000000000:secret:db-AbCdEf";

class MapSecretSource final : public SecretSource {
 public:
  absl::StatusOr<std::string> Resolve(const std::string& value_from) override {
    auto it = values.find(value_from);
    if (it == values.end()) return absl::NotFoundError(absl::StrCat("asm: no ", value_from));
    return it->second;
  }
  std::map<std::string, std::string> values;
};

class TaskSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    runtime_.AddImage(kImage);
    source_.values[kDbArn + std::string(":password")] = "pw-value-1";
    source_.values["/app/token"] = "token-value-2";
    auto stack = fakes::SchedulerStack::Open(
        {.loop = &loop_, .executor = &executor_, .runtime = &runtime_, .clock = &clock_,
         .random = &random_},
        {.state_dir = dir_.path() + "/state",
         .tasks = {.runtime_health = &runtime_health_,
                   .secrets = &source_,
                   .environment_files_dir = dir_.path() + "/s3"}});
    ASSERT_TRUE(stack.ok()) << stack.status();
    stack_ = *std::move(stack);
  }

  std::string RunWith(const std::string& container_extra) {
    v1::RegisterTaskDefinitionRequest request;
    const std::string json = absl::StrCat(
        R"({"family": "web", "networkMode": "host", "containerDefinitions": [
            {"name": "app", "image": "skiff.local/busybox:test", "memory": 32)",
        container_extra, "}]}");
    EXPECT_TRUE(model::DecodeMessageText(json, &request).ok()) << json;
    EXPECT_TRUE(stack_->registry().Register(request).ok());
    v1::RunTaskRequest run;
    run.set_task_definition("web");
    auto response = stack_->tasks().RunTask(run);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->tasks().empty()) return "";
    const std::string arn = response->tasks(0).task_arn();
    while (loop_.RunPending() + executor_.RunAll() > 0) {
    }
    return arn.substr(arn.rfind('/') + 1);
  }

  v1::Task Describe(const std::string& id) {
    v1::DescribeTasksRequest request;
    request.add_tasks(id);
    auto response = stack_->tasks().DescribeTasks(request);
    return response.ok() && !response->tasks().empty() ? response->tasks(0) : v1::Task();
  }

  fakes::TempDir dir_;
  SimulatedClock clock_;
  SeededRandom random_{1};
  fakes::ManualEventLoop loop_{&clock_};
  fakes::ManualExecutor executor_;
  fakes::FakeRuntime runtime_;
  fakes::FakeRuntimeHealth runtime_health_;
  MapSecretSource source_;
  std::unique_ptr<fakes::SchedulerStack> stack_;
};

TEST_F(TaskSecretsTest, ResolvedSecretsReachTheEnvironment) {
  const std::string id = RunWith(absl::StrCat(
      R"(, "environment": [{"name": "DB_PASSWORD", "value": "overridden"}],
         "secrets": [{"name": "DB_PASSWORD", "valueFrom": ")", kDbArn, R"(:password"},
                     {"name": "TOKEN", "valueFrom": "/app/token"}])"));
  EXPECT_EQ(Describe(id).last_status(), "RUNNING");
  const auto& env = runtime_.SpecOf(id + "-app").env;
  EXPECT_THAT(env, Contains("DB_PASSWORD=pw-value-1"));
  EXPECT_THAT(env, Not(Contains("DB_PASSWORD=overridden")));
  EXPECT_THAT(env, Contains("TOKEN=token-value-2"));
}

TEST_F(TaskSecretsTest, AnUnresolvableSecretStopsTheTaskBeforeAnythingIsCreated) {
  const std::string id = RunWith(R"(, "secrets": [
      {"name": "TOKEN", "valueFrom": "/app/token"},
      {"name": "MISSING", "valueFrom": "/app/missing"}])");
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(),
              StartsWith("ResourceInitializationError: unable to pull secrets or registry "
                         "auth: "));
  EXPECT_THAT(task.stopped_reason(), HasSubstr("/app/missing"));
  EXPECT_THAT(task.stopped_reason(), Not(HasSubstr("token-value-2")));
  EXPECT_THAT(runtime_.calls(), IsEmpty());
}

TEST_F(TaskSecretsTest, AnUnresolvableLogSecretOptionStopsTheTaskToo) {
  const std::string id = RunWith(R"(, "logConfiguration": {"logDriver": "json-file",
      "secretOptions": [{"name": "token", "valueFrom": "/log/missing"}]})");
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), HasSubstr("/log/missing"));
  EXPECT_THAT(runtime_.calls(), IsEmpty());
}

TEST_F(TaskSecretsTest, S3EnvironmentFilesComeFromTheConfiguredDirectory) {
  std::filesystem::create_directories(dir_.path() + "/s3/bucket/dir");
  std::ofstream(dir_.path() + "/s3/bucket/dir/app.env") << "FROM_S3=yes\n";
  const std::string id = RunWith(R"(, "environmentFiles": [
      {"type": "s3", "value": "arn:aws:s3:::bucket/dir/app.env"}])");
  EXPECT_EQ(Describe(id).last_status(), "RUNNING");
  EXPECT_THAT(runtime_.SpecOf(id + "-app").env, Contains("FROM_S3=yes"));
}

TEST_F(TaskSecretsTest, AMissingS3EnvironmentFileStopsTheTaskNamingIt) {
  const std::string id = RunWith(R"(, "environmentFiles": [
      {"type": "s3", "value": "arn:aws:s3:::bucket/missing.env"}])");
  const v1::Task task = Describe(id);
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), StartsWith("ResourceInitializationError: "));
  EXPECT_THAT(task.stopped_reason(), HasSubstr("arn:aws:s3:::bucket/missing.env"));
  EXPECT_THAT(runtime_.calls(), IsEmpty());
}

}  // namespace
}  // namespace skiff::scheduler
