#include "skiff/scheduler/image_puller.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {

absl::StatusOr<PullBehavior> ParsePullBehavior(absl::string_view name) {
  if (name == "default") return PullBehavior::kDefault;
  if (name == "always") return PullBehavior::kAlways;
  if (name == "once") return PullBehavior::kOnce;
  if (name == "prefer-cached") return PullBehavior::kPreferCached;
  return absl::InvalidArgumentError(absl::StrCat(
      "image pull behavior \"", name, "\": must be default, always, once or prefer-cached"));
}

bool ShouldPull(PullBehavior behavior, const registry::Reference& reference, bool cached,
                bool pulled_before) {
  if (!cached) return true;
  switch (behavior) {
    case PullBehavior::kAlways:
      return true;
    case PullBehavior::kDefault:
      return reference.digest.empty() && reference.tag == "latest";
    case PullBehavior::kOnce:
      return !pulled_before;
    case PullBehavior::kPreferCached:
      return false;
  }
  return true;
}

ImagePuller::ImagePuller(runtime::ContainerRuntime* runtime, ImagePullerOptions options)
    : runtime_(runtime), options_(std::move(options)) {}

absl::StatusOr<std::optional<registry::Credentials>> ImagePuller::CredentialsFor(
    const registry::Reference& reference, const std::string& credentials_parameter,
    const std::optional<registry::Credentials>& resolved) const {
  if (resolved) return resolved;
  if (!credentials_parameter.empty()) {
    auto credentials = options_.credentials.ForSecret(credentials_parameter);
    if (!credentials.ok()) return credentials.status();
    return std::optional<registry::Credentials>(*std::move(credentials));
  }
  return options_.credentials.ForRegistry(reference.domain);
}

absl::StatusOr<runtime::ImageInfo> ImagePuller::EnsureImage(
    const std::string& reference, const std::string& credentials_parameter,
    const std::optional<registry::Credentials>& resolved) {
  auto parsed = registry::ParseReference(reference);
  if (!parsed.ok()) return parsed.status();
  const std::string name = parsed->Name();
  absl::StatusOr<runtime::ImageInfo> cached = runtime_->GetImage(name);
  if (!cached.ok() && !absl::IsNotFound(cached.status())) return cached.status();
  bool pulled_before = false;
  {
    absl::MutexLock lock(&mu_);
    pulled_before = pulled_.count(name) > 0;
  }
  if (!ShouldPull(options_.behavior, *parsed, cached.ok(), pulled_before)) return cached;
  absl::StatusOr<runtime::ImageInfo> pulled =
      SharedPull(*parsed, credentials_parameter, nullptr, resolved);
  if (!pulled.ok() && cached.ok() && options_.behavior == PullBehavior::kDefault) {
    spdlog::warn("pull of {} failed, using the cached image: {}", name,
                 std::string(pulled.status().message()));
    return cached;
  }
  if (!pulled.ok() && !cached.ok()) {
    return absl::Status(pulled.status().code(),
                        absl::StrCat(pulled.status().message(),
                                     " (and it is not in skiffd's image store: pull it from a "
                                     "registry or load it with skiff load-image)"));
  }
  return pulled;
}

absl::StatusOr<runtime::ImageInfo> ImagePuller::Pull(
    const std::string& reference, const std::string& credentials_parameter,
    const runtime::PullProgressHandler& progress) {
  auto parsed = registry::ParseReference(reference);
  if (!parsed.ok()) return parsed.status();
  return SharedPull(*parsed, credentials_parameter, progress);
}

absl::StatusOr<runtime::ImageInfo> ImagePuller::SharedPull(
    const registry::Reference& reference, const std::string& credentials_parameter,
    const runtime::PullProgressHandler& progress,
    const std::optional<registry::Credentials>& resolved) {
  const std::string name = reference.Name();
  const auto key = std::make_pair(name, credentials_parameter);
  std::shared_ptr<InFlight> pull;
  {
    absl::MutexLock lock(&mu_);
    auto it = in_flight_.find(key);
    if (it != in_flight_.end()) {
      // Someone is pulling it: wait for their result.
      pull = it->second;
      if (progress) pull->watchers.push_back(progress);
      ++pull->joiners;
      mu_.Await(absl::Condition(&pull->done));
      return pull->result;
    }
    pull = std::make_shared<InFlight>();
    if (progress) pull->watchers.push_back(progress);
    in_flight_[key] = pull;
  }
  absl::StatusOr<runtime::ImageInfo> result;
  auto credentials = CredentialsFor(reference, credentials_parameter, resolved);
  if (!credentials.ok()) {
    result = credentials.status();
  } else {
    spdlog::info("pulling image {}", name);
    result = runtime_->PullImage(name, *credentials, [this, pull](const runtime::PullProgress& p) {
      std::vector<runtime::PullProgressHandler> watchers;
      {
        absl::MutexLock lock(&mu_);
        watchers = pull->watchers;
      }
      for (const auto& watcher : watchers) watcher(p);
    });
    if (result.ok()) {
      spdlog::info("pulled image {} ({})", name, result->digest);
    } else {
      spdlog::warn("pull of image {} failed: {}", name, std::string(result.status().message()));
    }
  }
  absl::MutexLock lock(&mu_);
  if (result.ok()) pulled_.insert(name);
  pull->result = result;
  pull->done = true;
  in_flight_.erase(key);
  return result;
}

void ImagePuller::AwaitJoinersForTest(const std::string& reference, int n) {
  const std::string name = registry::ParseReference(reference)->Name();
  absl::MutexLock lock(&mu_);
  auto joined = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = in_flight_.find({name, ""});
    return it != in_flight_.end() && it->second->joiners >= n;
  };
  mu_.Await(absl::Condition(&joined));
}

}  // namespace skiff::scheduler
