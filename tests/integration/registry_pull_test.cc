// Registry pulls in the containerd adapter against a real (private) containerd and a real
// Debian docker-registry on 127.0.0.1, with the busybox test image pushed by skopeo: by tag and
// by digest, a repeated pull that fetches no blob, basic auth with the credentials file, a
// multi-platform index, a registry that serves a corrupt layer (refused, nothing left), and a
// connection cut mid-layer (clear error; containerd keeps what arrived and the next pull
// resumes there). All traffic is
// loopback; the registry, the proxy and containerd are torn down by their fixtures.
#include <sys/utsname.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/containerd/containerd_runtime.h"
#include "skiff/registry/auth.h"
#include "support/containerd_fixture.h"
#include "support/local_registry.h"

namespace skiff::runtime {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

// Makes a two-platform OCI layout from the test tarball: the real image for this host and a
// copy whose config says another architecture (listed first, so selection must skip it).
constexpr char kMakeMultiPlatform[] = R"PY(
import hashlib, io, json, sys, tarfile
src, dst, other = sys.argv[1:]
with tarfile.open(src) as tar:
    blobs = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}
def put(obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).hexdigest()
    blobs["blobs/sha256/" + digest] = data
    return "sha256:" + digest, len(data)
index = json.loads(blobs["index.json"])
entry = index["manifests"][0]
manifest = json.loads(blobs["blobs/sha256/" + entry["digest"][7:]])
config = json.loads(blobs["blobs/sha256/" + manifest["config"]["digest"][7:]])
host = {"os": config["os"], "architecture": config["architecture"]}
config["architecture"] = other
config["config"]["Env"] = config["config"].get("Env", []) + ["FOREIGN=1"]
foreign = dict(manifest)
foreign["config"] = dict(manifest["config"])
foreign["config"]["digest"], foreign["config"]["size"] = put(config)
fdigest, fsize = put(foreign)
new_index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": fdigest, "size": fsize,
     "platform": {"os": "linux", "architecture": other}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": entry["digest"],
     "size": entry["size"], "platform": host}]}
idigest, isize = put(new_index)
blobs["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [
    {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": idigest, "size": isize,
     "annotations": {"org.opencontainers.image.ref.name": "multi"}}]}).encode()
print(foreign["config"]["digest"])
with tarfile.open(dst, "w") as out:
    for name, data in sorted(blobs.items()):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
)PY";

std::string HostArchitectureForTest() {
  utsname u{};
  uname(&u);
  return std::string(u.machine) == "aarch64" ? "arm64" : "amd64";
}

class RegistryPullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIFF_REQUIRE_ROOT_AND_CONTAINERD();
    SKIFF_REQUIRE_REGISTRY_TOOLS();
    auto containerd = skiff::testing::PrivateContainerd::Start();
    ASSERT_TRUE(containerd.ok()) << containerd.status();
    containerd_ = *std::move(containerd);
    ns_ = containerd_->UniqueNamespace("skiff-pull");
    work_dir_ = containerd_->dir() + "/skiff-work";
    runtime_ = std::make_unique<ContainerdRuntime>(ContainerdRuntimeOptions{
        .address = containerd_->socket_path(), .ns = ns_, .work_dir = work_dir_,
        .random = &random_});
    auto tarball = skiff::testing::TestImageTarball();
    ASSERT_TRUE(tarball.ok()) << tarball.status();
    tarball_ = *tarball;
  }

  void StartRegistry(skiff::testing::LocalRegistry::Options options = {}) {
    absl::Status started = skiff::testing::StartRegistryBehindProxy(options, &registry_, &proxy_);
    ASSERT_TRUE(started.ok()) << started;
  }

  // The reference of `repo_tag` through the proxy.
  std::string Ref(const std::string& repo_tag) const {
    return absl::StrCat(proxy_->host(), "/", repo_tag);
  }

  std::vector<std::string> CtrLines(std::vector<std::string> args, bool skip_header = false) {
    args.insert(args.begin(), {"-n", ns_});
    std::string output;
    absl::Status status = containerd_->Ctr(args, &output);
    EXPECT_TRUE(status.ok()) << status;
    std::vector<std::string> lines = absl::StrSplit(output, '\n', absl::SkipWhitespace());
    if (skip_header && !lines.empty()) lines.erase(lines.begin());
    return lines;
  }

  void ExpectNamespaceEmpty(const std::string& what) {
    EXPECT_THAT(CtrLines({"images", "ls", "-q"}), IsEmpty()) << what;
    EXPECT_THAT(CtrLines({"content", "ls", "-q"}), IsEmpty()) << what;
    EXPECT_THAT(CtrLines({"snapshots", "ls"}, /*skip_header=*/true), IsEmpty()) << what;
    EXPECT_THAT(CtrLines({"leases", "ls", "-q"}), IsEmpty()) << what;
  }

  int BlobRequests() const {
    int n = 0;
    for (const std::string& r : proxy_->requests()) n += absl::StrContains(r, "/blobs/");
    return n;
  }

  // The digest of the image's (only) layer, read back from containerd.
  std::string LayerDigest(const ImageInfo& image) {
    for (const std::string& line : CtrLines({"content", "ls"}, true)) {
      if (absl::StrContains(line, "containerd.io/uncompressed=")) {
        return std::string(line.substr(0, line.find_first_of(" \t")));
      }
    }
    ADD_FAILURE() << "no layer in the content store of " << image.name;
    return "";
  }

  absl::Status RunTrue(const std::string& image, const std::string& id) {
    return containerd_->Ctr({"-n", ns_, "run", "--rm", "--runc-root", containerd_->runc_root(),
                             "--fifo-dir", containerd_->fifo_dir(), image, id, "/bin/true"});
  }

  std::unique_ptr<skiff::testing::PrivateContainerd> containerd_;
  std::unique_ptr<skiff::testing::LocalRegistry> registry_;
  std::unique_ptr<skiff::testing::LoopbackProxy> proxy_;
  std::string ns_;
  std::string work_dir_;
  SystemRandom random_;
  std::unique_ptr<ContainerdRuntime> runtime_;
  std::string tarball_;
};

