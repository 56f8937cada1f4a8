// StatsStore: the last two samples of every running container (CPU % needs two), replaced as a
// whole by each round of sampling, so a container that stopped drops out with the next round.
// Owned by the control loop, like the tasks it describes; the sampler posts rounds to it.
//
// Thread contract: every method on the loop thread.
#ifndef SKIFF_SCALING_STATS_STORE_H_
#define SKIFF_SCALING_STATS_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "skiff/runtime/container_runtime.h"

namespace skiff::scaling {

class StatsStore {
 public:
  struct Entry {
    runtime::ContainerStats latest;
    std::optional<runtime::ContainerStats> previous;
    std::optional<double> cpu_percent;  // Between previous and latest (utilization.h).
  };

  // One round: every container the runtime reported at `at`. Containers not in it are
  // forgotten; a sample that is not newer than the latest kept is ignored.
  void Record(const std::vector<runtime::ContainerStats>& samples, absl::Time at);

  // Null when the container was not in the last round.
  const Entry* Find(const std::string& runtime_id) const;
  const std::map<std::string, Entry>& entries() const { return entries_; }
  // When the last round was taken; InfinitePast before the first.
  absl::Time last_round() const { return last_round_; }

 private:
  std::map<std::string, Entry> entries_;
  absl::Time last_round_ = absl::InfinitePast();
};

}  // namespace skiff::scaling

#endif  // SKIFF_SCALING_STATS_STORE_H_
