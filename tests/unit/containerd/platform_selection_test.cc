#include "gtest/gtest.h"
#include "containerd/image_manifest.h"

namespace skiff::runtime {
namespace {

Descriptor Entry(std::string digest_char, std::optional<Platform> platform,
                 std::string media_type = kMediaTypeOciManifest) {
  return Descriptor{.media_type = std::move(media_type),
                    .digest = "sha256:" + std::string(64, digest_char[0]),
                    .size = 1,
                    .platform = std::move(platform)};
}

TEST(SelectManifestTest, PicksThisPlatformFromAMultiPlatformIndex) {
  const Platform amd64{.os = "linux", .architecture = "amd64"};
  const Platform arm64{.os = "linux", .architecture = "arm64", .variant = "v8"};
  ImageIndex index{.manifests = {
                       Entry("a", Platform{.os = "linux", .architecture = "arm", .variant = "v7"}),
                       Entry("b", Platform{.os = "linux", .architecture = "arm64"}),
                       Entry("c", Platform{.os = "windows", .architecture = "amd64"}),
                       Entry("d", Platform{.os = "linux", .architecture = "amd64"}),
                   }};
  ASSERT_NE(SelectManifest(index, amd64), nullptr);
  EXPECT_EQ(SelectManifest(index, amd64)->digest[7], 'd');
  ASSERT_NE(SelectManifest(index, arm64), nullptr);
  EXPECT_EQ(SelectManifest(index, arm64)->digest[7], 'b');
  EXPECT_EQ(SelectManifest(index, Platform{.os = "linux", .architecture = "s390x"}), nullptr);
}

TEST(SelectManifestTest, PrefersTheExactVariantAndSkipsAttestationsAndIndexes) {
  const Platform armv7{.os = "linux", .architecture = "arm", .variant = "v7"};
  ImageIndex index{.manifests = {
                       // BuildKit's attestation manifests say unknown/unknown.
                       Entry("a", Platform{.os = "unknown", .architecture = "unknown"}),
                       Entry("b", Platform{.os = "linux", .architecture = "arm"}),
                       Entry("c", Platform{.os = "linux", .architecture = "arm", .variant = "v7"},
                             kMediaTypeOciIndex),
                       Entry("d", Platform{.os = "linux", .architecture = "arm", .variant = "v7"}),
                   }};
  ASSERT_NE(SelectManifest(index, armv7), nullptr);
  EXPECT_EQ(SelectManifest(index, armv7)->digest[7], 'd');
  // Without the exact one, the generic arm manifest does.
  index.manifests.pop_back();
  ASSERT_NE(SelectManifest(index, armv7), nullptr);
  EXPECT_EQ(SelectManifest(index, armv7)->digest[7], 'b');
}

TEST(SelectManifestTest, AnEntryWithoutPlatformMatches) {
  ImageIndex index{.manifests = {Entry("e", std::nullopt, kMediaTypeDockerManifest)}};
  ASSERT_NE(SelectManifest(index, HostPlatform()), nullptr);
  EXPECT_EQ(SelectManifest(index, HostPlatform())->digest[7], 'e');
}

}  // namespace
}  // namespace skiff::runtime
