#include "skiff/aws/sigv4.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::aws {
namespace {

// AWS's documented example key (not a real one).
const Credential kKey{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
const absl::Time kWhen = absl::FromCivil(absl::CivilSecond(2026, 12, 5, 1, 0, 0),
                                         absl::UTCTimeZone());  // 20261205T010000Z

// The Authorization headers below were produced by botocore 1.43 SigV4Auth (the AWS CLI's
// signer) for these requests, signed at kWhen with kKey:
//   req = AWSRequest(method='POST', url=URL, headers=HEADERS, data=b'{}')
//   with mock.patch('botocore.auth.get_current_datetime', return_value=datetime(2026,12,5,1)):
//       SigV4Auth(Credentials(AKID, SECRET), 'ecs', REGION).add_auth(req)
constexpr char kBotocoreRoot[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/us-east-1/ecs/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
    "Signature=377227592c5aa350f9b8fa21d3aef5cc0cc04d0f457fe3882a7ff890c69b5380";
// URL http://127.0.0.1:7557/?b=2&a=x%20y&a=1
constexpr char kBotocoreQuery[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/us-east-1/ecs/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
    "Signature=2ed3b6ef387130571a13f50f42c378b71cdd467d141ed1b39141872621c87d8e";
// URL http://127.0.0.1:7557/v1/a%20b/./c/../d, plus X-Custom: "  a   b  c ", region eu-west-3.
constexpr char kBotocorePath[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/eu-west-3/ecs/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date;x-amz-target;x-custom, "
    "Signature=c57e3f0fa5799ad375c9bd9c605b3b86753d57cc73f5edc62abfecfdf817eaf6";

constexpr char kMismatch[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";

SignedRequest ListClusters() {
  SignedRequest request;
  request.method = "POST";
  request.path = "/";
  request.headers = {{"Host", "127.0.0.1:7557"},
                     {"X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters"},
                     {"Content-Type", "application/x-amz-json-1.1"}};
  request.body = "{}";
  return request;
}

SignedRequest WithQuery() {
  SignedRequest request = ListClusters();
  request.query = "b=2&a=x%20y&a=1";
  return request;
}

SignedRequest WithPath() {
  SignedRequest request = ListClusters();
  request.path = "/v1/a%20b/./c/../d";
  request.headers.emplace_back("X-Custom", "  a   b  c ");
  return request;
}

VerifyOptions Options() {
  VerifyOptions options;
  options.services = {"ecs", "application-autoscaling", "secretsmanager", "ssm"};
  return options;
}

std::string Header(const SignedRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

void SetHeader(SignedRequest& request, const std::string& name, const std::string& value) {
  for (auto& [key, old] : request.headers) {
    if (key == name) {
      old = value;
      return;
    }
  }
  request.headers.emplace_back(name, value);
}

void RemoveHeader(SignedRequest& request, const std::string& name) {
  std::erase_if(request.headers, [&](const auto& header) { return header.first == name; });
}

// The request as botocore sent it.
SignedRequest Botocore(SignedRequest request, const char* authorization) {
  request.headers.emplace_back("X-Amz-Date", "20261205T010000Z");
  request.headers.emplace_back("Authorization", authorization);
  return request;
}

SignedRequest Signed(SignedRequest request, absl::Time when = kWhen,
                     std::string_view region = "us-east-1", std::string_view service = "ecs",
                     const Credential& key = kKey) {
  SignV4(request, key, region, service, when);
  return request;
}

absl::StatusOr<Verified> Verify(const SignedRequest& request, absl::Time now = kWhen) {
  return VerifySigV4(request, {kKey, {"AKIDOTHER", "other-secret"}}, now, Options());
}

void ExpectAuthError(const absl::StatusOr<Verified>& result, const std::string& type,
                     const std::string& message) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AuthErrorType(result.status()), type);
  EXPECT_EQ(result.status().message(), message);
  EXPECT_EQ(AuthErrorHttpStatus(result.status()), 400);
}

TEST(SignV4Test, ReproducesBotocore) {
  EXPECT_EQ(Header(Signed(ListClusters()), "Authorization"), kBotocoreRoot);
  EXPECT_EQ(Header(Signed(ListClusters()), "X-Amz-Date"), "20261205T010000Z");
  EXPECT_EQ(Header(Signed(WithQuery()), "Authorization"), kBotocoreQuery);
  EXPECT_EQ(Header(Signed(WithPath(), kWhen, "eu-west-3"), "Authorization"), kBotocorePath);
}

TEST(SignV4Test, ReplacesAnEarlierSignature) {
  SignedRequest request = Signed(ListClusters(), kWhen - absl::Hours(30));
  request = Signed(request);
  EXPECT_EQ(Header(request, "Authorization"), kBotocoreRoot);
  EXPECT_EQ(request.headers.size(), 5u);
}

TEST(VerifySigV4Test, AcceptsBotocoreRequests) {
  absl::StatusOr<Verified> root = Verify(Botocore(ListClusters(), kBotocoreRoot));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->access_key_id, "AKIDEXAMPLE");
  EXPECT_EQ(root->region, "us-east-1");
  EXPECT_EQ(root->service, "ecs");
  EXPECT_TRUE(Verify(Botocore(WithQuery(), kBotocoreQuery)).ok());
  absl::StatusOr<Verified> path = Verify(Botocore(WithPath(), kBotocorePath));
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->region, "eu-west-3");
}

TEST(VerifySigV4Test, AcceptsAnyRegionAndEachService) {
  for (const char* region : {"us-east-1", "local", "ap-southeast-7"}) {
    for (const char* service : {"ecs", "application-autoscaling", "secretsmanager", "ssm"}) {
      absl::StatusOr<Verified> verified =
          Verify(Signed(ListClusters(), kWhen, region, service));
      ASSERT_TRUE(verified.ok()) << region << " " << service << ": " << verified.status();
      EXPECT_EQ(verified->region, region);
      EXPECT_EQ(verified->service, service);
    }
  }
}

TEST(VerifySigV4Test, HeaderNamesAreCaseInsensitive) {
  SignedRequest request = Signed(ListClusters());
  for (auto& [name, value] : request.headers) {
    if (name == "Host") name = "HOST";
    if (name == "X-Amz-Target") name = "x-amz-target";
    if (name == "Authorization") name = "authorization";
    if (name == "X-Amz-Date") name = "x-AMZ-date";
  }
  EXPECT_TRUE(Verify(request).ok()) << Verify(request).status();
}

TEST(VerifySigV4Test, RepeatedHeadersAreJoinedInOrder) {
  SignedRequest request = ListClusters();
  request.headers.emplace_back("X-Multi", "one");
  request.headers.emplace_back("X-Multi", " two  too ");
  request = Signed(request);
  EXPECT_THAT(Header(request, "Authorization"), testing::HasSubstr("x-multi"));
  EXPECT_TRUE(Verify(request).ok());
  std::swap(request.headers[3].second, request.headers[4].second);
  ExpectAuthError(Verify(request), "InvalidSignatureException", kMismatch);
}

TEST(VerifySigV4Test, PayloadHashHeaderStandsForTheBody) {
  SignedRequest request = ListClusters();
  request.headers.emplace_back("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD");
  request = Signed(request);
  request.body = "{\"other\":1}";
  EXPECT_TRUE(Verify(request).ok());
}

TEST(VerifySigV4Test, RejectsATamperedRequest) {
  SignedRequest header = Signed(ListClusters());
  SetHeader(header, "X-Amz-Target", "AmazonEC2ContainerServiceV20141113.DeleteCluster");
  ExpectAuthError(Verify(header), "InvalidSignatureException", kMismatch);

  SignedRequest body = Signed(ListClusters());
  body.body = "{ }";
  ExpectAuthError(Verify(body), "InvalidSignatureException", kMismatch);

  SignedRequest path = Signed(ListClusters());
  path.path = "/other";
  ExpectAuthError(Verify(path), "InvalidSignatureException", kMismatch);

  SignedRequest query = Signed(WithQuery());
  query.query = "b=2&a=x%20y&a=2";
  ExpectAuthError(Verify(query), "InvalidSignatureException", kMismatch);

  SignedRequest method = Signed(ListClusters());
  method.method = "PUT";
  ExpectAuthError(Verify(method), "InvalidSignatureException", kMismatch);

  SignedRequest date = Signed(ListClusters());
  SetHeader(date, "X-Amz-Date", "20261205T010001Z");
  ExpectAuthError(Verify(date), "InvalidSignatureException", kMismatch);
}

TEST(VerifySigV4Test, RejectsTheWrongSecret) {
  SignedRequest request =
      Signed(ListClusters(), kWhen, "us-east-1", "ecs", {"AKIDEXAMPLE", "not-the-secret"});
  ExpectAuthError(Verify(request), "InvalidSignatureException", kMismatch);
}

TEST(VerifySigV4Test, RejectsAnUnknownKey) {
  SignedRequest request =
      Signed(ListClusters(), kWhen, "us-east-1", "ecs", {"AKIDUNKNOWN", kKey.secret_access_key});
  ExpectAuthError(Verify(request), "UnrecognizedClientException",
                  "The security token included in the request is invalid.");
}

TEST(VerifySigV4Test, RejectsAnotherService) {
  ExpectAuthError(Verify(Signed(ListClusters(), kWhen, "us-east-1", "s3")),
                  "InvalidSignatureException",
                  "Credential should be scoped to correct service: 'ecs'. ");
}

TEST(VerifySigV4Test, RejectsASkewedDateBothWays) {
  const SignedRequest request = Signed(ListClusters());
  ExpectAuthError(Verify(request, kWhen + absl::Minutes(25)), "InvalidSignatureException",
                  "Signature expired: 20261205T010000Z is now earlier than 20261205T011000Z "
                  "(20261205T012500Z - 15 min.)");
  ExpectAuthError(Verify(request, kWhen - absl::Minutes(20)), "InvalidSignatureException",
                  "Signature not yet current: 20261205T010000Z is still later than "
                  "20261205T005500Z (20261205T004000Z + 15 min.)");
  EXPECT_TRUE(Verify(request, kWhen + absl::Minutes(15)).ok());
  EXPECT_TRUE(Verify(request, kWhen - absl::Minutes(15)).ok());
}

TEST(VerifySigV4Test, RejectsAScopeOfAnotherDay) {
  SignedRequest request = Signed(ListClusters());
  SetHeader(request, "X-Amz-Date", "20261204T235959Z");
  ExpectAuthError(Verify(request), "InvalidSignatureException",
                  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                  "date from HTTP: '20261205' != '20261204', from '20261204T235959Z'.");
}

TEST(VerifySigV4Test, MissingAuthorization) {
  ExpectAuthError(Verify(ListClusters()), "MissingAuthenticationTokenException",
                  "Missing Authentication Token");
}

// The request signed, with its Authorization header replaced by `authorization`.
SignedRequest WithAuthorization(const std::string& authorization) {
  SignedRequest request = Signed(ListClusters());
  SetHeader(request, "Authorization", authorization);
  return request;
}

constexpr char kScope[] = "Credential=AKIDEXAMPLE/20261205/us-east-1/ecs/aws4_request";

TEST(VerifySigV4Test, AnotherSchemeLacksEveryParameter) {
  ExpectAuthError(Verify(WithAuthorization("Basic dXNlcjpwdw==")), "IncompleteSignatureException",
                  "Authorization header requires 'Credential' parameter. Authorization header "
                  "requires 'Signature' parameter. Authorization header requires "
                  "'SignedHeaders' parameter. Authorization=Basic dXNlcjpwdw==");
}

TEST(VerifySigV4Test, NamesEachMissingParameter) {
  const std::string no_signature =
      absl::StrCat("AWS4-HMAC-SHA256 ", kScope, ", SignedHeaders=host;x-amz-date");
  ExpectAuthError(Verify(WithAuthorization(no_signature)), "IncompleteSignatureException",
                  "Authorization header requires 'Signature' parameter. Authorization=" +
                      no_signature);
  const std::string no_credential = "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc";
  ExpectAuthError(Verify(WithAuthorization(no_credential)), "IncompleteSignatureException",
                  "Authorization header requires 'Credential' parameter. Authorization=" +
                      no_credential);
  const std::string no_signed_headers = absl::StrCat("AWS4-HMAC-SHA256 ", kScope, ", Signature=a");
  ExpectAuthError(Verify(WithAuthorization(no_signed_headers)), "IncompleteSignatureException",
                  "Authorization header requires 'SignedHeaders' parameter. Authorization=" +
                      no_signed_headers);
}

TEST(VerifySigV4Test, RequiresADate) {
  SignedRequest request = Signed(ListClusters());
  RemoveHeader(request, "X-Amz-Date");
  ExpectAuthError(Verify(request), "IncompleteSignatureException",
                  "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                  "header. Authorization=" + std::string(kBotocoreRoot));
}

TEST(VerifySigV4Test, RejectsAPairWithoutEqualSign) {
  const std::string header = absl::StrCat("AWS4-HMAC-SHA256 ", kScope, ", SignedHeaders");
  ExpectAuthError(Verify(WithAuthorization(header)), "IncompleteSignatureException",
                  "'SignedHeaders' not a valid key=value pair (missing equal-sign) in "
                  "Authorization header: '" + header + "'.");
}

TEST(VerifySigV4Test, RejectsAMalformedCredential) {
  ExpectAuthError(
      Verify(WithAuthorization("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/us-east-1/ecs, "
                               "SignedHeaders=host;x-amz-date, Signature=abc")),
      "IncompleteSignatureException",
      "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/"
      "term, got 'AKIDEXAMPLE/20261205/us-east-1/ecs'");
  ExpectAuthError(
      Verify(WithAuthorization("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261205/us-east-1/ecs/"
                               "aws5_request, SignedHeaders=host;x-amz-date, Signature=abc")),
      "InvalidSignatureException",
      "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ");
}

TEST(VerifySigV4Test, RequiresHostAndDateSigned) {
  ExpectAuthError(Verify(WithAuthorization(absl::StrCat(
                      "AWS4-HMAC-SHA256 ", kScope, ", SignedHeaders=content-type;x-amz-date, ",
                      "Signature=abc"))),
                  "IncompleteSignatureException",
                  "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  ExpectAuthError(Verify(WithAuthorization(absl::StrCat(
                      "AWS4-HMAC-SHA256 ", kScope, ", SignedHeaders=content-type;host, ",
                      "Signature=abc"))),
                  "IncompleteSignatureException",
                  "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.");
}

TEST(VerifySigV4Test, RejectsADateThatIsNotIso8601Basic) {
  SignedRequest request = Signed(ListClusters());
  SetHeader(request, "X-Amz-Date", "2026-12-05T01:00:00Z");
  ExpectAuthError(Verify(request), "IncompleteSignatureException",
                  "Date must be in ISO-8601 'basic format'. Got '2026-12-05T01:00:00Z'. See "
                  "http://en.wikipedia.org/wiki/ISO_8601");
  SetHeader(request, "X-Amz-Date", "20261305T010000Z");
  EXPECT_EQ(AuthErrorType(Verify(request).status()), "IncompleteSignatureException");
}

TEST(AuthErrorTest, OtherStatusesAreNotAuthErrors) {
  EXPECT_EQ(AuthErrorType(absl::OkStatus()), "");
  EXPECT_EQ(AuthErrorType(absl::InvalidArgumentError("x")), "");
  EXPECT_EQ(AuthErrorHttpStatus(absl::InternalError("x")), 0);
}

}  // namespace
}  // namespace skiff::aws
