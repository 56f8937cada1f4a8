// Services as a user drives them from the CLI: `skiff create-service`, `wait services-stable`,
// `describe-services`, `update-service` and `delete-service` against a real skiffd and a private
// containerd with real runc. Whatever a test leaves running (a failed test may leave a service
// with tasks) dies with the fixture: the daemon is SIGKILLed first, then the private containerd
// removes every container, shim, mount and cgroup it made.
#include <algorithm>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::json;

constexpr char kServiceArn[] = "arn:aws:ecs:local:000000000000:service/default/web";

class ServicesCliTest : public E2eTest {
 protected:
  ServicesCliTest() { namespace_prefix_ = "skiff-services"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartSkiffd();
  }

  // A long-running worker on the host network. It runs under init so SIGTERM stops it at once
  // (a shell as pid 1 ignores SIGTERM), and a short stopTimeout bounds a stop anyway.
  void RegisterWorker(const std::string& family) {
    json definition = {
        {"family", family},
        {"networkMode", "host"},
        {"containerDefinitions",
         json::array({{{"name", "app"},
                       {"image", skiff::testing::kTestImageRef},
                       {"memory", 32},
                       {"stopTimeout", 2},
                       {"linuxParameters", {{"initProcessEnabled", true}}},
                       {"command", json::array({"sh", "-c", "exec sleep 100000"})}}})}};
    Ok({"register-task-definition", "--cli-input-json", definition.dump()});
  }

  // A command that must fail with `exit_code` and say `says` on stderr, and print nothing else.
  skiff::testing::CommandResult Refused(const std::vector<std::string>& args, int exit_code,
                                        const std::string& says) {
    skiff::testing::CommandResult r = E2eTest::Refused(args, exit_code, says);
    EXPECT_TRUE(r.stdout_text.empty()) << r.stdout_text;
    return r;
  }

  json DescribeService(const std::string& name) {
    json out = Ok({"describe-services", "--services", name});
    EXPECT_EQ(out.value("failures", json::array()).size(), 0u) << out.dump();
    return out["services"].empty() ? json::object() : out["services"][0];
  }

  // The service's tasks that are meant to run.
  std::vector<std::string> RunningTasks(const std::string& service) {
    json listed = Ok({"list-tasks", "--service-name", service});
    return listed.value("taskArns", std::vector<std::string>());
  }

  void WaitStable(const std::string& service) {
    Ok({"wait", "services-stable", "--services", service, "--timeout", "120"});
  }
};

