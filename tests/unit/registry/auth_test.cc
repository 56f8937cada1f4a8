#include "skiff/registry/auth.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/registry/registry_client.h"

namespace skiff::registry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseWwwAuthenticateTest, DockerHubBearerChallenge) {
  auto challenge = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
      R"(scope="repository:library/nginx:pull")");
  ASSERT_TRUE(challenge.ok()) << challenge.status();
  EXPECT_EQ(challenge->scheme, "bearer");
  EXPECT_EQ(challenge->params.at("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(challenge->params.at("service"), "registry.docker.io");
  EXPECT_EQ(challenge->params.at("scope"), "repository:library/nginx:pull");
}

TEST(ParseWwwAuthenticateTest, BasicTokensSpacesAndEscapes) {
  auto basic = ParseWwwAuthenticate(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(basic.ok());
  EXPECT_EQ(basic->scheme, "basic");
  EXPECT_EQ(basic->params.at("realm"), "Registry Realm");

  auto spaced = ParseWwwAuthenticate(R"(  BEARER  Realm = "a\"b" , service=reg , error=x  )");
  ASSERT_TRUE(spaced.ok()) << spaced.status();
  EXPECT_EQ(spaced->scheme, "bearer");
  EXPECT_EQ(spaced->params.at("realm"), "a\"b");
  EXPECT_EQ(spaced->params.at("service"), "reg");
  EXPECT_EQ(spaced->params.at("error"), "x");

  auto bare = ParseWwwAuthenticate("Basic");
  ASSERT_TRUE(bare.ok());
  EXPECT_TRUE(bare->params.empty());
}

TEST(ParseWwwAuthenticateTest, RejectsBrokenHeaders) {
  for (const char* bad : {"", "   ", R"(Bearer realm="unterminated)", "Bearer realm",
                          R"(Bearer realm="a" service="b")", "Bearer =x"}) {
    EXPECT_EQ(ParseWwwAuthenticate(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(CredentialsFileTest, SecretsAndRegistries) {
  auto file = CredentialsFile::Parse(R"({
      "secrets": {"arn:aws:secretsmanager:local:000000000000:secret:reg": {
          "username": "deploy", "password": "s3cret"}},
      "registries": {"127.0.0.1:5000": {"username": "ci", "password": "pw"}}})",
                                     "creds.json");
  ASSERT_TRUE(file.ok()) << file.status();
  auto secret = file->ForSecret("arn:aws:secretsmanager:local:000000000000:secret:reg");
  ASSERT_TRUE(secret.ok());
  EXPECT_EQ(secret->username, "deploy");
  EXPECT_EQ(secret->password, "s3cret");
  ASSERT_TRUE(file->ForRegistry("127.0.0.1:5000").has_value());
  EXPECT_EQ(file->ForRegistry("127.0.0.1:5000")->username, "ci");
  EXPECT_FALSE(file->ForRegistry("127.0.0.1:5001").has_value());

  auto missing = file->ForSecret("arn:other");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("arn:other"));
  EXPECT_THAT(missing.status().message(), Not(HasSubstr("s3cret")));
}

TEST(CredentialsFileTest, ErrorsNameTheMemberNotTheSecret) {
  auto bad = CredentialsFile::Parse(
      R"({"secrets": {"reg": {"username": "u", "password": 12345678}}})", "creds.json");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("secrets[\"reg\"]"));
  EXPECT_THAT(bad.status().message(), Not(HasSubstr("12345678")));
  EXPECT_EQ(CredentialsFile::Parse(R"({"logins": {}})", "c").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CredentialsFile::Parse("[]", "c").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CredentialsFile::Load("/nonexistent/creds.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DescribeRegistryErrorTest, RegistryErrorBodies) {
  EXPECT_EQ(DescribeRegistryError(
                R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]})"),
            "MANIFEST_UNKNOWN: manifest unknown");
  EXPECT_EQ(DescribeRegistryError("  not json\n"), "not json");
  EXPECT_EQ(DescribeRegistryError(""), "(no details)");
}

TEST(DescribeRegistryErrorTest, MembersOfAnotherTypeAreSkippedNotThrown) {
  EXPECT_EQ(DescribeRegistryError(R"({"errors":[{"code":404,"message":"not here"}]})"),
            "not here");
  EXPECT_EQ(DescribeRegistryError(R"({"errors":[{"code":"DENIED","message":["no"]}]})"),
            "DENIED: ");
}

}  // namespace
}  // namespace skiff::registry
