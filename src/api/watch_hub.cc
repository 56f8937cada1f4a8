#include "skiff/api/watch_hub.h"

#include <algorithm>
#include <utility>

namespace skiff::api {

std::optional<v1::Task> WatchHub::Subscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](std::deque<v1::Task>* q) { return !q->empty(); }, &queue_),
                       timeout);
  if (queue_.empty()) return std::nullopt;
  v1::Task task = std::move(queue_.front());
  queue_.pop_front();
  return task;
}

bool WatchHub::Subscription::overflowed() const {
  absl::MutexLock lock(&mu_);
  return overflowed_;
}

std::shared_ptr<WatchHub::Subscription> WatchHub::Subscribe(std::string cluster_arn,
                                                            std::set<std::string> task_arns) {
  auto subscription = std::make_shared<Subscription>();
  subscription->cluster_arn_ = std::move(cluster_arn);
  subscription->task_arns_ = std::move(task_arns);
  absl::MutexLock lock(&mu_);
  subscriptions_.push_back(subscription);
  return subscription;
}

void WatchHub::Unsubscribe(const std::shared_ptr<Subscription>& subscription) {
  absl::MutexLock lock(&mu_);
  subscriptions_.erase(std::remove(subscriptions_.begin(), subscriptions_.end(), subscription),
                       subscriptions_.end());
}

void WatchHub::Publish(const v1::Task& task) {
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<Subscription>& s : subscriptions_) {
    if (s->cluster_arn_ != task.cluster_arn()) continue;
    if (!s->task_arns_.empty() && !s->task_arns_.count(task.task_arn())) continue;
    absl::MutexLock sub_lock(&s->mu_);
    if (s->queue_.size() >= Subscription::kMaxQueued) {
      s->overflowed_ = true;
      continue;
    }
    s->queue_.push_back(task);
  }
}

}  // namespace skiff::api
