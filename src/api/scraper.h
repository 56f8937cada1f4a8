// Scraper: GET /metrics. Registers the collectors of the node's state on the daemon's Metrics
// (the loop's queue depth and lag, each service's desired, running and pending tasks, its
// deployments by rolloutState, tasks by lastStatus, each sampled container's CPU time and working
// set) and renders every series on the loop, where
// that state lives. Private to the api component.
#ifndef SKIFF_SRC_API_SCRAPER_H_
#define SKIFF_SRC_API_SCRAPER_H_

#include <functional>
#include <string>

#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/metrics/metrics.h"
#include "skiff/scaling/stats_reporter.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/service_manager.h"
#include "skiff/scheduler/task_manager.h"

namespace skiff::api {

class Scraper {
 public:
  // What the collectors read on the loop; it outlives the scrapes' loop work.
  struct Sources {
    scheduler::EventLoop* loop;
    const scheduler::ServiceManager* services;
    const scheduler::TaskManager* tasks;
    const Clock* clock;
    const scaling::StatsReporter* stats = nullptr;  // No container series when null.
  };
  // Adds the collectors to `metrics`, which outlives the scraper.
  Scraper(metrics::Metrics* metrics, Sources sources);

  // `done` gets the text on the loop thread; false when the loop is stopping (no call then).
  bool Scrape(std::function<void(std::string)> done);

 private:
  metrics::Metrics* metrics_;
  Sources sources_;
  absl::Duration lag_;  // Loop thread: how long the current scrape waited for the loop.
};

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_SCRAPER_H_
