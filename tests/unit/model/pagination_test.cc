#include "skiff/model/pagination.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::model {
namespace {

using ::testing::ElementsAre;

TEST(PaginationTest, WalksAllPages) {
  std::vector<std::string> all = {"a", "b", "c", "d", "e"};
  auto first = Paginate(all, 2, std::nullopt);
  ASSERT_TRUE(first.ok());
  EXPECT_THAT(first->items, ElementsAre("a", "b"));
  ASSERT_TRUE(first->next_token.has_value());
  auto second = Paginate(all, 2, first->next_token);
  EXPECT_THAT(second->items, ElementsAre("c", "d"));
  auto third = Paginate(all, 2, second->next_token);
  EXPECT_THAT(third->items, ElementsAre("e"));
  EXPECT_FALSE(third->next_token.has_value());
}

TEST(PaginationTest, DefaultsToOneHundred) {
  std::vector<std::string> all(150, "x");
  auto page = Paginate(all, std::nullopt, std::nullopt);
  EXPECT_EQ(page->items.size(), 100u);
  EXPECT_TRUE(page->next_token.has_value());
}

TEST(PaginationTest, RejectsBadInput) {
  EXPECT_EQ(Paginate({}, 0, std::nullopt).status().message(),
            "maxResults: must be between 1 and 100; got 0");
  EXPECT_EQ(Paginate({}, 10, std::string("garbage")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::model
