// Content digests for image import: SHA-256 in the OCI "sha256:<hex>" form, streaming or at
// once, and the chain id of a stack of layers (the key of an unpacked snapshot). Sha256Hasher
// is a plain value owned by its user; the functions are pure. Any thread.
#ifndef SKIFF_SRC_CONTAINERD_DIGEST_H_
#define SKIFF_SRC_CONTAINERD_DIGEST_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace skiff::runtime {

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(absl::string_view data);
  // "sha256:<64 hex>". Call once; the hasher is spent afterwards.
  std::string Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// "sha256:<hex>" of `data`.
std::string Sha256Digest(absl::string_view data);

// The OCI chain id of layers with these diff ids, bottom first: the first diff id itself, then
// sha256(parent_chain_id + " " + diff_id) for each further layer. Empty for no layers.
std::string ChainId(const std::vector<std::string>& diff_ids);

// Whether `digest` is "sha256:" followed by 64 lower-case hex digits, the only form Skiff
// accepts in manifests (it also becomes part of paths and keys).
bool IsSha256Digest(absl::string_view digest);

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_DIGEST_H_
