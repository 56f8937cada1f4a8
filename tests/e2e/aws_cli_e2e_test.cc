// The AWS CLI against skiffd's AWS JSON API, as a user points it there: Debian's AWS CLI v2
// (/usr/bin/aws, package awscli) and, where it is installed, the Python AWS CLI v1, with the
// credentials file skiffd made, profile `skiff`, and the endpoint. Tasks and services run for
// real on the fixture's containerd; what a script relies on is checked: the JSON printed, the
// waiters, pagination, tags, and an error's exit status and message.
#include <unistd.h>

#include <fstream>
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
using ::testing::SizeIs;
using json = nlohmann::json;

constexpr char kAwsV2[] = "/usr/bin/aws";
constexpr absl::Duration kCliTimeout = absl::Seconds(90);

class AwsCliTest : public E2eTest {
 protected:
  AwsCliTest() { namespace_prefix_ = "skiff-awscli"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    SKIFF_REQUIRE_NOTHING_MISSING(access(kAwsV2, X_OK) == 0
                                      ? ""
                                      : "Debian's AWS CLI (/usr/bin/aws, package awscli)");
    ASSERT_NO_FATAL_FAILURE(StartSkiffd());
    ASSERT_NO_FATAL_FAILURE(LoadTestImage());
    endpoint_ = skiffd_->HttpEndpoint();
    ASSERT_THAT(endpoint_, ::testing::StartsWith("http://127.0.0.1:"));
  }

  // `cli ecs args...` with the three settings a user gives, and a region (any; the CLI needs
  // one). Debian's v2 (2.9) predates AWS_ENDPOINT_URL, so it also gets --endpoint-url.
  skiff::testing::CommandResult Aws(const std::vector<std::string>& args,
                                    const std::string& cli = kAwsV2,
                                    const std::string& credentials = "") {
    return AwsIn("ecs", args, cli, credentials);
  }

  // The same for another group of the CLI ("application-autoscaling").
  skiff::testing::CommandResult AwsIn(const std::string& group,
                                      const std::vector<std::string>& args,
                                      const std::string& cli = kAwsV2,
                                      const std::string& credentials = "") {
    std::vector<std::string> argv = {
        "env",
        "AWS_ENDPOINT_URL=" + endpoint_,
        "AWS_SHARED_CREDENTIALS_FILE=" +
            (credentials.empty() ? skiffd_->aws_credentials() : credentials),
        "AWS_PROFILE=skiff",
        "AWS_DEFAULT_REGION=us-east-1",
        "AWS_CONFIG_FILE=/dev/null",  // Nothing of the machine's own AWS settings.
        "AWS_PAGER=",
        cli};
    if (cli == kAwsV2) argv.insert(argv.end(), {"--endpoint-url", endpoint_});
    argv.push_back(group);
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<skiff::testing::CommandResult> result =
        skiff::testing::RunCommand(argv, kCliTimeout);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : skiff::testing::CommandResult{};
  }

