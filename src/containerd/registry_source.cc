#include "containerd/registry_source.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "containerd/digest.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {
namespace {

// Attempts per blob within one pull; each resumes where the last one was cut off.
constexpr int kMaxAttempts = 3;
constexpr int64_t kProgressStep = 256 << 10;
constexpr size_t kMaxParallelDownloads = 3;
// Ingests of layer downloads are named by digest, so the next pull of a blob resumes one that
// a failed pull left.
constexpr char kIngestPrefix[] = "skiff-pull-";

// Where the data of a manifest (index or image manifest) lives in the distribution API: the
// manifests endpoint. Everything else is a blob.
bool IsManifestEndpoint(const Descriptor& d) {
  return d.media_type.empty() || IsIndexMediaType(d.media_type) ||
         IsManifestMediaType(d.media_type);
}

}  // namespace

RegistrySource::RegistrySource(registry::RegistryClient* registry, ContainerdClient* client,
                               PullProgressHandler progress, ClientFactory factory)
    : registry_(registry),
      client_(client),
      progress_(std::move(progress)),
      factory_(std::move(factory)) {}

RegistrySource::~RegistrySource() {
  for (auto& [digest, download] : prefetched_) download.wait();
}

void RegistrySource::Prefetch(const std::vector<Descriptor>& layers, absl::string_view what) {
  if (!factory_) return;
  // ctr's default: three downloads at a time. Each layer is claimed by one worker.
  auto next = std::make_shared<std::atomic<size_t>>(0);
  auto todo = std::make_shared<std::vector<Descriptor>>();
  for (const Descriptor& layer : layers) {
    if (prefetched_.count(layer.digest) > 0 || metadata_.count(layer.digest) > 0) continue;
    auto present = client_->HasBlob(layer.digest);
    if (!present.ok() || *present) continue;
    todo->push_back(layer);
  }
  if (todo->empty()) return;
  std::vector<std::shared_ptr<std::promise<absl::Status>>> promises;
  for (const Descriptor& layer : *todo) {
    auto promise = std::make_shared<std::promise<absl::Status>>();
    prefetched_[layer.digest] = promise->get_future().share();
    promises.push_back(promise);
  }
  const std::string kind(what);
  const size_t workers = std::min<size_t>(kMaxParallelDownloads, todo->size());
  for (size_t w = 0; w < workers; ++w) {
    // Made here, so a worker touches nothing of this source once its last promise is kept (the
    // destructor waits for every promise, not for the threads).
    std::shared_ptr<registry::RegistryClient> registry = factory_();
    std::thread([this, next, todo, promises, kind, registry] {
      for (size_t i = (*next)++; i < todo->size(); i = (*next)++) {
        promises[i]->set_value(Download(registry.get(), (*todo)[i], kind));
      }
    }).detach();
  }
}

void RegistrySource::Report(const Descriptor& descriptor, absl::string_view what,
                            int64_t fetched, bool present, bool done) {
  if (!progress_) return;
  std::lock_guard<std::mutex> lock(mu_);
  progress_(PullProgress{.digest = descriptor.digest, .kind = std::string(what),
                         .fetched = fetched, .size = descriptor.size, .present = present,
                         .done = done});
}

absl::StatusOr<ImageTarget> RegistrySource::Resolve() {
  const registry::Reference& ref = registry_->reference();
  auto manifest = registry_->GetManifest(ref.Identifier());
  if (!manifest.ok()) return manifest.status();
  const std::string digest = Sha256Digest(manifest->body);
  if (!ref.digest.empty() && digest != ref.digest) {
    return absl::DataLossError(absl::StrCat("manifest ", ref.digest, " from ", ref.domain,
                                            " has digest ", digest, "; refused"));
  }
  std::string media_type = manifest->media_type;
  if (!IsIndexMediaType(media_type) && !IsManifestMediaType(media_type)) {
    media_type = SniffMediaType(manifest->body);
  }
  Descriptor target{.media_type = media_type, .digest = digest,
                    .size = static_cast<int64_t>(manifest->body.size())};
  metadata_[digest] = std::move(manifest->body);
  return ImageTarget{.name = ref.Name(), .target = std::move(target)};
}

absl::StatusOr<std::string> RegistrySource::ReadMetadata(const Descriptor& descriptor,
                                                         absl::string_view what) {
  if (auto it = metadata_.find(descriptor.digest); it != metadata_.end()) return it->second;
  if (descriptor.size > kMaxMetadataSize) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", descriptor.digest, " is ",
                                                   descriptor.size, " bytes; too large"));
  }
  // Stored by an earlier pull or import: containerd checked its digest when it was written.
  if (auto stored = client_->ReadBlob(descriptor.digest, kMaxMetadataSize); stored.ok()) {
    metadata_[descriptor.digest] = *stored;
    return *std::move(stored);
  } else if (stored.status().code() != absl::StatusCode::kNotFound) {
    return stored.status();
  }
  std::string data;
  if (IsManifestEndpoint(descriptor)) {
    auto manifest = registry_->GetManifest(descriptor.digest);
    if (!manifest.ok()) return manifest.status();
    data = std::move(manifest->body);
  } else {
    absl::Status fetched = registry_->FetchBlob(
        descriptor.digest, 0, [&](absl::string_view chunk) -> absl::Status {
          if (static_cast<int64_t>(data.size() + chunk.size()) > kMaxMetadataSize) {
            return absl::DataLossError(absl::StrCat(what, " ", descriptor.digest,
                                                    ": the registry sends more than ",
                                                    kMaxMetadataSize, " bytes"));
          }
          data.append(chunk.data(), chunk.size());
          return absl::OkStatus();
        });
    if (!fetched.ok()) return fetched;
    Report(descriptor, what, static_cast<int64_t>(data.size()), false, true);
  }
  if (const std::string actual = Sha256Digest(data); actual != descriptor.digest) {
    return absl::DataLossError(absl::StrCat(what, " ", descriptor.digest, " from ",
                                            registry_->reference().domain, " has digest ",
                                            actual, "; refused"));
  }
  metadata_[descriptor.digest] = data;
  return data;
}

