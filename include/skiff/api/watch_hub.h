// WatchHub: fans task and service changes out to the API's watch streams. The control loop
// publishes every task and service change; each Watch call holds a Subscription whose queue it
// drains on its own gRPC thread.
//
// Thread contract: Publish and Subscribe run on the loop thread (so a new subscriber's snapshot
// and the changes after it are in order); Subscription::Next runs on the subscriber's thread.
// Shared state is behind each subscription's mutex.
#ifndef SKIFF_API_WATCH_HUB_H_
#define SKIFF_API_WATCH_HUB_H_

#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "skiff/v1/ecs.pb.h"
#include "skiff/v1/skiff.pb.h"

namespace skiff::api {

// What one watcher wants to hear about, as skiff.v1.Node/Watch defines it: the named tasks and
// services of one cluster, or every task of the cluster (and no service) when neither is named.
struct WatchFilter {
  std::string cluster_arn;
  std::set<std::string> task_arns;
  std::set<std::string> service_arns;

  bool Wants(const v1::Task& task) const;
  bool Wants(const v1::Service& service) const;
};

class WatchHub {
 public:
  class Subscription {
   public:
    // The next change (a task or a service), or nullopt after timeout (so the caller can notice
    // cancellation).
    std::optional<v1::WatchEvent> Next(absl::Duration timeout);
    // True when the subscriber fell too far behind and changes were dropped.
    bool overflowed() const;

   private:
    friend class WatchHub;
    static constexpr size_t kMaxQueued = 10000;
    void Push(v1::WatchEvent event);

    mutable absl::Mutex mu_;
    std::deque<v1::WatchEvent> queue_ ABSL_GUARDED_BY(mu_);
    bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
    WatchFilter filter_;  // Set before the subscription is shared; read-only after.
  };

  // Loop thread. The subscription sees changes published after this call.
  std::shared_ptr<Subscription> Subscribe(WatchFilter filter);
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);
  // Loop thread.
  void Publish(const v1::Task& task);
  void Publish(const v1::Service& service);

 private:
  absl::Mutex mu_;  // Subscribe/Unsubscribe may come from gRPC threads.
  std::vector<std::shared_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace skiff::api

#endif  // SKIFF_API_WATCH_HUB_H_
