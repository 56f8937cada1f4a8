#include "skiff/metrics/metrics.h"

#include <sstream>
#include <utility>

#include "prometheus/text_serializer.h"

namespace skiff::metrics {
namespace {

using prometheus::Histogram;

// From 0.5 ms (an in-memory describe) to 10 s (a pass over ten thousand services).
Histogram::BucketBoundaries Buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// A store write is an fsync: from 50 us to a slow disk's second.
Histogram::BucketBoundaries WriteBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1};
}

}  // namespace

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  calls_ = &prometheus::BuildCounter()
                .Name("skiff_api_requests_total")
                .Help("API calls answered, by transport, operation and code (OK or the AWS "
                      "exception name)")
                .Register(*registry_);
  call_seconds_ = &prometheus::BuildHistogram()
                       .Name("skiff_api_request_duration_seconds")
                       .Help("Time from an API call's arrival to its answer")
                       .Register(*registry_);
  pass_seconds_ = &prometheus::BuildHistogram()
                       .Name("skiff_reconcile_pass_duration_seconds")
                       .Help("Reconcile passes over the services marked dirty")
                       .Register(*registry_)
                       .Add({}, Buckets());
  containerd_calls_ = &prometheus::BuildCounter()
                           .Name("skiff_containerd_requests_total")
                           .Help("containerd RPCs by method and gRPC status code")
                           .Register(*registry_);
  containerd_seconds_ = &prometheus::BuildHistogram()
                             .Name("skiff_containerd_request_duration_seconds")
                             .Help("containerd RPCs by method, until their status")
                             .Register(*registry_);
  store_write_seconds_ = &prometheus::BuildHistogram()
                              .Name("skiff_store_write_duration_seconds")
                              .Help("Writes to the SQLite store, each with its fsync")
                              .Register(*registry_)
                              .Add({}, WriteBuckets());
}

void Metrics::RecordCall(absl::string_view transport, absl::string_view operation,
                         absl::string_view code, absl::Duration latency) {
  const std::string t(transport), op(operation);
  calls_->Add({{"transport", t}, {"operation", op}, {"code", std::string(code)}}).Increment();
  call_seconds_->Add({{"transport", t}, {"operation", op}}, Buckets())
      .Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RecordPass(absl::Duration duration) {
  pass_seconds_->Observe(absl::ToDoubleSeconds(duration));
}

void Metrics::RecordContainerdCall(absl::string_view method, absl::string_view code,
                                   absl::Duration latency) {
  const std::string m(method);
  containerd_calls_->Add({{"method", m}, {"code", std::string(code)}}).Increment();
  containerd_seconds_->Add({{"method", m}}, Buckets()).Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RecordStoreWrite(absl::Duration latency) {
  store_write_seconds_->Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::AddCollector(Collector collector) { collectors_.push_back(std::move(collector)); }

std::string Metrics::Render() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  prometheus::Registry now;
  for (const Collector& collect : collectors_) collect(now);
  for (prometheus::MetricFamily& family : now.Collect()) families.push_back(std::move(family));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace skiff::metrics
