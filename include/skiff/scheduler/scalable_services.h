// ScalableServices: what Application Auto Scaling needs of ECS services (the autoscaling API in
// scaling/ and, later, its decision engine): whether a service exists and what it runs, and a
// way to change its desired count as an input of the service planner, the way ECS lets
// Application Auto Scaling change it: not an UpdateService request (no new deployment, no
// request checks of a user), but the desired count of the service and of its PRIMARY
// deployment, recorded in the store, said in a service event, followed by a pass.
// ServiceManager implements it; tests use a fake.
//
// Thread contract: loop thread only, like ServiceManager.
#ifndef SKIFF_SCHEDULER_SCALABLE_SERVICES_H_
#define SKIFF_SCHEDULER_SCALABLE_SERVICES_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "skiff/store/store.h"
#include "skiff/v1/ecs.pb.h"

namespace skiff::scheduler {

// One service as a scaler sees it.
struct ScalableServiceView {
  std::string cluster;
  std::string service;
  std::string service_arn;
  std::string status;  // ACTIVE, DRAINING (deleted, tasks stopping) or INACTIVE.
  int desired_count = 0;
  int running_count = 0;
  int pending_count = 0;
  // The revision the PRIMARY deployment runs (cpu and memory reservations included).
  v1::TaskDefinition task_definition;
  // The target groups of its loadBalancers (ALBRequestCountPerTarget's ResourceLabel).
  std::vector<std::string> target_group_arns;
};

class ScalableServices {
 public:
  using ServiceListener = std::function<void(const store::StoredService&)>;

  virtual ~ScalableServices() = default;

  // The service `name` of `cluster` (names, not ARNs); NotFound when there is none that is
  // ACTIVE or DRAINING.
  virtual absl::StatusOr<ScalableServiceView> ScalableService(const std::string& cluster,
                                                              const std::string& name) = 0;
  // Sets the desired count of an ACTIVE service to `count` (0-5000, as UpdateService) because
  // of `cause` (the scaling activity's words), as an input of the planner. NotFound for no such
  // service, FailedPrecondition for one that is not ACTIVE, InvalidArgument for a count out of
  // range. No change when the count is the same.
  virtual absl::Status SetDesiredCountForScaling(const std::string& cluster,
                                                 const std::string& name, int count,
                                                 const std::string& cause) = 0;
  // Called with every service as it changes (a deleted one is DRAINING, then INACTIVE).
  virtual void AddListener(ServiceListener listener) = 0;
};

}  // namespace skiff::scheduler

#endif  // SKIFF_SCHEDULER_SCALABLE_SERVICES_H_
