// Which targets the sync probes before HAProxy's first check, and when.
#include "lb/first_probe.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace skiff::lb {
namespace {

const Target* FindTarget(const DataPlane& plane, const std::string& backend,
                         const std::string& name) {
  for (const Backend& b : plane.backends) {
    if (b.name != backend) continue;
    for (const Target& t : b.targets) {
      if (t.name == name) return &t;
    }
  }
  return nullptr;
}

// A backup is never probed: it has no check and is never admitted.
bool Serves(const Target& t) { return !t.draining && !t.maintenance && !t.backup; }

ProbeSpec ProbeOf(const Backend& b, const Target& t) {
  const HealthCheck& c = b.check;
  ProbeSpec probe{.protocol = c.protocol,
                  .address = t.address,
                  .port = c.port != 0 ? c.port : t.port,
                  .timeout = std::min(c.timeout, kMaxProbeTimeout)};
  if (c.protocol == Protocol::kHttp) {
    probe.path = c.path;
    probe.matcher = c.matcher;
  }
  return probe;
}

}  // namespace

std::vector<AwaitingTarget> AwaitingAdmission(const DataPlane& applied, const DataPlane& desired,
                                              const absl::flat_hash_set<std::string>& admitted) {
  std::vector<AwaitingTarget> out;
  for (const Backend& b : applied.backends) {
    for (const Target& t : b.targets) {
      if (!Serves(t) || admitted.contains(ServerKey(b.name, t.name))) continue;
      const Target* wanted = FindTarget(desired, b.name, t.name);
      if (wanted == nullptr || !Serves(*wanted) || wanted->address != t.address ||
          wanted->port != t.port) {
        continue;
      }
      out.push_back({.server = {b.name, t.name}, .weight = t.weight, .probe = ProbeOf(b, t)});
    }
  }
  return out;
}

ProbeRound ProbeSchedule::Next(const std::vector<std::string>& awaiting, absl::Time now) {
  ProbeRound round;
  const absl::flat_hash_set<std::string> wanted(awaiting.begin(), awaiting.end());
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    if (it->second.in_flight) {
      round.cancel.push_back(it->first);
      --in_flight_;
    }
    entries_.erase(it++);
  }
  std::sort(round.cancel.begin(), round.cancel.end());

  std::vector<std::pair<absl::Time, std::string>> due;
  for (const std::string& key : awaiting) {
    const Entry& e = entries_[key];  // A new target is due at once.
    if (!e.in_flight && e.due <= now) due.emplace_back(e.due, key);
  }
  // The longest-waiting first; the key only makes the order total.
  std::sort(due.begin(), due.end());
  due.erase(std::unique(due.begin(), due.end()), due.end());
  for (auto& [when, key] : due) {
    if (in_flight_ >= pacing_.max_in_flight) break;
    entries_[key].in_flight = true;
    ++in_flight_;
    round.start.push_back(std::move(key));
  }
  return round;
}

void ProbeSchedule::Failed(const std::string& key, absl::Time now) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return;
  Entry& e = it->second;
  if (e.in_flight) --in_flight_;
  e.in_flight = false;
  ++e.failures;
  e.due =
      now + (e.failures >= pacing_.failures_before_slow ? pacing_.slow_interval : pacing_.interval);
}

void ProbeSchedule::Passed(const std::string& key) {
  const auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (it->second.in_flight) --in_flight_;
  entries_.erase(it);
}

absl::Time ProbeSchedule::NextDue() const {
  absl::Time next = absl::InfiniteFuture();
  if (in_flight_ >= pacing_.max_in_flight) return next;
  for (const auto& [key, e] : entries_) {
    if (!e.in_flight) next = std::min(next, e.due);
  }
  return next;
}

}  // namespace skiff::lb