absl::StatusOr<ImageContentSource::Blob> RegistrySource::OpenBlob(const Descriptor& descriptor,
                                                                  absl::string_view what) {
  Blob blob{.name = absl::StrCat(what, " ", descriptor.digest, " of ",
                                 registry_->reference().Name())};
  if (auto it = metadata_.find(descriptor.digest); it != metadata_.end()) {
    blob.read = [data = it->second](int64_t offset, char* buffer, size_t size) {
      data.copy(buffer, size, static_cast<size_t>(offset));
      return absl::OkStatus();
    };
    blob.verified = true;
    return blob;
  }
  absl::Status stored = absl::OkStatus();
  if (auto it = prefetched_.find(descriptor.digest); it != prefetched_.end()) {
    stored = it->second.get();
  } else {
    stored = Download(registry_, descriptor, what);
  }
  if (!stored.ok()) return stored;
  blob.stored = true;
  return blob;
}

absl::Status RegistrySource::Download(registry::RegistryClient* registry,
                                      const Descriptor& descriptor, absl::string_view what) {
  const std::string name = absl::StrCat(what, " ", descriptor.digest, " of ",
                                        registry->reference().Name());
  const std::string shared_ref = absl::StrCat(kIngestPrefix, descriptor.digest);
  std::string ref = shared_ref;
  auto writer = client_->OpenWriter(ref, descriptor, name);
  if (absl::IsUnavailable(writer.status()) &&
      absl::StrContains(writer.status().message(), "locked")) {
    // Another pull is fetching the same blob: fetch a private copy rather than wait on it.
    ref = absl::StrCat(client_->lease(), "-", descriptor.digest);
    writer = client_->OpenWriter(ref, descriptor, name);
  }
  if (absl::IsAlreadyExists(writer.status())) {
    // Stored by an earlier pull or import; it has joined this pull's lease.
    Report(descriptor, what, descriptor.size, true, true);
    return absl::OkStatus();
  }
  if (!writer.ok()) return writer.status();
  ContainerdClient::ContentWriter& ingest = **writer;
  // What an earlier, interrupted pull left in the ingest is kept; the registry sends the rest.
  int64_t offset = ingest.offset();
  Report(descriptor, what, offset, false, false);
  int64_t reported = offset;
  absl::Status status;
  absl::Status write_status;
  for (int attempt = 1; attempt <= kMaxAttempts && offset < descriptor.size; ++attempt) {
    const int64_t start = offset;
    status = registry->FetchBlob(
        descriptor.digest, offset, [&](absl::string_view chunk) -> absl::Status {
          if (offset + static_cast<int64_t>(chunk.size()) > descriptor.size) {
            return absl::DataLossError(absl::StrCat(name, ": the registry sends more than the ",
                                                    descriptor.size, " bytes of its descriptor"));
          }
          write_status = ingest.Write(chunk);
          if (!write_status.ok()) return write_status;
          offset += static_cast<int64_t>(chunk.size());
          if (offset - reported >= kProgressStep) {
            reported = offset;
            Report(descriptor, what, offset, false, false);
          }
          return absl::OkStatus();
        });
    if (status.ok() || !write_status.ok()) break;
    // Only a transfer that moved forward and then broke is worth another go at once.
    if (!absl::IsUnavailable(status) || offset == start) break;
  }
  if (!status.ok()) {
    if (!write_status.ok()) return status;  // containerd's error, naming the blob.
    // The bytes that arrived stay for the next pull, outside this pull's lease.
    const bool flushed = ingest.Flush().ok();
    const int64_t kept = ingest.offset();
    writer->reset();
    const bool keep = flushed && kept > 0 && ref == shared_ref &&
                      client_->KeepIngest(ref, descriptor).ok();
    return absl::Status(status.code(),
                        absl::StrCat(name, ": ", status.message(),
                                     keep ? absl::StrCat(" (", kept, " of ", descriptor.size,
                                                         " bytes kept; the next pull resumes "
                                                         "there)")
                                          : ""));
  }
  if (offset != descriptor.size) {
    return absl::DataLossError(absl::StrCat(name, ": the registry sent ", offset, " of ",
                                            descriptor.size, " bytes"));
  }
  absl::Status committed = ingest.Commit();
  if (absl::IsInvalidArgument(committed)) {
    client_->AbortIngest(ref).IgnoreError();
    return absl::DataLossError(absl::StrCat(name, " from ", registry->reference().domain,
                                            " does not match its digest; refused (",
                                            committed.message(), ")"));
  }
  if (!committed.ok() && !absl::IsAlreadyExists(committed)) return committed;
  Report(descriptor, what, offset, false, true);
  return absl::OkStatus();
}

}  // namespace skiff::runtime
