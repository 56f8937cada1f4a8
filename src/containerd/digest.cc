#include "containerd/digest.h"

#include <openssl/evp.h>

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"

namespace skiff::runtime {

struct Sha256Hasher::State {
  EVP_MD_CTX* context = nullptr;
};

Sha256Hasher::Sha256Hasher() : state_(std::make_unique<State>()) {
  state_->context = EVP_MD_CTX_new();
  // Allocation failure or a FIPS build without SHA-256: nothing sensible can follow.
  if (state_->context == nullptr || EVP_DigestInit_ex(state_->context, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
}

Sha256Hasher::~Sha256Hasher() { EVP_MD_CTX_free(state_->context); }

void Sha256Hasher::Update(absl::string_view data) {
  if (EVP_DigestUpdate(state_->context, data.data(), data.size()) != 1) std::abort();
}

std::string Sha256Hasher::Finish() {
  unsigned char hash[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(state_->context, hash, &size) != 1) std::abort();
  return absl::StrCat("sha256:", absl::BytesToHexString(absl::string_view(
                                     reinterpret_cast<const char*>(hash), size)));
}

std::string Sha256Digest(absl::string_view data) {
  Sha256Hasher hasher;
  hasher.Update(data);
  return hasher.Finish();
}

std::string ChainId(const std::vector<std::string>& diff_ids) {
  std::string chain;
  for (const std::string& diff_id : diff_ids) {
    chain = chain.empty() ? diff_id : Sha256Digest(absl::StrCat(chain, " ", diff_id));
  }
  return chain;
}

bool IsSha256Digest(absl::string_view digest) {
  if (!absl::ConsumePrefix(&digest, "sha256:") || digest.size() != 64) return false;
  for (char c : digest) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace skiff::runtime
