// The rows of the Application Auto Scaling API (gRPC service skiff.autoscaling.v1.
// ApplicationAutoScaling, and X-Amz-Target AnyScaleFrontendService.<Op> over HTTP): the ten
// operations of `skiff application-autoscaling`, bound to the node's AutoScalingManager.
// Private to the api component.
#ifndef SKIFF_SRC_API_AUTOSCALING_OPERATIONS_H_
#define SKIFF_SRC_API_AUTOSCALING_OPERATIONS_H_

#include "api/aws_json.h"
#include "api/operation_table.h"
#include "skiff/scaling/auto_scaling_manager.h"

namespace skiff::api {

// `manager` runs the rows on the loop and outlives the table; null is fine for a table that is
// only checked against the service.
OperationTable AutoScalingOperations(scaling::AutoScalingManager* manager);

// Application Auto Scaling over `operations` (AWS JSON 1.1, SigV4 service
// application-autoscaling).
AwsService AutoScalingService(const OperationTable* operations);

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_AUTOSCALING_OPERATIONS_H_
