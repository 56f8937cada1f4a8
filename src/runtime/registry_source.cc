#include "runtime/registry_source.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>
#include <atomic>
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "runtime/digest.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {
namespace {

// Attempts per blob within one pull; each resumes where the last one was cut off.
constexpr int kMaxAttempts = 3;
constexpr int64_t kProgressStep = 256 << 10;
constexpr size_t kReadChunk = 1 << 20;
constexpr size_t kMaxParallelDownloads = 3;

absl::Status Errno(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// A file descriptor that closes itself.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("write", path);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// Where the data of a manifest (index or image manifest) lives in the distribution API: the
// manifests endpoint. Everything else is a blob.
bool IsManifestEndpoint(const Descriptor& d) {
  return d.media_type.empty() || IsIndexMediaType(d.media_type) ||
         IsManifestMediaType(d.media_type);
}

}  // namespace

RegistrySource::RegistrySource(registry::RegistryClient* registry, ContainerdClient* client,
                               std::string pull_dir, PullProgressHandler progress,
                               ClientFactory factory)
    : registry_(registry),
      client_(client),
      pull_dir_(std::move(pull_dir)),
      progress_(std::move(progress)),
      factory_(std::move(factory)) {}

RegistrySource::~RegistrySource() {
  for (auto& [digest, download] : prefetched_) download.wait();
  for (const std::string& path : downloads_) unlink(path.c_str());
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
  std::vector<std::shared_ptr<std::promise<absl::StatusOr<std::string>>>> promises;
  for (const Descriptor& layer : *todo) {
    auto promise = std::make_shared<std::promise<absl::StatusOr<std::string>>>();
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
    return blob;
  }
  std::shared_future<absl::StatusOr<std::string>> prefetch;
  if (auto it = prefetched_.find(descriptor.digest); it != prefetched_.end()) {
    prefetch = it->second;
  } else {
    auto present = client_->HasBlob(descriptor.digest);
    if (!present.ok()) return present.status();
    if (*present) Report(descriptor, what, descriptor.size, true, true);
  }
  // Downloaded on the first read: containerd asks for no byte of a blob it has.
  struct File {
    std::unique_ptr<Fd> fd;
    std::string path;
  };
  auto file = std::make_shared<File>();
  blob.verified = true;  // Download() checks the digest before the first byte is read.
  const std::string kind(what);
  blob.read = [this, file, descriptor, kind, prefetch](int64_t offset, char* buffer,
                                                       size_t size) -> absl::Status {
    if (file->fd == nullptr) {
      auto path = prefetch.valid() ? prefetch.get() : Download(registry_, descriptor, kind);
      if (!path.ok()) return path.status();
      file->path = *path;
      file->fd = std::make_unique<Fd>(open(path->c_str(), O_RDONLY | O_CLOEXEC));
      if (file->fd->fd < 0) return Errno("open", *path);
    }
    while (size > 0) {
      const ssize_t n = pread(file->fd->fd, buffer, size, offset);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("read", file->path);
      if (n == 0) return absl::InternalError(absl::StrCat(file->path, ": shorter than expected"));
      buffer += n;
      size -= static_cast<size_t>(n);
      offset += n;
    }
    return absl::OkStatus();
  };
  return blob;
}

absl::StatusOr<std::string> RegistrySource::Download(registry::RegistryClient* registry,
                                                     const Descriptor& descriptor,
                                                     absl::string_view what) {
  std::error_code ec;
  std::filesystem::create_directories(pull_dir_, ec);
  std::filesystem::permissions(pull_dir_, std::filesystem::perms::owner_all, ec);
  std::string path = absl::StrCat(pull_dir_, "/", descriptor.digest.substr(7), ".partial");
  auto fd = std::make_unique<Fd>(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd->fd < 0) return Errno("open", path);
  if (flock(fd->fd, LOCK_EX | LOCK_NB) != 0) {
    // Another pull is fetching the same blob: fetch a private copy rather than wait on it.
    std::random_device random;
    path = absl::StrFormat("%s/%s.%08x.partial", pull_dir_, descriptor.digest.substr(7), random());
    fd = std::make_unique<Fd>(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd->fd < 0) return Errno("open", path);
  }
  struct stat st {};
  if (fstat(fd->fd, &st) != 0) return Errno("stat", path);
  int64_t offset = st.st_size;
  if (offset > descriptor.size && ftruncate(fd->fd, 0) != 0) return Errno("truncate", path);
  if (offset > descriptor.size) offset = 0;
  // What an earlier, interrupted attempt left is hashed again: the digest covers it all.
  Sha256Hasher hasher;
  std::string buffer(kReadChunk, '\0');
  for (int64_t done = 0; done < offset;) {
    const ssize_t n = pread(fd->fd, buffer.data(), buffer.size(), done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Errno("read", path);
    hasher.Update(absl::string_view(buffer.data(), static_cast<size_t>(n)));
    done += n;
  }
  if (lseek(fd->fd, offset, SEEK_SET) < 0) return Errno("seek", path);
  const std::string name = absl::StrCat(what, " ", descriptor.digest, " of ",
                                        registry->reference().Name());
  Report(descriptor, what, offset, false, false);
  int64_t reported = offset;
  absl::Status status;
  for (int attempt = 1; attempt <= kMaxAttempts && offset < descriptor.size; ++attempt) {
    const int64_t start = offset;
    status = registry->FetchBlob(
        descriptor.digest, offset, [&](absl::string_view chunk) -> absl::Status {
          if (offset + static_cast<int64_t>(chunk.size()) > descriptor.size) {
            return absl::DataLossError(absl::StrCat(name, ": the registry sends more than the ",
                                                    descriptor.size, " bytes of its descriptor"));
          }
          if (absl::Status w = WriteAll(fd->fd, chunk, path); !w.ok()) return w;
          hasher.Update(chunk);
          offset += static_cast<int64_t>(chunk.size());
          if (offset - reported >= kProgressStep) {
            reported = offset;
            Report(descriptor, what, offset, false, false);
          }
          return absl::OkStatus();
        });
    if (status.ok()) break;
    // Only a transfer that moved forward and then broke is worth another go at once.
    if (!absl::IsUnavailable(status) || offset == start) break;
  }
  if (!status.ok()) {
    return absl::Status(status.code(),
                        absl::StrCat(name, ": ", status.message(),
                                     offset > 0 ? absl::StrCat(" (", offset, " of ",
                                                               descriptor.size,
                                                               " bytes kept; the next pull "
                                                               "resumes there)")
                                                : ""));
  }
  if (offset != descriptor.size) {
    return absl::DataLossError(absl::StrCat(name, ": the registry sent ", offset, " of ",
                                            descriptor.size, " bytes"));
  }
  if (const std::string actual = hasher.Finish(); actual != descriptor.digest) {
    unlink(path.c_str());
    return absl::DataLossError(absl::StrCat(name, " from ", registry->reference().domain,
                                            " has digest ", actual, "; refused"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    downloads_.push_back(path);
  }
  Report(descriptor, what, offset, false, true);
  return path;
}

}  // namespace skiff::runtime
