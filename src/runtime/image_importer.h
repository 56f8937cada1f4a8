// ImageImporter: one import of an image tarball into containerd, the client work that
// containerd 1.6 leaves to its clients. It reads an OCI image layout or a docker-archive
// through a TarArchive, writes the blobs the host platform needs into the content store (a
// Docker schema2 manifest is made up for docker-archive images, as containerd's importer
// does), sets the gc labels containerd's client sets, unpacks the layers into the snapshotter
// by chain id, and creates or updates the image records.
//
// All of that runs under the lease of the ContainerdClient it is given, so GC cannot take
// half-imported content, and deleting the lease undoes it. The owner (ContainerdImages) makes
// one per import, on one thread, and on failure calls Rollback() and then deletes the lease.
#ifndef SKIFF_SRC_RUNTIME_IMAGE_IMPORTER_H_
#define SKIFF_SRC_RUNTIME_IMAGE_IMPORTER_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "runtime/containerd_client.h"
#include "runtime/image_archive.h"
#include "runtime/image_manifest.h"

namespace skiff::runtime {

class ImageImporter {
 public:
  // Borrows all three; `client` must carry the import's lease.
  ImageImporter(ContainerdClient* client, std::string snapshotter, const TarArchive* archive);

  // The image records the archive names for this host's platform, created or updated.
  absl::StatusOr<std::vector<ImageRecord>> Run();

  // Undoes the image records Run() created or re-pointed (best effort). Content and snapshots
  // are the lease's to undo.
  void Rollback();

 private:
  // A blob the import can write: a regular file of the archive or bytes made up here.
  struct BlobSource {
    const TarEntry* entry = nullptr;
    std::string data;
  };
  struct NamedTarget {
    std::string name;
    Descriptor target;
  };

  absl::StatusOr<std::vector<NamedTarget>> ReadOciLayout();
  absl::StatusOr<std::vector<NamedTarget>> ReadDockerArchive();
  // Hashes an archive file to describe it as a blob.
  absl::StatusOr<Descriptor> DescribeEntry(const TarEntry& entry, std::string media_type);

  // Imports what `target` (an index or a manifest) needs on this platform.
  absl::Status ImportTarget(Descriptor& target);
  absl::Status ImportManifest(const Descriptor& manifest);
  absl::Status Unpack(const ImageManifest& manifest, const std::vector<std::string>& diff_ids);
  absl::Status UnpackLayer(const Descriptor& layer, const std::string& diff_id,
                           const std::string& parent, const std::string& chain_id);

  absl::StatusOr<BlobSource> Source(const Descriptor& descriptor);
  // A metadata blob (index, manifest, config), read whole and checked against its digest.
  absl::StatusOr<std::string> ReadMetadata(const Descriptor& descriptor, absl::string_view what);
  absl::Status WriteBlob(const Descriptor& descriptor, absl::string_view what);

  absl::StatusOr<ImageRecord> StoreImage(const NamedTarget& named);

  ContainerdClient* client_;
  std::string snapshotter_;
  const TarArchive* archive_;
  Platform platform_;
  std::map<std::string, BlobSource> made_up_;         // Digest -> synthesized or docker blob.
  std::map<std::string, bool> written_;               // Digests already in the content store.
  std::vector<std::string> created_;                  // Image names Run() created.
  std::vector<ImageRecord> replaced_;                 // Records Run() re-pointed, as they were.
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_RUNTIME_IMAGE_IMPORTER_H_
