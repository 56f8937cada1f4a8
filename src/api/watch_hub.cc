#include "skiff/api/watch_hub.h"

#include <algorithm>
#include <utility>

namespace skiff::api {

bool WatchFilter::Wants(const v1::Task& task) const {
  if (task.cluster_arn() != cluster_arn) return false;
  if (task_arns.empty()) return service_arns.empty();
  return task_arns.count(task.task_arn()) > 0;
}

bool WatchFilter::Wants(const v1::Service& service) const {
  return service.cluster_arn() == cluster_arn && service_arns.count(service.service_arn()) > 0;
}

std::optional<v1::WatchEvent> WatchHub::Subscription::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(
      absl::Condition(+[](std::deque<v1::WatchEvent>* q) { return !q->empty(); }, &queue_),
      timeout);
  if (queue_.empty()) return std::nullopt;
  v1::WatchEvent event = std::move(queue_.front());
  queue_.pop_front();
  return event;
}

bool WatchHub::Subscription::overflowed() const {
  absl::MutexLock lock(&mu_);
  return overflowed_;
}

void WatchHub::Subscription::Push(v1::WatchEvent event) {
  absl::MutexLock lock(&mu_);
  if (queue_.size() >= kMaxQueued) {
    overflowed_ = true;
    return;
  }
  queue_.push_back(std::move(event));
}

std::shared_ptr<WatchHub::Subscription> WatchHub::Subscribe(WatchFilter filter) {
  auto subscription = std::make_shared<Subscription>();
  subscription->filter_ = std::move(filter);
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
    if (!s->filter_.Wants(task)) continue;
    v1::WatchEvent event;
    *event.mutable_task() = task;
    s->Push(std::move(event));
  }
}

void WatchHub::Publish(const v1::Service& service) {
  absl::MutexLock lock(&mu_);
  for (const std::shared_ptr<Subscription>& s : subscriptions_) {
    if (!s->filter_.Wants(service)) continue;
    v1::WatchEvent event;
    *event.mutable_service() = service;
    s->Push(std::move(event));
  }
}

}  // namespace skiff::api
