// Small typed calls on containerd's Containers service shared by the adapter's files
// (containerd_runtime.cc, containerd_exec.cc). Thread-safe.
#ifndef SKIFF_SRC_CONTAINERD_CONTAINERD_CONTAINERS_H_
#define SKIFF_SRC_CONTAINERD_CONTAINERD_CONTAINERS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "skiff/containerd/containerd_connection.h"

namespace skiff::runtime {

// The container record (labels, spec, snapshot); NotFound when there is none.
absl::StatusOr<containerd::services::containers::v1::Container> GetContainer(
    const ContainerdConnection& connection, const std::string& id, absl::Duration timeout);

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_CONTAINERD_CONTAINERS_H_
