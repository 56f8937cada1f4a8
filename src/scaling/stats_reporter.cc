#include "skiff/scaling/stats_reporter.h"

#include <map>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "skiff/model/errors.h"
#include "skiff/scaling/utilization.h"
#include "skiff/scheduler/container_spec_builder.h"

namespace skiff::scaling {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

std::string RuntimeIdOf(const store::StoredTask& record, int index) {
  const v1::Container& c = record.task.containers(index);
  return c.runtime_id().empty() ? scheduler::RuntimeContainerId(record.id, c.name(), index)
                                : c.runtime_id();
}

void Fill(const StatsStore::Entry& entry, v1::ContainerStats* out) {
  const runtime::ContainerStats& s = entry.latest;
  if (entry.cpu_percent) out->set_cpu_percent(*entry.cpu_percent);
  out->set_cpu_usage_seconds(static_cast<double>(s.cpu_usage_ns) / 1e9);
  out->set_cpu_throttled_periods(static_cast<int64_t>(s.cpu_throttled_periods));
  out->set_cpu_throttled_seconds(static_cast<double>(s.cpu_throttled_ns) / 1e9);
  out->set_memory_usage_bytes(static_cast<int64_t>(s.memory_usage_bytes));
  out->set_memory_working_set_bytes(static_cast<int64_t>(s.memory_working_set_bytes));
  if (s.memory_limit_bytes > 0) {
    out->set_memory_limit_bytes(static_cast<int64_t>(s.memory_limit_bytes));
  }
  out->set_pids(static_cast<int64_t>(s.pids));
  out->set_sampled_at(Seconds(s.sampled_at));
}

// A running task's stats and its usage for the service sums.
v1::TaskStats TaskStatsOf(const store::StoredTask& record, const StatsStore& store,
                          const model::ArnScope& scope, TaskUsage* usage) {
  v1::TaskStats out;
  out.set_task_arn(model::TaskArn(scope, record.cluster, record.id));
  out.set_group(record.task.group());
  if (record.task.has_cpu()) out.set_cpu(record.task.cpu());
  if (record.task.has_memory()) out.set_memory(record.task.memory());
  double cpu = 0;
  bool every_cpu = record.task.containers_size() > 0;
  int64_t working_set = 0;
  for (int i = 0; i < record.task.containers_size(); ++i) {
    const v1::Container& c = record.task.containers(i);
    v1::ContainerStats* stats = out.add_containers();
    stats->set_container_name(c.name());
    stats->set_runtime_id(RuntimeIdOf(record, i));
    const StatsStore::Entry* entry = store.Find(stats->runtime_id());
    if (entry == nullptr) {
      // An exited container of a running task uses nothing; one not sampled yet is unknown.
      if (c.last_status() == "RUNNING") every_cpu = false;
      continue;
    }
    Fill(*entry, stats);
    working_set += stats->memory_working_set_bytes();
    if (entry->cpu_percent) {
      cpu += *entry->cpu_percent;
    } else {
      every_cpu = false;
    }
  }
  if (every_cpu) {
    out.set_cpu_percent(cpu);
    usage->cpu_cores = cpu / 100;
  }
  out.set_memory_working_set_bytes(working_set);
  usage->memory_mib = static_cast<double>(working_set) / kMiB;
  return out;
}

}  // namespace

StatsReporter::StatsReporter(const scheduler::TaskInventory* tasks, const StatsStore* store,
                             model::ArnScope scope, absl::Duration interval)
    : tasks_(tasks), store_(store), scope_(std::move(scope)), interval_(interval) {}

