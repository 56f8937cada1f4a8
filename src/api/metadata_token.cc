#include "api/metadata_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace skiff::api {
namespace {

constexpr size_t kMacBytes = 16;
constexpr int kMaxIndex = 9999;  // ECS allows far fewer containers per task.

std::string MacOf(absl::string_view key, absl::string_view subject) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(subject.data()), subject.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), kMacBytes);
}

bool IsLowerHex(absl::string_view id, size_t size) {
  if (id.size() != size) return false;
  for (char c : id) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

}  // namespace

std::string MakeMetadataToken(absl::string_view key, const std::string& task_id, int index) {
  const std::string subject = absl::StrCat(task_id, "-", index);
  return absl::StrCat(subject, "-", absl::BytesToHexString(MacOf(key, subject)));
}

std::optional<MetadataSubject> ParseMetadataToken(absl::string_view key, absl::string_view token) {
  const std::vector<absl::string_view> parts = absl::StrSplit(token, '-');
  int index = 0;
  // The index in its canonical form only ("7", not "07" or "+7"): one token per container.
  if (parts.size() != 3 || !IsLowerHex(parts[0], 32) || !absl::SimpleAtoi(parts[1], &index) ||
      index < 0 || index > kMaxIndex || absl::StrCat(index) != parts[1] ||
      !IsLowerHex(parts[2], 2 * kMacBytes)) {
    return std::nullopt;
  }
  const std::string mac = absl::HexStringToBytes(parts[2]);
  const std::string expected = MacOf(key, absl::StrCat(parts[0], "-", parts[1]));
  if (CRYPTO_memcmp(mac.data(), expected.data(), kMacBytes) != 0) return std::nullopt;
  return MetadataSubject{.task_id = std::string(parts[0]), .index = index};
}

}  // namespace skiff::api
