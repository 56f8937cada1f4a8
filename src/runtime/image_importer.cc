#include "runtime/image_importer.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "runtime/digest.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {
namespace {

constexpr char kLabelContentPrefix[] = "containerd.io/gc.ref.content.";
constexpr char kLabelUncompressed[] = "containerd.io/uncompressed";
constexpr size_t kHashChunk = 1 << 20;

// The unique part of an unpack snapshot key, as containerd's "extract-<unique> <chain id>".
std::string UniqueSuffix() {
  std::random_device random;
  return absl::StrFormat("%d-%08x", absl::ToUnixNanos(absl::Now()) % 1000000000, random());
}

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

ImageImporter::ImageImporter(ContainerdClient* client, std::string snapshotter,
                             const TarArchive* archive)
    : client_(client),
      snapshotter_(std::move(snapshotter)),
      archive_(archive),
      platform_(HostPlatform()) {}

absl::StatusOr<std::vector<ImageRecord>> ImageImporter::Run() {
  absl::StatusOr<std::vector<NamedTarget>> targets;
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
  std::map<std::string, Descriptor> imported;  // Target digest -> target as imported.
  for (NamedTarget& named : *targets) {
    if (auto it = imported.find(named.target.digest); it != imported.end()) {
      named.target = it->second;
      continue;
    }
    if (absl::Status status = ImportTarget(named.target); !status.ok()) return status;
    imported[named.target.digest] = named.target;
  }
  std::vector<ImageRecord> records;
  for (const NamedTarget& named : *targets) {
    auto record = StoreImage(named);
    if (!record.ok()) return record.status();
    records.push_back(*std::move(record));
  }
  return records;
}

void ImageImporter::Rollback() {
  for (const std::string& name : created_) client_->DeleteImage(name, false).IgnoreError();
  for (const ImageRecord& old : replaced_) {
    client_->UpdateImageTarget(old.name, old.target).IgnoreError();
  }
  created_.clear();
  replaced_.clear();
}

absl::StatusOr<std::vector<ImageImporter::NamedTarget>> ImageImporter::ReadOciLayout() {
  auto layout = archive_->ReadFile(*archive_->Find("oci-layout"), kMaxMetadataSize);
  if (!layout.ok()) return layout.status();
  nlohmann::json json = nlohmann::json::parse(*layout, nullptr, false);
  if (!json.is_object() || json.value("imageLayoutVersion", "") != "1.0.0") {
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

  std::vector<NamedTarget> targets;
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

absl::StatusOr<Descriptor> ImageImporter::DescribeEntry(const TarEntry& entry,
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
  made_up_[descriptor.digest] = BlobSource{.entry = &entry};
  return descriptor;
}

absl::StatusOr<std::vector<ImageImporter::NamedTarget>> ImageImporter::ReadDockerArchive() {
  auto text = archive_->ReadFile(*archive_->Find("manifest.json"), kMaxMetadataSize);
  if (!text.ok()) return text.status();
  auto images = ParseDockerArchiveManifest(*text);
  if (!images.ok()) return images.status();
  std::vector<NamedTarget> targets;
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
    made_up_[target.digest] = BlobSource{.data = std::move(manifest)};
    for (const std::string& tag : image.repo_tags) {
      targets.push_back({NormalizeImageReference(tag), target});
    }
  }
  return targets;
}

absl::StatusOr<ImageImporter::BlobSource> ImageImporter::Source(const Descriptor& descriptor) {
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
  return BlobSource{.entry = entry};
}

absl::StatusOr<std::string> ImageImporter::ReadMetadata(const Descriptor& descriptor,
                                                        absl::string_view what) {
  auto source = Source(descriptor);
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

absl::Status ImageImporter::WriteBlob(const Descriptor& descriptor, absl::string_view what) {
  if (written_[descriptor.digest]) return absl::OkStatus();
  auto source = Source(descriptor);
  if (!source.ok()) return source.status();
  ContainerdClient::BlobReader read;
  std::string name;
  if (source->entry != nullptr) {
    const TarEntry* entry = source->entry;
    name = absl::StrCat(what, " ", descriptor.digest, " (tar entry \"", entry->path, "\")");
    read = [this, entry](int64_t offset, char* buffer, size_t size) {
      return archive_->ReadAt(*entry, offset, buffer, size);
    };
  } else {
    name = absl::StrCat(what, " ", descriptor.digest);
    const std::string data = source->data;
    read = [data](int64_t offset, char* buffer, size_t size) {
      data.copy(buffer, size, static_cast<size_t>(offset));
      return absl::OkStatus();
    };
  }
  // Ingest refs are per lease, so a failed earlier import never resumes into this one.
  const std::string ref = absl::StrCat(client_->lease(), "-", descriptor.digest);
  if (absl::Status status = client_->WriteBlob(ref, descriptor, read, name); !status.ok()) {
    return status;
  }
  written_[descriptor.digest] = true;
  return absl::OkStatus();
}

absl::Status ImageImporter::ImportTarget(Descriptor& target) {
  auto data = ReadMetadata(target, "image target");
  if (!data.ok()) return data.status();
  if (target.media_type.empty()) target.media_type = SniffMediaType(*data);
  if (IsManifestMediaType(target.media_type)) return ImportManifest(target);
  if (!IsIndexMediaType(target.media_type)) {
    return absl::InvalidArgumentError(absl::StrCat("image target ", target.digest,
                                                   " has unsupported media type \"",
                                                   target.media_type, "\""));
  }
  auto index = ParseImageIndex(*data, absl::StrCat("index ", target.digest));
  if (!index.ok()) return index.status();
  for (Descriptor& child : index->manifests) {
    if (!PlatformMatches(platform_, child.platform)) continue;
    if (child.media_type.empty()) {
      auto child_data = ReadMetadata(child, "manifest");
      if (!child_data.ok()) return child_data.status();
      child.media_type = SniffMediaType(*child_data);
    }
    if (!IsManifestMediaType(child.media_type)) continue;  // Nested indexes: not for now.
    if (absl::Status status = ImportManifest(child); !status.ok()) return status;
    // Only the manifest for this platform is kept alive through the index.
    if (absl::Status status = WriteBlob(target, "index"); !status.ok()) return status;
    return client_->SetBlobLabels(target.digest,
                                  {{absl::StrCat(kLabelContentPrefix, "m.0"), child.digest}});
  }
  return absl::InvalidArgumentError(absl::StrCat("index ", target.digest,
                                                 " has no image manifest for ",
                                                 PlatformString(platform_)));
}

absl::Status ImageImporter::ImportManifest(const Descriptor& descriptor) {
  const std::string what = absl::StrCat("manifest ", descriptor.digest);
  auto data = ReadMetadata(descriptor, "manifest");
  if (!data.ok()) return data.status();
  auto manifest = ParseImageManifest(*data, what);
  if (!manifest.ok()) return manifest.status();
  auto config_data = ReadMetadata(manifest->config, "image config");
  if (!config_data.ok()) return config_data.status();
  auto config = ParseImageConfig(*config_data, absl::StrCat("image config ",
                                                            manifest->config.digest));
  if (!config.ok()) return config.status();
  if (config->diff_ids.size() != manifest->layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has ", manifest->layers.size(), " layers but its config lists ",
        config->diff_ids.size(), " diff ids"));
  }

  for (const Descriptor& layer : manifest->layers) {
    if (absl::Status status = WriteBlob(layer, "layer"); !status.ok()) return status;
  }
  if (absl::Status status = WriteBlob(manifest->config, "image config"); !status.ok()) {
    return status;
  }
  if (absl::Status status = WriteBlob(descriptor, "manifest"); !status.ok()) return status;
  if (absl::Status status = Unpack(*manifest, config->diff_ids); !status.ok()) return status;

  // The gc references containerd's client sets: manifest -> config and layers, config -> the
  // unpacked snapshot. The image record then keeps all of it alive once the lease is gone.
  std::map<std::string, std::string> manifest_labels = {
      {absl::StrCat(kLabelContentPrefix, "config"), manifest->config.digest}};
  for (size_t i = 0; i < manifest->layers.size(); ++i) {
    manifest_labels[absl::StrCat(kLabelContentPrefix, "l.", i)] = manifest->layers[i].digest;
  }
  if (absl::Status status = client_->SetBlobLabels(descriptor.digest, manifest_labels);
      !status.ok()) {
    return status;
  }
  if (config->diff_ids.empty()) return absl::OkStatus();
  return client_->SetBlobLabels(
      manifest->config.digest,
      {{absl::StrCat("containerd.io/gc.ref.snapshot.", snapshotter_), ChainId(config->diff_ids)}});
}

absl::Status ImageImporter::Unpack(const ImageManifest& manifest,
                                   const std::vector<std::string>& diff_ids) {
  std::vector<std::string> chain;
  std::string parent;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    chain.push_back(diff_ids[i]);
    const std::string chain_id = ChainId(chain);
    auto exists = client_->SnapshotExists(snapshotter_, chain_id);
    if (!exists.ok()) return exists.status();
    if (*exists) {
      // Unpacked by an earlier import: hold it for the rest of this one.
      if (absl::Status status = client_->AddSnapshotToLease(snapshotter_, chain_id);
          !status.ok()) {
        return status;
      }
    } else if (absl::Status status = UnpackLayer(manifest.layers[i], diff_ids[i], parent, chain_id);
               !status.ok()) {
      return status;
    }
    // Recorded only now that the apply has checked the uncompressed digest.
    if (absl::Status status =
            client_->SetBlobLabels(manifest.layers[i].digest, {{kLabelUncompressed, diff_ids[i]}});
        !status.ok()) {
      return status;
    }
    parent = chain_id;
  }
  return absl::OkStatus();
}

