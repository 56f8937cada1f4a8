#include "api/metrics.h"

#include <map>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include "prometheus/gauge.h"
#include "prometheus/text_serializer.h"

namespace skiff::api {
namespace {

using prometheus::Histogram;

// From 0.5 ms (an in-memory describe) to 10 s (a pass over ten thousand services).
Histogram::BucketBoundaries Buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string ClusterName(const std::string& arn) {
  const size_t slash = arn.rfind('/');
  return slash == std::string::npos ? arn : arn.substr(slash + 1);
}

// The series that describe state now, in a registry of their own made for this scrape, so that
// a deleted service's series go with it.
void AddStateSeries(const Metrics::Sources& sources, absl::Duration loop_lag,
                    prometheus::Registry& registry) {
  prometheus::BuildGauge()
      .Name("skiff_loop_lag_seconds")
      .Help("How long the scrape's work waited on the control loop")
      .Register(registry)
      .Add({})
      .Set(absl::ToDoubleSeconds(loop_lag));
  auto& desired = prometheus::BuildGauge()
                      .Name("skiff_service_desired_tasks")
                      .Help("The service's desiredCount")
                      .Register(registry);
  auto& running = prometheus::BuildGauge()
                      .Name("skiff_service_running_tasks")
                      .Help("The service's runningCount")
                      .Register(registry);
  auto& pending = prometheus::BuildGauge()
                      .Name("skiff_service_pending_tasks")
                      .Help("The service's pendingCount")
                      .Register(registry);
  auto& deployments = prometheus::BuildGauge()
                          .Name("skiff_service_deployments")
                          .Help("The service's deployments by rolloutState")
                          .Register(registry);
  sources.services->ForEachService([&](const v1::Service& service) {
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
  auto& tasks = prometheus::BuildGauge()
                    .Name("skiff_tasks")
                    .Help("Tasks by cluster and lastStatus")
                    .Register(registry);
  std::map<std::pair<std::string, std::string>, int> counts;
  sources.tasks->ForEachTask([&counts](const store::StoredTask& task) {
    ++counts[{task.cluster, task.task.last_status()}];
  });
  for (const auto& [key, count] : counts) {
    tasks.Add({{"cluster", key.first}, {"last_status", key.second}}).Set(count);
  }
}

}  // namespace

Metrics::Metrics(Sources sources)
    : sources_(sources), registry_(std::make_shared<prometheus::Registry>()) {
  calls_ = &prometheus::BuildCounter()
                .Name("skiff_api_requests_total")
                .Help("API calls answered, by transport, operation and code (OK or the AWS "
                      "exception name)")
                .Register(*registry_);
  call_seconds_ = &prometheus::BuildHistogram()
                       .Name("skiff_api_request_duration_seconds")
                       .Help("Time from a call's arrival to its answer")
                       .Register(*registry_);
  pass_seconds_ = &prometheus::BuildHistogram()
                       .Name("skiff_reconcile_pass_duration_seconds")
                       .Help("Reconcile passes over the services marked dirty")
                       .Register(*registry_)
                       .Add({}, Buckets());
}

void Metrics::RecordCall(absl::string_view transport, absl::string_view operation,
                         absl::string_view outcome, absl::Duration latency) {
  const std::string t(transport), op(operation);
  calls_->Add({{"transport", t}, {"operation", op}, {"code", std::string(outcome)}}).Increment();
  call_seconds_->Add({{"transport", t}, {"operation", op}}, Buckets())
      .Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RecordPass(absl::Duration duration) {
  pass_seconds_->Observe(absl::ToDoubleSeconds(duration));
}

void Metrics::Scrape(std::function<void(std::string)> done) {
  const absl::Time posted = sources_.clock->MonotonicNow();
  auto render = [this, posted, done]() mutable {
    done(Render(sources_.clock->MonotonicNow() - posted));
  };
  if (!sources_.loop->Post(render)) {
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, registry_->Collect());
    done(out.str());
  }
}

std::string Metrics::Render(absl::Duration loop_lag) const {
  prometheus::Registry state;
  prometheus::BuildGauge()
      .Name("skiff_loop_queue_depth")
      .Help("Work posted to the control loop and not yet picked up")
      .Register(state)
      .Add({})
      .Set(static_cast<double>(sources_.loop->QueueDepth()));
  AddStateSeries(sources_, loop_lag, state);
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& family : state.Collect()) families.push_back(std::move(family));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace skiff::api
