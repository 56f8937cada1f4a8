// ContainerdRuntime: the ContainerRuntime on containerd's gRPC API (containerd 1.6), confined to
// one containerd namespace. Thread-safe.
#ifndef SKIFF_RUNTIME_CONTAINERD_RUNTIME_H_
#define SKIFF_RUNTIME_CONTAINERD_RUNTIME_H_

#include <memory>
#include <string>

#include "skiff/runtime/container_runtime.h"
#include "skiff/runtime/containerd_connection.h"

namespace skiff::runtime {

class ContainerdRuntime final : public ContainerRuntime {
 public:
  // address is the socket path; ns the containerd namespace Skiff owns.
  ContainerdRuntime(const std::string& address, const std::string& ns);

  absl::StatusOr<RuntimeVersion> Version(absl::Duration timeout) override;

 private:
  ContainerdConnection connection_;
};

}  // namespace skiff::runtime

#endif  // SKIFF_RUNTIME_CONTAINERD_RUNTIME_H_
