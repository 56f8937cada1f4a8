// ParameterStore on a temp dir: types, Overwrite and versions, hierarchies and
// GetParametersByPath, SecureString only WithDecryption, InvalidParameters, and SSM's error
// names.
#include "skiff/secrets/parameter_store.h"

#include <memory>
#include <string>

#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"

namespace skiff::secrets {
namespace {

using ::testing::ElementsAre;

class ParameterStoreTest : public ::testing::Test {
 protected:
  ParameterStoreTest() { Reopen(); }

  void Reopen() {
    store_.reset();
    auto made = ParameterStore::Create({.dir = dir_.path() + "/secrets", .clock = &clock_});
    ASSERT_TRUE(made.ok()) << made.status();
    store_ = *std::move(made);
  }

  absl::StatusOr<ssm::PutParameterResult> Put(const std::string& name, const std::string& value,
                                              const std::string& type = "String",
                                              bool overwrite = false) {
    ssm::PutParameterRequest request;
    request.set_name(name);
    request.set_value(value);
    request.set_type(type);
    if (overwrite) request.set_overwrite(true);
    return store_->PutParameter(request);
  }

  absl::StatusOr<ssm::GetParameterResult> Get(const std::string& name, bool decrypt = false) {
    ssm::GetParameterRequest request;
    request.set_name(name);
    if (decrypt) request.set_with_decryption(true);
    return store_->GetParameter(request);
  }

  std::vector<std::string> ByPath(const std::string& path, bool recursive) {
    ssm::GetParametersByPathRequest request;
    request.set_path(path);
    request.set_recursive(recursive);
    auto result = store_->GetParametersByPath(request);
    EXPECT_TRUE(result.ok()) << result.status();
    std::vector<std::string> names;
    if (result.ok()) {
      for (const auto& p : result->parameters()) names.push_back(p.name());
    }
    return names;
  }

  fakes::TempDir dir_;
  SimulatedClock clock_;
  std::unique_ptr<ParameterStore> store_;
};

TEST_F(ParameterStoreTest, PutThenGetByNameAndArn) {
  auto put = Put("/app/db/host", "db.internal");
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->version(), 1);
  EXPECT_EQ(put->tier(), "Standard");
  for (const std::string& name :
       {std::string("/app/db/host"),
        std::string("arn:aws:ssm:local:000000000000:parameter/app/db/host")}) {
    auto got = Get(name);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->parameter().value(), "db.internal");
    EXPECT_EQ(got->parameter().arn(), "arn:aws:ssm:local:000000000000:parameter/app/db/host");
  }
  ASSERT_TRUE(Put("flat", "v").ok());
  EXPECT_EQ(Get("flat")->parameter().arn(), "arn:aws:ssm:local:000000000000:parameter/flat");
}

TEST_F(ParameterStoreTest, OverwriteMakesVersionsAndWithoutItTheNameIsTaken) {
  ASSERT_TRUE(Put("p", "1").ok());
  auto again = Put("p", "2");
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(model::EcsExceptionName(again.status()), "ParameterAlreadyExists");
  auto second = Put("p", "2", "String", true);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->version(), 2);
  EXPECT_EQ(Get("p")->parameter().value(), "2");
  EXPECT_EQ(Get("p:1")->parameter().value(), "1");
  EXPECT_EQ(Get("p:1")->parameter().selector(), ":1");
  EXPECT_EQ(model::EcsExceptionName(Get("p:9").status()), "ParameterVersionNotFound");
}

TEST_F(ParameterStoreTest, SecureStringOnlyWithDecryption) {
  ASSERT_TRUE(Put("/app/token", "s3cr3t", "SecureString").ok());
  EXPECT_NE(Get("/app/token")->parameter().value(), "s3cr3t");
  EXPECT_EQ(Get("/app/token", true)->parameter().value(), "s3cr3t");
  EXPECT_EQ(Get("/app/token", true)->parameter().type(), "SecureString");
}

TEST_F(ParameterStoreTest, ErrorsHaveSsmsNames) {
  auto missing = Get("/nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(model::EcsExceptionName(missing.status()), "ParameterNotFound");
  EXPECT_EQ(model::EcsExceptionName(Put("/aws/x", "v").status()), "ValidationException");
  EXPECT_EQ(model::EcsExceptionName(Put("a/b", "v").status()), "ValidationException");
  EXPECT_EQ(model::EcsExceptionName(Put("x", "").status()), "ValidationException");
  std::string deep;
  for (int i = 0; i < 16; ++i) deep += "/l";
  EXPECT_EQ(model::EcsExceptionName(Put(deep, "v").status()),
            "HierarchyLevelLimitExceededException");
  ssm::DeleteParameterRequest del;
  del.set_name("/nope");
  EXPECT_EQ(model::EcsExceptionName(store_->DeleteParameter(del).status()), "ParameterNotFound");
}

TEST_F(ParameterStoreTest, GetParametersListsTheMissingOnesAsInvalid) {
  ASSERT_TRUE(Put("/a", "1").ok());
  ssm::GetParametersRequest request;
  request.add_names("/a");
  request.add_names("/missing");
  auto result = store_->GetParameters(request);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->parameters_size(), 1);
  EXPECT_EQ(result->parameters(0).name(), "/a");
  EXPECT_THAT(result->invalid_parameters(), ElementsAre("/missing"));
}

TEST_F(ParameterStoreTest, GetParametersByPathRecursiveOrNot) {
  for (const char* name : {"/app/a", "/app/b", "/app/db/host", "/app/db/port", "/other/x"}) {
    ASSERT_TRUE(Put(name, "v").ok());
  }
  EXPECT_THAT(ByPath("/app", false), ElementsAre("/app/a", "/app/b"));
  EXPECT_THAT(ByPath("/app/", true),
              ElementsAre("/app/a", "/app/b", "/app/db/host", "/app/db/port"));
  EXPECT_THAT(ByPath("/app/db", false), ElementsAre("/app/db/host", "/app/db/port"));
}

TEST_F(ParameterStoreTest, DeleteAndReopen) {
  ASSERT_TRUE(Put("/keep", "k").ok());
  ASSERT_TRUE(Put("/drop", "d").ok());
  ssm::DeleteParameterRequest del;
  del.set_name("/drop");
  ASSERT_TRUE(store_->DeleteParameter(del).ok());
  Reopen();
  EXPECT_EQ(Get("/keep")->parameter().value(), "k");
  EXPECT_EQ(model::EcsExceptionName(Get("/drop").status()), "ParameterNotFound");
}

}  // namespace
}  // namespace skiff::secrets
