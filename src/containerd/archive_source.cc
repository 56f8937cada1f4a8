#include "containerd/archive_source.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "containerd/digest.h"
#include "nlohmann/json.hpp"
#include "skiff/runtime/image.h"

namespace skiff::runtime {
namespace {

constexpr size_t kHashChunk = 1 << 20;

// The blob path of a digest in an OCI image layout.
std::string LayoutPath(const std::string& digest) {
  return absl::StrCat("blobs/sha256/", digest.substr(7));
}

// A reference in ref.name is used only when it is a whole reference, not a bare tag; the same
// test as containerd's refTranslator.
bool IsFullReference(absl::string_view name) {
  return name.find_first_of("/:@") != absl::string_view::npos;
}

}  // namespace

ArchiveSource::ArchiveSource(const TarArchive* archive)
    : archive_(archive), platform_(HostPlatform()) {}

absl::StatusOr<std::vector<ImageTarget>> ArchiveSource::Targets() {
  absl::StatusOr<std::vector<ImageTarget>> targets;
  if (archive_->Find("oci-layout") != nullptr) {
    targets = ReadOciLayout();
  } else if (archive_->Find("manifest.json") != nullptr) {
    targets = ReadDockerArchive();
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "image tarball ", archive_->path(),
        " is neither an OCI image layout (oci-layout, index.json) nor a docker-archive "
        "(manifest.json)"));
  }
  if (!targets.ok()) return targets.status();
  if (targets->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image tarball ", archive_->path(), " names no image for ", PlatformString(platform_),
        " (OCI: an io.containerd.image.name or full org.opencontainers.image.ref.name "
        "annotation; docker-archive: RepoTags)"));
  }
  return targets;
}

absl::StatusOr<std::vector<ImageTarget>> ArchiveSource::ReadOciLayout() {
  auto layout = archive_->ReadFile(*archive_->Find("oci-layout"), kMaxMetadataSize);
  if (!layout.ok()) return layout.status();
  nlohmann::json json = nlohmann::json::parse(*layout, nullptr, false);
  // Compared as a json value: value("imageLayoutVersion", "") would throw on a number.
  if (!json.is_object() || !json.contains("imageLayoutVersion") ||
      json["imageLayoutVersion"] != "1.0.0") {
    return absl::InvalidArgumentError(
        "oci-layout: not {\"imageLayoutVersion\": \"1.0.0\"}, the only version supported");
  }
  const TarEntry* index_entry = archive_->Find("index.json");
  if (index_entry == nullptr) {
    return absl::InvalidArgumentError("OCI image layout without index.json");
  }
  auto index_json = archive_->ReadFile(*index_entry, kMaxMetadataSize);
  if (!index_json.ok()) return index_json.status();
  auto index = ParseImageIndex(*index_json, "index.json");
  if (!index.ok()) return index.status();

  std::vector<ImageTarget> targets;
  for (const Descriptor& descriptor : index->manifests) {
    if (!PlatformMatches(platform_, descriptor.platform)) continue;
    std::string name;
    if (auto it = descriptor.annotations.find(kAnnotationImageName);
        it != descriptor.annotations.end()) {
      name = it->second;
    } else if (auto ref = descriptor.annotations.find(kAnnotationRefName);
               ref != descriptor.annotations.end() && IsFullReference(ref->second)) {
      name = ref->second;
    }
    if (name.empty()) continue;
    targets.push_back({NormalizeImageReference(name), descriptor});
  }
  return targets;
}

absl::StatusOr<Descriptor> ArchiveSource::DescribeEntry(const TarEntry& entry,
                                                        std::string media_type) {
  Sha256Hasher hasher;
  std::string buffer;
  for (int64_t offset = 0; offset < entry.size;) {
    const size_t chunk = static_cast<size_t>(std::min<int64_t>(kHashChunk, entry.size - offset));
    buffer.resize(chunk);
    if (absl::Status status = archive_->ReadAt(entry, offset, buffer.data(), chunk);
        !status.ok()) {
      return status;
    }
    if (offset == 0 && media_type.empty()) {
      const bool gzip = chunk >= 2 && static_cast<unsigned char>(buffer[0]) == 0x1f &&
                        static_cast<unsigned char>(buffer[1]) == 0x8b;
      media_type = gzip ? kMediaTypeDockerLayerGzip : kMediaTypeDockerLayer;
    }
    hasher.Update(buffer);
    offset += static_cast<int64_t>(chunk);
  }
  if (media_type.empty()) media_type = kMediaTypeDockerLayer;  // An empty layer.
  Descriptor descriptor{.media_type = std::move(media_type), .digest = hasher.Finish(),
                        .size = entry.size};
  made_up_[descriptor.digest] = Entry{.entry = &entry};
  return descriptor;
}

