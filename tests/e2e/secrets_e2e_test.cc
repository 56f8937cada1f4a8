// Secrets with real containers: a Secrets Manager secret (whole and one JSON key) and an SSM
// SecureString reach a busybox container's environment; a missing one stops the task with ECS's
// stop code and reason before containerd has any container of it; the values never appear in
// skiffd's log or describe-tasks; and the AWS CLI round-trips both services, errors included.
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/containerd_fixture.h"
#include "support/subprocess.h"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using json = nlohmann::json;

constexpr char kPassword[] = "e2e-pw-77813";
constexpr char kToken[] = "e2e-tok-33197";
constexpr char kAwsV2[] = "/usr/bin/aws";

class SecretsTest : public E2eTest {
 protected:
  SecretsTest() { namespace_prefix_ = "skiff-secrets"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_NO_FATAL_FAILURE(StartSkiffd());
    ASSERT_NO_FATAL_FAILURE(LoadTestImage());
  }

  static json Printer(const std::string& family, const json& secrets) {
    return {{"family", family},
            {"networkMode", "host"},
            {"containerDefinitions",
             json::array({{{"name", "app"},
                           {"image", skiff::testing::kTestImageRef},
                           {"memory", 32},
                           {"secrets", secrets},
                           {"command", json::array({"sh", "-c", "env"})}}})}};
  }

  std::string Logs(const std::string& id) { return Skiff({"logs", "--task", id}).stdout_text; }

  skiff::testing::CommandResult Aws(const std::vector<std::string>& args) {
    const std::string endpoint = skiffd_->HttpEndpoint();
    std::vector<std::string> argv = {
        "env", "AWS_ENDPOINT_URL=" + endpoint,
        "AWS_SHARED_CREDENTIALS_FILE=" + skiffd_->aws_credentials(), "AWS_PROFILE=skiff",
        "AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_PAGER=", kAwsV2,
        "--endpoint-url", endpoint};
    argv.insert(argv.end(), args.begin(), args.end());
    auto result = skiff::testing::RunCommand(argv, absl::Seconds(90));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : skiff::testing::CommandResult{};
  }
};

TEST_F(SecretsTest, SecretsAndParametersReachTheEnvironmentAndNeverTheLog) {
  const json created = Ok({"secretsmanager", "create-secret", "--name", "db", "--secret-string",
                           absl::StrCat(R"({"user":"app","password":")", kPassword, R"("})")});
  const std::string arn = created["ARN"];
  Ok({"ssm", "put-parameter", "--name", "/e2e/token", "--value", kToken, "--type",
      "SecureString"});
  RegisterTaskDefinition(Printer(
      "printer", json::array({{{"name", "DB_PASSWORD"}, {"valueFrom", arn + ":password::"}},
                              {{"name", "DB_USER"}, {"valueFrom", "db:user"}},
                              {{"name", "TOKEN"}, {"valueFrom", "/e2e/token"}}})));
  const std::string id = RunTask("printer");
  const v1::Task task = WaitForTaskStatus(id, "STOPPED", absl::Seconds(60));
  EXPECT_EQ(task.containers(0).exit_code(), 0) << task.stopped_reason();
  std::string logs;
  for (int i = 0; i < 50 && logs.find("TOKEN=") == std::string::npos; ++i) {
    logs = Logs(id);
    if (logs.empty()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(logs, HasSubstr(absl::StrCat("DB_PASSWORD=", kPassword)));
  EXPECT_THAT(logs, HasSubstr("DB_USER=app"));
  EXPECT_THAT(logs, HasSubstr(absl::StrCat("TOKEN=", kToken)));
  const std::string described = DescribeTaskJson(id).dump();
  EXPECT_THAT(described, Not(HasSubstr(kPassword)));
  EXPECT_THAT(described, Not(HasSubstr(kToken)));
  const std::string log = SkiffdLogTail(100000);
  EXPECT_THAT(log, Not(HasSubstr(kPassword)));
  EXPECT_THAT(log, Not(HasSubstr(kToken)));
  const json describe_secret = Ok({"secretsmanager", "describe-secret", "--secret-id", "db"});
  EXPECT_THAT(describe_secret.dump(), Not(HasSubstr(kPassword)));
}

TEST_F(SecretsTest, AMissingSecretFailsTheTaskWithNothingStarted) {
  RegisterTaskDefinition(Printer(
      "broken", json::array({{{"name", "GONE"}, {"valueFrom", "/e2e/missing"}}})));
  const std::string id = RunTask("broken");
  const v1::Task task = WaitForTaskStatus(id, "STOPPED", absl::Seconds(30));
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(),
              StartsWith("ResourceInitializationError: unable to pull secrets or registry "
                         "auth: "));
  EXPECT_THAT(task.stopped_reason(), HasSubstr("/e2e/missing"));
  std::string containers;
  ASSERT_TRUE(containerd_->Ctr({"-n", ns_, "containers", "ls", "-q"}, &containers).ok());
  EXPECT_THAT(containers, Not(HasSubstr(id)));
}

TEST_F(SecretsTest, TheAwsCliRoundTripsBothServices) {
  SKIFF_REQUIRE_NOTHING_MISSING(access(kAwsV2, X_OK) == 0
                                    ? ""
                                    : "Debian's AWS CLI (/usr/bin/aws, package awscli)");
  skiff::testing::CommandResult r =
      Aws({"secretsmanager", "create-secret", "--name", "cli", "--secret-string", kPassword});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const json created = json::parse(r.stdout_text);
  EXPECT_THAT(std::string(created["ARN"]),
              StartsWith("arn:aws:secretsmanager:local:000000000000:secret:cli-"));
  r = Aws({"secretsmanager", "put-secret-value", "--secret-id", "cli", "--secret-string", "v2"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  r = Aws({"secretsmanager", "get-secret-value", "--secret-id", "cli", "--version-stage",
           "AWSPREVIOUS"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(json::parse(r.stdout_text)["SecretString"], kPassword);
  r = Aws({"secretsmanager", "describe-secret", "--secret-id", "cli"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  const json described = json::parse(r.stdout_text);
  EXPECT_EQ(described["VersionIdsToStages"].size(), 2u);
  EXPECT_THAT(r.stdout_text, Not(HasSubstr(kPassword)));
  r = Aws({"secretsmanager", "delete-secret", "--secret-id", "cli",
           "--recovery-window-in-days", "7"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  r = Aws({"secretsmanager", "get-secret-value", "--secret-id", "cli"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.stderr_text, HasSubstr("InvalidRequestException"));
  r = Aws({"secretsmanager", "get-secret-value", "--secret-id", "nope"});
  EXPECT_EQ(r.exit_code, 254);
  EXPECT_THAT(r.stderr_text, HasSubstr("ResourceNotFoundException"));
  r = Aws({"ssm", "put-parameter", "--name", "/cli/p", "--value", "v", "--type", "String"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  r = Aws({"ssm", "get-parameter", "--name", "/cli/p"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_EQ(json::parse(r.stdout_text)["Parameter"]["Value"], "v");
  r = Aws({"ssm", "put-parameter", "--name", "/cli/p", "--value", "w", "--type", "String"});
  EXPECT_EQ(r.exit_code, 254);
  EXPECT_THAT(r.stderr_text, HasSubstr("ParameterAlreadyExists"));
  r = Aws({"ssm", "get-parameter", "--name", "/cli/none"});
  EXPECT_THAT(r.stderr_text, HasSubstr("ParameterNotFound"));
}

}  // namespace
}  // namespace skiff::e2e