namespace {

// The request's filters, parsed.
struct Filter {
  std::string cluster;
  std::string service;       // "" for any.
  std::set<std::string> tasks;  // Empty for any.
};

absl::StatusOr<Filter> FilterOf(const model::ArnScope& scope,
                                const v1::DescribeStatsRequest& request) {
  Filter out;
  absl::StatusOr<std::string> cluster = model::ParseClusterRef(scope, request.cluster());
  if (!cluster.ok()) return cluster.status();
  out.cluster = *cluster;
  if (!request.service().empty()) {
    absl::StatusOr<std::string> service = model::ParseServiceRef(scope, request.service(),
                                                                 "service");
    if (!service.ok()) return service.status();
    out.service = *service;
  }
  for (const std::string& ref : request.tasks()) {
    absl::StatusOr<std::string> id = model::ParseTaskRef(scope, ref, "tasks");
    if (!id.ok()) return id.status();
    out.tasks.insert(*id);
  }
  return out;
}

}  // namespace

absl::StatusOr<v1::DescribeStatsResponse> StatsReporter::DescribeStats(
    const v1::DescribeStatsRequest& request) const {
  absl::StatusOr<Filter> filter = FilterOf(scope_, request);
  if (!filter.ok()) return filter.status();
  v1::DescribeStatsResponse out;
  std::set<std::string> found;         // Named tasks seen.
  std::set<std::string> shown_services;  // Services of the tasks shown.
  std::map<std::string, std::vector<TaskUtilizationInput>> by_service;
  tasks_->ForEachTask([&](const store::StoredTask& record) {
    if (record.cluster != filter->cluster) return;
    const bool named = filter->tasks.count(record.id) > 0;
    if (named) found.insert(record.id);
    if (record.task.last_status() != "RUNNING") return;
    TaskUsage usage;
    v1::TaskStats stats = TaskStatsOf(record, *store_, scope_, &usage);
    if (!record.service.empty()) {
      by_service[record.service].push_back({ReservationOf(record.task), usage});
    }
    if (!filter->service.empty() && record.service != filter->service) return;
    if (!filter->tasks.empty() && !named) return;
    if (!record.service.empty()) shown_services.insert(record.service);
    *out.add_tasks() = std::move(stats);
  });
  for (const std::string& id : filter->tasks) {
    if (found.count(id) == 0) {
      return model::EcsError(absl::StatusCode::kNotFound, model::kInvalidParameterException,
                             absl::StrCat("tasks: cluster ", filter->cluster, " has no task ",
                                          id));
    }
  }
  for (const std::string& name : shown_services) {
    const ServiceUtilization u = UtilizationOf(by_service[name]);
    v1::ServiceUtilization* s = out.add_services();
    s->set_service_name(name);
    s->set_service_arn(model::ServiceArn(scope_, filter->cluster, name));
    if (u.cpu_percent) s->set_cpu_utilization(*u.cpu_percent);
    if (u.memory_percent) s->set_memory_utilization(*u.memory_percent);
    s->set_running_tasks(u.tasks);
  }
  if (store_->last_round() != absl::InfinitePast()) {
    out.set_sampled_at(Seconds(store_->last_round()));
  }
  out.set_interval_seconds(absl::ToDoubleSeconds(interval_));
  return out;
}

ServiceUtilization StatsReporter::UtilizationOfService(const std::string& cluster,
                                                      const std::string& service) const {
  std::vector<TaskUtilizationInput> running;
  tasks_->ForEachTask([&](const store::StoredTask& record) {
    if (record.cluster != cluster || record.service != service) return;
    if (record.task.last_status() != "RUNNING") return;
    TaskUsage usage;
    TaskStatsOf(record, *store_, scope_, &usage);
    running.push_back({ReservationOf(record.task), usage});
  });
  return UtilizationOf(running);
}

void StatsReporter::ForEachSample(const std::function<void(const ContainerSample&)>& fn) const {
  tasks_->ForEachTask([&](const store::StoredTask& record) {
    if (record.task.last_status() != "RUNNING") return;
    for (int i = 0; i < record.task.containers_size(); ++i) {
      const StatsStore::Entry* entry = store_->Find(RuntimeIdOf(record, i));
      if (entry == nullptr) continue;
      fn(ContainerSample{.cluster = record.cluster, .task_id = record.id,
                         .service = record.service, .container = record.task.containers(i).name(),
                         .stats = *entry});
    }
  });
}

}  // namespace skiff::scaling