absl::Status ImageImporter::UnpackLayer(const Descriptor& layer, const std::string& diff_id,
                                        const std::string& parent, const std::string& chain_id) {
  const std::string key = absl::StrCat("extract-", UniqueSuffix(), " ", chain_id);
  auto mounts = client_->PrepareSnapshot(snapshotter_, key, parent);
  if (!mounts.ok()) return mounts.status();
  auto fail = [&](absl::Status status) {
    client_->RemoveSnapshot(snapshotter_, key).IgnoreError();
    return status;
  };
  auto applied = client_->ApplyLayer(layer, *mounts);
  if (!applied.ok()) return fail(applied.status());
  if (*applied != diff_id) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "layer ", layer.digest, " unpacks to content with digest ", *applied,
        ", but the image config says its diff id is ", diff_id)));
  }
  absl::Status committed = client_->CommitSnapshot(snapshotter_, chain_id, key);
  // Someone else unpacked the same layer meanwhile: theirs is as good as ours.
  if (committed.code() == absl::StatusCode::kAlreadyExists) return fail(absl::OkStatus());
  if (!committed.ok()) return fail(committed);
  return absl::OkStatus();
}

absl::StatusOr<ImageRecord> ImageImporter::StoreImage(const NamedTarget& named) {
  auto created = client_->CreateImage(named.name, named.target);
  if (created.ok()) {
    created_.push_back(named.name);
    return created;
  }
  if (created.status().code() != absl::StatusCode::kAlreadyExists) return created.status();
  auto old = client_->GetImage(named.name);
  if (!old.ok()) return old.status();
  auto updated = client_->UpdateImageTarget(named.name, named.target);
  if (updated.ok()) replaced_.push_back(*std::move(old));
  return updated;
}

}  // namespace skiff::runtime
