#include "skiff/daemon/options.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace skiff::daemon {
namespace {

ParseResult Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "skiffd");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ParseOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(OptionsTest, TheProgressDeadlineIsOffByDefault) {
  ParseResult parsed = Parse({});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  EXPECT_EQ(std::get<Options>(parsed).deployment_progress_deadline, absl::ZeroDuration());
}

TEST(OptionsTest, TheProgressDeadlineTakesADuration) {
  ParseResult parsed = Parse({"--deployment-progress-deadline", "30m"});
  ASSERT_TRUE(std::holds_alternative<Options>(parsed));
  EXPECT_EQ(std::get<Options>(parsed).deployment_progress_deadline, absl::Minutes(30));
}

TEST(OptionsTest, AProgressDeadlineUnderAMinuteOrNotADurationIsAUsageError) {
  for (const char* bad : {"30s", "soon", "-5m"}) {
    ParseResult parsed = Parse({"--deployment-progress-deadline", bad});
    ASSERT_TRUE(std::holds_alternative<int>(parsed)) << bad;
    EXPECT_EQ(std::get<int>(parsed), 2) << bad;
  }
}

}  // namespace
}  // namespace skiff::daemon
