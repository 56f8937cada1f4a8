// NodeSecretSource: valueFrom resolved against the node's stores as the ECS agent resolves it,
// and failures that name the secret, never a value.
#include "skiff/secrets/node_secret_source.h"

#include <memory>
#include <string>

#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::secrets {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class NodeSecretSourceTest : public ::testing::Test {
 protected:
  NodeSecretSourceTest() {
    manager_ = *SecretsManager::Create(
        {.dir = dir_.path(), .clock = &clock_, .random = &random_});
    parameters_ = *ParameterStore::Create({.dir = dir_.path(), .clock = &clock_});
    source_ = std::make_unique<NodeSecretSource>(manager_.get(), parameters_.get());
  }

  std::string CreateSecret(const std::string& name, const std::string& value) {
    sm::CreateSecretRequest request;
    request.set_name(name);
    request.set_secret_string(value);
    return manager_->CreateSecret(request)->arn();
  }

  void PutParameter(const std::string& name, const std::string& value, const std::string& type) {
    ssm::PutParameterRequest request;
    request.set_name(name);
    request.set_value(value);
    request.set_type(type);
    ASSERT_TRUE(parameters_->PutParameter(request).ok());
  }

  fakes::TempDir dir_;
  SimulatedClock clock_;
  SeededRandom random_{1};
  std::unique_ptr<SecretsManager> manager_;
  std::unique_ptr<ParameterStore> parameters_;
  std::unique_ptr<NodeSecretSource> source_;
};

TEST_F(NodeSecretSourceTest, SecretsByArnJsonKeyStageAndVersion) {
  const std::string arn = CreateSecret("db", R"({"user":"app","password":"pw1","port":5432})");
  EXPECT_EQ(*source_->Resolve(arn), R"({"user":"app","password":"pw1","port":5432})");
  EXPECT_EQ(*source_->Resolve(arn + ":password::"), "pw1");
  EXPECT_EQ(*source_->Resolve(arn + ":port"), "5432");
  sm::PutSecretValueRequest put;
  put.set_secret_id("db");
  put.set_secret_string(R"({"password":"pw2"})");
  const std::string v2 = manager_->PutSecretValue(put)->version_id();
  EXPECT_EQ(*source_->Resolve(arn + ":password"), "pw2");
  EXPECT_EQ(*source_->Resolve(arn + ":password:AWSPREVIOUS"), "pw1");
  EXPECT_EQ(*source_->Resolve(arn + ":password::" + v2), "pw2");
  // The partial ARN (without the random suffix) and the name work too.
  EXPECT_EQ(*source_->Resolve(arn.substr(0, arn.size() - 7) + ":password"), "pw2");
  EXPECT_EQ(*source_->Resolve("db:password"), "pw2");
}

TEST_F(NodeSecretSourceTest, ParametersByNameAndArnDecrypted) {
  PutParameter("/app/token", "tok", "SecureString");
  PutParameter("plain", "p", "String");
  EXPECT_EQ(*source_->Resolve("/app/token"), "tok");
  EXPECT_EQ(*source_->Resolve("arn:aws:ssm:us-east-1:000000000000:parameter/app/token"), "tok");
  EXPECT_EQ(*source_->Resolve("plain"), "p");
}

TEST_F(NodeSecretSourceTest, FailuresNameTheSecretAndNeverTheValue) {
  const std::string arn = CreateSecret("db", R"({"password":"topsecret"})");
  auto missing_key = source_->Resolve(arn + ":user");
  EXPECT_EQ(missing_key.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing_key.status().message(), HasSubstr(arn + ":user"));
  EXPECT_THAT(missing_key.status().message(), Not(HasSubstr("topsecret")));
  auto missing_stage = source_->Resolve(arn + "::NOSUCH");
  EXPECT_EQ(missing_stage.status().code(), absl::StatusCode::kNotFound);
  auto missing_secret =
      source_->Resolve("arn:aws:secretsmanager:local:000000000000:secret:nope-abcdef");
  EXPECT_EQ(missing_secret.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing_secret.status().message(), HasSubstr("nope-abcdef"));
  auto missing_parameter = source_->Resolve("arn:aws:ssm:local:000000000000:parameter/nope");
  EXPECT_EQ(missing_parameter.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing_parameter.status().message(), HasSubstr("nope"));
  EXPECT_EQ(source_->Resolve("nothing-here").status().code(), absl::StatusCode::kNotFound);
  const std::string plain = CreateSecret("plain", "not json topsecret");
  auto not_json = source_->Resolve(plain + ":key");
  EXPECT_FALSE(not_json.ok());
  EXPECT_THAT(not_json.status().message(), Not(HasSubstr("topsecret")));
  sm::DeleteSecretRequest del;
  del.set_secret_id("db");
  ASSERT_TRUE(manager_->DeleteSecret(del).ok());
  EXPECT_EQ(source_->Resolve(arn).status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace skiff::secrets
