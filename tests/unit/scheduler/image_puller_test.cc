#include "skiff/scheduler/image_puller.h"

#include <thread>
#include <vector>

#include "fakes/fake_runtime.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::scheduler {
namespace {

using ::testing::HasSubstr;

registry::Reference Ref(const std::string& text) { return *registry::ParseReference(text); }

TEST(ShouldPullTest, DecisionsPerBehavior) {
  const auto latest = Ref("127.0.0.1:5000/app");
  const auto pinned_tag = Ref("127.0.0.1:5000/app:1.2");
  const auto digest = Ref(
      "127.0.0.1:5000/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  for (PullBehavior b : {PullBehavior::kDefault, PullBehavior::kAlways, PullBehavior::kOnce,
                         PullBehavior::kPreferCached}) {
    // What is not cached is always pulled.
    EXPECT_TRUE(ShouldPull(b, pinned_tag, /*cached=*/false, /*pulled_before=*/true));
  }
  EXPECT_TRUE(ShouldPull(PullBehavior::kDefault, latest, true, true));
  EXPECT_FALSE(ShouldPull(PullBehavior::kDefault, pinned_tag, true, false));
  EXPECT_FALSE(ShouldPull(PullBehavior::kDefault, digest, true, false));
  EXPECT_TRUE(ShouldPull(PullBehavior::kAlways, pinned_tag, true, true));
  EXPECT_TRUE(ShouldPull(PullBehavior::kOnce, latest, true, false));
  EXPECT_FALSE(ShouldPull(PullBehavior::kOnce, latest, true, true));
  EXPECT_FALSE(ShouldPull(PullBehavior::kPreferCached, latest, true, false));
}

TEST(ParsePullBehaviorTest, Names) {
  EXPECT_EQ(*ParsePullBehavior("default"), PullBehavior::kDefault);
  EXPECT_EQ(*ParsePullBehavior("always"), PullBehavior::kAlways);
  EXPECT_EQ(*ParsePullBehavior("once"), PullBehavior::kOnce);
  EXPECT_EQ(*ParsePullBehavior("prefer-cached"), PullBehavior::kPreferCached);
  EXPECT_EQ(ParsePullBehavior("sometimes").status().code(), absl::StatusCode::kInvalidArgument);
}

class ImagePullerTest : public ::testing::Test {
 protected:
  ImagePuller Make(PullBehavior behavior, registry::CredentialsFile credentials = {}) {
    return ImagePuller(&runtime_, {.behavior = behavior, .credentials = std::move(credentials)});
  }
  fakes::FakeRuntime runtime_;
};

TEST_F(ImagePullerTest, DefaultUsesTheCachedTagButPullsLatest) {
  runtime_.AddImage("127.0.0.1:5000/app:1.2");
  runtime_.AddImage("127.0.0.1:5000/app:latest");
  runtime_.AddRegistryImage("127.0.0.1:5000/app:latest", "sha256:new");
  ImagePuller puller = Make(PullBehavior::kDefault);
  auto pinned = puller.EnsureImage("127.0.0.1:5000/app:1.2", "");
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(runtime_.pull_calls(), 0);
  auto latest = puller.EnsureImage("127.0.0.1:5000/app", "");
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->digest, "sha256:new");
  EXPECT_EQ(runtime_.pull_calls(), 1);
}

TEST_F(ImagePullerTest, DefaultFallsBackToTheCachedLatestWhenThePullFails) {
  runtime_.AddImage("127.0.0.1:5000/app:latest");
  ImagePuller puller = Make(PullBehavior::kDefault);
  runtime_.FailNext("PullImage", absl::UnavailableError("connection refused"));
  auto image = puller.EnsureImage("127.0.0.1:5000/app:latest", "");
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(runtime_.pull_calls(), 1);
}

