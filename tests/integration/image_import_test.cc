// Image import, listing, lookup and removal in the containerd adapter, against a real (private)
// containerd: the OCI test image and the same image as a docker-archive, and broken tarballs,
// after which nothing of the import may be left in the namespace.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/containerd/containerd_runtime.h"
#include "support/containerd_fixture.h"

namespace skiff::runtime {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Rewrites the OCI test tarball into a broken one (python3's tarfile, as the image script).
//   corrupt-layer: one byte of the layer blob flipped, so it no longer matches its digest;
//   escape: an extra "../escape" entry;
//   wrong-diff-id: a config (and manifest, index) whose diff id does not match the layer, so
//                  the failure comes only after blobs were committed and a snapshot prepared;
//   nested-index: not broken: the image's index points at an index of an index of the
//                 manifest (the manifest's platform given, as buildx pushes them);
//   nested-foreign: the same, but the manifest is said to be for another architecture.
constexpr char kBreakTarball[] = R"PY(
import hashlib, io, json, sys, tarfile
src, dst, mode = sys.argv[1:]
with tarfile.open(src) as tar:
    members = [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()]
blobs = {m.name: data for m, data in members if data is not None}

def put(obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).hexdigest()
    blobs["blobs/sha256/" + digest] = data
    return "sha256:" + digest, len(data)

if mode == "corrupt-layer":
    index = json.loads(blobs["index.json"])
    manifest = json.loads(blobs["blobs/sha256/" + index["manifests"][0]["digest"][7:]])
    name = "blobs/sha256/" + manifest["layers"][0]["digest"][7:]
    layer = bytearray(blobs[name])
    layer[len(layer) // 2] ^= 0xff
    blobs[name] = bytes(layer)
elif mode == "wrong-diff-id":
    index = json.loads(blobs["index.json"])
    entry = index["manifests"][0]
    manifest = json.loads(blobs["blobs/sha256/" + entry["digest"][7:]])
    config = json.loads(blobs["blobs/sha256/" + manifest["config"]["digest"][7:]])
    config["rootfs"]["diff_ids"] = ["sha256:" + hashlib.sha256(b"not the layer").hexdigest()]
    manifest["config"]["digest"], manifest["config"]["size"] = put(config)
    entry["digest"], entry["size"] = put(manifest)
    blobs["index.json"] = json.dumps(index).encode()
elif mode in ("nested-index", "nested-foreign"):
    index = json.loads(blobs["index.json"])
    entry = dict(index["manifests"][0])
    name = entry.pop("annotations", None)
    manifest = json.loads(blobs["blobs/sha256/" + entry["digest"][7:]])
    config = json.loads(blobs["blobs/sha256/" + manifest["config"]["digest"][7:]])
    arch = config["architecture"] if mode == "nested-index" else "s390x"
    entry["platform"] = {"os": config["os"], "architecture": arch}
    kind = "application/vnd.oci.image.index.v1+json"
    digest, size = put({"schemaVersion": 2, "mediaType": kind, "manifests": [entry]})
    for _ in range(2):
        digest, size = put({"schemaVersion": 2, "mediaType": kind,
                            "manifests": [{"mediaType": kind, "digest": digest, "size": size}]})
    index["manifests"] = [{"mediaType": kind, "digest": digest, "size": size}]
    if name:
        index["manifests"][0]["annotations"] = name
    blobs["index.json"] = json.dumps(index).encode()
with tarfile.open(dst, "w", format=tarfile.GNU_FORMAT) as out:
    for name, data in sorted(blobs.items()):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
    if mode == "escape":
        info = tarfile.TarInfo("../escape")
        info.size = 4
        out.addfile(info, io.BytesIO(b"evil"))
)PY";

class ImageImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_ROOT_AND_CONTAINERD();
    auto containerd = skiff::testing::PrivateContainerd::Start();
    ASSERT_TRUE(containerd.ok()) << containerd.status();
    containerd_ = *std::move(containerd);
    ns_ = containerd_->UniqueNamespace("skiff-img");
    runtime_ = std::make_unique<ContainerdRuntime>(
        ContainerdRuntimeOptions{
            .address = containerd_->socket_path(), .ns = ns_, .random = &random_});
    auto tarball = skiff::testing::TestImageTarball();
    ASSERT_TRUE(tarball.ok()) << tarball.status();
    oci_tarball_ = *tarball;
  }

