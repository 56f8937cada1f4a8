// The credentials file of skiffd's AWS API (--aws-credentials): INI like ~/.aws/credentials,
// of which only the profile [skiff] counts:
//
//   [skiff]
//   aws_access_key_id = AKIA...
//   aws_secret_access_key = ...
//
// so that the same file serves the AWS CLI (`AWS_SHARED_CREDENTIALS_FILE=... aws --profile
// skiff ecs ...`). skiffd loads it once at start; when it does not exist, skiffd creates it with
// a fresh key. Functions of their arguments and the file system: any thread.
#ifndef SKIFF_AWS_CREDENTIALS_H_
#define SKIFF_AWS_CREDENTIALS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "skiff/aws/sigv4.h"
#include "skiff/base/random.h"

namespace skiff::aws {

struct CredentialsFile {
  std::vector<Credential> keys;
  bool created = false;  // the file did not exist and was written with a new key
};

// Loads `path`, or creates it when it does not exist: mode 0600 (its directory 0700 when that
// is missing too), written to a temporary file and linked into place, so that a reader never
// sees half a file and two skiffds that start together end up with the same key. The new key
// is an access key id "AKIA" + 16 characters [A-Z2-7] and a 40-character secret [A-Za-z0-9+/]
// drawn from `random`, which must be a CryptoRandom (or a SeededRandom in tests): the secret
// is only as unpredictable as the source.
// Errors, each naming the file (and the line where there is one): unreadable (the errno's
// code), readable or writable by group or others (kPermissionDenied), no [skiff] profile, a
// key missing or given twice, an unparsable line (kInvalidArgument).
absl::StatusOr<CredentialsFile> LoadOrCreateCredentials(const std::string& path,
                                                         RandomSource& random);

// Random bits from OpenSSL's CSPRNG (RAND_bytes), for secrets. SystemRandom is not one: it is a
// Mersenne Twister seeded with 32 bits, fine for ids but guessable as a key. Any thread.
class CryptoRandom final : public RandomSource {
 public:
  uint64_t Next() override;
};

}  // namespace skiff::aws

#endif  // SKIFF_AWS_CREDENTIALS_H_
