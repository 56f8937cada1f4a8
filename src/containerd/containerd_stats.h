// Decoding containerd's task metrics: Tasks.Metrics answers each task with an Any that holds
// the cgroup's stats as io.containerd.cgroups.v1.Metrics (cgroup v1 hosts) or
// io.containerd.cgroups.v2.Metrics (unified hierarchy), with a type URL that may or may not
// carry the "type.googleapis.com/" prefix. DecodeMetric is a pure function (any thread), in a
// header of its own so that tests can feed it real messages; containerd_stats.cc also holds
// ContainerdRuntime::Stats, the one Tasks.Metrics call. Private to the adapter.
#ifndef SKIFF_SRC_CONTAINERD_CONTAINERD_STATS_H_
#define SKIFF_SRC_CONTAINERD_CONTAINERD_STATS_H_

#include "absl/status/statusor.h"
#include "github.com/containerd/containerd/api/types/metrics.pb.h"
#include "skiff/runtime/container_runtime.h"

namespace skiff::runtime {

// One metric as a ContainerStats. InvalidArgument for a type URL that is neither cgroup
// version, or bytes that do not parse as the type.
absl::StatusOr<ContainerStats> DecodeMetric(const containerd::types::Metric& metric);

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_CONTAINERD_STATS_H_
