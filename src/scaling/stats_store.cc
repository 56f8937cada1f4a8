#include "skiff/scaling/stats_store.h"

#include <utility>

#include "skiff/scaling/utilization.h"

namespace skiff::scaling {

void StatsStore::Record(const std::vector<runtime::ContainerStats>& samples, absl::Time at) {
  std::map<std::string, Entry> next;
  for (const runtime::ContainerStats& sample : samples) {
    Entry entry{.latest = sample};
    auto old = entries_.find(sample.id);
    if (old != entries_.end()) {
      if (sample.sampled_at <= old->second.latest.sampled_at) {
        entry = old->second;  // Not newer: keep what we had.
      } else {
        entry.previous = old->second.latest;
        entry.cpu_percent = CpuPercent(*entry.previous, sample);
      }
    }
    next.insert_or_assign(sample.id, std::move(entry));
  }
  entries_ = std::move(next);
  last_round_ = at;
}

const StatsStore::Entry* StatsStore::Find(const std::string& runtime_id) const {
  auto it = entries_.find(runtime_id);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace skiff::scaling
