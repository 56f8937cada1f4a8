// WatchHub: fans task changes out to the API's watch streams. The control loop publishes every
// task change; each Watch call holds a Subscription whose queue it drains on its own gRPC thread.
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

namespace skiff::api {

class WatchHub {
 public:
  class Subscription {
   public:
    // The next task change, or nullopt after timeout (so the caller can notice cancellation).
    std::optional<v1::Task> Next(absl::Duration timeout);
    // True when the subscriber fell too far behind and changes were dropped.
    bool overflowed() const;

   private:
    friend class WatchHub;
    static constexpr size_t kMaxQueued = 10000;
    mutable absl::Mutex mu_;
    std::deque<v1::Task> queue_ ABSL_GUARDED_BY(mu_);
    bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
    std::string cluster_arn_;
    std::set<std::string> task_arns_;  // Empty: every task of the cluster.
  };

  // Loop thread. The subscription sees changes published after this call.
  std::shared_ptr<Subscription> Subscribe(std::string cluster_arn, std::set<std::string> task_arns);
  void Unsubscribe(const std::shared_ptr<Subscription>& subscription);
  // Loop thread.
  void Publish(const v1::Task& task);

 private:
  absl::Mutex mu_;  // Subscribe/Unsubscribe may come from gRPC threads.
  std::vector<std::shared_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace skiff::api

#endif  // SKIFF_API_WATCH_HUB_H_
