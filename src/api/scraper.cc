#include "api/scraper.h"

#include <map>
#include <utility>

#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace skiff::api {
namespace {

std::string ClusterName(const std::string& arn) {
  const size_t slash = arn.rfind('/');
  return slash == std::string::npos ? arn : arn.substr(slash + 1);
}

prometheus::Family<prometheus::Gauge>& Gauge(prometheus::Registry& registry,
                                             const std::string& name, const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

void AddServices(const scheduler::ServiceManager& services, prometheus::Registry& registry) {
  auto& desired = Gauge(registry, "skiff_service_desired_tasks", "The service's desiredCount");
  auto& running = Gauge(registry, "skiff_service_running_tasks", "The service's runningCount");
  auto& pending = Gauge(registry, "skiff_service_pending_tasks", "The service's pendingCount");
  auto& deployments = Gauge(registry, "skiff_service_deployments",
                            "The service's deployments by rolloutState");
  services.ForEachService([&](const v1::Service& service) {
    const prometheus::Labels labels = {{"cluster", ClusterName(service.cluster_arn())},
                                       {"service", service.service_name()}};
    desired.Add(labels).Set(service.desired_count());
    running.Add(labels).Set(service.running_count());
    pending.Add(labels).Set(service.pending_count());
    for (const v1::Deployment& deployment : service.deployments()) {
      prometheus::Labels by_state = labels;
      by_state["rollout_state"] = deployment.rollout_state();
      deployments.Add(by_state).Increment();
    }
  });
}

void AddTasks(const scheduler::TaskManager& tasks, prometheus::Registry& registry) {
  auto& gauge = Gauge(registry, "skiff_tasks", "Tasks by cluster and lastStatus");
  std::map<std::pair<std::string, std::string>, int> counts;
  tasks.ForEachTask([&counts](const store::StoredTask& task) {
    ++counts[{task.cluster, task.task.last_status()}];
  });
  for (const auto& [key, count] : counts) {
    gauge.Add({{"cluster", key.first}, {"last_status", key.second}}).Set(count);
  }
}

// Labels cluster, task, container, and service for a service's task (SPEC.md's Metrics).
void AddContainers(const scaling::StatsReporter& stats, prometheus::Registry& registry) {
  auto& cpu = prometheus::BuildCounter()
                  .Name("skiff_container_cpu_usage_seconds_total")
                  .Help("CPU time a running task's container has used, all cores, at the last "
                        "sample")
                  .Register(registry);
  auto& working_set = Gauge(registry, "skiff_container_memory_working_set_bytes",
                            "A running task's container's memory less inactive file cache, at "
                            "the last sample");
  stats.ForEachSample([&](const scaling::ContainerSample& sample) {
    prometheus::Labels labels = {{"cluster", sample.cluster},
                                 {"task", sample.task_id},
                                 {"container", sample.container}};
    if (!sample.service.empty()) labels["service"] = sample.service;
    cpu.Add(labels).Increment(static_cast<double>(sample.stats.latest.cpu_usage_ns) / 1e9);
    working_set.Add(labels).Set(
        static_cast<double>(sample.stats.latest.memory_working_set_bytes));
  });
}

}  // namespace

Scraper::Scraper(metrics::Metrics* metrics, Sources sources)
    : metrics_(metrics), sources_(sources) {
  metrics_->AddCollector([this](prometheus::Registry& registry) {
    Gauge(registry, "skiff_loop_queue_depth", "Work posted to the control loop, not yet begun")
        .Add({})
        .Set(static_cast<double>(sources_.loop->QueueDepth()));
    Gauge(registry, "skiff_loop_lag_seconds", "How long the scrape's work waited for the loop")
        .Add({})
        .Set(absl::ToDoubleSeconds(lag_));
    AddServices(*sources_.services, registry);
    AddTasks(*sources_.tasks, registry);
    if (sources_.stats != nullptr) AddContainers(*sources_.stats, registry);
  });
}

bool Scraper::Scrape(std::function<void(std::string)> done) {
  const absl::Time posted = sources_.clock->MonotonicNow();
  return sources_.loop->Post([this, posted, done = std::move(done)] {
    lag_ = sources_.clock->MonotonicNow() - posted;
    done(metrics_->Render());
  });
}

}  // namespace skiff::api
