// Metrics: skiffd's Prometheus series, rendered in the text format 0.0.4 that `promtool check
// metrics` accepts (ADR 0013: prometheus-cpp's core). One object for the daemon, made first and
// handed to each part that records: the API transports (calls by operation and code), the
// reconcile loop (pass durations), the containerd adapter (RPCs by method and code) and the
// store (write latency). Series that describe state now (services, tasks, the loop) come from
// collectors that run at each scrape, on whichever thread calls Render (the loop, for skiffd).
//
// Thread contract: Record* from any thread (the series are atomic). AddCollector before the
// first Render; Render on the thread the collectors expect.
#ifndef SKIFF_METRICS_METRICS_H_
#define SKIFF_METRICS_METRICS_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace skiff::metrics {

class Metrics {
 public:
  // Adds the series of this moment to a registry made for one scrape, so that series of things
  // now gone (a deleted service) disappear with them.
  using Collector = std::function<void(prometheus::Registry&)>;

  Metrics();

  // One API call answered: transport ("grpc", "http"), operation ("unknown" when none was
  // routed), code ("OK" or the AWS exception name), time from arrival to answer.
  void RecordCall(absl::string_view transport, absl::string_view operation,
                  absl::string_view code, absl::Duration latency);
  // One reconcile pass over the services marked dirty.
  void RecordPass(absl::Duration duration);
  // One containerd RPC: its method ("Tasks.Start"), gRPC status code name ("OK",
  // "NOT_FOUND") and duration (for a stream, until its status).
  void RecordContainerdCall(absl::string_view method, absl::string_view code,
                            absl::Duration latency);
  // One write to the store (the statement, its fsync included).
  void RecordStoreWrite(absl::Duration latency);

  void AddCollector(Collector collector);

  // Every series: the recorded ones, then what the collectors add now.
  std::string Render() const;

  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* calls_;
  prometheus::Family<prometheus::Histogram>* call_seconds_;
  prometheus::Histogram* pass_seconds_;
  prometheus::Family<prometheus::Counter>* containerd_calls_;
  prometheus::Family<prometheus::Histogram>* containerd_seconds_;
  prometheus::Histogram* store_write_seconds_;
  std::vector<Collector> collectors_;
};

}  // namespace skiff::metrics

#endif  // SKIFF_METRICS_METRICS_H_
