#include "api/node_service.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::api {
namespace {

using ::testing::ElementsAre;

TEST(SplitCommandTest, SplitsLikeAShellWithoutOne) {
  EXPECT_THAT(*SplitCommand("ls -l  /srv"), ElementsAre("ls", "-l", "/srv"));
  EXPECT_THAT(*SplitCommand("sh -c 'echo a b; exit 7'"),
              ElementsAre("sh", "-c", "echo a b; exit 7"));
  EXPECT_THAT(*SplitCommand(R"(echo "say \"hi\"" it\'s '')"),
              ElementsAre("echo", "say \"hi\"", "it's", ""));
  EXPECT_THAT(*SplitCommand("echo $HOME"), ElementsAre("echo", "$HOME"));  // No expansion.
}

TEST(SplitCommandTest, RefusesUnbalancedQuotesAndEmptyCommands) {
  EXPECT_EQ(SplitCommand("echo 'open").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SplitCommand("   ").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::api
