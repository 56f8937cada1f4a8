#include "skiff/registry/reference.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "skiff/runtime/image.h"

namespace skiff::registry {
namespace {

constexpr char kDigest[] = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ParseReferenceTest, NormalizesAsDocker) {
  auto nginx = ParseReference("nginx");
  ASSERT_TRUE(nginx.ok()) << nginx.status();
  EXPECT_EQ(nginx->domain, "docker.io");
  EXPECT_EQ(nginx->repository, "library/nginx");
  EXPECT_EQ(nginx->tag, "latest");
  EXPECT_EQ(nginx->Name(), "docker.io/library/nginx:latest");
  EXPECT_EQ(nginx->ApiHost(), "registry-1.docker.io");

  auto user = ParseReference("index.docker.io/user/app:1.27");
  ASSERT_TRUE(user.ok());
  EXPECT_EQ(user->Name(), "docker.io/user/app:1.27");
  EXPECT_EQ(user->Identifier(), "1.27");
}

TEST(ParseReferenceTest, RegistryHostsWithPorts) {
  auto local = ParseReference("localhost:5000/x");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->domain, "localhost:5000");
  EXPECT_EQ(local->repository, "x");  // Not library/: that is Docker Hub only.
  EXPECT_EQ(local->tag, "latest");
  EXPECT_EQ(local->ApiHost(), "localhost:5000");

  auto ecr = ParseReference("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v3");
  ASSERT_TRUE(ecr.ok());
  EXPECT_EQ(ecr->domain, "123456789012.dkr.ecr.eu-west-1.amazonaws.com");
  EXPECT_EQ(ecr->repository, "team/app");
  EXPECT_EQ(ecr->tag, "v3");

  auto ip = ParseReference("127.0.0.1:41234/skiff/busybox:multi");
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(ip->domain, "127.0.0.1:41234");
  EXPECT_EQ(ip->repository, "skiff/busybox");
  EXPECT_EQ(ip->tag, "multi");
}

TEST(ParseReferenceTest, DigestsPinAndDropTheTag) {
  auto pinned = ParseReference(std::string("localhost:5000/x:1@") + kDigest);
  ASSERT_TRUE(pinned.ok()) << pinned.status();
  EXPECT_EQ(pinned->digest, kDigest);
  EXPECT_EQ(pinned->tag, "");
  EXPECT_EQ(pinned->Identifier(), kDigest);
  EXPECT_EQ(pinned->Name(), std::string("localhost:5000/x@") + kDigest);
}

TEST(ParseReferenceTest, NameIsTheRuntimesNormalization) {
  for (const std::string& ref : std::vector<std::string>{
           "busybox", "busybox:1.36", "user/x", "localhost:5000/a/b:v2", "ghcr.io/org/team/app:1.0",
        std::string("busybox@") + kDigest, "127.0.0.1:5000/x"}) {
    auto parsed = ParseReference(ref);
    ASSERT_TRUE(parsed.ok()) << ref;
    EXPECT_EQ(parsed->Name(), runtime::NormalizeImageReference(ref)) << ref;
  }
}

TEST(ParseReferenceTest, RejectsMalformedReferences) {
  for (const char* bad : {"", "Nginx", "nginx:", "nginx:-x", "nginx@sha256:abc", "a//b",
                          "localhost:5000/", "nginx@md5:0123", "team/App:1", "x:tag with space"}) {
    auto parsed = ParseReference(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(IsLoopbackRegistryTest, OnlyLoopbackHosts) {
  EXPECT_TRUE(IsLoopbackRegistry("localhost"));
  EXPECT_TRUE(IsLoopbackRegistry("localhost:5000"));
  EXPECT_TRUE(IsLoopbackRegistry("127.0.0.1:41234"));
  EXPECT_TRUE(IsLoopbackRegistry("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackRegistry("[::1]:5000"));
  EXPECT_FALSE(IsLoopbackRegistry("127.example.com"));
  EXPECT_FALSE(IsLoopbackRegistry("localhost.example.com:5000"));
  EXPECT_FALSE(IsLoopbackRegistry("docker.io"));
  EXPECT_FALSE(IsLoopbackRegistry("10.0.0.1:5000"));
}

}  // namespace
}  // namespace skiff::registry
