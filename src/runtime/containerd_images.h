// ContainerdImages: the image half of the containerd adapter. Import of OCI-layout and
// docker-archive tarballs (blobs into the content store under a lease, gc labels as containerd's
// own client sets them, unpacked layer by layer into the snapshotter), listing, lookup, removal.
// Thread-safe.
#ifndef SKIFF_SRC_RUNTIME_CONTAINERD_IMAGES_H_
#define SKIFF_SRC_RUNTIME_CONTAINERD_IMAGES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "skiff/runtime/containerd_connection.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {

class ContainerdImages {
 public:
  // snapshotter: the snapshotter layers are unpacked into ("overlayfs").
  ContainerdImages(const ContainerdConnection* connection, std::string snapshotter);

  absl::StatusOr<std::vector<ImageInfo>> Import(const std::string& tarball_path);
  absl::StatusOr<std::vector<ImageInfo>> List();
  absl::StatusOr<ImageInfo> Get(const std::string& reference);
  absl::Status Remove(const std::string& reference);

 private:
  const ContainerdConnection* connection_;
  std::string snapshotter_;
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_RUNTIME_CONTAINERD_IMAGES_H_
