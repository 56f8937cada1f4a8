// What the ECS cluster API (ClusterRegistry) reads of the node's tasks and services, as two
// narrow interfaces: TaskManager implements TaskInventory and ServiceManager ServiceInventory,
// so the cluster API depends on neither manager and can be tested on fakes.
//
// Thread contract: every method on the loop thread.
#ifndef SKIFF_SCHEDULER_INVENTORY_H_
#define SKIFF_SCHEDULER_INVENTORY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "skiff/store/store.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

// CPU units (1024 per core) and MiB of memory, as ECS counts them for placement.
struct Resources {
  int64_t cpu = 0;
  int64_t memory = 0;
};

class TaskInventory {
 public:
  virtual ~TaskInventory() = default;
  // Every task, in id order.
  virtual void ForEachTask(const std::function<void(const store::StoredTask&)>& fn) const = 0;
  // The node's registered resources and what tasks that are not STOPPED reserve of them.
  virtual const Resources& capacity() const = 0;
  virtual const Resources& reserved() const = 0;
};

class ServiceInventory {
 public:
  virtual ~ServiceInventory() = default;
  // Services of the cluster that are ACTIVE or DRAINING.
  virtual int ActiveServiceCount(const std::string& cluster) const = 0;
  // A service's tags; NotFound when the cluster has no such (non-INACTIVE) service.
  virtual absl::StatusOr<std::vector<v1::Tag>> Tags(const std::string& cluster,
                                                    const std::string& service) const = 0;
  virtual absl::Status SetTags(const std::string& cluster, const std::string& service,
                               std::vector<v1::Tag> tags) = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_INVENTORY_H_
