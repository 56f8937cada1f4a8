// The health check matcher: what ALB's HttpCode accepts, and which statuses it lets pass.
#include "lb/health_matcher.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::lb {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<CodeRange> Parsed(absl::string_view matcher) {
  absl::StatusOr<std::vector<CodeRange>> ranges = ParseMatcher(matcher);
  EXPECT_TRUE(ranges.ok()) << matcher << ": " << ranges.status();
  return ranges.value_or(std::vector<CodeRange>{});
}

bool Accepts(absl::string_view matcher, int status) {
  return MatcherAccepts(Parsed(matcher), status);
}

TEST(HealthMatcherTest, OneCodeAcceptsOnlyItself) {
  EXPECT_THAT(Parsed("200"), ElementsAre(CodeRange{200, 200}));
  EXPECT_TRUE(Accepts("200", 200));
  EXPECT_FALSE(Accepts("200", 201));
  EXPECT_FALSE(Accepts("200", 500));
}

TEST(HealthMatcherTest, AlternativesAcceptEachCodeAndNothingBetween) {
  EXPECT_THAT(Parsed("200,202"), ElementsAre(CodeRange{200, 200}, CodeRange{202, 202}));
  EXPECT_TRUE(Accepts("200,202", 200));
  EXPECT_TRUE(Accepts("200,202", 202));
  EXPECT_FALSE(Accepts("200,202", 201));
}

TEST(HealthMatcherTest, ARangeAcceptsBothEndsAndWhatLiesBetween) {
  EXPECT_THAT(Parsed("200-299"), ElementsAre(CodeRange{200, 299}));
  EXPECT_TRUE(Accepts("200-299", 200));
  EXPECT_TRUE(Accepts("200-299", 250));
  EXPECT_TRUE(Accepts("200-299", 299));
  EXPECT_FALSE(Accepts("200-299", 199));
  EXPECT_FALSE(Accepts("200-299", 300));
}

TEST(HealthMatcherTest, RangesAndCodesMix) {
  EXPECT_THAT(Parsed("200-202,204"), ElementsAre(CodeRange{200, 202}, CodeRange{204, 204}));
  EXPECT_TRUE(Accepts("200-202,204", 204));
  EXPECT_FALSE(Accepts("200-202,204", 203));
}

TEST(HealthMatcherTest, NothingOutsideHttpCodesIsAMatcher) {
  for (const char* bad :
       {"", "ok", "200,", "99", "600", "200-99", "200-", "-200", "200-300-400", "2xx", "200;202"}) {
    const absl::StatusOr<std::vector<CodeRange>> ranges = ParseMatcher(bad);
    ASSERT_FALSE(ranges.ok()) << '"' << bad << '"';
    EXPECT_EQ(ranges.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(ranges.status().message()), HasSubstr("must be HTTP codes 100-599"));
  }
}

TEST(HealthMatcherTest, NoParsedMatcherAcceptsAStatusOfZero) {
  // What a probe that got no answer reads as its status.
  EXPECT_FALSE(Accepts("100-599", 0));
}

}  // namespace
}  // namespace skiff::lb
