// valueFrom as ECS reads it: every suffix form of a Secrets Manager ARN, SSM ARNs and names.
#include "skiff/secrets/value_from.h"

#include "gtest/gtest.h"

namespace skiff::secrets {
namespace {

constexpr char kArn[] = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
using Service = SecretReference::Service;

SecretReference Parse(const std::string& text) {
  auto parsed = ParseValueFrom(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status();
  return parsed.ok() ? *parsed : SecretReference();
}

TEST(ValueFromTest, SecretsManagerArnAlone) {
  const SecretReference ref = Parse(kArn);
  EXPECT_EQ(ref.service, Service::kSecretsManager);
  EXPECT_EQ(ref.id, kArn);
  EXPECT_EQ(ref.json_key, "");
  EXPECT_EQ(ref.version_stage, "");
  EXPECT_EQ(ref.version_id, "");
}

TEST(ValueFromTest, EverySuffixForm) {
  struct Case {
    std::string suffix, key, stage, id;
  };
  for (const Case& c : std::vector<Case>{
           {":password", "password", "", ""},
           {":password::", "password", "", ""},
           {":password:AWSPREVIOUS", "password", "AWSPREVIOUS", ""},
           {":password:AWSPREVIOUS:", "password", "AWSPREVIOUS", ""},
           {":password::v-123", "password", "", "v-123"},
           {"::AWSCURRENT:", "", "AWSCURRENT", ""},
           {":::v-123", "", "", "v-123"},
           {"::", "", "", ""},
       }) {
    const SecretReference ref = Parse(std::string(kArn) + c.suffix);
    EXPECT_EQ(ref.service, Service::kSecretsManager) << c.suffix;
    EXPECT_EQ(ref.id, kArn) << c.suffix;
    EXPECT_EQ(ref.json_key, c.key) << c.suffix;
    EXPECT_EQ(ref.version_stage, c.stage) << c.suffix;
    EXPECT_EQ(ref.version_id, c.id) << c.suffix;
  }
}

TEST(ValueFromTest, SsmArnsAndNames) {
  SecretReference ref = Parse("arn:aws:ssm:us-east-1:111122223333:parameter/app/db/password");
  EXPECT_EQ(ref.service, Service::kParameterStore);
  EXPECT_EQ(ref.id, "/app/db/password");
  ref = Parse("arn:aws:ssm:us-east-1:111122223333:parameter/flat");
  EXPECT_EQ(ref.id, "flat");
  ref = Parse("/app/db/password");
  EXPECT_EQ(ref.service, Service::kByName);
  EXPECT_EQ(ref.id, "/app/db/password");
  ref = Parse("db:password:AWSCURRENT");
  EXPECT_EQ(ref.service, Service::kByName);
  EXPECT_EQ(ref.id, "db");
  EXPECT_EQ(ref.json_key, "password");
  EXPECT_EQ(ref.version_stage, "AWSCURRENT");
}

TEST(ValueFromTest, MalformedOnesAreRefused) {
  for (const std::string& bad :
       {std::string(""), std::string(kArn) + ":k:s:i:extra", std::string(kArn) + ":k:s:i",
        std::string("arn:aws:s3:::bucket/key"),
        std::string("arn:aws:secretsmanager:r:a:notsecret:x"),
        std::string("arn:aws:ssm:r:a:document/x"), std::string(":key")}) {
    EXPECT_EQ(ParseValueFrom(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace skiff::secrets