  // The non-header lines of `ctr -n NS ARGS...`, e.g. the images of `images ls -q`.
  std::vector<std::string> CtrLines(std::vector<std::string> args, bool skip_header = false) {
    args.insert(args.begin(), {"-n", ns_});
    std::string output;
    absl::Status status = containerd_->Ctr(args, &output);
    EXPECT_TRUE(status.ok()) << status;
    std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipWhitespace());
    if (skip_header && !lines.empty()) lines.erase(lines.begin());
    return lines;
  }

  std::string CtrOutput(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", ns_});
    std::string output;
    absl::Status status = containerd_->Ctr(args, &output);
    EXPECT_TRUE(status.ok()) << status;
    return output;
  }

  // `ctr run --rm IMAGE ID /bin/true` inside this daemon's directories.
  absl::Status RunTrue(const std::string& image, const std::string& id) {
    return containerd_->Ctr({"-n", ns_, "run", "--rm", "--runc-root", containerd_->runc_root(),
                             "--fifo-dir", containerd_->fifo_dir(), image, id, "/bin/true"});
  }

  std::string TempPath(const std::string& name) {
    return absl::StrCat(containerd_->dir(), "/", name);
  }

  std::string BuildDockerArchive() {
    const std::string out = TempPath("busybox-docker.tar");
    auto result = skiff::testing::RunCommand(
        {"bash", SKIFF_SOURCE_DIR "/scripts/build-test-image.sh", "--docker-archive", out,
         "skiff.local/busybox:docker"},
        absl::Seconds(120));
    EXPECT_TRUE(result.ok() && result->exit_code == 0)
        << (result.ok() ? result->stderr_text : result.status().ToString());
    return out;
  }

  std::string BreakTarball(const std::string& mode) {
    const std::string out = TempPath(mode + ".tar");
    auto result = skiff::testing::RunCommand({"python3", "-c", kBreakTarball, oci_tarball_, out,
                                              mode},
                                             absl::Seconds(60));
    EXPECT_TRUE(result.ok() && result->exit_code == 0)
        << (result.ok() ? result->stderr_text : result.status().ToString());
    return out;
  }

  std::string WriteFile(const std::string& name, const std::string& bytes) {
    const std::string path = TempPath(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::string ReadWholeFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
  }

  void ExpectNamespaceEmpty(const std::string& what) {
    EXPECT_THAT(CtrLines({"images", "ls", "-q"}), IsEmpty()) << what;
    EXPECT_THAT(CtrLines({"content", "ls", "-q"}), IsEmpty()) << what;
    EXPECT_THAT(CtrLines({"snapshots", "ls"}, /*skip_header=*/true), IsEmpty()) << what;
    EXPECT_THAT(CtrLines({"leases", "ls", "-q"}), IsEmpty()) << what;
  }

  // Destroyed last (declared first): stops containerd and removes what the test made in it.
  std::unique_ptr<skiff::testing::PrivateContainerd> containerd_;
  std::string ns_;
  SystemRandom random_;
  std::unique_ptr<ContainerdRuntime> runtime_;
  std::string oci_tarball_;
};

