// The rows of the ELBv2 API (gRPC service skiff.elbv2.v1.Elbv2): the 23 Elastic Load Balancing
// v2 operations of `skiff elbv2`, bound to the node's LoadBalancerManager. Served over gRPC only:
// ELBv2's AWS protocol is the query protocol, which the HTTP endpoint does not speak. Private to
// the api component.
#ifndef SKIFF_SRC_API_ELBV2_OPERATIONS_H_
#define SKIFF_SRC_API_ELBV2_OPERATIONS_H_

#include "api/operation_table.h"
#include "skiff/elb/load_balancer_manager.h"

namespace skiff::api {

// `manager` runs the rows on the loop and outlives the table. Making the table does not call it,
// so a table made with null (to check its rows against the service) is fine as long as no row runs.
OperationTable Elbv2Operations(elb::LoadBalancerManager* manager);

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_ELBV2_OPERATIONS_H_
