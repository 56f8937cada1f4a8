// SecretsManager on a temp dir and simulated time: versions and their stages, deletion with and
// without a recovery window, the error names botocore's model gives, the file's mode, and that
// everything survives reopening.
#include "skiff/secrets/secrets_manager.h"

#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <string>

#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"

namespace skiff::secrets {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

class SecretsManagerTest : public ::testing::Test {
 protected:
  SecretsManagerTest() { Reopen(); }

  void Reopen() {
    manager_.reset();
    auto made = SecretsManager::Create(
        {.dir = dir_.path() + "/secrets", .clock = &clock_, .random = &random_});
    ASSERT_TRUE(made.ok()) << made.status();
    manager_ = *std::move(made);
  }

  sm::CreateSecretResponse Create(const std::string& name, const std::string& value) {
    sm::CreateSecretRequest request;
    request.set_name(name);
    request.set_secret_string(value);
    auto created = manager_->CreateSecret(request);
    EXPECT_TRUE(created.ok()) << created.status();
    return created.ok() ? *created : sm::CreateSecretResponse();
  }

  absl::StatusOr<sm::GetSecretValueResponse> Get(const std::string& id,
                                                 const std::string& stage = "") {
    sm::GetSecretValueRequest request;
    request.set_secret_id(id);
    if (!stage.empty()) request.set_version_stage(stage);
    return manager_->GetSecretValue(request);
  }

  sm::PutSecretValueResponse Put(const std::string& id, const std::string& value) {
    sm::PutSecretValueRequest request;
    request.set_secret_id(id);
    request.set_secret_string(value);
    auto put = manager_->PutSecretValue(request);
    EXPECT_TRUE(put.ok()) << put.status();
    return put.ok() ? *put : sm::PutSecretValueResponse();
  }

  fakes::TempDir dir_;
  SimulatedClock clock_;
  SeededRandom random_{7};
  std::unique_ptr<SecretsManager> manager_;
};

TEST_F(SecretsManagerTest, CreateGivesAnArnWithASixCharacterSuffixAndAnAwsCurrentVersion) {
  const sm::CreateSecretResponse created = Create("db/password", "hunter2");
  EXPECT_THAT(created.arn(), MatchesRegex("arn:aws:secretsmanager:local:000000000000:secret:"
                                          "db/password-[A-Za-z0-9]{6}"));
  EXPECT_FALSE(created.version_id().empty());
  for (const std::string& id : {created.arn(), std::string("db/password"),
                                created.arn().substr(0, created.arn().size() - 7)}) {
    auto got = Get(id);
    ASSERT_TRUE(got.ok()) << id << ": " << got.status();
    EXPECT_EQ(got->secret_string(), "hunter2");
    EXPECT_THAT(got->version_stages(), ElementsAre("AWSCURRENT"));
    EXPECT_EQ(got->version_id(), created.version_id());
  }
}

TEST_F(SecretsManagerTest, PutSecretValueMovesCurrentAndPrevious) {
  const sm::CreateSecretResponse created = Create("api", "v1");
  const sm::PutSecretValueResponse second = Put("api", "v2");
  const sm::PutSecretValueResponse third = Put("api", "v3");
  EXPECT_EQ(Get("api")->secret_string(), "v3");
  EXPECT_EQ(Get("api", "AWSPREVIOUS")->secret_string(), "v2");
  sm::GetSecretValueRequest by_id;
  by_id.set_secret_id("api");
  by_id.set_version_id(created.version_id());
  auto first = manager_->GetSecretValue(by_id);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->secret_string(), "v1");
  EXPECT_TRUE(first->version_stages().empty());
  sm::DescribeSecretRequest describe;
  describe.set_secret_id("api");
  auto described = manager_->DescribeSecret(describe);
  ASSERT_TRUE(described.ok());
  const auto& stages = described->version_ids_to_stages();
  EXPECT_EQ(stages.size(), 2u);  // The unlabelled first version is not listed.
  EXPECT_THAT(stages.at(third.version_id()).values(), ElementsAre("AWSCURRENT"));
  EXPECT_THAT(stages.at(second.version_id()).values(), ElementsAre("AWSPREVIOUS"));
}

TEST_F(SecretsManagerTest, DescribeAndListNeverCarryTheValue) {
  Create("quiet", "do-not-show-me");
  sm::DescribeSecretRequest describe;
  describe.set_secret_id("quiet");
  auto described = manager_->DescribeSecret(describe);
  ASSERT_TRUE(described.ok());
  EXPECT_THAT(model::EncodeMessageText(*described), Not(HasSubstr("do-not-show-me")));
  auto listed = manager_->ListSecrets(sm::ListSecretsRequest());
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->secret_list_size(), 1);
  EXPECT_THAT(model::EncodeMessageText(*listed), Not(HasSubstr("do-not-show-me")));
  // The list of stages is a JSON array, as the AWS CLI parses it.
  EXPECT_THAT(model::EncodeMessageText(*listed), HasSubstr("[\"AWSCURRENT\"]"));
}