TEST_F(ImageImportTest, ImportsTheOciTestImageAndRunsIt) {
  auto images = runtime_->ImportImage(oci_tarball_);
  ASSERT_TRUE(images.ok()) << images.status();
  ASSERT_EQ(images->size(), 1u);
  const ImageInfo& image = (*images)[0];
  EXPECT_EQ(image.name, skiff::testing::kTestImageRef);
  EXPECT_THAT(image.digest, StartsWith("sha256:"));
  EXPECT_THAT(image.config_digest, StartsWith("sha256:"));
  EXPECT_THAT(image.chain_id, StartsWith("sha256:"));
  EXPECT_GT(image.size, 1000000);  // The gzipped static busybox.
  EXPECT_LT(absl::Now() - image.created, absl::Minutes(5));
  EXPECT_THAT(image.config.cmd, ElementsAre("sh"));
  EXPECT_THAT(image.config.env, ElementsAre(StartsWith("PATH=")));
  EXPECT_EQ(image.config.working_dir, "/");

  EXPECT_THAT(CtrLines({"images", "ls", "-q"}), ElementsAre(skiff::testing::kTestImageRef));
  const std::string snapshots = CtrOutput({"snapshots", "ls"});
  EXPECT_THAT(snapshots, HasSubstr(image.chain_id));
  EXPECT_THAT(snapshots, HasSubstr("Committed"));
  // The gc references that keep the image's content and snapshot once the lease is gone.
  const std::string content = CtrOutput({"content", "ls"});
  EXPECT_THAT(content, HasSubstr("containerd.io/gc.ref.content.config=" + image.config_digest));
  EXPECT_THAT(content, HasSubstr("containerd.io/gc.ref.content.l.0="));
  EXPECT_THAT(content, HasSubstr("containerd.io/gc.ref.snapshot.overlayfs=" + image.chain_id));
  EXPECT_THAT(content, HasSubstr("containerd.io/uncompressed=" + image.chain_id));
  EXPECT_THAT(CtrLines({"leases", "ls", "-q"}), IsEmpty());

  EXPECT_TRUE(RunTrue(image.name, "img-oci-1").ok());

  // A second import of the same image reuses everything and re-points the same record.
  auto again = runtime_->ImportImage(oci_tarball_);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].digest, image.digest);
  EXPECT_EQ((*again)[0].chain_id, image.chain_id);
  EXPECT_THAT(CtrLines({"images", "ls", "-q"}), ElementsAre(skiff::testing::kTestImageRef));
}

TEST_F(ImageImportTest, ImportsADockerArchiveOfTheSameImage) {
  auto oci = runtime_->ImportImage(oci_tarball_);
  ASSERT_TRUE(oci.ok()) << oci.status();
  auto docker = runtime_->ImportImage(BuildDockerArchive());
  ASSERT_TRUE(docker.ok()) << docker.status();
  ASSERT_EQ(docker->size(), 1u);
  const ImageInfo& image = (*docker)[0];
  EXPECT_EQ(image.name, "skiff.local/busybox:docker");
  // Same config and layer content: same image id and snapshot; a different (made-up) manifest.
  EXPECT_EQ(image.config_digest, (*oci)[0].config_digest);
  EXPECT_EQ(image.chain_id, (*oci)[0].chain_id);
  EXPECT_NE(image.digest, (*oci)[0].digest);
  EXPECT_THAT(image.config.cmd, ElementsAre("sh"));

  const std::string images = CtrOutput({"images", "ls"});
  EXPECT_THAT(images, HasSubstr("application/vnd.docker.distribution.manifest.v2+json"));
  EXPECT_TRUE(RunTrue(image.name, "img-docker-1").ok());
}

TEST_F(ImageImportTest, ImportsADockerArchiveIntoAnEmptyNamespace) {
  auto docker = runtime_->ImportImage(BuildDockerArchive());
  ASSERT_TRUE(docker.ok()) << docker.status();
  ASSERT_EQ(docker->size(), 1u);
  EXPECT_THAT(CtrOutput({"snapshots", "ls"}), HasSubstr((*docker)[0].chain_id));
  EXPECT_TRUE(RunTrue((*docker)[0].name, "img-docker-2").ok());
}

TEST_F(ImageImportTest, ListsGetsAndRemovesImages) {
  auto imported = runtime_->ImportImage(oci_tarball_);
  ASSERT_TRUE(imported.ok()) << imported.status();

  auto listed = runtime_->ListImages();
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, skiff::testing::kTestImageRef);
  EXPECT_EQ((*listed)[0].config_digest, (*imported)[0].config_digest);
  EXPECT_EQ((*listed)[0].chain_id, (*imported)[0].chain_id);
  EXPECT_EQ((*listed)[0].size, (*imported)[0].size);

  auto got = runtime_->GetImage(skiff::testing::kTestImageRef);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->digest, (*imported)[0].digest);
  EXPECT_THAT(got->config.cmd, ElementsAre("sh"));

  auto missing = runtime_->GetImage("skiff.local/busybox:nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("skiff.local/busybox:nope"));
  // Short names are normalized: this is docker.io/library/busybox:latest, not ours.
  EXPECT_EQ(runtime_->GetImage("busybox").status().code(), absl::StatusCode::kNotFound);

  ASSERT_TRUE(runtime_->RemoveImage(skiff::testing::kTestImageRef).ok());
  EXPECT_EQ(runtime_->GetImage(skiff::testing::kTestImageRef).status().code(),
            absl::StatusCode::kNotFound);
  absl::Status again = runtime_->RemoveImage(skiff::testing::kTestImageRef);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.message(), HasSubstr(skiff::testing::kTestImageRef));
  // Removal is synchronous: the image's content and snapshot are collected with it.
  ExpectNamespaceEmpty("after RemoveImage");
}

