// ArchiveSource: the blobs and image names of an image tarball (an OCI image layout or a
// docker-archive, read through a TarArchive) for the ImageImporter. For a docker-archive it makes
// up the Docker schema2 manifest containerd's importer writes, so digests match `ctr images
// import`. Borrows the archive; one thread.
#ifndef SKIFF_SRC_CONTAINERD_ARCHIVE_SOURCE_H_
#define SKIFF_SRC_CONTAINERD_ARCHIVE_SOURCE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "containerd/image_archive.h"
#include "containerd/image_importer.h"
#include "containerd/image_manifest.h"

namespace skiff::runtime {

class ArchiveSource final : public ImageContentSource {
 public:
  explicit ArchiveSource(const TarArchive* archive);

  // The images the archive names for this host's platform. InvalidArgument when it is neither
  // format or names none.
  absl::StatusOr<std::vector<ImageTarget>> Targets();

  absl::StatusOr<std::string> ReadMetadata(const Descriptor& descriptor,
                                           absl::string_view what) override;
  absl::StatusOr<Blob> OpenBlob(const Descriptor& descriptor, absl::string_view what) override;

 private:
  // A blob the import can write: a regular file of the archive or bytes made up here.
  struct Entry {
    const TarEntry* entry = nullptr;
    std::string data;
  };

  absl::StatusOr<std::vector<ImageTarget>> ReadOciLayout();
  absl::StatusOr<std::vector<ImageTarget>> ReadDockerArchive();
  // Hashes an archive file to describe it as a blob.
  absl::StatusOr<Descriptor> DescribeEntry(const TarEntry& entry, std::string media_type);
  absl::StatusOr<Entry> Find(const Descriptor& descriptor);

  const TarArchive* archive_;
  Platform platform_;
  std::map<std::string, Entry> made_up_;  // Digest -> synthesized or docker blob.
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_ARCHIVE_SOURCE_H_
