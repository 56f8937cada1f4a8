#include "containerd/containerd_images.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "containerd/archive_source.h"
#include "containerd/containerd_client.h"
#include "containerd/digest.h"
#include "containerd/image_archive.h"
#include "containerd/image_importer.h"
#include "containerd/image_manifest.h"
#include "containerd/registry_source.h"
#include "skiff/registry/reference.h"
#include "skiff/registry/registry_client.h"

namespace skiff::runtime {
namespace {

// Long enough for any import; short enough that a lease left by a crashed skiffd goes soon.
constexpr absl::Duration kLeaseExpiry = absl::Hours(1);
// Descriptions kept by target digest; past this the cache starts again (a node holds far fewer
// images than this).
constexpr size_t kMaxDescribed = 256;

std::string NewLeaseId(absl::string_view what, RandomSource& random) {
  return absl::StrCat("skiff-", what, "-", RandomHex(random, 16));
}

// What Get and List report for a stored image: its manifest for this platform, config and
// layers, read back from the content store.
absl::StatusOr<ImageInfo> Describe(ContainerdClient& client, const ImageRecord& record) {
  ImageInfo info;
  info.name = record.name;
  info.digest = record.target.digest;
  info.created = record.created;
  info.size = record.target.size;
  auto data = client.ReadBlob(record.target.digest, kMaxMetadataSize);
  if (!data.ok()) return data.status();
  std::string media_type = record.target.media_type;
  if (media_type.empty()) media_type = SniffMediaType(*data);
  // Down the indexes to the manifest for this platform, the way the import went.
  const Platform host = HostPlatform();
  for (int depth = 0; IsIndexMediaType(media_type); ++depth) {
    auto index = ParseImageIndex(*data, absl::StrCat("index of ", record.name));
    if (!index.ok()) return index.status();
    const Descriptor* chosen = SelectManifest(*index, host);
    for (const Descriptor& nested : index->manifests) {
      if (chosen != nullptr || depth >= kMaxIndexDepth) break;
      if (!IsIndexMediaType(nested.media_type) || !PlatformMatches(host, nested.platform)) continue;
      if (auto stored = client.HasBlob(nested.digest); stored.ok() && *stored) chosen = &nested;
    }
    if (chosen == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "image ", record.name, " has no manifest for ", PlatformString(host)));
    }
    info.size += chosen->size;
    auto child_data = client.ReadBlob(chosen->digest, kMaxMetadataSize);
    if (!child_data.ok()) return child_data.status();
    data = std::move(child_data);
    media_type = chosen->media_type.empty() ? SniffMediaType(*data) : chosen->media_type;
  }
  auto manifest = ParseImageManifest(*data, absl::StrCat("manifest of ", record.name));
  if (!manifest.ok()) return manifest.status();
  info.config_digest = manifest->config.digest;
  info.size += manifest->config.size;
  for (const Descriptor& layer : manifest->layers) info.size += layer.size;
  auto config_data = client.ReadBlob(manifest->config.digest, kMaxMetadataSize);
  if (!config_data.ok()) return config_data.status();
  auto config = ParseImageConfig(*config_data, absl::StrCat("config of ", record.name));
  if (!config.ok()) return config.status();
  info.chain_id = ChainId(config->diff_ids);
  info.config = std::move(config->config);
  return info;
}

}  // namespace

ContainerdImages::ContainerdImages(const ContainerdConnection* connection, std::string snapshotter,
                                   registry::RegistryOptions registry_options,
                                   RandomSource* random)
    : connection_(connection),
      snapshotter_(std::move(snapshotter)),
      registry_options_(std::move(registry_options)),
      random_(random) {}

absl::StatusOr<std::vector<ImageInfo>> ContainerdImages::Import(const std::string& tarball_path) {
  // The whole archive is checked before containerd sees any of it.
  auto archive = TarArchive::Open(tarball_path);
  if (!archive.ok()) return archive.status();
  ArchiveSource source(archive->get());
  auto targets = source.Targets();
  if (!targets.ok()) return targets.status();
  ContainerdClient client(connection_, NewLeaseId("import", *random_));
  return Store(client, source, *std::move(targets));
}