absl::StatusOr<std::vector<ImageTarget>> ArchiveSource::ReadDockerArchive() {
  auto text = archive_->ReadFile(*archive_->Find("manifest.json"), kMaxMetadataSize);
  if (!text.ok()) return text.status();
  auto images = ParseDockerArchiveManifest(*text);
  if (!images.ok()) return images.status();
  std::vector<ImageTarget> targets;
  for (const DockerArchiveImage& image : *images) {
    if (image.repo_tags.empty()) continue;
    auto find = [&](const std::string& path) -> absl::StatusOr<const TarEntry*> {
      const TarEntry* entry = archive_->Find(path);
      if (entry == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("manifest.json names \"", path, "\", which the archive lacks"));
      }
      return entry;
    };
    auto config_entry = find(image.config_path);
    if (!config_entry.ok()) return config_entry.status();
    if ((*config_entry)->size > kMaxMetadataSize) {
      return archive_->ReadFile(**config_entry, kMaxMetadataSize).status();
    }
    auto config = DescribeEntry(**config_entry, kMediaTypeDockerConfig);
    if (!config.ok()) return config.status();
    std::vector<Descriptor> layers;
    for (const std::string& path : image.layer_paths) {
      auto entry = find(path);
      if (!entry.ok()) return entry.status();
      auto layer = DescribeEntry(**entry, "");
      if (!layer.ok()) return layer.status();
      layers.push_back(*std::move(layer));
    }
    std::string manifest = DockerSchema2ManifestJson(*config, layers);
    Descriptor target{.media_type = kMediaTypeDockerManifest, .digest = Sha256Digest(manifest),
                      .size = static_cast<int64_t>(manifest.size())};
    made_up_[target.digest] = Entry{.data = std::move(manifest)};
    for (const std::string& tag : image.repo_tags) {
      targets.push_back({NormalizeImageReference(tag), target});
    }
  }
  return targets;
}

absl::StatusOr<ArchiveSource::Entry> ArchiveSource::Find(const Descriptor& descriptor) {
  if (auto it = made_up_.find(descriptor.digest); it != made_up_.end()) return it->second;
  const std::string path = LayoutPath(descriptor.digest);
  const TarEntry* entry = archive_->Find(path);
  if (entry == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("blob ", descriptor.digest,
                                                   " is missing from the archive (", path, ")"));
  }
  if (entry->size != descriptor.size) {
    return absl::InvalidArgumentError(absl::StrCat("tar entry \"", path, "\" is ", entry->size,
                                                   " bytes, but its descriptor says ",
                                                   descriptor.size));
  }
  return Entry{.entry = entry};
}

absl::StatusOr<std::string> ArchiveSource::ReadMetadata(const Descriptor& descriptor,
                                                        absl::string_view what) {
  auto source = Find(descriptor);
  if (!source.ok()) return source.status();
  std::string data = source->data;
  if (source->entry != nullptr) {
    auto read = archive_->ReadFile(*source->entry, kMaxMetadataSize);
    if (!read.ok()) return read.status();
    data = *std::move(read);
  }
  if (const std::string actual = Sha256Digest(data); actual != descriptor.digest) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", descriptor.digest,
                                                   ": content has digest ", actual));
  }
  return data;
}

absl::StatusOr<ImageContentSource::Blob> ArchiveSource::OpenBlob(const Descriptor& descriptor,
                                                                 absl::string_view what) {
  auto source = Find(descriptor);
  if (!source.ok()) return source.status();
  Blob blob;
  if (source->entry != nullptr) {
    const TarEntry* entry = source->entry;
    blob.name = absl::StrCat(what, " ", descriptor.digest, " (tar entry \"", entry->path, "\")");
    blob.read = [this, entry](int64_t offset, char* buffer, size_t size) {
      return archive_->ReadAt(*entry, offset, buffer, size);
    };
  } else {
    blob.name = absl::StrCat(what, " ", descriptor.digest);
    blob.read = [data = source->data](int64_t offset, char* buffer, size_t size) {
      data.copy(buffer, size, static_cast<size_t>(offset));
      return absl::OkStatus();
    };
  }
  return blob;
}

}  // namespace skiff::runtime
