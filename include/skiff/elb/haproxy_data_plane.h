// HaproxyDataPlane: the manager's DataPlane on the node's HAProxy. Check renders the plane and
// runs `haproxy -c` on it; Want hands it to the lb::DataPlaneSync thread; that thread's reports
// reach `on_report`, which must post them to the loop (the manager is loop-owned).
//
// Thread-safe as DataPlaneSync is; Check blocks (fork/exec of haproxy -c, tens of ms).
#ifndef SKIFF_ELB_HAPROXY_DATA_PLANE_H_
#define SKIFF_ELB_HAPROXY_DATA_PLANE_H_

#include <functional>
#include <memory>

#include "absl/status/status.h"
#include "skiff/elb/load_balancer_manager.h"
#include "skiff/lb/data_plane_sync.h"
#include "skiff/lb/haproxy_process.h"

namespace skiff::elb {

class HaproxyDataPlane final : public DataPlane {
 public:
  HaproxyDataPlane(lb::DataPlaneSyncOptions options,
                   std::function<void(DataPlaneView)> on_report);
  ~HaproxyDataPlane() override;

  // Unavailable when the HAProxy binary cannot be run; ValidationError with HAProxy's message
  // when it refuses the config.
  absl::Status Check(const lb::DataPlane& plane) override;
  void Want(lb::DataPlane plane, uint64_t generation) override;

  // Stops the sync thread; HAProxy keeps serving (it outlives skiffd) unless `stop_haproxy`.
  absl::Status Shutdown(bool stop_haproxy);

 private:
  lb::DataPlaneSyncOptions options_;
  lb::HaproxyProcess process_;  // For `haproxy -c` only: the sync thread runs the real one.
  std::unique_ptr<lb::DataPlaneSync> sync_;
};

}  // namespace skiff::elb

#endif  // SKIFF_ELB_HAPROXY_DATA_PLANE_H_
