// The command line as `skiff` parses it: argv in, the request the daemon would get out (as its
// JSON), or the usage error. No daemon is called.
#include "cli/command_line.h"

#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "skiff/model/json_codec.h"

namespace skiff::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using json = nlohmann::json;  // Unordered: members compare in any order.

class CommandLineTest : public ::testing::Test {
 protected:
  // Parses `skiff ARGS...`; what it prints lands in out_ and err_.
  Invocation Parse(std::initializer_list<std::string> args) {
    std::vector<std::string> words = {"skiff"};
    words.insert(words.end(), args.begin(), args.end());
    std::vector<const char*> argv;
    for (const std::string& word : words) argv.push_back(word.c_str());
    return ParseCommandLine(commands_, static_cast<int>(argv.size()), argv.data(), out_, err_);
  }

  // The request of a command line that must parse, as JSON.
  json Request(std::initializer_list<std::string> args) {
    Invocation invocation = Parse(args);
    EXPECT_NE(invocation.command, nullptr) << err_.str();
    if (invocation.command == nullptr) return nullptr;
    return json::parse(model::EncodeMessageCompact(*invocation.request));
  }

  std::vector<Command> commands_ = Commands();
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST(FlagNameTest, NamesFlagsAsTheAwsCliDoes) {
  EXPECT_EQ(FlagName("TargetGroupArn"), "target-group-arn");
  EXPECT_EQ(FlagName("HealthCheckIntervalSeconds"), "health-check-interval-seconds");
  EXPECT_EQ(FlagName("CustomerOwnedIpv4Pool"), "customer-owned-ipv4-pool");
  EXPECT_EQ(FlagName("containerDefinitions"), "container-definitions");
  EXPECT_EQ(FlagName("enableECSManagedTags"), "enable-ecs-managed-tags");
}

TEST_F(CommandLineTest, AnUnknownCommandIsAUsageErrorThatNamesItAndItsGroup) {
  Invocation invocation = Parse({"ecs", "describe-things"});
  EXPECT_EQ(invocation.command, nullptr);
  EXPECT_EQ(invocation.exit_code, kExitUsage);
  EXPECT_EQ(err_.str(),
            "error: skiff ecs: no command \"describe-things\" (skiff ecs --help lists them)\n");
  err_.str("");
  EXPECT_EQ(Parse({"wait", "forever"}).exit_code, kExitUsage);
  EXPECT_EQ(err_.str(),
            "error: skiff wait: no command \"forever\" (skiff wait --help lists them)\n");
}

// A run builds the parsers of the commands its words name only; help and errors still see all.
TEST_F(CommandLineTest, HelpListsEveryCommandThoughARunAddsOnlyThoseItNames) {
  EXPECT_EQ(Parse({"--help"}).exit_code, kExitOk);
  for (const char* name : {"run-task", "list-clusters", "logs", "stats", "wait", "elbv2", "ssm"}) {
    EXPECT_THAT(out_.str(), HasSubstr(name));
  }
  out_.str("");
  EXPECT_EQ(Parse({"elbv2", "--help"}).exit_code, kExitOk);
  EXPECT_THAT(out_.str(), HasSubstr("create-load-balancer"));
  EXPECT_THAT(out_.str(), HasSubstr("describe-target-health"));
  // A flag's value that is also a command's name is only a value.
  EXPECT_EQ(Request({"describe-tasks", "--tasks", "stats", "logs"}),
            json::parse(R"({"cluster": "default", "tasks": ["stats", "logs"]})"));
}

TEST_F(CommandLineTest, VersionPrintsTheVersionAndNeedsNoCommand) {
  EXPECT_EQ(Parse({"--version"}).exit_code, kExitOk);
  EXPECT_THAT(out_.str(), ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+\n"));
  out_.str("");
  // As CLI11 has it, the version wins over help, whichever comes first.
  EXPECT_EQ(Parse({"--help", "--version"}).exit_code, kExitOk);
  EXPECT_THAT(out_.str(), ::testing::MatchesRegex("[0-9]+\\.[0-9]+\\.[0-9]+\n"));
  // A command named beside it is parsed as usual.
  EXPECT_EQ(Parse({"list-clusters", "--version"}).exit_code, kExitOk);
}

TEST_F(CommandLineTest, EcsIsTheDefaultGroup) {
  const json plain = Request({"run-task", "--task-definition", "web", "--count", "2"});
  EXPECT_EQ(plain, json::parse(R"({"taskDefinition": "web", "count": 2, "cluster": "default"})"));
  EXPECT_EQ(Request({"ecs", "run-task", "--task-definition", "web", "--count", "2"}), plain);
  EXPECT_EQ(Request({"ecs", "wait", "tasks-stopped", "--tasks", "t1"}),
            Request({"wait", "tasks-stopped", "--tasks", "t1"}));
  EXPECT_EQ(Request({"--cluster", "prod", "ecs", "list-services"}),
            json::parse(R"({"cluster": "prod"})"));
  // skiff's own commands are not ECS's.
  EXPECT_EQ(Parse({"ecs", "list-images"}).exit_code, kExitUsage);
}

TEST_F(CommandLineTest, AListFlagTakesWordsOrAJsonListWhole) {
  EXPECT_EQ(Request({"describe-services", "--services", "web", "api", "--include", "TAGS"}),
            json::parse(R"({"services": ["web", "api"], "include": ["TAGS"],
                            "cluster": "default"})"));
  // CLI11 alone would take the list apart at its commas, quotes and all.
  EXPECT_EQ(Request({"describe-services", "--services", R"(["web", "api,v2"])"}),
            json::parse(R"({"services": ["web", "api,v2"], "cluster": "default"})"));
  // A flag given twice adds to its list.
  EXPECT_EQ(Request({"describe-services", "--services", "web", "--services", "api"}),
            json::parse(R"({"services": ["web", "api"], "cluster": "default"})"));
}

TEST_F(CommandLineTest, EcsCommandsKeepTheirDefaultsInTheEcsGroup) {
  EXPECT_EQ(Request({"ecs", "execute-command", "--task", "t1", "--command", "ls"}),
            json::parse(R"({"task": "t1", "command": "ls", "interactive": false,
                            "cluster": "default"})"));
  EXPECT_EQ(Request({"execute-command", "--task", "t1", "--command", "sh", "--interactive"}),
            json::parse(R"({"task": "t1", "command": "sh", "interactive": true,
                            "cluster": "default"})"));
  // A cluster to delete is named on purpose, never the default.
  EXPECT_EQ(Parse({"ecs", "delete-cluster"}).exit_code, kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("cluster: required"));
  EXPECT_EQ(Request({"--cluster", "prod", "delete-cluster"}),
            json::parse(R"({"cluster": "prod"})"));
}

TEST_F(CommandLineTest, AnElbv2ListFlagTakesSeveralValues) {
  Invocation invocation = Parse({"elbv2", "describe-load-balancers", "--names", "web", "api",
                                 "--page-size", "5"});
  ASSERT_NE(invocation.command, nullptr) << err_.str();
  EXPECT_EQ(invocation.command->group, Group::kElbv2);
  EXPECT_EQ(invocation.command->name, "describe-load-balancers");
  EXPECT_EQ(json::parse(model::EncodeMessageCompact(*invocation.request)),
            json::parse(R"({"Names": ["web", "api"], "PageSize": 5})"));

  EXPECT_EQ(Request({"elbv2", "remove-tags", "--resource-arns", "arn:a", "arn:b", "--tag-keys",
                     "team", "env"}),
            json::parse(R"({"ResourceArns": ["arn:a", "arn:b"], "TagKeys": ["team", "env"]})"));
  // A JSON list is a list too, taken whole (CLI11 alone would split it at its commas).
  EXPECT_EQ(Request({"elbv2", "describe-target-groups", "--target-group-arns",
                     R"(["arn:a", "arn:b"])"}),
            json::parse(R"({"TargetGroupArns": ["arn:a", "arn:b"]})"));
  EXPECT_EQ(Request({"elbv2", "describe-load-balancers", "--names", R"(["a,b"])"}),
            json::parse(R"({"Names": ["a,b"]})"));
  // A flag given twice adds to its list.
  EXPECT_EQ(Request({"elbv2", "describe-tags", "--resource-arns", "arn:a", "--resource-arns",
                     "arn:b"}),
            json::parse(R"({"ResourceArns": ["arn:a", "arn:b"]})"));
}

TEST_F(CommandLineTest, ApplicationAutoScalingTakesTheFlagsOfAws) {
  Invocation invocation =
      Parse({"application-autoscaling", "register-scalable-target", "--service-namespace", "ecs",
             "--scalable-dimension", "ecs:service:DesiredCount", "--resource-id",
             "service/default/web", "--min-capacity", "1", "--max-capacity", "4"});
  ASSERT_NE(invocation.command, nullptr) << err_.str();
  EXPECT_EQ(invocation.command->group, Group::kAutoScaling);
  // No cluster is filled in: the resource id names it.
  EXPECT_EQ(json::parse(model::EncodeMessageCompact(*invocation.request)),
            json::parse(R"({"ServiceNamespace": "ecs", "ResourceId": "service/default/web",
                            "ScalableDimension": "ecs:service:DesiredCount",
                            "MinCapacity": 1, "MaxCapacity": 4})"));
  EXPECT_EQ(Request({"application-autoscaling", "put-scaling-policy", "--policy-name", "cpu",
                     "--service-namespace", "ecs", "--scalable-dimension",
                     "ecs:service:DesiredCount", "--resource-id", "service/default/web",
                     "--policy-type", "TargetTrackingScaling",
                     "--target-tracking-scaling-policy-configuration",
                     R"({"TargetValue": 50, "PredefinedMetricSpecification":
                         {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})"}),
            json::parse(R"({"PolicyName": "cpu", "ServiceNamespace": "ecs",
                            "ResourceId": "service/default/web",
                            "ScalableDimension": "ecs:service:DesiredCount",
                            "PolicyType": "TargetTrackingScaling",
                            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50,
                              "PredefinedMetricSpecification":
                                {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}})"));
  // Application Auto Scaling's commands are not top-level ones.
  EXPECT_EQ(Parse({"register-scalable-target"}).exit_code, kExitUsage);
}

TEST_F(CommandLineTest, TaskProtectionIsAnEcsCommand) {
  EXPECT_EQ(Request({"update-task-protection", "--tasks", "t1", "t2", "--protection-enabled",
                     "--expires-in-minutes", "30"}),
            json::parse(R"({"cluster": "default", "tasks": ["t1", "t2"],
                            "protectionEnabled": true, "expiresInMinutes": 30})"));
  EXPECT_EQ(Request({"ecs", "update-task-protection", "--tasks", "t1",
                     "--no-protection-enabled"}),
            json::parse(R"({"cluster": "default", "tasks": ["t1"],
                            "protectionEnabled": false})"));
  EXPECT_EQ(Request({"get-task-protection", "--tasks", "t1"}),
            json::parse(R"({"cluster": "default", "tasks": ["t1"]})"));
}

TEST_F(CommandLineTest, AStructureFlagTakesJson) {
  EXPECT_EQ(Request({"elbv2", "register-targets", "--target-group-arn", "arn:tg", "--targets",
                     R"([{"Id": "10.0.0.1", "Port": 80}])"}),
            json::parse(R"({"TargetGroupArn": "arn:tg",
                            "Targets": [{"Id": "10.0.0.1", "Port": 80}]})"));
}

TEST_F(CommandLineTest, TheFlagsGoOverCliInputJson) {
  EXPECT_EQ(Request({"elbv2", "create-target-group", "--cli-input-json",
                     R"({"Name": "web", "Protocol": "HTTP", "Port": 80})", "--port", "8080"}),
            json::parse(R"({"Name": "web", "Protocol": "HTTP", "Port": 8080})"));

  fakes::TempDir dir;
  const std::string path = dir.path() + "/input.json";
  std::ofstream(path) << R"({"TargetGroupArn": "arn:tg", "Targets": [{"Id": "i-1"}]})";
  EXPECT_EQ(Request({"elbv2", "deregister-targets", "--cli-input-json", "file://" + path}),
            json::parse(R"({"TargetGroupArn": "arn:tg", "Targets": [{"Id": "i-1"}]})"));
}

TEST_F(CommandLineTest, ABoolFlagSetsAndItsNoFormClears) {
  EXPECT_EQ(Request({"elbv2", "modify-target-group", "--target-group-arn", "arn:tg",
                     "--health-check-enabled"}),
            json::parse(R"({"TargetGroupArn": "arn:tg", "HealthCheckEnabled": true})"));
  EXPECT_EQ(Request({"elbv2", "modify-target-group", "--target-group-arn", "arn:tg",
                     "--no-health-check-enabled"}),
            json::parse(R"({"TargetGroupArn": "arn:tg", "HealthCheckEnabled": false})"));
  EXPECT_EQ(Request({"elbv2", "modify-target-group", "--target-group-arn", "arn:tg"}),
            json::parse(R"({"TargetGroupArn": "arn:tg"})"));
}

TEST_F(CommandLineTest, AnUnknownElbv2OperationIsAUsageError) {
  Invocation invocation = Parse({"elbv2", "describe-things"});
  EXPECT_EQ(invocation.command, nullptr);
  EXPECT_EQ(invocation.exit_code, kExitUsage);
  EXPECT_EQ(err_.str(),
            "error: skiff elbv2: no command \"describe-things\" (skiff elbv2 --help lists them)\n");

  // ECS's operations are not ELBv2's.
  invocation = Parse({"elbv2", "run-task", "--task-definition", "web"});
  EXPECT_EQ(invocation.command, nullptr);
  EXPECT_EQ(invocation.exit_code, kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("no command \"run-task\""));
}

TEST_F(CommandLineTest, InputThatIsNotAValidRequestIsAUsageError) {
  Invocation invocation = Parse({"elbv2", "describe-load-balancers", "--page-size", "five"});
  EXPECT_EQ(invocation.command, nullptr);
  EXPECT_EQ(invocation.exit_code, kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("error: --page-size: "));

  err_.str("");
  invocation = Parse({"elbv2", "register-targets", "--cli-input-json", R"({"TargetGroup": "x"})"});
  EXPECT_EQ(invocation.exit_code, kExitUsage);
  EXPECT_EQ(err_.str(), "error: TargetGroup: unknown field\n");
}

TEST_F(CommandLineTest, TheDefaultClusterIsNotAddedToElbv2Requests) {
  EXPECT_EQ(Request({"--cluster", "prod", "elbv2", "describe-tags", "--resource-arns", "arn:a"}),
            json::parse(R"({"ResourceArns": ["arn:a"]})"));
}

TEST_F(CommandLineTest, GlobalFlagsMayFollowTheCommand) {
  Invocation invocation =
      Parse({"elbv2", "describe-listeners", "--load-balancer-arn", "arn:lb", "--output", "table",
             "--socket", "/tmp/skiffd.sock"});
  ASSERT_NE(invocation.command, nullptr) << err_.str();
  EXPECT_EQ(invocation.output, "table");
  EXPECT_EQ(invocation.socket, "/tmp/skiffd.sock");
  EXPECT_THAT(err_.str(), IsEmpty());
}

// describe-task-definition's output, given back to register-task-definition, makes a new
// revision: what only a registered definition has is left out, and said on stderr.
TEST_F(CommandLineTest, ADescribedTaskDefinitionRegistersAsANewRevision) {
  const json described = {
      {"taskDefinition",
       {{"taskDefinitionArn", "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"},
        {"family", "web"},
        {"revision", 3},
        {"status", "ACTIVE"},
        {"containerDefinitions", {{{"name", "a"}, {"image", "busybox"}, {"memory", 64}}}},
        {"requiresAttributes", {{{"name", "com.amazonaws.ecs.capability.docker-remote-api.1.18"}}}},
        {"compatibilities", {"EC2"}},
        {"registeredAt", 1700000000.5},
        {"registeredBy", "arn:aws:iam::123456789012:user/me"},
        {"ipcMode", nullptr}}},
      {"tags", {{{"key", "team"}, {"value", "web"}}}}};
  for (const json& input : {described, described["taskDefinition"]}) {
    err_.str("");
    const json request = Request({"register-task-definition", "--cli-input-json", input.dump()});
    EXPECT_EQ(request["family"], "web");
    EXPECT_EQ(request["containerDefinitions"][0]["name"], "a");
    EXPECT_FALSE(request.contains("revision"));
    EXPECT_EQ(request.contains("tags"), input.contains("tags")) << request.dump();
    EXPECT_EQ(err_.str(),
              "note: ignored what a registered task definition has and a new one cannot be "
              "given: taskDefinitionArn, revision, status, requiresAttributes, compatibilities, "
              "registeredAt, registeredBy\n");
  }
  // A plain input says nothing.
  const json plain = {{"family", "x"}, {"containerDefinitions", {{{"name", "a"}}}}};
  err_.str("");
  Request({"register-task-definition", "--cli-input-json", plain.dump()});
  EXPECT_THAT(err_.str(), IsEmpty());
}

}  // namespace
}  // namespace skiff::cli