TEST_F(RegistryPullTest, PullsByTagRunsItAndASecondPullFetchesNoBlob) {
  StartRegistry();
  ASSERT_TRUE(registry_->Push("oci-archive:" + tarball_, "skiff/busybox:test").ok());
  std::vector<PullProgress> progress;
  auto image = runtime_->PullImage(Ref("skiff/busybox:test"), std::nullopt,
                                   [&](const PullProgress& p) { progress.push_back(p); });
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_EQ(image->name, Ref("skiff/busybox:test"));
  EXPECT_THAT(image->digest, StartsWith("sha256:"));
  EXPECT_THAT(image->chain_id, StartsWith("sha256:"));
  EXPECT_THAT(image->config.cmd, Contains("sh"));
  ASSERT_FALSE(progress.empty());
  EXPECT_TRUE(progress.back().done);
  bool layer_done = false;
  for (const PullProgress& p : progress) {
    if (p.kind == "layer" && p.done && !p.present && p.fetched == p.size) layer_done = true;
  }
  EXPECT_TRUE(layer_done);
  EXPECT_THAT(CtrLines({"images", "ls", "-q"}), Contains(Ref("skiff/busybox:test")));
  EXPECT_THAT(CtrLines({"leases", "ls", "-q"}), IsEmpty());
  EXPECT_TRUE(RunTrue(image->name, "pulled-1").ok());

  // Again: the manifest is asked for (the tag may have moved), no blob is.
  proxy_->ClearRequests();
  progress.clear();
  auto again = runtime_->PullImage(Ref("skiff/busybox:test"), std::nullopt,
                                   [&](const PullProgress& p) { progress.push_back(p); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->digest, image->digest);
  EXPECT_EQ(BlobRequests(), 0) << absl::StrJoin(proxy_->requests(), "\n");
  EXPECT_THAT(proxy_->requests(), Contains(HasSubstr("/manifests/test")));
  for (const PullProgress& p : progress) EXPECT_TRUE(p.present) << p.digest;
  // No ingest of the downloads stays in containerd.
  EXPECT_THAT(CtrLines({"content", "active"}, /*skip_header=*/true), IsEmpty());
}

TEST_F(RegistryPullTest, PullsByDigestAndAnUnknownOneIsNotFound) {
  StartRegistry();
  ASSERT_TRUE(registry_->Push("oci-archive:" + tarball_, "skiff/busybox:test").ok());
  auto by_tag = runtime_->PullImage(Ref("skiff/busybox:test"), std::nullopt, nullptr);
  ASSERT_TRUE(by_tag.ok()) << by_tag.status();
  const std::string pinned = Ref("skiff/busybox@" + by_tag->digest);
  auto by_digest = runtime_->PullImage(pinned, std::nullopt, nullptr);
  ASSERT_TRUE(by_digest.ok()) << by_digest.status();
  EXPECT_EQ(by_digest->name, pinned);
  EXPECT_EQ(by_digest->digest, by_tag->digest);

  auto unknown = runtime_->PullImage(
      Ref("skiff/busybox@sha256:" + std::string(64, 'a')), std::nullopt, nullptr);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("MANIFEST_UNKNOWN"));
  auto no_repo = runtime_->PullImage(Ref("skiff/nothing:here"), std::nullopt, nullptr);
  EXPECT_EQ(no_repo.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(no_repo.status().message(), HasSubstr("skiff/nothing:here"));
}

TEST_F(RegistryPullTest, BasicAuthWithTheCredentialsFile) {
  StartRegistry({.username = "deploy", .password = "pull-secret-42"});
  ASSERT_TRUE(registry_->Push("oci-archive:" + tarball_, "skiff/private:1").ok());
  auto anonymous = runtime_->PullImage(Ref("skiff/private:1"), std::nullopt, nullptr);
  EXPECT_EQ(anonymous.status().code(), absl::StatusCode::kPermissionDenied)
      << anonymous.status();

  const std::string path = containerd_->dir() + "/credentials.json";
  std::ofstream(path) << R"({"secrets": {"arn:aws:secretsmanager:local:000000000000:secret:reg": )"
                      << R"({"username": "deploy", "password": "pull-secret-42"}}})";
  auto file = registry::CredentialsFile::Load(path);
  ASSERT_TRUE(file.ok()) << file.status();
  auto credentials = file->ForSecret("arn:aws:secretsmanager:local:000000000000:secret:reg");
  ASSERT_TRUE(credentials.ok());
  auto wrong = runtime_->PullImage(Ref("skiff/private:1"),
                                   registry::Credentials{"deploy", "not-it"}, nullptr);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(wrong.status().message(), Not(HasSubstr("not-it")));
  auto image = runtime_->PullImage(Ref("skiff/private:1"), *credentials, nullptr);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_TRUE(RunTrue(image->name, "private-1").ok());
}

TEST_F(RegistryPullTest, AMultiPlatformIndexResolvesToThisPlatform) {
  StartRegistry();
  const std::string multi = containerd_->dir() + "/multi.tar";
  const std::string other = HostArchitectureForTest() == "arm64" ? "amd64" : "arm64";
  auto made = skiff::testing::RunCommand({"python3", "-c", kMakeMultiPlatform, tarball_, multi, other},
                                         absl::Seconds(60));
  ASSERT_TRUE(made.ok() && made->exit_code == 0)
      << (made.ok() ? made->stderr_text : made.status().ToString());
  const std::string foreign_config(absl::StripAsciiWhitespace(made->stdout_text));
  ASSERT_TRUE(registry_->Push("oci-archive:" + multi, "skiff/multi:1", {"--all"}).ok());
  auto image = runtime_->PullImage(Ref("skiff/multi:1"), std::nullopt, nullptr);
  ASSERT_TRUE(image.ok()) << image.status();
  EXPECT_NE(image->config_digest, foreign_config);
  EXPECT_THAT(image->config.env, Not(Contains("FOREIGN=1")));
  EXPECT_THAT(proxy_->requests(), Not(Contains(HasSubstr(foreign_config))));
  EXPECT_TRUE(RunTrue(image->name, "multi-1").ok());
}

TEST_F(RegistryPullTest, ACorruptLayerIsRefusedAndNothingIsLeft) {
  StartRegistry();
  ASSERT_TRUE(registry_->Push("oci-archive:" + tarball_, "skiff/busybox:test").ok());
  // Find the layer: pull once, note it, then remove everything again.
  auto first = runtime_->PullImage(Ref("skiff/busybox:test"), std::nullopt, nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string layer = LayerDigest(*first);
  ASSERT_TRUE(runtime_->RemoveImage(first->name).ok());
  ExpectNamespaceEmpty("after removing the first pull");

  {
    std::fstream blob(registry_->BlobPath(layer), std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(blob.good()) << registry_->BlobPath(layer);
    blob.seekg(1000);
    char c = 0;
    blob.read(&c, 1);
    c = static_cast<char>(c ^ 0xff);
    blob.seekp(1000);
    blob.write(&c, 1);
  }
  auto corrupt = runtime_->PullImage(Ref("skiff/busybox:test"), std::nullopt, nullptr);
  EXPECT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss) << corrupt.status();
  EXPECT_THAT(corrupt.status().message(), HasSubstr(layer));
  EXPECT_THAT(corrupt.status().message(), HasSubstr("refused"));
  ExpectNamespaceEmpty("after the corrupt pull");
  EXPECT_THAT(CtrLines({"content", "active"}, /*skip_header=*/true), IsEmpty());
}

TEST_F(RegistryPullTest, ADroppedConnectionFailsClearlyAndTheNextPullResumes) {
  StartRegistry();
  ASSERT_TRUE(registry_->Push("oci-archive:" + tarball_, "skiff/busybox:test").ok());
  auto first = runtime_->PullImage(Ref("skiff/busybox:test"), std::nullopt, nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string layer = LayerDigest(*first);
  ASSERT_TRUE(runtime_->RemoveImage(first->name).ok());

  // Every response for the layer stops after 64 KiB: three attempts, each resuming.
  proxy_->CutBlob(layer, 64 << 10);
  proxy_->ClearRequests();
  auto cut = runtime_->PullImage(Ref("skiff/busybox:test"), std::nullopt, nullptr);
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kUnavailable) << cut.status();
  EXPECT_THAT(cut.status().message(), HasSubstr("connection dropped"));
  EXPECT_THAT(cut.status().message(), HasSubstr(layer));
  EXPECT_THAT(cut.status().message(), HasSubstr("196608 of"));
  EXPECT_THAT(proxy_->requests(), Contains(HasSubstr("Range: bytes=65536-")));
  EXPECT_THAT(CtrLines({"images", "ls", "-q"}), IsEmpty());
  // What arrived is kept by containerd as an ingest of its own, outside the failed pull's lease.
  EXPECT_THAT(CtrLines({"leases", "ls", "-q"}), IsEmpty());
  EXPECT_THAT(CtrLines({"content", "active"}, /*skip_header=*/true),
              ElementsAre(StartsWith("skiff-pull-" + layer)));

  proxy_->CutBlob("", 0);
  proxy_->ClearRequests();
  auto retried = runtime_->PullImage(Ref("skiff/busybox:test"), std::nullopt, nullptr);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->digest, first->digest);
  // The bytes of the failed pull were kept: this one asked only for the rest.
  EXPECT_THAT(proxy_->requests(), Contains(HasSubstr("Range: bytes=196608-")));
  EXPECT_THAT(CtrLines({"content", "active"}, /*skip_header=*/true), IsEmpty());
  EXPECT_TRUE(RunTrue(retried->name, "resumed-1").ok());
}

}  // namespace
}  // namespace skiff::runtime
