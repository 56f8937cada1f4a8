// ContainerRuntime: the seam between Skiff and whatever runs containers. The daemon wires in the
// containerd adapter (containerd_runtime.h); unit tests use a fake that can be told how each call
// ends. Implementations must be safe to call from any thread; calls may block up to their
// timeout, so the control loop runs them off its own thread.
#ifndef SKIFF_RUNTIME_CONTAINER_RUNTIME_H_
#define SKIFF_RUNTIME_CONTAINER_RUNTIME_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace skiff::runtime {

struct RuntimeVersion {
  std::string version;
  std::string revision;
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;

  // The runtime's version. Unavailable when the runtime cannot be reached within timeout.
  virtual absl::StatusOr<RuntimeVersion> Version(absl::Duration timeout) = 0;
};

}  // namespace skiff::runtime

#endif  // SKIFF_RUNTIME_CONTAINER_RUNTIME_H_
