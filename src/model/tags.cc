#include "skiff/model/tags.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "skiff/model/errors.h"

namespace skiff::model {
namespace {

constexpr size_t kMaxKeyLength = 128;
constexpr size_t kMaxValueLength = 256;

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

// ECS's pattern is [\p{L}\p{Z}\p{N}_.:/=+\-@]*. Without a Unicode table at hand, ASCII is held
// to the pattern and any other (already UTF-8-checked) byte is let through as a letter.
bool IsTagText(absl::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || absl::ascii_isalnum(u) || c == ' ' ||
           absl::string_view("_.:/=+-@").find(c) != absl::string_view::npos;
  });
}

// Length in characters, as ECS counts (UTF-8 continuation bytes do not start a character).
size_t CharCount(absl::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

}  // namespace

absl::Status ValidateTagKey(absl::string_view key, absl::string_view path) {
  const size_t length = CharCount(key);
  if (length == 0 || length > kMaxKeyLength) return Invalid(path, "must be 1-128 characters");
  if (absl::StartsWithIgnoreCase(key, "aws:")) return Invalid(path, "the aws: prefix is reserved");
  if (!IsTagText(key)) {
    return Invalid(path, absl::StrCat("may hold letters, digits, spaces and + - = . _ : / @; got ",
                                      QuoteValue(key)));
  }
  return absl::OkStatus();
}

absl::Status ValidateTags(const google::protobuf::RepeatedPtrField<skiff::v1::Tag>& tags,
                          absl::string_view path) {
  if (tags.size() > kMaxTagsPerResource) {
    return Invalid(path, absl::StrCat("at most ", kMaxTagsPerResource, " tags; got ", tags.size()));
  }
  absl::flat_hash_set<std::string> keys;
  for (int i = 0; i < tags.size(); ++i) {
    const skiff::v1::Tag& tag = tags[i];
    const std::string at = absl::StrCat(path, "[", i, "]");
    if (absl::Status s = ValidateTagKey(tag.key(), at + ".key"); !s.ok()) return s;
    if (CharCount(tag.value()) > kMaxValueLength) {
      return Invalid(at + ".value", "must be at most 256 characters");
    }
    if (!IsTagText(tag.value())) {
      return Invalid(at + ".value",
                     absl::StrCat("may hold letters, digits, spaces and + - = . _ : / @; got ",
                                  QuoteValue(tag.value())));
    }
    if (!keys.insert(tag.key()).second) {
      return Invalid(at + ".key", absl::StrCat("duplicate tag key ", QuoteValue(tag.key())));
    }
  }
  return absl::OkStatus();
}

std::vector<skiff::v1::Tag> MergeTags(
    std::vector<skiff::v1::Tag> existing,
    const google::protobuf::RepeatedPtrField<skiff::v1::Tag>& added) {
  for (const skiff::v1::Tag& tag : added) {
    auto same_key = [&](const skiff::v1::Tag& t) { return t.key() == tag.key(); };
    auto it = std::find_if(existing.begin(), existing.end(), same_key);
    if (it == existing.end()) {
      existing.push_back(tag);
    } else {
      *it = tag;
    }
  }
  return existing;
}

std::vector<skiff::v1::Tag> RemoveTags(
    std::vector<skiff::v1::Tag> existing,
    const google::protobuf::RepeatedPtrField<std::string>& keys) {
  std::erase_if(existing, [&](const skiff::v1::Tag& tag) {
    return std::find(keys.begin(), keys.end(), tag.key()) != keys.end();
  });
  return existing;
}

}  // namespace skiff::model
