#include "api/autoscaling_operations.h"

#include <string>
#include <vector>

#include "skiff/autoscaling/v1/service.pb.h"

namespace skiff::api {

// As for ELBv2 (elbv2_operations.cc): service.pb.cc holds no message, so a static link would
// leave the service's descriptor out unless something refers to it.
extern const void* const kAutoScalingServiceFile;
const void* const kAutoScalingServiceFile =
    &descriptor_table_skiff_2fautoscaling_2fv1_2fservice_2eproto;

OperationTable AutoScalingOperations(scaling::AutoScalingManager* manager) {
  using scaling::AutoScalingManager;
  auto* m = manager;
  return OperationTable(std::vector<Operation>{
      Row("RegisterScalableTarget", m, &AutoScalingManager::RegisterScalableTarget),
      Row("DeregisterScalableTarget", m, &AutoScalingManager::DeregisterScalableTarget),
      Row("DescribeScalableTargets", m, &AutoScalingManager::DescribeScalableTargets),
      Row("PutScalingPolicy", m, &AutoScalingManager::PutScalingPolicy),
      Row("DeleteScalingPolicy", m, &AutoScalingManager::DeleteScalingPolicy),
      Row("DescribeScalingPolicies", m, &AutoScalingManager::DescribeScalingPolicies),
      Row("DescribeScalingActivities", m, &AutoScalingManager::DescribeScalingActivities),
      Row("PutScheduledAction", m, &AutoScalingManager::PutScheduledAction),
      Row("DeleteScheduledAction", m, &AutoScalingManager::DeleteScheduledAction),
      Row("DescribeScheduledActions", m, &AutoScalingManager::DescribeScheduledActions),
  });
}

AwsService AutoScalingService(const OperationTable* operations) {
  return {.target_prefix = "AnyScaleFrontendService",
          .signing_name = "application-autoscaling",
          .operations = operations,
          .server_faults = {std::string(scaling::kInternalServiceException)},
          .invalid_request = scaling::kValidationException};
}

}  // namespace skiff::api
