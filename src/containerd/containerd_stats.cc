#include "containerd/containerd_stats.h"

#include <limits>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "skiff/containerd/containerd_runtime.h"

namespace skiff::runtime {
namespace {

namespace v1_stats = io::containerd::cgroups::v1;
namespace v2_stats = io::containerd::cgroups::v2;
namespace tasks_api = containerd::services::tasks::v1;

constexpr char kV1Type[] = "io.containerd.cgroups.v1.Metrics";
constexpr char kV2Type[] = "io.containerd.cgroups.v2.Metrics";
constexpr absl::Duration kStatsTimeout = absl::Seconds(10);

// The kernel reports "no limit" as a huge number (v1: PAGE_COUNTER_MAX pages in bytes; v2:
// "max", which containerd turns into the largest uint64).
uint64_t Limit(uint64_t bytes) { return bytes >= (uint64_t{1} << 62) ? 0 : bytes; }

uint64_t WorkingSet(uint64_t usage, uint64_t inactive_file) {
  return usage > inactive_file ? usage - inactive_file : 0;
}

void FromV1(const v1_stats::Metrics& m, ContainerStats* out) {
  out->cpu_usage_ns = m.cpu().usage().total();
  out->cpu_periods = m.cpu().throttling().periods();
  out->cpu_throttled_periods = m.cpu().throttling().throttled_periods();
  out->cpu_throttled_ns = m.cpu().throttling().throttled_time();
  out->memory_usage_bytes = m.memory().usage().usage();
  // total_*: the cgroup and its descendants, as the usage counts them.
  out->memory_working_set_bytes =
      WorkingSet(m.memory().usage().usage(), m.memory().total_inactive_file());
  out->memory_limit_bytes = Limit(m.memory().usage().limit());
  out->pids = m.pids().current();
}

void FromV2(const v2_stats::Metrics& m, ContainerStats* out) {
  out->cpu_usage_ns = m.cpu().usage_usec() * 1000;
  out->cpu_periods = m.cpu().nr_periods();
  out->cpu_throttled_periods = m.cpu().nr_throttled();
  out->cpu_throttled_ns = m.cpu().throttled_usec() * 1000;
  out->memory_usage_bytes = m.memory().usage();
  out->memory_working_set_bytes = WorkingSet(m.memory().usage(), m.memory().inactive_file());
  out->memory_limit_bytes = Limit(m.memory().usage_limit());
  out->pids = m.pids().current();
}

}  // namespace

absl::StatusOr<ContainerStats> DecodeMetric(const containerd::types::Metric& metric) {
  ContainerStats out;
  out.id = metric.id();
  out.sampled_at = absl::FromUnixSeconds(metric.timestamp().seconds()) +
                   absl::Nanoseconds(metric.timestamp().nanos());
  const std::string& type = metric.data().type_url();
  // containerd writes the bare name; a prefixed one ("type.googleapis.com/...") is as good.
  if (absl::EndsWith(type, kV1Type)) {
    v1_stats::Metrics m;
    if (!m.ParseFromString(metric.data().value())) {
      return absl::InvalidArgumentError(absl::StrCat("metrics of ", metric.id(), ": bad ", type));
    }
    FromV1(m, &out);
    return out;
  }
  if (absl::EndsWith(type, kV2Type)) {
    v2_stats::Metrics m;
    if (!m.ParseFromString(metric.data().value())) {
      return absl::InvalidArgumentError(absl::StrCat("metrics of ", metric.id(), ": bad ", type));
    }
    FromV2(m, &out);
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("metrics of ", metric.id(), ": unknown type \"", type, "\""));
}

absl::StatusOr<std::vector<ContainerStats>> ContainerdRuntime::Stats(
    const std::vector<std::string>& ids) {
  auto tasks = tasks_api::Tasks::NewStub(connection_.channel());
  tasks_api::MetricsRequest request;
  // containerd ORs the filters: one call for every container asked for.
  for (const std::string& id : ids) request.add_filters(absl::StrCat("id==\"", id, "\""));
  tasks_api::MetricsResponse response;
  grpc::Status status =
      tasks->Metrics(connection_.NewContext(kStatsTimeout).get(), request, &response);
  if (!status.ok()) return connection_.ToStatus(status, "Tasks.Metrics");
  std::vector<ContainerStats> out;
  for (const containerd::types::Metric& metric : response.metrics()) {
    absl::StatusOr<ContainerStats> stats = DecodeMetric(metric);
    // One odd payload must not hide every other container's sample.
    if (stats.ok()) out.push_back(*std::move(stats));
  }
  return out;
}

}  // namespace skiff::runtime
