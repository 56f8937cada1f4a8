// ContainerdImages: the image half of the containerd adapter. Import of OCI-layout and
// docker-archive tarballs and pulls from registries (blobs into the content store under a
// lease, gc labels as containerd's own client sets them, unpacked layer by layer into the
// snapshotter), listing, lookup, removal.
// Thread-safe.
#ifndef SKIFF_SRC_CONTAINERD_CONTAINERD_IMAGES_H_
#define SKIFF_SRC_CONTAINERD_CONTAINERD_IMAGES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "containerd/containerd_client.h"
#include "containerd/image_importer.h"
#include "skiff/base/random.h"
#include "skiff/containerd/containerd_connection.h"
#include "skiff/registry/auth.h"
#include "skiff/registry/registry_client.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {

class ContainerdImages {
 public:
  // snapshotter: the snapshotter layers are unpacked into ("overlayfs"). `random` (thread-safe)
  // names leases and unpack snapshots.
  ContainerdImages(const ContainerdConnection* connection, std::string snapshotter,
                   registry::RegistryOptions registry_options, RandomSource* random);

  absl::StatusOr<std::vector<ImageInfo>> Import(const std::string& tarball_path);
  absl::StatusOr<ImageInfo> Pull(const std::string& reference,
                                 const std::optional<registry::Credentials>& credentials,
                                 const PullProgressHandler& progress);
  absl::StatusOr<std::vector<ImageInfo>> List();
  absl::StatusOr<ImageInfo> Get(const std::string& reference);
  absl::Status Remove(const std::string& reference);

 private:
  // Writes what `targets` need from `source` under a new lease of `client`; on error nothing of
  // it is left.
  absl::StatusOr<std::vector<ImageInfo>> Store(ContainerdClient& client, ImageContentSource& source,
                                               std::vector<ImageTarget> targets);
  // What Describe reads for `record` (its manifest, config and layers), from the cache of
  // descriptions by target digest when it is there.
  absl::StatusOr<ImageInfo> DescribeCached(ContainerdClient& client, const ImageRecord& record);

  const ContainerdConnection* connection_;
  std::string snapshotter_;
  registry::RegistryOptions registry_options_;
  RandomSource* random_;
  // Image descriptions by the digest of the record's target. What is stored under a digest never
  // changes, so neither does what Describe reads from it: a task launch that looks its image up
  // twice (GetImage, then CreateContainer) reads the blobs once, then only the image record.
  absl::Mutex described_mu_;
  absl::flat_hash_map<std::string, ImageInfo> described_ ABSL_GUARDED_BY(described_mu_);
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_CONTAINERD_IMAGES_H_
