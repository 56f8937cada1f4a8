// AWS Signature Version 4 for skiffd's AWS JSON 1.1 API: the verification of a request signed
// by the AWS CLI or an SDK (Authorization header, non-S3 rules), and the signing skiff's own
// tests and benchmarks use, which is also the core the verification recomputes the signature
// with. Pure functions of their arguments (time comes in as `now`): safe from any thread.
//
// An authentication error is an absl::Status whose payload is the AWS exception name (the one
// model::EcsExceptionName reads, so the API edge converts it as any other error), with AWS's
// message; AuthErrorType and AuthErrorHttpStatus give what goes on the wire.
#ifndef SKIFF_AWS_SIGV4_H_
#define SKIFF_AWS_SIGV4_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace skiff::aws {

// One HTTP request as received. Header names as received (compared case-insensitively); a
// header that appears twice appears twice here.
struct SignedRequest {
  std::string method;  // "POST"
  std::string path;    // the raw path of the request line, without the query: "/"
  std::string query;   // the raw query string without '?', may be empty
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view body;
};

struct Credential {
  std::string access_key_id;
  std::string secret_access_key;
};

struct VerifyOptions {
  absl::Duration max_skew = absl::Minutes(15);
  // The signing names accepted in the credential scope. The first one is the one an error
  // names ("Credential should be scoped to correct service: 'ecs'.").
  std::vector<std::string> services;
};

struct Verified {
  std::string access_key_id;
  std::string region;
  std::string service;
};

// The AWS exception names VerifySigV4 reports.
inline constexpr char kMissingAuthenticationTokenException[] =
    "MissingAuthenticationTokenException";
inline constexpr char kIncompleteSignatureException[] = "IncompleteSignatureException";
inline constexpr char kUnrecognizedClientException[] = "UnrecognizedClientException";
inline constexpr char kInvalidSignatureException[] = "InvalidSignatureException";

// Checks the Authorization header (AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/
// aws4_request, SignedHeaders=..., Signature=...) and the request's date (X-Amz-Date, else
// Date) against `keys`, at `now`. Any region is accepted; the service must be one of
// options.services. Host and the date header must be signed. Presigned URLs (the signature in
// the query) are not supported: such a request has no Authorization header and is refused as
// unauthenticated. Errors: kUnauthenticated carrying one of the exception names above.
absl::StatusOr<Verified> VerifySigV4(const SignedRequest& request,
                                     absl::Span<const Credential> keys, absl::Time now,
                                     const VerifyOptions& options);

// Signs `request` as botocore's SigV4Auth does: replaces its Authorization and X-Amz-Date
// headers and signs every header but User-Agent, Expect and X-Amzn-Trace-Id (so the request
// must already carry its Host header). The payload hash is the X-Amz-Content-SHA256 header's
// value when there is one, else the SHA-256 of the body; no such header is added.
void SignV4(SignedRequest& request, const Credential& key, std::string_view region,
            std::string_view service, absl::Time now);

// The AWS exception name of an error from VerifySigV4 ("" for OK or another error).
std::string AuthErrorType(const absl::Status& status);

// The HTTP status an AWS JSON 1.0/1.1 service answers an authentication error with: 400 for
// all of them (sigv4.cc says where that comes from); 0 for a status that is not one.
int AuthErrorHttpStatus(const absl::Status& status);

}  // namespace skiff::aws

#endif  // SKIFF_AWS_SIGV4_H_
