#include "skiff/runtime/image.h"

#include "gtest/gtest.h"

namespace skiff::runtime {
namespace {

TEST(NormalizeImageReferenceTest, FollowsDockerRules) {
  EXPECT_EQ(NormalizeImageReference("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(NormalizeImageReference("busybox:1.36"), "docker.io/library/busybox:1.36");
  EXPECT_EQ(NormalizeImageReference("user/x"), "docker.io/user/x:latest");
  EXPECT_EQ(NormalizeImageReference("docker.io/busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(NormalizeImageReference("index.docker.io/user/x:1"), "docker.io/user/x:1");
  EXPECT_EQ(NormalizeImageReference("skiff.local/busybox"), "skiff.local/busybox:latest");
  EXPECT_EQ(NormalizeImageReference("skiff.local/busybox:test"), "skiff.local/busybox:test");
  EXPECT_EQ(NormalizeImageReference("localhost:5000/x"), "localhost:5000/x:latest");
  EXPECT_EQ(NormalizeImageReference("localhost:5000/a/b:v2"), "localhost:5000/a/b:v2");
  EXPECT_EQ(NormalizeImageReference("localhost/x"), "localhost/x:latest");
  EXPECT_EQ(NormalizeImageReference("ghcr.io/org/team/app:1.0"), "ghcr.io/org/team/app:1.0");
}

TEST(NormalizeImageReferenceTest, KeepsDigests) {
  const std::string digest =
      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  EXPECT_EQ(NormalizeImageReference("busybox@" + digest), "docker.io/library/busybox@" + digest);
  // With both, the digest decides and docker drops the tag.
  EXPECT_EQ(NormalizeImageReference("busybox:1@" + digest), "docker.io/library/busybox@" + digest);
  EXPECT_EQ(NormalizeImageReference("localhost:5000/x@" + digest), "localhost:5000/x@" + digest);
}

TEST(NormalizeImageReferenceTest, IsIdempotent) {
  for (const char* ref : {"busybox", "user/x:2", "localhost:5000/x", "skiff.local/busybox:test"}) {
    const std::string once = NormalizeImageReference(ref);
    EXPECT_EQ(NormalizeImageReference(once), once) << ref;
  }
}

}  // namespace
}  // namespace skiff::runtime
