// ClusterDirectory: the node's ACTIVE clusters, loaded from the store and written through it,
// with a `default` cluster that always exists. It is what TaskManager and ServiceManager resolve
// a request's cluster against (ClusterResolver), and what the ECS cluster API (ClusterRegistry)
// reads and writes; it knows nothing of tasks or services, so everything may depend on it.
//
// Thread contract: owned by the control loop; every method runs on the loop thread, checked
// when it is given the loop.
#ifndef SKIFF_SCHEDULER_CLUSTER_DIRECTORY_H_
#define SKIFF_SCHEDULER_CLUSTER_DIRECTORY_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "skiff/base/clock.h"
#include "skiff/model/arn.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/store/store.h"

namespace skiff::scheduler {

// Turns a cluster reference (name, ARN, "" for default) into the name of an ACTIVE cluster,
// or fails with the ECS error for it (ClusterNotFoundException, InvalidParameterException).
class ClusterResolver {
 public:
  virtual ~ClusterResolver() = default;
  virtual absl::StatusOr<std::string> Resolve(const std::string& reference) const = 0;
};

class ClusterDirectory final : public ClusterResolver {
 public:
  static constexpr char kDefaultCluster[] = "default";

  ClusterDirectory(store::Store* store, const Clock* clock, model::ArnScope scope,
                   const EventLoop* loop = nullptr);

  // Loads the stored clusters and creates `default` when it is missing. Call once, before the
  // managers load and the loop serves requests.
  absl::Status Load();

  absl::StatusOr<std::string> Resolve(const std::string& reference) const override;

  // The ACTIVE cluster of that name, or null.
  const store::StoredCluster* Find(const std::string& name) const;
  // Every ACTIVE cluster, by name.
  const std::map<std::string, store::StoredCluster>& clusters() const { return clusters_; }

  // A new ACTIVE record as ECS makes it (ARN, default settings, registeredAt now); not stored.
  store::StoredCluster NewCluster(const std::string& name) const;
  // Stores the record and makes it the cluster's (a new cluster or a changed one).
  absl::StatusOr<const store::StoredCluster*> Put(store::StoredCluster record);
  // Deletes the cluster from the store and the directory; NotFound when it has none.
  absl::Status Erase(const std::string& name);

 private:
  store::Store* store_;
  const Clock* clock_;
  model::ArnScope scope_;
  const EventLoop* loop_;                                 // May be null.
  std::map<std::string, store::StoredCluster> clusters_;  // The ACTIVE clusters, by name.
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_CLUSTER_DIRECTORY_H_