  // A command that must exit 0; its output as JSON (null when it printed nothing).
  json AwsOk(const std::vector<std::string>& args, const std::string& cli = kAwsV2) {
    return AwsGroupOk("ecs", args, cli);
  }
  json AwsGroupOk(const std::string& group, const std::vector<std::string>& args,
                  const std::string& cli = kAwsV2) {
    const skiff::testing::CommandResult r = AwsIn(group, args, cli);
    EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << "\n" << r.stderr_text;
    if (r.stdout_text.empty()) return nullptr;
    json out = json::parse(r.stdout_text, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(out.is_discarded()) << r.stdout_text;
    return out;
  }

  // A file of the test's dir holding `content`: the CLI reads it with file://.
  std::string File(const std::string& name, const std::string& content) {
    const std::string path = absl::StrCat(skiffd_->dir(), "/", name);
    std::ofstream(path) << content;
    return path;
  }

  static json Worker(const std::string& family) {
    return {{"family", family},
            {"networkMode", "host"},
            {"containerDefinitions",
             json::array({{{"name", "app"},
                           {"image", skiff::testing::kTestImageRef},
                           {"memory", 32},
                           {"stopTimeout", 2},
                           {"linuxParameters", {{"initProcessEnabled", true}}},
                           {"command", json::array({"sh", "-c", "exec sleep 100000"})}}})}};
  }

  std::string endpoint_;
};

TEST_F(AwsCliTest, RunsATaskFromAFileAndWaitsForIt) {
  const std::string file = File("worker.json", Worker("cli-worker").dump());
  const json registered =
      AwsOk({"register-task-definition", "--cli-input-json", "file://" + file});
  EXPECT_EQ(registered["taskDefinition"]["family"], "cli-worker");
  EXPECT_EQ(registered["taskDefinition"]["revision"], 1);

  const json run = AwsOk({"run-task", "--task-definition", "cli-worker"});
  ASSERT_THAT(run["tasks"], SizeIs(1)) << run.dump();
  EXPECT_EQ(run["failures"], json::array());
  const std::string arn = run["tasks"][0]["taskArn"];
  EXPECT_EQ(AwsOk({"wait", "tasks-running", "--tasks", arn}), nullptr);
  const json described = AwsOk({"describe-tasks", "--tasks", arn});
  EXPECT_EQ(described["tasks"][0]["lastStatus"], "RUNNING");
  EXPECT_EQ(described["tasks"][0]["containers"][0]["lastStatus"], "RUNNING");
  EXPECT_THAT(AwsOk({"list-tasks"})["taskArns"], ::testing::Contains(arn));

  const json stopped = AwsOk({"stop-task", "--task", arn, "--reason", "done"});
  EXPECT_EQ(stopped["task"]["desiredStatus"], "STOPPED");
  EXPECT_EQ(AwsOk({"wait", "tasks-stopped", "--tasks", arn}), nullptr);
  // ECS answers a describe of a missing task with an empty list and a failure, not an error.
  const json missing = AwsOk({"describe-tasks", "--tasks", "0123456789abcdef0123456789abcdef"});
  EXPECT_EQ(missing["tasks"], json::array());
  ASSERT_THAT(missing["failures"], SizeIs(1));
  EXPECT_EQ(missing["failures"][0]["reason"], "MISSING");
}

TEST_F(AwsCliTest, CreatesScalesAndDeletesAServiceWithTheWaiters) {
  AwsOk({"register-task-definition", "--cli-input-json", Worker("cli-web").dump()});
  const json created = AwsOk({"create-service", "--service-name", "web", "--task-definition",
                              "cli-web", "--desired-count", "2"});
  EXPECT_EQ(created["service"]["serviceName"], "web");
  // The waiter polls every 15 s; the service is stable within a few seconds, so wait for that
  // first (bounded) and let the waiter's first look see it.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  json service;
  while (absl::Now() < deadline) {
    service = AwsOk({"describe-services", "--services", "web"})["services"][0];
    if (service["runningCount"] == 2 && service["deployments"].size() == 1) break;
  }
  EXPECT_EQ(AwsOk({"wait", "services-stable", "--services", "web"}), nullptr);

  const json updated = AwsOk({"update-service", "--service", "web", "--desired-count", "1"});
  EXPECT_EQ(updated["service"]["desiredCount"], 1);
  for (int i = 0; i < 60; ++i) {
    service = AwsOk({"describe-services", "--services", "web"})["services"][0];
    if (service["runningCount"] == 1) break;
  }
  EXPECT_EQ(service["runningCount"], 1);
  EXPECT_EQ(AwsOk({"wait", "services-stable", "--services", "web"}), nullptr);

  const std::string arn = created["service"]["serviceArn"];
  AwsOk({"tag-resource", "--resource-arn", arn, "--tags", "key=team,value=edge"});
  EXPECT_EQ(AwsOk({"list-tags-for-resource", "--resource-arn", arn})["tags"],
            json::parse(R"([{"key": "team", "value": "edge"}])"));
  AwsOk({"untag-resource", "--resource-arn", arn, "--tag-keys", "team"});
  EXPECT_EQ(AwsOk({"list-tags-for-resource", "--resource-arn", arn})["tags"], json::array());

  const json deleted = AwsOk({"delete-service", "--service", "web", "--force"});
  EXPECT_EQ(deleted["service"]["serviceName"], "web");
  EXPECT_EQ(AwsOk({"wait", "services-inactive", "--services", "web"}), nullptr);
  EXPECT_EQ(AwsOk({"list-services"}), json::parse(R"({"serviceArns": []})"));
}

TEST_F(AwsCliTest, PaginatesAsTheCliDoes) {
  for (int i = 0; i < 3; ++i) {
    AwsOk({"register-task-definition", "--cli-input-json", Worker("cli-pages").dump()});
  }
  // --page-size: the CLI follows nextToken itself and prints every item.
  const json all = AwsOk({"list-task-definitions", "--family-prefix", "cli-pages",
                          "--page-size", "1"});
  EXPECT_THAT(all["taskDefinitionArns"], SizeIs(3));
  // --max-items: one item and the CLI's token for the rest, which --starting-token resumes.
  const json first = AwsOk({"list-task-definitions", "--family-prefix", "cli-pages",
                            "--max-items", "1"});
  ASSERT_THAT(first["taskDefinitionArns"], SizeIs(1));
  ASSERT_TRUE(first.contains("NextToken")) << first.dump();
  const json rest = AwsOk({"list-task-definitions", "--family-prefix", "cli-pages",
                           "--starting-token", first["NextToken"], "--max-items", "5"});
  EXPECT_THAT(rest["taskDefinitionArns"], SizeIs(2));
  EXPECT_NE(rest["taskDefinitionArns"][0], first["taskDefinitionArns"][0]);
}

TEST_F(AwsCliTest, ErrorsExitNonZeroWithAwssMessage) {
  skiff::testing::CommandResult r = Aws({"describe-services", "--cluster", "nope", "--services",
                                         "web"});
  EXPECT_EQ(r.exit_code, 254);
  EXPECT_THAT(r.stderr_text, HasSubstr("An error occurred (ClusterNotFoundException) when "
                                       "calling the DescribeServices operation"));
  r = Aws({"register-task-definition", "--family", "x", "--container-definitions",
           R"([{"name": "app", "image": "busybox", "memory": 2}])"});
  EXPECT_EQ(r.exit_code, 254);
  EXPECT_THAT(r.stderr_text, HasSubstr("containerDefinitions[0].memory"));

  // A key the daemon does not know, and a known key with the wrong secret.
  const std::string stranger = File(
      "stranger", "[skiff]\naws_access_key_id = AKIAUNKNOWN0000000001\naws_secret_access_key = x\n");
  r = Aws({"list-clusters"}, kAwsV2, stranger);
  EXPECT_EQ(r.exit_code, 254);
  EXPECT_THAT(r.stderr_text, HasSubstr("UnrecognizedClientException"));
  std::ifstream in(skiffd_->aws_credentials());
  std::string text((std::istreambuf_iterator<char>(in)), {});
  const size_t secret = text.find("aws_secret_access_key");
  ASSERT_NE(secret, std::string::npos);
  text = text.substr(0, secret) + "aws_secret_access_key = wrong\n";
  r = Aws({"list-clusters"}, kAwsV2, File("wrong-secret", text));
  EXPECT_EQ(r.exit_code, 254);
  EXPECT_THAT(r.stderr_text, HasSubstr("InvalidSignatureException"));
}

// Application Auto Scaling through `aws application-autoscaling` (X-Amz-Target
// AnyScaleFrontendService, SigV4 service application-autoscaling), task scale-in protection
// through `aws ecs`, and both after a restart of skiffd.
TEST_F(AwsCliTest, ApplicationAutoScalingRoundTripsAndSurvivesARestart) {
  json definition = Worker("cli-scaled");
  definition["cpu"] = "256";
  AwsOk({"register-task-definition", "--cli-input-json", definition.dump()});
  AwsOk({"create-service", "--service-name", "scaled", "--task-definition", "cli-scaled",
         "--desired-count", "1"});
  const std::vector<std::string> target = {"--service-namespace", "ecs", "--scalable-dimension",
                                           "ecs:service:DesiredCount", "--resource-id",
                                           "service/default/scaled"};
  auto with = [&target](std::vector<std::string> args) {
    args.insert(args.end(), target.begin(), target.end());
    return args;
  };
  const std::string as = "application-autoscaling";
  const json registered = AwsGroupOk(
      as, with({"register-scalable-target", "--min-capacity", "1", "--max-capacity", "3"}));
  // Debian's CLI v2 (2.9) knows a model from before ScalableTargetARN and prints nothing.
  if (registered != nullptr) {
    EXPECT_THAT(std::string(registered["ScalableTargetARN"]),
                ::testing::StartsWith("arn:aws:application-autoscaling:local:000000000000:"
                                      "scalable-target/"));
  }
  const json policy = AwsGroupOk(
      as, with({"put-scaling-policy", "--policy-name", "cpu50", "--policy-type",
                "TargetTrackingScaling", "--target-tracking-scaling-policy-configuration",
                R"({"TargetValue": 50, "PredefinedMetricSpecification":
                    {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                    "ScaleInCooldown": 60})"}));
  EXPECT_THAT(std::string(policy["PolicyARN"]), HasSubstr(":scalingPolicy:"));
  AwsGroupOk(as, with({"put-scheduled-action", "--scheduled-action-name", "night",
                       "--schedule", "cron(0 22 ? * * *)", "--timezone", "Europe/Paris",
                       "--scalable-target-action", "MinCapacity=1,MaxCapacity=1"}));
  AwsGroupOk(as, with({"put-scheduled-action", "--scheduled-action-name", "gone",
                       "--schedule", "rate(5 minutes)", "--scalable-target-action",
                       "MinCapacity=2"}));
  AwsGroupOk(as, with({"delete-scheduled-action", "--scheduled-action-name", "gone"}));
  // A refusal: exit status 254 and AWS's exception name.
  const skiff::testing::CommandResult step = AwsIn(
      as, with({"put-scaling-policy", "--policy-name", "steps", "--policy-type", "StepScaling",
                "--step-scaling-policy-configuration", R"({"AdjustmentType":
                "ChangeInCapacity"})"}));
  EXPECT_EQ(step.exit_code, 254);
  EXPECT_THAT(step.stderr_text, HasSubstr("An error occurred (ValidationException) when "
                                          "calling the PutScalingPolicy operation: PolicyType: "
                                          "StepScaling is not supported"));

  const std::string task = AwsOk({"list-tasks", "--service-name", "scaled"})["taskArns"][0];
  // ECS requires the cluster here, even the default one.
  const json protection = AwsOk({"update-task-protection", "--cluster", "default", "--tasks", task,
                                 "--protection-enabled", "--expires-in-minutes", "60"});
  EXPECT_EQ(protection["protectedTasks"][0]["protectionEnabled"], true);

  ASSERT_NO_FATAL_FAILURE(RestartSkiffd());
  endpoint_ = skiffd_->HttpEndpoint();  // A new port: the test's skiffd binds port 0.
  const json targets =
      AwsGroupOk(as, {"describe-scalable-targets", "--service-namespace", "ecs"});
  ASSERT_THAT(targets["ScalableTargets"], SizeIs(1)) << targets.dump();
  EXPECT_EQ(targets["ScalableTargets"][0]["MaxCapacity"], 3);
  EXPECT_EQ(targets["ScalableTargets"][0]["SuspendedState"]["ScheduledScalingSuspended"], false);
  const json policies =
      AwsGroupOk(as, {"describe-scaling-policies", "--service-namespace", "ecs"});
  ASSERT_THAT(policies["ScalingPolicies"], SizeIs(1)) << policies.dump();
  const json& tracking = policies["ScalingPolicies"][0]["TargetTrackingScalingPolicyConfiguration"];
  EXPECT_EQ(tracking["ScaleInCooldown"], 60);
  EXPECT_EQ(tracking["ScaleOutCooldown"], 300);
  const json actions =
      AwsGroupOk(as, {"describe-scheduled-actions", "--service-namespace", "ecs"});
  ASSERT_THAT(actions["ScheduledActions"], SizeIs(1)) << actions.dump();
  EXPECT_EQ(actions["ScheduledActions"][0]["Timezone"], "Europe/Paris");
  EXPECT_EQ(AwsGroupOk(as, {"describe-scaling-activities", "--service-namespace", "ecs"}),
            json::parse(R"({"ScalingActivities": []})"));
  const json kept = AwsOk({"get-task-protection", "--cluster", "default", "--tasks", task});
  EXPECT_EQ(kept["protectedTasks"][0]["protectionEnabled"], true);

  // Deleting the service deregisters its target, as on AWS.
  AwsOk({"delete-service", "--service", "scaled", "--force"});
  EXPECT_EQ(AwsGroupOk(as, {"describe-scalable-targets", "--service-namespace", "ecs"}),
            json::parse(R"({"ScalableTargets": []})"));
  EXPECT_EQ(AwsGroupOk(as, {"describe-scaling-policies", "--service-namespace", "ecs"}),
            json::parse(R"({"ScalingPolicies": []})"));
}

// The Python AWS CLI v1 (botocore's current model) where the machine has it on PATH.
TEST_F(AwsCliTest, ThePythonCliV1WhereInstalled) {
  const std::string v1 = skiff::testing::FindInPath("aws");
  if (v1.empty() || v1 == kAwsV2) {
    std::cout << "no AWS CLI v1 on PATH: v2 only\n";
    return;
  }
  AwsOk({"register-task-definition", "--cli-input-json", Worker("cli-v1").dump()}, v1);
  const json run = AwsOk({"run-task", "--task-definition", "cli-v1"}, v1);
  ASSERT_THAT(run["tasks"], SizeIs(1)) << run.dump();
  const std::string arn = run["tasks"][0]["taskArn"];
  EXPECT_EQ(AwsOk({"wait", "tasks-running", "--tasks", arn}, v1), nullptr);
  EXPECT_EQ(AwsOk({"list-services"}, v1), json::parse(R"({"serviceArns": []})"));
  AwsOk({"stop-task", "--task", arn}, v1);
}

}  // namespace
}  // namespace skiff::e2e