TEST_F(ImagePullerTest, AlwaysFailsWhenThePullFailsEvenIfCached) {
  runtime_.AddImage("127.0.0.1:5000/app:1");
  ImagePuller puller = Make(PullBehavior::kAlways);
  runtime_.FailNext("PullImage", absl::UnavailableError("connection refused"));
  auto image = puller.EnsureImage("127.0.0.1:5000/app:1", "");
  EXPECT_EQ(image.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(ImagePullerTest, OncePullsOnlyTheFirstTime) {
  runtime_.AddImage("127.0.0.1:5000/app:latest");
  runtime_.AddRegistryImage("127.0.0.1:5000/app:latest");
  ImagePuller puller = Make(PullBehavior::kOnce);
  ASSERT_TRUE(puller.EnsureImage("127.0.0.1:5000/app", "").ok());
  ASSERT_TRUE(puller.EnsureImage("127.0.0.1:5000/app", "").ok());
  EXPECT_EQ(runtime_.pull_calls(), 1);
}

TEST_F(ImagePullerTest, PreferCachedNeverPullsWhatIsThere) {
  runtime_.AddImage("127.0.0.1:5000/app:latest");
  ImagePuller puller = Make(PullBehavior::kPreferCached);
  ASSERT_TRUE(puller.EnsureImage("127.0.0.1:5000/app", "").ok());
  EXPECT_EQ(runtime_.pull_calls(), 0);
  // And pulls what is not.
  runtime_.AddRegistryImage("127.0.0.1:5000/other:2");
  ASSERT_TRUE(puller.EnsureImage("127.0.0.1:5000/other:2", "").ok());
  EXPECT_EQ(runtime_.pull_calls(), 1);
}

TEST_F(ImagePullerTest, UnknownImageIsNotFoundWithTheRegistrysWords) {
  ImagePuller puller = Make(PullBehavior::kDefault);
  auto image = puller.EnsureImage("127.0.0.1:5000/ghost:1", "");
  EXPECT_EQ(image.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(image.status().message(), HasSubstr("MANIFEST_UNKNOWN"));
}

TEST_F(ImagePullerTest, RepositoryCredentialsComeFromTheCredentialsFile) {
  auto file = registry::CredentialsFile::Parse(R"({
      "secrets": {"arn:aws:secretsmanager:local:000000000000:secret:reg":
                  {"username": "deploy", "password": "pw"}},
      "registries": {"127.0.0.1:5000": {"username": "node", "password": "pw2"}}})",
                                               "test");
  ASSERT_TRUE(file.ok());
  runtime_.AddRegistryImage("127.0.0.1:5000/app:1");
  ImagePuller puller = Make(PullBehavior::kAlways, *file);
  ASSERT_TRUE(
      puller.EnsureImage("127.0.0.1:5000/app:1", "arn:aws:secretsmanager:local:000000000000:secret:reg")
          .ok());
  EXPECT_EQ(runtime_.last_pull_username(), "deploy");
  ASSERT_TRUE(puller.EnsureImage("127.0.0.1:5000/app:1", "").ok());
  EXPECT_EQ(runtime_.last_pull_username(), "node");
  // A secret the file lacks fails before the registry is asked.
  auto missing = puller.EnsureImage("127.0.0.1:5000/app:1", "arn:nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(runtime_.pull_calls(), 2);
}

TEST_F(ImagePullerTest, ConcurrentRequestsShareOnePull) {
  runtime_.AddRegistryImage("127.0.0.1:5000/app:1", "sha256:shared");
  ImagePuller puller = Make(PullBehavior::kAlways);
  runtime_.HoldPulls(true);
  absl::StatusOr<runtime::ImageInfo> first, second;
  std::thread a([&] { first = puller.EnsureImage("127.0.0.1:5000/app:1", ""); });
  runtime_.AwaitHeldPulls(1);  // The first pull is in the runtime now.
  int seen = 0;
  std::thread b([&] {
    second = puller.Pull("127.0.0.1:5000/app:1", "", [&](const runtime::PullProgress&) { ++seen; });
  });
  // Released only once b waits on a's pull, so the two overlap for sure.
  puller.AwaitJoinersForTest("127.0.0.1:5000/app:1", 1);
  runtime_.HoldPulls(false);
  a.join();
  b.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->digest, "sha256:shared");
  EXPECT_EQ(second->digest, "sha256:shared");
  EXPECT_EQ(runtime_.pull_calls(), 1);
  EXPECT_EQ(seen, 1);  // The joiner saw the shared pull's progress.
}

}  // namespace
}  // namespace skiff::scheduler
