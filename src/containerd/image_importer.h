// ImageImporter: the containerd half of getting an image in, shared by tarball import and
// registry pull, the client work that containerd 1.6 leaves to its clients. Given the image
// targets (names and the index or manifest each points at) and an ImageContentSource that can
// produce their blobs, it writes the blobs the host platform needs into the content store
// (verified against their digests; blobs already stored are not read again), sets the gc labels
// containerd's client sets, unpacks the layers into the snapshotter by chain id, and creates or
// updates the image records.
//
// All of that runs under the lease of the ContainerdClient it is given, so GC cannot take
// half-imported content, and deleting the lease undoes it. The owner (ContainerdImages) makes
// one per import or pull, on one thread, and on failure calls Rollback() and then deletes the
// lease.
#ifndef SKIFF_SRC_CONTAINERD_IMAGE_IMPORTER_H_
#define SKIFF_SRC_CONTAINERD_IMAGE_IMPORTER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "containerd/containerd_client.h"
#include "containerd/image_manifest.h"
#include "skiff/base/random.h"

namespace skiff::runtime {

// An image name and what it points at.
struct ImageTarget {
  std::string name;  // Normalized reference.
  Descriptor target;
};

// Where the bytes of an image's blobs come from: a tarball (ArchiveSource) or a registry
// (RegistrySource). Used by one importer on one thread.
class ImageContentSource {
 public:
  struct Blob {
    ContainerdClient::BlobReader read;  // Called only if the content store lacks the blob.
    std::string name;                   // For error messages: "layer sha256:... (...)".
    bool verified = false;              // The source checks the digest before handing bytes.
    // The source has stored the blob itself, under the import's lease; `read` is unset.
    bool stored = false;
  };

  virtual ~ImageContentSource() = default;
  // A metadata blob (index, manifest, config), read whole and checked against its digest.
  virtual absl::StatusOr<std::string> ReadMetadata(const Descriptor& descriptor,
                                                   absl::string_view what) = 0;
  // How to read the blob, for ContainerdClient::WriteBlob.
  virtual absl::StatusOr<Blob> OpenBlob(const Descriptor& descriptor, absl::string_view what) = 0;
  // A hint that these blobs will be opened next, in order; a source may start fetching them.
  virtual void Prefetch(const std::vector<Descriptor>& /*blobs*/, absl::string_view /*what*/) {}
};

class ImageImporter {
 public:
  // Borrows all four; `client` must carry the import's lease. `random` names unpack snapshots.
  ImageImporter(ContainerdClient* client, std::string snapshotter, ImageContentSource* source,
                RandomSource* random);

  // The image records for `targets` on this host's platform, created or updated.
  absl::StatusOr<std::vector<ImageRecord>> Run(std::vector<ImageTarget> targets);

  // Undoes the image records Run() created or re-pointed (best effort). Content and snapshots
  // are the lease's to undo.
  void Rollback();

 private:
  // Imports what `target` (an index or a manifest) needs on this platform; `depth` counts the
  // indexes above it.
  absl::Status ImportTarget(Descriptor& target, int depth = 0);
  absl::Status ImportManifest(const Descriptor& manifest);
  // Makes sure the snapshot `chain_id` (`layer` applied onto `parent`) exists and is held by
  // the lease.
  absl::Status Unpack(const Descriptor& layer, const std::string& diff_id,
                      const std::string& parent, const std::string& chain_id);
  absl::Status UnpackLayer(const Descriptor& layer, const std::string& diff_id,
                           const std::string& parent, const std::string& chain_id);
  absl::Status WriteBlob(const Descriptor& descriptor, absl::string_view what);

  absl::StatusOr<ImageRecord> StoreImage(const ImageTarget& named);

  ContainerdClient* client_;
  std::string snapshotter_;
  ImageContentSource* source_;
  RandomSource* random_;
  Platform platform_;
  std::map<std::string, bool> written_;               // Digests already in the content store.
  std::vector<std::string> created_;                  // Image names Run() created.
  std::vector<ImageRecord> replaced_;                 // Records Run() re-pointed, as they were.
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_IMAGE_IMPORTER_H_
