// Load balancers and listeners as ELBv2 defines them, on one node: what CreateLoadBalancer,
// CreateListener and ModifyListener accept, their ARNs, and ELBv2's defaults.
//
// An application load balancer's listeners speak HTTP, a network load balancer's TCP; each binds
// --lb-address:Port on the node. HTTPS and TLS (certificates), UDP, gateway load balancers and
// dual-stack addresses are refused by name. Errors are ELBv2's (ValidationError, or
// InvalidLoadBalancerAction and TargetGroupNotFound from the default actions, rules.h).
//
// Pure: no I/O, no clock. Safe from any thread.
#ifndef SKIFF_ELB_LISTENERS_H_
#define SKIFF_ELB_LISTENERS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "skiff/elb/rules.h"
#include "skiff/elbv2/v1/elbv2.pb.h"
#include "skiff/model/arn.h"

namespace skiff::elb {

// arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID (net/ for a network one).
std::string LoadBalancerArn(const model::ArnScope& scope, absl::string_view type,
                            absl::string_view name, absl::string_view id);
// ...:listener/app/NAME/LBID/ID, from its load balancer's ARN.
std::string ListenerArn(absl::string_view load_balancer_arn, absl::string_view id);
// ...:listener-rule/app/NAME/LBID/LID/ID, from its listener's ARN.
std::string RuleArn(absl::string_view listener_arn, absl::string_view id);

// What the node adds to a new load balancer: when it was made (epoch seconds) and the name
// clients reach its listeners by.
struct LoadBalancerPlace {
  double created_at = 0;
  std::string dns_name;
};

// The load balancer CreateLoadBalancer makes of `input` (type application by default, scheme
// internet-facing, state active), with its ARN from `scope` and `id`.
absl::StatusOr<elbv2::v1::LoadBalancer> NewLoadBalancer(
    const elbv2::v1::CreateLoadBalancerInput& input, const model::ArnScope& scope,
    absl::string_view id, const LoadBalancerPlace& place);

// The listener CreateListener makes on `lb`: a protocol that fits its type (HTTP by default on
// an application load balancer, TCP on a network one), a port, and default actions that
// ActionOf accepts with `backend_of`.
absl::StatusOr<elbv2::v1::Listener> NewListener(const elbv2::v1::CreateListenerInput& input,
                                                const elbv2::v1::LoadBalancer& lb,
                                                absl::string_view id,
                                                const BackendResolver& backend_of);

// `listener` with ModifyListener's changes, under the same rules.
absl::StatusOr<elbv2::v1::Listener> ModifiedListener(const elbv2::v1::Listener& listener,
                                                     const elbv2::v1::ModifyListenerInput& input,
                                                     const elbv2::v1::LoadBalancer& lb,
                                                     const BackendResolver& backend_of);

}  // namespace skiff::elb

#endif  // SKIFF_ELB_LISTENERS_H_
