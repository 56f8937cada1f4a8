// The JSON documents of an image, as values: OCI/Docker descriptors, indexes, manifests, image
// configs, and the manifest.json of a docker-archive. Parsing is strict about what import and
// unpack rely on (digests, sizes, diff ids) and lenient about the rest; a bad document is
// InvalidArgument naming it. Also the host platform and how a descriptor's platform matches it.
// Pure functions over values; any thread.
#ifndef SKIFF_SRC_CONTAINERD_IMAGE_MANIFEST_H_
#define SKIFF_SRC_CONTAINERD_IMAGE_MANIFEST_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {

inline constexpr char kMediaTypeOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kMediaTypeOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kMediaTypeDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kMediaTypeDockerManifest[] =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kMediaTypeDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kMediaTypeDockerLayer[] = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr char kMediaTypeDockerLayerGzip[] =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

// Annotations that name an image in an OCI index (containerd's, then the OCI one).
inline constexpr char kAnnotationImageName[] = "io.containerd.image.name";
inline constexpr char kAnnotationRefName[] = "org.opencontainers.image.ref.name";

// Metadata documents are read whole; anything larger than this is not a real one.
inline constexpr int64_t kMaxMetadataSize = 4 << 20;
// How many indexes may nest below an image's own index (an index of indexes).
inline constexpr int kMaxIndexDepth = 4;

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
};

struct Descriptor {
  std::string media_type;
  std::string digest;  // Always a valid "sha256:<hex>" once parsed.
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
};

struct ImageIndex {
  std::vector<Descriptor> manifests;
};

struct ImageManifest {
  Descriptor config;
  std::vector<Descriptor> layers;
};

struct ParsedImageConfig {
  ImageConfig config;
  std::vector<std::string> diff_ids;  // Uncompressed layer digests, bottom first.
  Platform platform;
};

// One image of a docker-archive's manifest.json; paths are inside the archive.
struct DockerArchiveImage {
  std::string config_path;
  std::vector<std::string> repo_tags;
  std::vector<std::string> layer_paths;
};

bool IsIndexMediaType(absl::string_view media_type);
bool IsManifestMediaType(absl::string_view media_type);

// `what` names the document in error messages ("index.json", "manifest sha256:...").
absl::StatusOr<ImageIndex> ParseImageIndex(absl::string_view json, absl::string_view what);
absl::StatusOr<ImageManifest> ParseImageManifest(absl::string_view json, absl::string_view what);
absl::StatusOr<ParsedImageConfig> ParseImageConfig(absl::string_view json,
                                                   absl::string_view what);
absl::StatusOr<std::vector<DockerArchiveImage>> ParseDockerArchiveManifest(
    absl::string_view json);

// The media type a manifest or index declares in its own "mediaType", else guessed from its
// shape ("manifests" makes an index); for descriptors that omit it.
std::string SniffMediaType(absl::string_view json);

// The Docker schema2 manifest containerd's importer writes for a docker-archive image, with
// members in the same order, so the digest matches what `ctr images import` gives.
std::string DockerSchema2ManifestJson(const Descriptor& config,
                                      const std::vector<Descriptor>& layers);

// linux and the OCI name of the running machine's architecture (uname), e.g. amd64, arm64/v8.
Platform HostPlatform();
// Whether an image for `candidate` runs on `host`. A descriptor without a platform matches,
// as in containerd's platform filter.
bool PlatformMatches(const Platform& host, const std::optional<Platform>& candidate);
std::string PlatformString(const Platform& platform);
// The manifest of `index` for `host`: the first entry that is not itself an index and whose
// platform matches, preferring one that names the host's variant exactly; nullptr when none.
const Descriptor* SelectManifest(const ImageIndex& index, const Platform& host);

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_IMAGE_MANIFEST_H_
