// Load balancers and listeners (see the header).
#include "skiff/elb/listeners.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "elb/errors.h"
#include "skiff/base/status_macros.h"

namespace skiff::elb {
namespace {

using elbv2::v1::Listener;
using elbv2::v1::LoadBalancer;

// The protocol a listener of `lb` speaks when it names none, and the only one it may.
absl::string_view ProtocolOf(const LoadBalancer& lb) {
  return lb.type() == "network" ? "TCP" : "HTTP";
}

// What every listener must be, after create or modify.
absl::Status CheckListener(const Listener& l, const LoadBalancer& lb,
                           const BackendResolver& backend_of) {
  const absl::string_view want = ProtocolOf(lb);
  if (l.protocol() != want) {
    return Invalid(absl::StrCat("Protocol: ", l.protocol(), " is not supported on a skiff node "
                                "for an ", lb.type(), " load balancer; use ", want));
  }
  if (l.port() < 1 || l.port() > 65535) return OutOfRange("Port", l.port(), 1, 65535);
  if (!l.certificates().empty() || l.has_ssl_policy() || !l.alpn_policy().empty()) {
    return Invalid("Certificates: an HTTP or TCP listener takes no certificates, SslPolicy or "
                   "AlpnPolicy");
  }
  return ActionOf(l.default_actions(), "DefaultActions", want == "TCP", backend_of).status();
}

}  // namespace

std::string LoadBalancerArn(const model::ArnScope& scope, absl::string_view type,
                            absl::string_view name, absl::string_view id) {
  return absl::StrCat("arn:", scope.partition, ":elasticloadbalancing:", scope.region, ":",
                      scope.account, ":loadbalancer/", type == "network" ? "net" : "app", "/",
                      name, "/", id);
}

std::string ListenerArn(absl::string_view load_balancer_arn, absl::string_view id) {
  return absl::StrCat(absl::StrReplaceAll(load_balancer_arn, {{":loadbalancer/", ":listener/"}}),
                      "/", id);
}

std::string RuleArn(absl::string_view listener_arn, absl::string_view id) {
  return absl::StrCat(absl::StrReplaceAll(listener_arn, {{":listener/", ":listener-rule/"}}),
                      "/", id);
}

absl::StatusOr<LoadBalancer> NewLoadBalancer(const elbv2::v1::CreateLoadBalancerInput& input,
                                             const model::ArnScope& scope, absl::string_view id,
                                             const LoadBalancerPlace& place) {
  SKIFF_RETURN_IF_ERROR(CheckName(input.name()));
  const std::string type = input.has_type() ? input.type() : "application";
  if (type != "application" && type != "network") {
    return Invalid(absl::StrCat("Type: ", type, " is not supported on a skiff node; use "
                                "application or network"));
  }
  if (input.has_ip_address_type() && input.ip_address_type() != "ipv4") {
    return Invalid("IpAddressType: only ipv4 is supported on a skiff node");
  }
  LoadBalancer lb;
  lb.set_load_balancer_arn(LoadBalancerArn(scope, type, input.name(), id));
  lb.set_dns_name(place.dns_name);
  lb.set_created_time(place.created_at);
  lb.set_load_balancer_name(input.name());
  // Subnets and security groups mean nothing on one node: kept and echoed, as ECS does with
  // capacity providers.
  lb.set_scheme(input.has_scheme() ? input.scheme() : "internet-facing");
  lb.mutable_state()->set_code("active");
  lb.set_type(type);
  *lb.mutable_security_groups() = input.security_groups();
  lb.set_ip_address_type("ipv4");
  return lb;
}

absl::StatusOr<Listener> NewListener(const elbv2::v1::CreateListenerInput& input,
                                     const LoadBalancer& lb, absl::string_view id,
                                     const BackendResolver& backend_of) {
  if (!input.has_port()) return Invalid("Port: required");
  Listener l;
  l.set_listener_arn(ListenerArn(lb.load_balancer_arn(), id));
  l.set_load_balancer_arn(lb.load_balancer_arn());
  l.set_port(input.port());
  l.set_protocol(input.has_protocol() ? input.protocol() : std::string(ProtocolOf(lb)));
  *l.mutable_certificates() = input.certificates();
  if (input.has_ssl_policy()) l.set_ssl_policy(input.ssl_policy());
  *l.mutable_alpn_policy() = input.alpn_policy();
  *l.mutable_default_actions() = input.default_actions();
  SKIFF_RETURN_IF_ERROR(CheckListener(l, lb, backend_of));
  return l;
}

absl::StatusOr<Listener> ModifiedListener(const Listener& listener,
                                          const elbv2::v1::ModifyListenerInput& input,
                                          const LoadBalancer& lb,
                                          const BackendResolver& backend_of) {
  Listener l = listener;
  if (input.has_port()) l.set_port(input.port());
  if (input.has_protocol()) l.set_protocol(input.protocol());
  if (!input.certificates().empty()) *l.mutable_certificates() = input.certificates();
  if (input.has_ssl_policy()) l.set_ssl_policy(input.ssl_policy());
  if (!input.alpn_policy().empty()) *l.mutable_alpn_policy() = input.alpn_policy();
  if (!input.default_actions().empty()) *l.mutable_default_actions() = input.default_actions();
  SKIFF_RETURN_IF_ERROR(CheckListener(l, lb, backend_of));
  return l;
}

}  // namespace skiff::elb
