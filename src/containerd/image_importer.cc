#include "containerd/image_importer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "containerd/digest.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {
namespace {

constexpr char kLabelContentPrefix[] = "containerd.io/gc.ref.content.";
constexpr char kLabelUncompressed[] = "containerd.io/uncompressed";

// The unique part of an unpack snapshot key, as containerd's "extract-<unique> <chain id>".
std::string UniqueSuffix(RandomSource& random) {
  return absl::StrCat(absl::ToUnixNanos(absl::Now()) % 1000000000, "-", RandomHex(random, 8));
}

}  // namespace

ImageImporter::ImageImporter(ContainerdClient* client, std::string snapshotter,
                             ImageContentSource* source, RandomSource* random)
    : client_(client),
      snapshotter_(std::move(snapshotter)),
      source_(source),
      random_(random),
      platform_(HostPlatform()) {}

absl::StatusOr<std::vector<ImageRecord>> ImageImporter::Run(std::vector<ImageTarget> targets) {
  std::map<std::string, Descriptor> imported;  // Target digest -> target as imported.
  for (ImageTarget& named : targets) {
    if (auto it = imported.find(named.target.digest); it != imported.end()) {
      named.target = it->second;
      continue;
    }
    if (absl::Status status = ImportTarget(named.target); !status.ok()) return status;
    imported[named.target.digest] = named.target;
  }
  std::vector<ImageRecord> records;
  for (const ImageTarget& named : targets) {
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

absl::Status ImageImporter::WriteBlob(const Descriptor& descriptor, absl::string_view what) {
  if (written_[descriptor.digest]) return absl::OkStatus();
  auto blob = source_->OpenBlob(descriptor, what);
  if (!blob.ok()) return blob.status();
  if (blob->stored) {
    written_[descriptor.digest] = true;
    return absl::OkStatus();
  }
  // Ingest refs are per lease, so a failed earlier import never resumes into this one.
  const std::string ref = absl::StrCat(client_->lease(), "-", descriptor.digest);
  if (absl::Status status = client_->WriteBlob(ref, descriptor, blob->read, blob->name,
                                                  blob->verified);
      !status.ok()) {
    return status;
  }
  written_[descriptor.digest] = true;
  return absl::OkStatus();
}

absl::Status ImageImporter::ImportTarget(Descriptor& target, int depth) {
  auto data = source_->ReadMetadata(target, "image target");
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
  // Children without a media type are looked at first, so the selection can skip indexes.
  for (Descriptor& child : index->manifests) {
    if (!child.media_type.empty() || !PlatformMatches(platform_, child.platform)) continue;
    auto child_data = source_->ReadMetadata(child, "manifest");
    if (!child_data.ok()) return child_data.status();
    child.media_type = SniffMediaType(*child_data);
  }
  const Descriptor* child = SelectManifest(*index, platform_);
  if (child != nullptr && !IsManifestMediaType(child->media_type)) child = nullptr;
  if (absl::Status status = child != nullptr ? ImportManifest(*child) : absl::OkStatus();
      !status.ok()) {
    return status;
  }
  // An index of indexes: the first nested index with a manifest for this platform.
  absl::Status nested_error;
  for (Descriptor& nested : index->manifests) {
    if (child != nullptr) break;
    if (!IsIndexMediaType(nested.media_type) || !PlatformMatches(platform_, nested.platform)) {
      continue;
    }
    if (depth >= kMaxIndexDepth) {
      return absl::InvalidArgumentError(absl::StrCat("index ", target.digest, " nests indexes ",
                                                     "more than ", kMaxIndexDepth, " deep"));
    }
    absl::Status status = ImportTarget(nested, depth + 1);
    if (absl::IsNotFound(status)) {
      nested_error = status;
      continue;
    }
    if (!status.ok()) return status;
    child = &nested;
  }
  if (child == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "index ", target.digest, " has no image manifest for ", PlatformString(platform_),
        nested_error.ok() ? "" : absl::StrCat(" (", nested_error.message(), ")")));
  }
  // Only the manifest (or index) for this platform is kept alive through the index.
  if (absl::Status status = WriteBlob(target, "index"); !status.ok()) return status;
  return client_->SetBlobLabels(target.digest,
                                {{absl::StrCat(kLabelContentPrefix, "m.0"), child->digest}});
}

absl::Status ImageImporter::ImportManifest(const Descriptor& descriptor) {
  const std::string what = absl::StrCat("manifest ", descriptor.digest);
  auto data = source_->ReadMetadata(descriptor, "manifest");
  if (!data.ok()) return data.status();
  auto manifest = ParseImageManifest(*data, what);
  if (!manifest.ok()) return manifest.status();
  auto config_data = source_->ReadMetadata(manifest->config, "image config");
  if (!config_data.ok()) return config_data.status();
  auto config = ParseImageConfig(*config_data, absl::StrCat("image config ",
                                                            manifest->config.digest));
  if (!config.ok()) return config.status();
  if (config->diff_ids.size() != manifest->layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has ", manifest->layers.size(), " layers but its config lists ",
        config->diff_ids.size(), " diff ids"));
  }

  // Each layer is unpacked as soon as it is stored, while the source fetches the next ones.
  source_->Prefetch(manifest->layers, "layer");
  std::vector<std::string> chain;
  std::string parent;
  for (size_t i = 0; i < manifest->layers.size(); ++i) {
    const Descriptor& layer = manifest->layers[i];
    if (absl::Status status = WriteBlob(layer, "layer"); !status.ok()) return status;
    chain.push_back(config->diff_ids[i]);
    const std::string chain_id = ChainId(chain);
    if (absl::Status status = Unpack(layer, config->diff_ids[i], parent, chain_id);
        !status.ok()) {
      return status;
    }
    parent = chain_id;
  }
  if (absl::Status status = WriteBlob(manifest->config, "image config"); !status.ok()) {
    return status;
  }
  if (absl::Status status = WriteBlob(descriptor, "manifest"); !status.ok()) return status;

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

absl::Status ImageImporter::Unpack(const Descriptor& layer, const std::string& diff_id,
                                   const std::string& parent, const std::string& chain_id) {
  auto exists = client_->SnapshotExists(snapshotter_, chain_id);
  if (!exists.ok()) return exists.status();
  if (*exists) {
    // Unpacked by an earlier import: hold it for the rest of this one.
    if (absl::Status status = client_->AddSnapshotToLease(snapshotter_, chain_id);
        !status.ok()) {
      return status;
    }
  } else if (absl::Status status = UnpackLayer(layer, diff_id, parent, chain_id); !status.ok()) {
    return status;
  }
  // Recorded only now that the apply has checked the uncompressed digest.
  return client_->SetBlobLabels(layer.digest, {{kLabelUncompressed, diff_id}});
}

absl::Status ImageImporter::UnpackLayer(const Descriptor& layer, const std::string& diff_id,
                                        const std::string& parent, const std::string& chain_id) {
  const std::string key = absl::StrCat("extract-", UniqueSuffix(*random_), " ", chain_id);
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

absl::StatusOr<ImageRecord> ImageImporter::StoreImage(const ImageTarget& named) {
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
