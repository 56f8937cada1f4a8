// ImagePuller: gets the images tasks need from registries, as the ECS agent does at task start,
// and serves `skiff pull-image`. It decides by the configured pull behaviour whether a task's
// image is pulled or the cached one is used, resolves a container's repositoryCredentials from
// the credentials file, and makes concurrent requests for the same image (and credentials) share
// one pull: the first caller pulls, the others wait for its result.
//
// Pull behaviours (skiffd --image-pull-behavior, after ECS_IMAGE_PULL_BEHAVIOR):
//   default        pull `latest` tags and images that are not cached; use the cached image for
//                  other tags and digests. A failed pull of a cached `latest` falls back to it.
//   always         pull every time; a failed pull fails the task.
//   once           pull the first time a task needs the image after skiffd started; later tasks
//                  use the cached image.
//   prefer-cached  use the cached image whenever there is one; pull only when there is none.
//
// Thread-safe; its calls block for the length of a pull, so the loop calls them on executor
// threads. Owned by the daemon; borrows the runtime.
#ifndef SKIFF_SCHEDULER_IMAGE_PULLER_H_
#define SKIFF_SCHEDULER_IMAGE_PULLER_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "skiff/registry/auth.h"
#include "skiff/registry/reference.h"
#include "skiff/runtime/container_runtime.h"

namespace skiff::scheduler {

enum class PullBehavior { kDefault, kAlways, kOnce, kPreferCached };

// "default", "always", "once", "prefer-cached"; InvalidArgument for anything else.
absl::StatusOr<PullBehavior> ParsePullBehavior(absl::string_view name);

// Whether a task's image is pulled: `cached` says the runtime has it, `pulled_before` that this
// skiffd pulled it already.
bool ShouldPull(PullBehavior behavior, const registry::Reference& reference, bool cached,
                bool pulled_before);

struct ImagePullerOptions {
  PullBehavior behavior = PullBehavior::kDefault;
  registry::CredentialsFile credentials;
};

class ImagePuller {
 public:
  ImagePuller(runtime::ContainerRuntime* runtime, ImagePullerOptions options);

  // The image a task's container runs, pulled or not per the behaviour. credentials_parameter:
  // the container's repositoryCredentials.credentialsParameter, "" for none (then the
  // credentials file's entry for the registry, if any). Errors name the image; NotFound when
  // the registry does not have it.
  // `resolved`: the credentials the launch read from the node's Secrets Manager for that
  // parameter, which then win over the file.
  absl::StatusOr<runtime::ImageInfo> EnsureImage(
      const std::string& reference, const std::string& credentials_parameter,
      const std::optional<registry::Credentials>& resolved = std::nullopt);

  // Pulls now, whatever the behaviour (skiff pull-image), joining a pull of the same image in
  // flight. `progress` sees this pull's progress (or the joined one's, from when it joined).
  absl::StatusOr<runtime::ImageInfo> Pull(const std::string& reference,
                                          const std::string& credentials_parameter,
                                          const runtime::PullProgressHandler& progress);

  // Blocks until `n` callers wait on the in-flight pull of `reference` (no credentials). Tests.
  void AwaitJoinersForTest(const std::string& reference, int n);

 private:
  struct InFlight {
    bool done = false;
    int joiners = 0;
    absl::StatusOr<runtime::ImageInfo> result;
    std::vector<runtime::PullProgressHandler> watchers;
  };

  absl::StatusOr<std::optional<registry::Credentials>> CredentialsFor(
      const registry::Reference& reference, const std::string& credentials_parameter,
      const std::optional<registry::Credentials>& resolved) const;
  absl::StatusOr<runtime::ImageInfo> SharedPull(
      const registry::Reference& reference, const std::string& credentials_parameter,
      const runtime::PullProgressHandler& progress,
      const std::optional<registry::Credentials>& resolved = std::nullopt);

  runtime::ContainerRuntime* runtime_;
  const ImagePullerOptions options_;
  absl::Mutex mu_;
  // By normalized name and credentials parameter.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<InFlight>> in_flight_
      ABSL_GUARDED_BY(mu_);
  std::set<std::string> pulled_ ABSL_GUARDED_BY(mu_);  // Names pulled since start.
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_IMAGE_PULLER_H_
