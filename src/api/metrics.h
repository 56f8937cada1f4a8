// Metrics: skiffd's series for Prometheus (`GET /metrics` on the HTTP address, no signature), in
// the text format 0.0.4 that `promtool check metrics` accepts. Built on prometheus-cpp's core
// (Debian's prometheus-cpp-dev): its counters and histograms are atomic, so API calls and
// reconcile passes record from their own threads; what describes state (services, deployments,
// tasks, the loop's lag) is read on the loop at each scrape. Private to the api component.
#ifndef SKIFF_SRC_API_METRICS_H_
#define SKIFF_SRC_API_METRICS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "skiff/base/clock.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::api {

class Metrics {
 public:
  // The objects a scrape reads on the loop; they outlive the scrapes' loop work.
  struct Sources {
    scheduler::EventLoop* loop;
    const scheduler::ServiceManager* services;
    const scheduler::TaskManager* tasks;
    const Clock* clock;
  };
  explicit Metrics(Sources sources);

  // One API call that finished: its transport ("grpc", "http"), operation (ECS's name, or
  // "unknown" when none was routed), outcome ("OK" or the AWS exception name) and how long it
  // took from arrival to answer. Any thread.
  void RecordCall(absl::string_view transport, absl::string_view operation,
                  absl::string_view outcome, absl::Duration latency);
  // One reconcile pass over the dirty services. Any thread.
  void RecordPass(absl::Duration duration);

  // Renders every series; `done` gets the text on the loop thread (or at once, with only the
  // process-wide series, when the loop is stopping).
  void Scrape(std::function<void(std::string)> done);

  static constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

 private:
  // The state series, read now on the loop thread, then everything rendered.
  std::string Render(absl::Duration loop_lag) const;

  Sources sources_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* calls_;
  prometheus::Family<prometheus::Histogram>* call_seconds_;
  prometheus::Histogram* pass_seconds_;
};

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_METRICS_H_
