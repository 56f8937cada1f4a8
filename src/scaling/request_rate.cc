#include "skiff/scaling/request_rate.h"

namespace skiff::scaling {

std::optional<double> RequestRate::Observe(absl::Time at, int64_t total_requests,
                                           int healthy_targets) {
  if (!history_.empty() && at <= history_.back().first) return std::nullopt;
  if (last_total_ && total_requests > *last_total_) added_ += total_requests - *last_total_;
  last_total_ = total_requests;
  history_.emplace_back(at, added_);
  // Keep the newest observation at or before the window's start: the base of the difference.
  while (history_.size() > 2 && history_[1].first <= at - kWindow) history_.pop_front();
  const auto& [since, base] = history_.front();
  const absl::Duration span = at - since;
  if (healthy_targets <= 0 || span <= absl::ZeroDuration()) return std::nullopt;
  // The base is at most one observation older than the window: a rate over the span.
  const double per_minute = static_cast<double>(added_ - base) *
                            absl::ToDoubleSeconds(kWindow) / absl::ToDoubleSeconds(span);
  return per_minute / healthy_targets;
}

}  // namespace skiff::scaling
