#include "api/elbv2_operations.h"

#include <vector>

#include "skiff/elbv2/v1/service.pb.h"

namespace skiff::api {

// skiff.elbv2.v1.Elbv2's descriptor is registered by service.pb.cc, which holds no message, so
// nothing refers to it: a static link leaves it out, and then TableService::Create cannot find the
// service (nor can reflection). Naming its descriptor table here keeps it in every binary that
// serves these rows. External linkage, so that the compiler keeps the reference.
extern const void* const kElbv2ServiceFile;
const void* const kElbv2ServiceFile = &descriptor_table_skiff_2felbv2_2fv1_2fservice_2eproto;

OperationTable Elbv2Operations(elb::LoadBalancerManager* manager) {
  using elb::LoadBalancerManager;
  auto* m = manager;
  return OperationTable(std::vector<Operation>{
      Row("CreateLoadBalancer", m, &LoadBalancerManager::CreateLoadBalancer),
      Row("DescribeLoadBalancers", m, &LoadBalancerManager::DescribeLoadBalancers),
      Row("DeleteLoadBalancer", m, &LoadBalancerManager::DeleteLoadBalancer),
      Row("CreateTargetGroup", m, &LoadBalancerManager::CreateTargetGroup),
      Row("DescribeTargetGroups", m, &LoadBalancerManager::DescribeTargetGroups),
      Row("ModifyTargetGroup", m, &LoadBalancerManager::ModifyTargetGroup),
      Row("DeleteTargetGroup", m, &LoadBalancerManager::DeleteTargetGroup),
      Row("ModifyTargetGroupAttributes", m, &LoadBalancerManager::ModifyTargetGroupAttributes),
      Row("DescribeTargetGroupAttributes", m, &LoadBalancerManager::DescribeTargetGroupAttributes),
      Row("CreateListener", m, &LoadBalancerManager::CreateListener),
      Row("DescribeListeners", m, &LoadBalancerManager::DescribeListeners),
      Row("ModifyListener", m, &LoadBalancerManager::ModifyListener),
      Row("DeleteListener", m, &LoadBalancerManager::DeleteListener),
      Row("CreateRule", m, &LoadBalancerManager::CreateRule),
      Row("DescribeRules", m, &LoadBalancerManager::DescribeRules),
      Row("ModifyRule", m, &LoadBalancerManager::ModifyRule),
      Row("DeleteRule", m, &LoadBalancerManager::DeleteRule),
      Row("RegisterTargets", m, &LoadBalancerManager::RegisterTargets),
      Row("DeregisterTargets", m, &LoadBalancerManager::DeregisterTargets),
      Row("DescribeTargetHealth", m, &LoadBalancerManager::DescribeTargetHealth),
      Row("AddTags", m, &LoadBalancerManager::AddTags),
      Row("DescribeTags", m, &LoadBalancerManager::DescribeTags),
      Row("RemoveTags", m, &LoadBalancerManager::RemoveTags),
  });
}

}  // namespace skiff::api