absl::StatusOr<ImageInfo> ContainerdImages::Pull(const std::string& reference,
                                                 const std::optional<registry::Credentials>& credentials,
                                                 const PullProgressHandler& progress) {
  auto parsed = registry::ParseReference(reference);
  if (!parsed.ok()) return parsed.status();
  registry::RegistryClient registry(*parsed, registry_options_, credentials);
  ContainerdClient client(connection_, NewLeaseId("pull", *random_));
  RegistrySource source(&registry, &client, progress, [&] {
    return std::make_unique<registry::RegistryClient>(*parsed, registry_options_, credentials);
  });
  auto target = source.Resolve();
  if (!target.ok()) return target.status();
  auto infos = Store(client, source, {*std::move(target)});
  if (!infos.ok()) return infos.status();
  return infos->front();
}

absl::StatusOr<std::vector<ImageInfo>> ContainerdImages::Store(ContainerdClient& client,
                                                               ImageContentSource& source,
                                                               std::vector<ImageTarget> targets) {
  if (absl::Status status = client.CreateLease(kLeaseExpiry); !status.ok()) return status;
  ImageImporter importer(&client, snapshotter_, &source, random_);
  auto records = importer.Run(std::move(targets));
  std::vector<ImageInfo> infos;
  if (records.ok()) {
    for (const ImageRecord& record : *records) {
      auto info = Describe(client, record);
      if (!info.ok()) {
        records = info.status();
        break;
      }
      infos.push_back(*std::move(info));
    }
  }
  if (!records.ok()) {
    importer.Rollback();
    // Synchronous, so that the content and snapshots of the failed import are gone (not just
    // unreferenced) by the time the caller sees the error.
    client.DeleteLease(/*sync=*/true).IgnoreError();
    return records.status();
  }
  // The image records now hold everything through their gc labels.
  if (absl::Status status = client.DeleteLease(/*sync=*/false); !status.ok()) return status;
  return infos;
}

absl::StatusOr<std::vector<ImageInfo>> ContainerdImages::List() {
  ContainerdClient client(connection_, "");
  auto records = client.ListImages();
  if (!records.ok()) return records.status();
  std::vector<ImageInfo> infos;
  for (const ImageRecord& record : *records) {
    auto info = Describe(client, record);
    if (info.ok()) {
      infos.push_back(*std::move(info));
      continue;
    }
    if (info.status().code() == absl::StatusCode::kUnavailable) return info.status();
    // An image whose content is incomplete (another platform, a pull in progress) is still
    // listed, with what its record says.
    infos.push_back(ImageInfo{.name = record.name, .digest = record.target.digest,
                              .size = record.target.size, .created = record.created});
  }
  return infos;
}

absl::StatusOr<ImageInfo> ContainerdImages::Get(const std::string& reference) {
  ContainerdClient client(connection_, "");
  const std::string name = NormalizeImageReference(reference);
  auto record = client.GetImage(name);
  if (record.status().code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("image ", reference, " not found (as ", name, ")"));
  }
  if (!record.ok()) return record.status();
  return DescribeCached(client, *record);
}

absl::StatusOr<ImageInfo> ContainerdImages::DescribeCached(ContainerdClient& client,
                                                           const ImageRecord& record) {
  {
    absl::MutexLock lock(&described_mu_);
    if (auto it = described_.find(record.target.digest); it != described_.end()) {
      ImageInfo info = it->second;
      info.name = record.name;
      info.created = record.created;
      return info;
    }
  }
  absl::StatusOr<ImageInfo> info = Describe(client, record);
  // Only complete descriptions: an image whose content is still arriving is read again.
  if (!info.ok()) return info;
  absl::MutexLock lock(&described_mu_);
  if (described_.size() >= kMaxDescribed) described_.clear();
  described_.insert_or_assign(record.target.digest, *info);
  return info;
}

absl::Status ContainerdImages::Remove(const std::string& reference) {
  ContainerdClient client(connection_, "");
  const std::string name = NormalizeImageReference(reference);
  absl::Status status = client.DeleteImage(name, /*sync=*/true);
  if (status.code() == absl::StatusCode::kNotFound) {
    return absl::NotFoundError(absl::StrCat("image ", reference, " not found (as ", name, ")"));
  }
  return status;
}

}  // namespace skiff::runtime