TEST_F(SecretsManagerTest, ErrorsHaveBotocoresNames) {
  Create("taken", "x");
  sm::CreateSecretRequest again;
  again.set_name("taken");
  auto exists = manager_->CreateSecret(again);
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(model::EcsExceptionName(exists.status()), "ResourceExistsException");
  auto missing = Get("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(model::EcsExceptionName(missing.status()), "ResourceNotFoundException");
  EXPECT_EQ(missing.status().message(), "Secrets Manager can't find the specified secret.");
  auto no_stage = Get("taken", "MYSTAGE");
  EXPECT_EQ(model::EcsExceptionName(no_stage.status()), "ResourceNotFoundException");
  sm::CreateSecretRequest both;
  both.set_name("both");
  both.set_secret_string("a");
  both.set_secret_binary("b");
  EXPECT_EQ(model::EcsExceptionName(manager_->CreateSecret(both).status()),
            "InvalidParameterException");
  sm::CreateSecretRequest bad_name;
  bad_name.set_name("no spaces");
  EXPECT_EQ(model::EcsExceptionName(manager_->CreateSecret(bad_name).status()),
            "InvalidParameterException");
}

TEST_F(SecretsManagerTest, ScheduledDeletionShowsDeletedDateAndRefusesReads) {
  Create("old", "x");
  sm::DeleteSecretRequest request;
  request.set_secret_id("old");
  request.set_recovery_window_in_days(7);
  auto deleted = manager_->DeleteSecret(request);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  const double expected = absl::ToDoubleSeconds(clock_.Now() + absl::Hours(24 * 7) -
                                                absl::UnixEpoch());
  EXPECT_DOUBLE_EQ(deleted->deletion_date(), expected);
  sm::DescribeSecretRequest describe;
  describe.set_secret_id("old");
  auto described = manager_->DescribeSecret(describe);
  ASSERT_TRUE(described.ok());
  EXPECT_TRUE(described->has_deleted_date());
  auto read = Get("old");
  EXPECT_EQ(model::EcsExceptionName(read.status()), "InvalidRequestException");
  sm::CreateSecretRequest again;
  again.set_name("old");
  EXPECT_EQ(model::EcsExceptionName(manager_->CreateSecret(again).status()),
            "InvalidRequestException");
  EXPECT_EQ(manager_->ListSecrets(sm::ListSecretsRequest())->secret_list_size(), 0);
  sm::ListSecretsRequest planned;
  planned.set_include_planned_deletion(true);
  EXPECT_EQ(manager_->ListSecrets(planned)->secret_list_size(), 1);
  clock_.Advance(absl::Hours(24 * 7));
  EXPECT_EQ(model::EcsExceptionName(manager_->DescribeSecret(describe).status()),
            "ResourceNotFoundException");
}

TEST_F(SecretsManagerTest, ForceDeleteIsImmediateAndWindowsAreChecked) {
  Create("gone", "x");
  sm::DeleteSecretRequest both;
  both.set_secret_id("gone");
  both.set_force_delete_without_recovery(true);
  both.set_recovery_window_in_days(7);
  EXPECT_EQ(model::EcsExceptionName(manager_->DeleteSecret(both).status()),
            "InvalidParameterException");
  sm::DeleteSecretRequest short_window;
  short_window.set_secret_id("gone");
  short_window.set_recovery_window_in_days(3);
  EXPECT_EQ(model::EcsExceptionName(manager_->DeleteSecret(short_window).status()),
            "InvalidParameterException");
  sm::DeleteSecretRequest force;
  force.set_secret_id("gone");
  force.set_force_delete_without_recovery(true);
  ASSERT_TRUE(manager_->DeleteSecret(force).ok());
  EXPECT_EQ(model::EcsExceptionName(Get("gone").status()), "ResourceNotFoundException");
  Create("gone", "again");  // The name is free at once.
}

TEST_F(SecretsManagerTest, AClientRequestTokenMakesPutIdempotent) {
  Create("tok", "v1");
  sm::PutSecretValueRequest request;
  request.set_secret_id("tok");
  request.set_secret_string("v2");
  request.set_client_request_token("0123456789abcdef0123456789abcdef");
  ASSERT_TRUE(manager_->PutSecretValue(request).ok());
  ASSERT_TRUE(manager_->PutSecretValue(request).ok());  // A retry.
  EXPECT_EQ(Get("tok", "AWSPREVIOUS")->secret_string(), "v1");
  request.set_secret_string("v3");
  EXPECT_EQ(model::EcsExceptionName(manager_->PutSecretValue(request).status()),
            "ResourceExistsException");
}

TEST_F(SecretsManagerTest, SecretsSurviveReopeningInAPrivateFile) {
  const sm::CreateSecretResponse created = Create("kept", "value");
  Put("kept", "value2");
  Reopen();
  auto got = Get(created.arn());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->secret_string(), "value2");
  EXPECT_EQ(Get("kept", "AWSPREVIOUS")->secret_string(), "value");
  struct stat st {};
  ASSERT_EQ(stat((dir_.path() + "/secrets/secretsmanager.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir_.path() + "/secrets").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(SecretsManagerTest, ListSecretsFiltersAndPages) {
  Create("app/a", "1");
  Create("app/b", "2");
  Create("other", "3");
  sm::ListSecretsRequest request;
  sm::Filter* filter = request.add_filters();
  filter->set_key("name");
  filter->add_values("app/");
  request.set_max_results(1);
  auto page = manager_->ListSecrets(request);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->secret_list_size(), 1);
  EXPECT_EQ(page->secret_list(0).name(), "app/a");
  request.set_next_token(page->next_token());
  page = manager_->ListSecrets(request);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->secret_list_size(), 1);
  EXPECT_EQ(page->secret_list(0).name(), "app/b");
  EXPECT_FALSE(page->has_next_token());
}

}  // namespace
}  // namespace skiff::secrets
