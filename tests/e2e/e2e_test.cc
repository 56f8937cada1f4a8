#include "e2e_test.h"

#include <signal.h>

#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"

namespace skiff::e2e {

using json = nlohmann::json;

std::unique_ptr<skiff::testing::PrivateContainerd>& E2eTest::SuiteContainerd() {
  static auto* containerd = new std::unique_ptr<skiff::testing::PrivateContainerd>();
  return *containerd;
}

void E2eTest::SetUpTestSuite() {
  // Without root SetUp() skips each test; in CI it fails them there, with the reason.
  if (!skiff::testing::MissingRootOrContainerd().empty()) return;
  absl::StatusOr<std::unique_ptr<skiff::testing::PrivateContainerd>> containerd =
      skiff::testing::PrivateContainerd::Start();
  // A failed start is retried per test in SetUp(), which reports it there.
  if (containerd.ok()) SuiteContainerd() = *std::move(containerd);
}

void E2eTest::TearDownTestSuite() { SuiteContainerd().reset(); }

void E2eTest::SetUp() {
  SKIFF_REQUIRE_ROOT_AND_CONTAINERD();
  if (SuiteContainerd() != nullptr) {
    containerd_ = SuiteContainerd().get();
  } else {
    absl::StatusOr<std::unique_ptr<skiff::testing::PrivateContainerd>> containerd =
        skiff::testing::PrivateContainerd::Start();
    ASSERT_TRUE(containerd.ok()) << containerd.status();
    own_containerd_ = *std::move(containerd);
    containerd_ = own_containerd_.get();
  }
  static int tests = 0;
  ns_ = containerd_->UniqueNamespace(absl::StrCat(namespace_prefix_, "-", ++tests));
  absl::StatusOr<std::unique_ptr<SkiffdProcess>> skiffd = SkiffdProcess::Create();
  ASSERT_TRUE(skiffd.ok()) << skiffd.status();
  skiffd_ = *std::move(skiffd);
}

void E2eTest::TearDown() {
  if (HasFailure() && skiffd_ != nullptr) {
    const std::string log = skiffd_->Log();
    std::cerr << "--- skiffd log (tail, " << log.size() << " bytes in all) ---\n"
              << SkiffdLogTail(80) << "\n";
  }
  client_.reset();
  skiffd_.reset();  // SIGKILL, then its network and state dir.
  if (containerd_ != nullptr && containerd_ == SuiteContainerd().get()) {
    // The next test of the suite starts from an empty containerd, as with one of its own.
    absl::Status emptied = containerd_->DeleteNamespace(ns_);
    EXPECT_TRUE(emptied.ok()) << emptied;
  }
  own_containerd_.reset();  // Reports a failed cleanup itself.
  containerd_ = nullptr;
}

std::vector<std::string> E2eTest::ContainerdFlags() const {
  return {"--containerd-address", containerd_->socket_path(), "--namespace", ns_,
          "--runc-root",          containerd_->runc_root()};
}

void E2eTest::StartSkiffd(const std::vector<std::string>& extra,
                          const std::vector<std::string>& env) {
  last_extra_ = extra;
  last_env_ = env;
  std::vector<std::string> flags = ContainerdFlags();
  flags.insert(flags.end(), extra.begin(), extra.end());
  absl::Status started = skiffd_->Start(flags, env);
  ASSERT_TRUE(started.ok()) << started;
  absl::Status ready = skiffd_->WaitReady();
  ASSERT_TRUE(ready.ok()) << ready;
  client_ = std::make_unique<EcsClient>(skiffd_->socket());
}

void E2eTest::RestartSkiffd() {
  client_.reset();
  absl::StatusOr<int> exited = skiffd_->Signal(SIGTERM);
  ASSERT_TRUE(exited.ok()) << exited.status();
  ASSERT_EQ(*exited, 0) << SkiffdLogTail(40);
  StartSkiffd(last_extra_, last_env_);
}

void E2eTest::LoadTestImage() {
  absl::StatusOr<std::string> tarball = skiff::testing::TestImageTarball();
  ASSERT_TRUE(tarball.ok()) << tarball.status();
  ASSERT_NE(client_, nullptr) << "LoadTestImage before StartSkiffd";
  absl::Status loaded = client_->LoadImage(*tarball, skiff::testing::kTestImageRef);
  ASSERT_TRUE(loaded.ok()) << loaded;
}

skiff::testing::CommandResult E2eTest::Skiff(const std::vector<std::string>& args) const {
  return skiffd_->Skiff(args);
}

json E2eTest::Ok(const std::vector<std::string>& args) {
  skiff::testing::CommandResult r = Skiff(args);
  EXPECT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.stderr_text;
  if (r.stdout_text.empty()) return json();
  json out = json::parse(r.stdout_text, nullptr, false);
  EXPECT_FALSE(out.is_discarded()) << r.stdout_text;
  return out;
}

skiff::testing::CommandResult E2eTest::Refused(const std::vector<std::string>& args, int exit_code,
                                               absl::string_view says) {
  skiff::testing::CommandResult r = Skiff(args);
  EXPECT_EQ(r.exit_code, exit_code) << absl::StrJoin(args, " ") << ": " << r.stderr_text;
  EXPECT_THAT(r.stderr_text, ::testing::HasSubstr(says)) << absl::StrJoin(args, " ");
  return r;
}

json E2eTest::DescribeTaskJson(const std::string& id) {
  json out = Ok({"describe-tasks", "--tasks", id});
  return out["tasks"].empty() ? json::object() : out["tasks"][0];
}

void E2eTest::RegisterTaskDefinition(const json& definition) {
  absl::Status registered = client_->RegisterTaskDefinition(definition.dump());
  ASSERT_TRUE(registered.ok()) << registered;
}

std::string E2eTest::RunTask(const std::string& family) {
  v1::RunTaskRequest request;
  request.set_task_definition(family);
  absl::StatusOr<v1::RunTaskResponse> ran = client_->RunTask(request);
  EXPECT_TRUE(ran.ok()) << ran.status();
  if (!ran.ok()) return "";
  EXPECT_EQ(ran->tasks_size(), 1) << ran->ShortDebugString();
  return ran->tasks_size() == 1 ? TaskIdOf(ran->tasks(0).task_arn()) : "";
}

v1::Task E2eTest::WaitForTaskStatus(const std::string& id, absl::string_view status,
                                    absl::Duration timeout) {
  absl::StatusOr<v1::Task> task = client_->WaitForTask(
      id,
      [status](const v1::Task& t) {
        return t.last_status() == status || t.last_status() == "STOPPED";
      },
      status, timeout);
  EXPECT_TRUE(task.ok()) << task.status();
  if (!task.ok()) return {};
  EXPECT_EQ(task->last_status(), status) << task->ShortDebugString();
  return *task;
}

std::string E2eTest::SkiffdLogTail(int lines) const {
  const std::string log = skiffd_ == nullptr ? "" : skiffd_->Log();
  // A test that failed before skiffd started (a missing prerequisite in CI) has no log.
  if (log.empty()) return log;
  size_t at = log.size();
  for (int n = 0; n <= lines && at != std::string::npos && at > 0; ++n) {
    at = log.rfind('\n', at - 1);
  }
  return at == std::string::npos ? log : log.substr(at + 1);
}

}  // namespace skiff::e2e