TEST_F(ImageImportTest, BrokenTarballsAreInvalidAndLeaveNothing) {
  const std::string good = ReadWholeFile(oci_tarball_);
  ASSERT_GT(good.size(), 10000u);
  std::vector<std::pair<std::string, std::string>> cases = {
      {WriteFile("truncated.tar", good.substr(0, good.size() / 2)), "truncated"},
      {WriteFile("garbage.tar", std::string(100000, '\x5a')), "bad header checksum"},
      {BreakTarball("corrupt-layer"), "content has digest"},
      {BreakTarball("escape"), "escapes the root"},
      {BreakTarball("wrong-diff-id"), "diff id"},
  };
  for (const auto& [path, message] : cases) {
    SCOPED_TRACE(path);
    auto images = runtime_->ImportImage(path);
    EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument) << images.status();
    EXPECT_THAT(images.status().message(), HasSubstr(message));
    ExpectNamespaceEmpty(path);
  }
}

TEST_F(ImageImportTest, NestedIndexesResolveToThisPlatform) {
  auto images = runtime_->ImportImage(BreakTarball("nested-index"));
  ASSERT_TRUE(images.ok()) << images.status();
  ASSERT_EQ(images->size(), 1u);
  const ImageInfo& image = (*images)[0];
  EXPECT_EQ(image.name, skiff::testing::kTestImageRef);
  EXPECT_THAT(image.config.cmd, ElementsAre("sh"));
  // The image's own index and the two below it are kept, each referencing the next.
  int referencing = 0;
  for (const std::string& line : CtrLines({"content", "ls"}, /*skip_header=*/true)) {
    referencing += absl::StrContains(line, "containerd.io/gc.ref.content.m.0=");
  }
  EXPECT_EQ(referencing, 3);
  EXPECT_TRUE(RunTrue(image.name, "img-nested-1").ok());

  ASSERT_TRUE(runtime_->RemoveImage(image.name).ok());
  ExpectNamespaceEmpty("after removing the nested image");
  auto foreign = runtime_->ImportImage(BreakTarball("nested-foreign"));
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kNotFound) << foreign.status();
  EXPECT_THAT(foreign.status().message(), HasSubstr("has no image manifest for linux/"));
  ExpectNamespaceEmpty("after the foreign nested import");
}

TEST_F(ImageImportTest, AFailedImportLeavesEarlierImagesWhole) {
  auto good = runtime_->ImportImage(oci_tarball_);
  ASSERT_TRUE(good.ok()) << good.status();
  const std::vector<std::string> content_before = CtrLines({"content", "ls", "-q"});
  // Fails after writing blobs and preparing a snapshot; deleting its lease runs the garbage
  // collector synchronously, which must keep everything the good image references.
  auto bad = runtime_->ImportImage(BreakTarball("wrong-diff-id"));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << bad.status();
  EXPECT_EQ(CtrLines({"content", "ls", "-q"}), content_before);
  EXPECT_THAT(CtrLines({"images", "ls", "-q"}), ElementsAre(skiff::testing::kTestImageRef));
  EXPECT_THAT(CtrLines({"leases", "ls", "-q"}), IsEmpty());
  EXPECT_TRUE(RunTrue(skiff::testing::kTestImageRef, "img-after-failure").ok());
}

TEST_F(ImageImportTest, AMissingTarballIsNotFound) {
  auto images = runtime_->ImportImage(TempPath("absent.tar"));
  EXPECT_EQ(images.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(images.status().message(), HasSubstr("absent.tar"));
}

}  // namespace
}  // namespace skiff::runtime
