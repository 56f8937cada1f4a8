// RegistrySource: the blobs of one image reference, fetched from its registry for the
// ImageImporter. Resolve() fetches what the tag or digest names; manifests and configs are read
// whole (from the content store when it has them, so a repeated pull fetches no blob); layers
// are downloaded on demand into `pull_dir` and checked against their digest before containerd
// sees a byte, so only verified content is written. A download cut off by the network is
// resumed with HTTP Range, within the pull (a few attempts) and by the next pull (the partial
// file stays in pull_dir); a download whose digest is wrong is deleted. Progress goes to the
// handler. Borrows the registry client and the containerd client; one thread.
#ifndef SKIFF_SRC_RUNTIME_REGISTRY_SOURCE_H_
#define SKIFF_SRC_RUNTIME_REGISTRY_SOURCE_H_

#include <functional>
#include <future>
#include <mutex>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/containerd_client.h"
#include "runtime/image_importer.h"
#include "runtime/image_manifest.h"
#include "skiff/registry/registry_client.h"
#include "skiff/runtime/container_runtime.h"

namespace skiff::runtime {

class RegistrySource final : public ImageContentSource {
 public:
  // Makes a client of the same repository, for a download on another thread.
  using ClientFactory = std::function<std::unique_ptr<registry::RegistryClient>()>;

  RegistrySource(registry::RegistryClient* registry, ContainerdClient* client,
                 std::string pull_dir, PullProgressHandler progress,
                 ClientFactory factory = nullptr);
  // Removes the downloads that completed (the content store has them now, or the pull failed
  // for another reason and they are verified, so worth nothing more than a new fetch).
  ~RegistrySource() override;

  // The image's name and the manifest or index its tag or digest names. DataLoss when a
  // reference by digest gets content with another digest.
  absl::StatusOr<ImageTarget> Resolve();

  absl::StatusOr<std::string> ReadMetadata(const Descriptor& descriptor,
                                           absl::string_view what) override;
  absl::StatusOr<Blob> OpenBlob(const Descriptor& descriptor, absl::string_view what) override;
  // Starts downloading the layers the content store lacks, a few at a time on threads of their
  // own (as ctr does), while the importer writes and unpacks them in order.
  void Prefetch(const std::vector<Descriptor>& layers, absl::string_view what) override;

 private:
  // Downloads the blob into a file of pull_dir, verified; returns its path. Any thread.
  absl::StatusOr<std::string> Download(registry::RegistryClient* registry,
                                       const Descriptor& descriptor, absl::string_view what);
  void Report(const Descriptor& descriptor, absl::string_view what, int64_t fetched, bool present,
              bool done);

  registry::RegistryClient* registry_;
  ContainerdClient* client_;
  std::string pull_dir_;
  PullProgressHandler progress_;
  ClientFactory factory_;
  std::map<std::string, std::string> metadata_;  // Digest -> verified bytes.
  // Prefetches in flight or done, by digest; waited for by the destructor.
  std::map<std::string, std::shared_future<absl::StatusOr<std::string>>> prefetched_;
  std::mutex mu_;                                // Guards downloads_ and progress calls.
  std::vector<std::string> downloads_;           // Complete files to remove.
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_RUNTIME_REGISTRY_SOURCE_H_
