// The files that keep the node's secrets and parameters: JSON documents in STATE_DIR/secrets,
// 0600, rewritten whole and atomically (base/files.h). Binary values are kept as hex so that the
// document is always valid UTF-8. Private to secrets; any thread (no state).
#ifndef SKIFF_SRC_SECRETS_SECRET_FILES_H_
#define SKIFF_SRC_SECRETS_SECRET_FILES_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "skiff/secrets/parameter_store.h"
#include "skiff/secrets/secrets_manager.h"

namespace skiff::secrets {

// Creates `dir` 0700 (and tightens it to 0700 if it exists with a wider mode).
absl::Status EnsurePrivateDir(const std::string& dir);

std::string EncodeSecrets(const std::map<std::string, Secret>& secrets);
// Internal naming `what` when the text is not a document EncodeSecrets wrote.
absl::StatusOr<std::map<std::string, Secret>> DecodeSecrets(const std::string& text,
                                                            const std::string& what);

std::string EncodeParameters(const std::map<std::string, StoredParameter>& parameters);
absl::StatusOr<std::map<std::string, StoredParameter>> DecodeParameters(const std::string& text,
                                                                        const std::string& what);

// The contents of `path`, or "" when it does not exist; Internal on other errors.
absl::StatusOr<std::string> ReadIfExists(const std::string& path);

}  // namespace skiff::secrets

#endif  // SKIFF_SRC_SECRETS_SECRET_FILES_H_
