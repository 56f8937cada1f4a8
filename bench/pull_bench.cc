// pull_bench: how long a pull of a multi-layer image from a local registry takes through skiff's
// registry client (ContainerdRuntime::PullImage, what skiffd runs for a task and pull-image)
// against `ctr images pull --plain-http` of the same image on the same private containerd, in
// one run.
//
// Setup: a private containerd (harness.h, without skiffd), a Debian docker-registry on 127.0.0.1
// (tests/support), and an image of 5 layers (the busybox test image's layer and 4 gzipped layers
// of 8 MiB of random data each) pushed with skopeo. Each round pulls with skiff into one namespace
// and with ctr into another, alternating which goes first. Each pull's image is removed
// (synchronously) before the next pull starts, and the bench checks that nothing of it is left in
// the content store: containerd shares a blob that one namespace holds with a writer in another
// without a byte being sent, so otherwise the second pull of a round would fetch nothing. Every
// pull thus fetches and unpacks every blob. One warm-up round is not counted.
//
// Run as root: build/bin/pull_bench [--runs N]. Prints min/median/max and the ratio of the
// medians. Main thread only.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "harness.h"
#include "skiff/base/random.h"
#include "skiff/containerd/containerd_runtime.h"
#include "support/local_registry.h"

namespace skiff::bench {
namespace {

constexpr char kMakeLayers[] = R"PY(
import gzip, hashlib, io, json, os, sys, tarfile
src, dst = sys.argv[1:]
with tarfile.open(src) as tar:
    blobs = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}
def put(data):
    digest = hashlib.sha256(data).hexdigest()
    blobs["blobs/sha256/" + digest] = data
    return "sha256:" + digest, len(data)
index = json.loads(blobs["index.json"])
entry = index["manifests"][0]
manifest = json.loads(blobs["blobs/sha256/" + entry["digest"][7:]])
config = json.loads(blobs["blobs/sha256/" + manifest["config"]["digest"][7:]])
for i in range(4):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        data = os.urandom(8 << 20)
        info = tarfile.TarInfo("data/blob%d" % i)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    layer = raw.getvalue()
    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(layer).hexdigest())
    digest, size = put(gzip.compress(layer, 1, mtime=0))
    manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                               "digest": digest, "size": size})
manifest["config"]["digest"], manifest["config"]["size"] = put(json.dumps(config).encode())
entry["digest"], entry["size"] = put(json.dumps(manifest).encode())
entry["annotations"] = {"org.opencontainers.image.ref.name": "layers"}
blobs["index.json"] = json.dumps(index).encode()
with tarfile.open(dst, "w") as out:
    for name, data in sorted(blobs.items()):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
)PY";

int Fail(const std::string& what) {
  std::cerr << "pull_bench: " << what << "\n";
  return 1;
}

int Main(int argc, char** argv) {
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--runs" && i + 1 < argc && absl::SimpleAtoi(argv[i + 1], &runs)) {
      ++i;
    } else {
      return Fail("usage: pull_bench [--runs N]");
    }
  }
  if (std::string missing = skiff::testing::MissingRegistryTools(); !missing.empty()) {
    return Fail(missing);
  }
  // No skiffd: skiff's side is the containerd adapter in this process.
  BenchHarness::Options options = {
      .name = "pull_bench", .start_skiffd = false, .import_for_ctr = false};
  absl::StatusOr<std::unique_ptr<BenchHarness>> harness = BenchHarness::Start(options);
  if (!harness.ok()) return Fail(harness.status().ToString());
  skiff::testing::PrivateContainerd& containerd = (*harness)->containerd();
  auto registry = skiff::testing::LocalRegistry::Start({});
  if (!registry.ok()) return Fail(registry.status().ToString());
  const std::string layers = containerd.dir() + "/layers.tar";
  auto made = skiff::testing::RunCommand(
      {"python3", "-c", kMakeLayers, (*harness)->tarball(), layers}, absl::Seconds(120));
  if (!made.ok() || made->exit_code != 0) return Fail("making the multi-layer image failed");
  if (absl::Status s = (*registry)->Push("oci-archive:" + layers, "bench/layers:1"); !s.ok()) {
    return Fail(s.ToString());
  }
  const std::string ref = (*registry)->host() + "/bench/layers:1";
  const std::string& skiff_ns = (*harness)->skiff_ns();
  const std::string& ctr_ns = (*harness)->ctr_ns();
  SystemRandom random;
  runtime::ContainerdRuntime runtime({.address = containerd.socket_path(),
                                      .ns = skiff_ns,
                                      .work_dir = containerd.dir() + "/skiff-work",
                                      .random = &random});
  auto time_ms = [](auto fn) {
    const auto start = std::chrono::steady_clock::now();
    const bool ok = fn();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count();
    return ok ? ms : -1.0;
  };
  auto skiff_pull = [&] {
    auto image = runtime.PullImage(ref, std::nullopt, nullptr);
    if (!image.ok()) std::cerr << image.status() << "\n";
    return image.ok();
  };
  auto ctr_pull = [&] {
    absl::Status s = containerd.Ctr({"-n", ctr_ns, "images", "pull", "--plain-http", ref}, nullptr,
                                    absl::Seconds(300));
    if (!s.ok()) std::cerr << s << "\n";
    return s.ok();
  };
  // Removes both images and says whether the content store is empty again (for both
  // namespaces: a blob is shared between them while either holds it).
  auto clean = [&] {
    runtime.RemoveImage(ref).IgnoreError();
    containerd.Ctr({"-n", ctr_ns, "images", "rm", "--sync", ref}).IgnoreError();
    for (const std::string& ns : {skiff_ns, ctr_ns}) {
      std::string out;
      if (!containerd.Ctr({"-n", ns, "content", "ls", "-q"}, &out).ok() || !out.empty()) {
        std::cerr << "content left in " << ns << ": " << out << "\n";
        return false;
      }
    }
    return true;
  };
  Row skiff_ms{"skiff PullImage (5 layers, ~33 MiB)", {}};
  Row ctr_ms{"ctr images pull --plain-http", {}};
  for (int round = 0; round <= runs; ++round) {
    double s = 0, c = 0;
    bool clean_ok = true;
    if (round % 2 == 0) {
      s = time_ms(skiff_pull);
      clean_ok &= clean();
      c = time_ms(ctr_pull);
      clean_ok &= clean();
    } else {
      c = time_ms(ctr_pull);
      clean_ok &= clean();
      s = time_ms(skiff_pull);
      clean_ok &= clean();
    }
    if (s < 0 || c < 0) return Fail("a pull failed");
    if (!clean_ok) return Fail("removing the images left content behind");
    if (round == 0) continue;  // Warm-up.
    skiff_ms.samples.push_back(s);
    ctr_ms.samples.push_back(c);
  }
  auto row = [](const Row& r, double ratio) {
    std::printf("    %-44s %4zu %9.1f %9.1f %9.1f %8.2f\n", r.name.c_str(), r.samples.size(),
                r.Min(), r.Median(), r.Max(), ratio);
  };
  std::printf("    %-44s %4s %9s %9s %9s %8s\n", "", "runs", "min ms", "median ms", "max ms",
              "ratio");
  row(skiff_ms, skiff_ms.Median() / ctr_ms.Median());
  row(ctr_ms, 1.0);
  std::printf("\nratio skiff/ctr of the medians: %.2f\n", skiff_ms.Median() / ctr_ms.Median());
  return 0;
}

}  // namespace
}  // namespace skiff::bench

int main(int argc, char** argv) { return skiff::bench::Main(argc, argv); }
