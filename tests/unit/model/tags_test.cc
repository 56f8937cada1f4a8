#include "skiff/model/tags.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::model {
namespace {

using ::testing::ElementsAre;
using ::testing::StartsWith;

google::protobuf::RepeatedPtrField<v1::Tag> Tags(
    const std::vector<std::pair<std::string, std::string>>& pairs) {
  google::protobuf::RepeatedPtrField<v1::Tag> tags;
  for (const auto& [key, value] : pairs) {
    v1::Tag* tag = tags.Add();
    tag->set_key(key);
    tag->set_value(value);
  }
  return tags;
}

std::vector<std::string> Render(const std::vector<v1::Tag>& tags) {
  std::vector<std::string> out;
  for (const auto& t : tags) out.push_back(t.key() + "=" + t.value());
  return out;
}

TEST(TagsTest, AcceptsWhatEcsAccepts) {
  EXPECT_TRUE(ValidateTags(Tags({{"team", "web"},
                                 {"cost center", "a+b=c.d_e:f/g@h-i"},
                                 {"équipe", "café"},
                                 {"empty", ""},
                                 {std::string(128, 'k'), std::string(256, 'v')}}),
                           "tags")
                  .ok());
  EXPECT_TRUE(ValidateTags(Tags({}), "tags").ok());
}

TEST(TagsTest, RejectsBadTagsNamingTheField) {
  struct Case {
    std::vector<std::pair<std::string, std::string>> tags;
    std::string error;
  };
  const std::vector<Case> cases = {
      {{{"a", "1"}, {"", "2"}}, "tags[1].key: must be 1-128 characters"},
      {{{std::string(129, 'k'), ""}}, "tags[0].key: must be 1-128 characters"},
      {{{"k", std::string(257, 'v')}}, "tags[0].value: must be at most 256 characters"},
      {{{"a", "1"}, {"b", "2"}, {"AWS:owner", "x"}}, "tags[2].key: the aws: prefix is reserved"},
      {{{"a", "1"}, {"a", "2"}}, "tags[1].key: duplicate tag key \"a\""},
      {{{"semi;colon", "1"}}, "tags[0].key: may hold letters"},
      {{{"k", "a*b"}}, "tags[0].value: may hold letters"},
  };
  for (const Case& c : cases) {
    absl::Status s = ValidateTags(Tags(c.tags), "tags");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.error;
    EXPECT_THAT(std::string(s.message()), StartsWith(c.error));
  }
  std::vector<std::pair<std::string, std::string>> many;
  for (int i = 0; i < 51; ++i) many.emplace_back("k" + std::to_string(i), "");
  EXPECT_EQ(ValidateTags(Tags(many), "tags").message(), "tags: at most 50 tags; got 51");
}

TEST(TagsTest, KeyLengthCountsCharactersNotBytes) {
  std::string key;
  for (int i = 0; i < 128; ++i) key += "é";  // 256 bytes, 128 characters.
  EXPECT_TRUE(ValidateTagKey(key, "tagKeys[0]").ok());
  EXPECT_THAT(std::string(ValidateTagKey(key + "é", "tagKeys[0]").message()),
              StartsWith("tagKeys[0]: must be 1-128 characters"));
}

TEST(TagsTest, MergeOverwritesExistingKeysInPlaceAndAppendsNewOnes) {
  auto existing = Tags({{"a", "1"}, {"b", "2"}});
  std::vector<v1::Tag> merged = MergeTags({existing.begin(), existing.end()},
                                          Tags({{"c", "3"}, {"a", "10"}}));
  EXPECT_THAT(Render(merged), ElementsAre("a=10", "b=2", "c=3"));
}

TEST(TagsTest, RemoveIgnoresAbsentKeys) {
  auto existing = Tags({{"a", "1"}, {"b", "2"}, {"c", "3"}});
  google::protobuf::RepeatedPtrField<std::string> keys;
  keys.Add("b");
  keys.Add("zz");
  EXPECT_THAT(Render(RemoveTags({existing.begin(), existing.end()}, keys)),
              ElementsAre("a=1", "c=3"));
}

}  // namespace
}  // namespace skiff::model
