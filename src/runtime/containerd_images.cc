#include "containerd_images.h"

#include <utility>

namespace skiff::runtime {

ContainerdImages::ContainerdImages(const ContainerdConnection* connection, std::string snapshotter)
    : connection_(connection), snapshotter_(std::move(snapshotter)) {}

absl::StatusOr<std::vector<ImageInfo>> ContainerdImages::Import(const std::string&) {
  return absl::UnimplementedError("image import: not yet");
}
absl::StatusOr<std::vector<ImageInfo>> ContainerdImages::List() {
  return absl::UnimplementedError("image list: not yet");
}
absl::StatusOr<ImageInfo> ContainerdImages::Get(const std::string&) {
  return absl::UnimplementedError("image get: not yet");
}
absl::Status ContainerdImages::Remove(const std::string&) {
  return absl::UnimplementedError("image remove: not yet");
}

}  // namespace skiff::runtime
