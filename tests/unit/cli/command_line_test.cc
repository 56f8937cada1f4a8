// The command line as `skiff` parses it: argv in, the request the daemon would get out (as its
// JSON), or the usage error. No daemon is called.
#include "cli/command_line.h"

#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
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
  // A cluster to delete is named on purpose, never the default.
  EXPECT_EQ(Parse({"ecs", "delete-cluster"}).exit_code, kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("cluster: required"));
  EXPECT_EQ(Request({"--cluster", "prod", "delete-cluster"}),
            json::parse(R"({"cluster": "prod"})"));
}

TEST_F(CommandLineTest, GlobalFlagsMayFollowTheCommand) {
  Invocation invocation =
      Parse({"ecs", "describe-services", "--services", "web", "--output", "table", "--socket",
             "/tmp/skiffd.sock"});
  ASSERT_NE(invocation.command, nullptr) << err_.str();
  EXPECT_EQ(invocation.output, "table");
  EXPECT_EQ(invocation.socket, "/tmp/skiffd.sock");
  EXPECT_THAT(err_.str(), IsEmpty());
}

}  // namespace
}  // namespace skiff::cli
