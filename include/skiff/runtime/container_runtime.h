// ContainerRuntime: the seam between Skiff and whatever runs containers. The daemon wires in the
// containerd adapter (containerd_runtime.h); unit tests use a fake that can be told how each call
// ends. Implementations must be safe to call from any thread; calls block (up to their timeout),
// so the control loop runs them on worker threads, never on its own.
//
// The runtime knows nothing of ECS: the scheduler turns a container definition into a
// ContainerSpec (container_spec.h) and the runtime turns that into containerd objects.
#ifndef SKIFF_RUNTIME_CONTAINER_RUNTIME_H_
#define SKIFF_RUNTIME_CONTAINER_RUNTIME_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/registry/auth.h"
#include "skiff/runtime/container_spec.h"
#include "skiff/runtime/exec_session.h"
#include "skiff/runtime/image.h"

namespace skiff::runtime {

struct RuntimeVersion {
  std::string version;
  std::string revision;
};

// What happened to a container's main process, from the runtime's event stream.
struct RuntimeEvent {
  enum class Kind {
    kExit,        // The main process exited: exit_status, at.
    kOom,         // The container hit its memory limit (an exit usually follows).
    kStreamLost,  // The event stream broke; events may have been missed. Resubscribing.
    kStreamUp,    // The stream is (again) subscribed; later events will arrive.
  };
  Kind kind = Kind::kExit;
  std::string container_id;
  uint32_t exit_status = 0;
  absl::Time at;
};

// A container as the runtime sees it, for status checks and adoption.
struct ContainerStatus {
  std::string id;
  std::map<std::string, std::string> labels;
  enum class State { kCreated, kRunning, kStopped, kUnknown } state = State::kUnknown;
  uint32_t pid = 0;
  uint32_t exit_status = 0;
  absl::Time exited_at;
};

// How much of an exec's stdout and stderr (each) is kept when the caller does not say.
inline constexpr size_t kDefaultExecOutputLimit = 4 << 20;

struct ExecResult {
  int exit_code = 0;
  std::string stdout_data;
  std::string stderr_data;
};

// One sample of a running container's cgroup (containerd's Tasks.Metrics), cumulative counters
// as the kernel keeps them: rates come from the difference of two samples.
struct ContainerStats {
  std::string id;         // The runtime container id.
  absl::Time sampled_at;  // When the runtime read the cgroup.
  uint64_t cpu_usage_ns = 0;          // CPU time used, all cores, since the container started.
  uint64_t cpu_periods = 0;           // CFS enforcement periods elapsed (0 without a quota).
  uint64_t cpu_throttled_periods = 0;  // ... of which the cgroup was throttled.
  uint64_t cpu_throttled_ns = 0;       // Time spent throttled.
  uint64_t memory_usage_bytes = 0;
  // usage - inactive file cache (cAdvisor's and the kubelet's "working set"): what the kernel
  // could not simply drop under pressure.
  uint64_t memory_working_set_bytes = 0;
  // The cgroup's limit; 0 when there is none (the kernel's "max").
  uint64_t memory_limit_bytes = 0;
  uint64_t pids = 0;
};

// Called on the pulling thread as blobs progress; must not block.
using PullProgressHandler = std::function<void(const PullProgress&)>;

class ContainerRuntime {
 public:
  using EventHandler = std::function<void(const RuntimeEvent&)>;

  virtual ~ContainerRuntime() = default;

  // The runtime's version. Unavailable when the runtime cannot be reached within timeout.
  virtual absl::StatusOr<RuntimeVersion> Version(absl::Duration timeout) = 0;