bool SaysSteady(const json& service) {
  for (const json& event : service.value("events", json::array())) {
    if (event.value("message", "").find("has reached a steady state.") != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST_F(ServicesCliTest, CreateScaleRedeployAndDeleteAService) {
  LoadTestImage();
  RegisterWorker("web");

  // A load balancer that names no target group of this node (nor a port of the container) is
  // refused by member; load balancing itself is tests/e2e/load_balancing_e2e_test.cc's.
  Refused({"create-service", "--service-name", "web", "--task-definition", "web",
           "--desired-count", "3", "--load-balancers",
           R"([{"targetGroupArn": "tg-web", "containerName": "app", "containerPort": 8080}])"},
          1, "(InvalidParameterException) loadBalancers[0].");
  json created = Ok({"create-service", "--service-name", "web", "--task-definition", "web",
                     "--desired-count", "3", "--deployment-configuration",
                     R"({"maximumPercent": 200, "minimumHealthyPercent": 50})",
                     "--health-check-grace-period-seconds", "15"});
  const json& service = created["service"];
  EXPECT_EQ(service["serviceArn"], kServiceArn);
  EXPECT_EQ(service["serviceName"], "web");
  EXPECT_EQ(service["status"], "ACTIVE");
  EXPECT_EQ(service["desiredCount"], 3);
  EXPECT_EQ(service["deploymentConfiguration"]["maximumPercent"], 200);
  EXPECT_EQ(service["deploymentConfiguration"]["minimumHealthyPercent"], 50);
  EXPECT_EQ(service["healthCheckGracePeriodSeconds"], 15);

  const absl::Time start = absl::Now();
  WaitStable("web");
  EXPECT_LT(absl::Now() - start, absl::Seconds(60));
  json described = DescribeService(kServiceArn);  // An ARN works where a name does.
  EXPECT_EQ(described["serviceArn"], kServiceArn);
  EXPECT_EQ(described["clusterArn"], "arn:aws:ecs:local:000000000000:cluster/default");
  EXPECT_EQ(described["status"], "ACTIVE");
  EXPECT_EQ(described["desiredCount"], 3);
  EXPECT_EQ(described["runningCount"], 3);
  EXPECT_EQ(described["pendingCount"], 0);
  ASSERT_EQ(described["deployments"].size(), 1u) << described.dump(2);
  const json& primary = described["deployments"][0];
  EXPECT_EQ(primary["status"], "PRIMARY");
  EXPECT_EQ(primary["rolloutState"], "COMPLETED");
  EXPECT_EQ(primary["runningCount"], 3);
  EXPECT_EQ(primary["taskDefinition"], "arn:aws:ecs:local:000000000000:task-definition/web:1");
  EXPECT_TRUE(SaysSteady(described)) << described["events"].dump(2);
  EXPECT_EQ(Ok({"list-services"})["serviceArns"], json::array({kServiceArn}));
  EXPECT_EQ(RunningTasks("web").size(), 3u);

  json scaled = Ok({"update-service", "--service", "web", "--desired-count", "1"});
  EXPECT_EQ(scaled["service"]["desiredCount"], 1);
  WaitStable("web");
  EXPECT_EQ(DescribeService("web")["runningCount"], 1);
  const std::vector<std::string> before = RunningTasks("web");
  ASSERT_EQ(before.size(), 1u);

  // A new deployment of the same definition replaces the task with a new one.
  json redeployed = Ok({"update-service", "--service", "web", "--force-new-deployment"});
  EXPECT_EQ(redeployed["service"]["deployments"][0]["status"], "PRIMARY");
  EXPECT_NE(redeployed["service"]["deployments"][0]["id"], primary["id"]);
  WaitStable("web");
  const std::vector<std::string> after = RunningTasks("web");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], before[0]);
  Ok({"wait", "tasks-stopped", "--tasks", before[0], "--timeout", "60"});

  // Deleting a service that still wants tasks needs --force, as in ECS.
  EXPECT_THAT(
      Refused({"delete-service", "--service", "web"}, 1, "desiredCount").stderr_text,
      StartsWith("error: (InvalidParameterException) "));
  EXPECT_EQ(DescribeService("web")["status"], "ACTIVE");

  json deleted = Ok({"delete-service", "--service", "web", "--force"});
  EXPECT_EQ(deleted["service"]["serviceArn"], kServiceArn);
  EXPECT_THAT(deleted["service"]["status"].get<std::string>(),
              ::testing::AnyOf("DRAINING", "INACTIVE"));
  Ok({"wait", "tasks-stopped", "--tasks", after[0], "--timeout", "60"});
  json stopped = Ok({"list-tasks", "--service-name", "web", "--desired-status", "STOPPED"});
  std::vector<std::string> all = stopped.value("taskArns", std::vector<std::string>());
  EXPECT_EQ(all.size(), 4u);  // Three at first, one more for the new deployment.
  EXPECT_EQ(RunningTasks("web").size(), 0u);
  for (const std::string& arn : all) {
    json task = Ok({"describe-tasks", "--tasks", arn})["tasks"][0];
    EXPECT_EQ(task["lastStatus"], "STOPPED") << arn;
    EXPECT_EQ(task["group"], "service:web") << arn;
  }
  // The waiter's failure acceptors: a DRAINING or INACTIVE service never becomes stable.
  Refused({"wait", "services-stable", "--services", "web", "--timeout", "60"}, 1,
          "Waiter ServicesStable failed: service web is ");
}

TEST_F(ServicesCliTest, WaitingForAnUnknownServiceFailsAtOnce) {
  const absl::Time start = absl::Now();
  Refused({"wait", "services-stable", "--services", "nope", "--timeout", "120"}, 1,
          "Waiter ServicesStable failed: service nope: MISSING");
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));

  LoadTestImage();
  RegisterWorker("web");
  Ok({"create-service", "--service-name", "web", "--task-definition", "web", "--desired-count",
      "1"});
  // One unknown among known ones fails the whole wait, as the aws waiter's MISSING acceptor.
  Refused({"wait", "services-stable", "--services", "web", "nope", "--timeout", "120"}, 1,
          "service nope: MISSING");
  WaitStable("web");
  Ok({"delete-service", "--service", "web", "--force"});
}

TEST_F(ServicesCliTest, BadInputNamesTheFieldAndCreatesNothing) {
  RegisterWorker("web");
  // Refused by the daemon (exit 1) with the field's name, or ECS's words for a missing definition.
  Refused({"create-service", "--service-name", "web", "--task-definition", "web",
           "--desired-count", "-1"},
          1, "desiredCount");
  Refused({"create-service", "--service-name", "web", "--task-definition", "nothere:1",
           "--desired-count", "1"},
          1, "error: (ClientException) Unable to describe task definition: nothere:1");
  Refused({"create-service", "--service-name", "web", "--task-definition", "web",
           "--desired-count", "1", "--health-check-grace-period-seconds", "-5"},
          1, "healthCheckGracePeriodSeconds");
  // Refused by the CLI (exit 2) before the daemon hears of it.
  Refused({"create-service", "--task-definition", "web", "--desired-count", "1"}, 2,
          "serviceName");
  Refused({"create-service", "--service-name", "web", "--desired-count", "many"}, 2,
          "--desired-count");
  Refused({"create-service", "--service-name", "web", "--task-definition", "web",
           "--deployment-configuration", R"({"maximumPercent": "all"})"},
          2, "deploymentConfiguration.maximumPercent");
  Refused({"create-service", "--service-name", "web", "--task-definition", "web",
           "--load-balancers", "[{"},
          2, "--load-balancers");
  Refused({"update-service", "--desired-count", "2"}, 2, "service");
  Refused({"delete-service", "--force"}, 2, "service");
  Refused({"wait", "services-stable", "--timeout", "5"}, 2, "services");
  Refused({"wait", "services-stable", "--services", "web", "--timeout", "0"}, 2, "--timeout");
  // And the unknown ones: the ECS exception names what is missing.
  Refused({"update-service", "--service", "nope", "--desired-count", "2"}, 1,
          "error: (ServiceNotFoundException) ");
  Refused({"delete-service", "--service", "nope", "--force"}, 1,
          "error: (ServiceNotFoundException) ");

  EXPECT_EQ(Ok({"list-services"}).value("serviceArns", json::array()).size(), 0u);
  EXPECT_EQ(Ok({"list-tasks"}).value("taskArns", json::array()).size(), 0u);
}

}  // namespace
}  // namespace skiff::e2e
