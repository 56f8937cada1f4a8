// The containerd adapter against a real (private) containerd.
#include "skiff/containerd/containerd_runtime.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/containerd_fixture.h"

namespace skiff::runtime {
namespace {

TEST(ContainerdRuntimeTest, ReportsTheVersionOfARealContainerd) {
  SKIFF_REQUIRE_ROOT_AND_CONTAINERD();
  auto containerd = skiff::testing::PrivateContainerd::Start();
  ASSERT_TRUE(containerd.ok()) << containerd.status();
  SystemRandom random;
  ContainerdRuntime runtime(
      {.address = (*containerd)->socket_path(), .ns = "skiff-test", .random = &random});
  absl::StatusOr<RuntimeVersion> version = runtime.Version(absl::Seconds(10));
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_THAT(version->version, ::testing::StartsWith("1."));
  EXPECT_FALSE(version->revision.empty());
}

TEST(ContainerdRuntimeTest, AnAbsentContainerdIsUnavailableWithinTheTimeout) {
  SystemRandom random;
  ContainerdRuntime runtime(
      {.address = "/tmp/skiff-no-such-containerd.sock", .ns = "skiff-test", .random = &random});
  const absl::Time start = absl::Now();
  absl::StatusOr<RuntimeVersion> version = runtime.Version(absl::Milliseconds(300));
  EXPECT_EQ(version.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(version.status().message()),
              ::testing::HasSubstr("/tmp/skiff-no-such-containerd.sock"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace skiff::runtime