  // --- Images (image.h) ---
  // Imports every image of an OCI-layout or docker-archive tarball and unpacks it. On any error
  // nothing of the import is left (InvalidArgument for a broken tarball).
  virtual absl::StatusOr<std::vector<ImageInfo>> ImportImage(const std::string& tarball_path) = 0;
  // Pulls `reference` from its registry (OCI distribution API) and unpacks it, as `ctr images
  // pull` does: the index resolved to this platform, blobs verified against their digests,
  // blobs already stored not fetched again. `credentials` answer basic or token auth. On any
  // error nothing of the pull is left but a partial download kept to resume. Errors:
  // InvalidArgument (bad reference), NotFound (the registry lacks it), PermissionDenied,
  // Unavailable (registry or containerd unreachable, connection dropped), DataLoss (content
  // does not match its digest); messages name the image and carry the registry's words.
  virtual absl::StatusOr<ImageInfo> PullImage(const std::string& reference,
                                              const std::optional<registry::Credentials>& credentials,
                                              const PullProgressHandler& progress) = 0;
  virtual absl::StatusOr<std::vector<ImageInfo>> ListImages() = 0;
  // NotFound when no image has this reference (normalized as docker does: "busybox" means
  // "docker.io/library/busybox:latest").
  virtual absl::StatusOr<ImageInfo> GetImage(const std::string& reference) = 0;
  virtual absl::Status RemoveImage(const std::string& reference) = 0;

  // --- Containers ---
  // Creates the container (snapshot, OCI spec, labels) without starting it. NotFound when the
  // image is missing; InvalidArgument when the spec cannot apply to the image (unknown user...).
  virtual absl::Status CreateContainer(const ContainerSpec& spec) = 0;
  // Creates and starts its task (main process) with stdout/stderr to spec.log_path. Returns the
  // pid. Subscribe to events first, or the exit of a short-lived process may be missed.
  virtual absl::StatusOr<uint32_t> StartContainer(const std::string& id) = 0;
  // Signals the main process. NotFound when the container has no running task.
  virtual absl::Status SignalContainer(const std::string& id, int signal) = 0;
  // Reaps the task of an exited container (frees its shim); returns the exit status. Safe to call
  // twice; NotFound if it never had a task.
  virtual absl::StatusOr<uint32_t> DeleteTask(const std::string& id) = 0;
  // Removes the container, its task (killed first) and its snapshot. Ok when already gone.
  virtual absl::Status RemoveContainer(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<ContainerStatus>> ListContainers() = 0;
  // Runs argv in the running container (as its user, cwd and env) and collects at most
  // max_output bytes of each of stdout and stderr (the rest is read and dropped, and a note says
  // so). After timeout the process and everything it started are killed (DeadlineExceeded).
  virtual absl::StatusOr<ExecResult> Exec(const std::string& id, const std::vector<std::string>& argv,
                                          absl::Duration timeout, size_t max_output) = 0;
  // Starts argv in the running container (as Exec does: its user, cwd and env) with its
  // standard streams open to the returned session, with or without a terminal. NotFound when
  // the container has no running task; InvalidArgument when argv cannot run there (no such
  // executable: the runtime's words). The session lives until its owner destroys it, however
  // long the command runs.
  virtual absl::StatusOr<std::unique_ptr<ExecSession>> StartExecSession(
      const std::string& id, const std::vector<std::string>& argv,
      const ExecSessionOptions& options) = 0;

  // One sample of each of `ids` that has a running task, in one runtime call; every running
  // container of the runtime's namespace when `ids` is empty. Containers without a running task
  // are left out (no error): a container may exit between listing and sampling. Unavailable
  // when the runtime cannot be reached.
  virtual absl::StatusOr<std::vector<ContainerStats>> Stats(
      const std::vector<std::string>& ids) = 0;

  // --- Events ---
  // Starts delivering events to handler, on a runtime thread, until StopEvents(). The handler
  // must not block; it posts to the loop. Call once.
  virtual void StartEvents(EventHandler handler) = 0;
  virtual void StopEvents() = 0;
};

}  // namespace skiff::runtime

#endif  // SKIFF_RUNTIME_CONTAINER_RUNTIME_H_
