// StatsReporter: what skiff.v1.Node/DescribeStats answers and what /metrics exports about
// containers, read from the tasks (TaskInventory) and the last samples (StatsStore): per task
// and container CPU %, memory and pids, and per service the utilization ECS scales on
// (utilization.h). Only RUNNING tasks are sampled; containers not sampled yet show no numbers.
//
// Thread contract: owned by the control loop; every method on the loop thread.
#ifndef SKIFF_SCALING_STATS_REPORTER_H_
#define SKIFF_SCALING_STATS_REPORTER_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/model/arn.h"
#include "skiff/scaling/stats_store.h"
#include "skiff/scaling/utilization.h"
#include "skiff/scheduler/inventory.h"
#include "skiff/v1/skiff.pb.h"

namespace skiff::scaling {

// One sampled container of a RUNNING task, for exporters.
struct ContainerSample {
  const std::string& cluster;
  const std::string& task_id;
  const std::string& service;  // "" for a standalone task.
  const std::string& container;
  const StatsStore::Entry& stats;
};

class StatsReporter {
 public:
  // Every pointer outlives the reporter. `interval`: how often samples are taken (reported).
  StatsReporter(const scheduler::TaskInventory* tasks, const StatsStore* store,
                model::ArnScope scope, absl::Duration interval);

  // The running tasks of the request's cluster (of its service, or the tasks it names) and the
  // services they belong to. InvalidArgument for a malformed name; NotFound for a named task
  // the cluster does not have.
  absl::StatusOr<v1::DescribeStatsResponse> DescribeStats(
      const v1::DescribeStatsRequest& request) const;

  // ECSServiceAverage{CPU,Memory}Utilization of one service now (what autoscaling samples).
  ServiceUtilization UtilizationOfService(const std::string& cluster,
                                          const std::string& service) const;

  void ForEachSample(const std::function<void(const ContainerSample&)>& fn) const;

 private:
  const scheduler::TaskInventory* const tasks_;
  const StatsStore* const store_;
  const model::ArnScope scope_;
  const absl::Duration interval_;
};

}  // namespace skiff::scaling

#endif  // SKIFF_SCALING_STATS_REPORTER_H_
