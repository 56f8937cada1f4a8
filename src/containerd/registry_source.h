// RegistrySource: the blobs of one image reference, fetched from its registry for the
// ImageImporter. Resolve() fetches what the tag or digest names; manifests and configs are read
// whole (from the content store when it has them, so a repeated pull fetches no blob) and
// checked against their digests. Layers stream from the registry straight into a containerd
// ingest under the pull's lease, a few at a time, and containerd's commit checks their digests:
// a layer whose bytes do not match is aborted and refused (DataLoss). A download cut off by the
// network is resumed with HTTP Range: within the pull (a few attempts), and by the next pull,
// since the ingest of a failed download is handed to containerd to keep for a day. Progress
// goes to the handler. Borrows the registry client and the containerd client.
#ifndef SKIFF_SRC_CONTAINERD_REGISTRY_SOURCE_H_
#define SKIFF_SRC_CONTAINERD_REGISTRY_SOURCE_H_

#include <functional>
#include <future>
#include <mutex>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "containerd/containerd_client.h"
#include "containerd/image_importer.h"
#include "containerd/image_manifest.h"
#include "skiff/registry/registry_client.h"
#include "skiff/runtime/container_runtime.h"

namespace skiff::runtime {

class RegistrySource final : public ImageContentSource {
 public:
  // Makes a client of the same repository, for a download on another thread.
  using ClientFactory = std::function<std::unique_ptr<registry::RegistryClient>()>;

  RegistrySource(registry::RegistryClient* registry, ContainerdClient* client,
                 PullProgressHandler progress, ClientFactory factory = nullptr);
  // Waits for the downloads in flight.
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
  // Stores the blob in the content store under the pull's lease, fetching what it lacks.
  // Any thread.
  absl::Status Download(registry::RegistryClient* registry, const Descriptor& descriptor,
                        absl::string_view what);
  void Report(const Descriptor& descriptor, absl::string_view what, int64_t fetched, bool present,
              bool done);

  registry::RegistryClient* registry_;
  ContainerdClient* client_;
  PullProgressHandler progress_;
  ClientFactory factory_;
  std::map<std::string, std::string> metadata_;  // Digest -> verified bytes.
  // Prefetches in flight or done, by digest; waited for by the destructor.
  std::map<std::string, std::shared_future<absl::Status>> prefetched_;
  std::mutex mu_;  // Serializes progress calls.
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_REGISTRY_SOURCE_H_
