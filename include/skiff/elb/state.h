// The ELBv2 objects of one node as LoadBalancerManager keeps them, and what they come to: the
// data plane HAProxy runs (lb::DataPlane) and the health ELBv2 reports for each target.
//
// Records are persisted as JSON text (store::StoredElbObject): the ELBv2 JSON of the object plus
// what ELBv2 keeps beside it (tags; a target group's attributes and registered targets).
//
// Pure: no I/O, no clock. Safe from any thread.
#ifndef SKIFF_ELB_STATE_H_
#define SKIFF_ELB_STATE_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "skiff/elb/target_groups.h"
#include "skiff/elbv2/v1/elbv2.pb.h"
#include "skiff/lb/config.h"
#include "skiff/lb/haproxy_admin.h"

namespace skiff::elb {

// A target registered in a target group.
struct RegisteredTarget {
  std::string id;       // An IPv4 address (type ip) or the node's instance id (type instance).
  int port = 0;         // The traffic port.
  std::string availability_zone;
  std::string address;  // Where HAProxy sends: the IP, or for the node's instance 127.0.0.1.
  // Deregistered and draining until then (epoch seconds); 0 while registered.
  double drain_until = 0;
  std::string task_id;  // The ECS task that registered it; "" for RegisterTargets' own.

  bool draining() const { return drain_until > 0; }
  // The HAProxy server's name: unique per (id, port) in its group.
  std::string ServerName() const;
  // The name of its fail-open twin (lb::Target::backup), which never clashes with a target's.
  std::string TwinName() const;
};

// A Service Connect client alias (ECS's serviceConnectConfiguration) that the node serves: kept
// as an internal target group whose targets are the owning service's ready tasks (each its
// address and the container port of the alias's portName), behind a TCP frontend on the alias
// address (the task bridge's gateway) and the alias port. Internal groups are keyed
// "service-connect/ID", never an ELBv2 ARN: no ELBv2 operation finds, lists or changes them.
struct ServiceConnectAlias {
  std::string owner;  // "CLUSTER/SERVICE" of the ECS service that declares it.
  std::string ns;     // The namespace's name.
  std::string dns_name;
  std::string port_name;
  std::string discovery_name;
  friend bool operator==(const ServiceConnectAlias&, const ServiceConnectAlias&) = default;
};

// The key prefix of the internal target groups of Service Connect aliases.
inline constexpr char kServiceConnectPrefix[] = "service-connect/";

struct TargetGroupRecord {
  elbv2::v1::TargetGroup group;  // LoadBalancerArns are not kept: they follow the listeners.
  TargetGroupAttributes attributes;
  std::vector<RegisteredTarget> targets;
  std::vector<elbv2::v1::Tag> tags;
  // Set for the internal group of a Service Connect alias; its port is the alias port.
  std::optional<ServiceConnectAlias> alias;

  // The HAProxy backend of the group ("tg_" and the ARN's id).
  std::string BackendName() const;
  bool internal() const { return alias.has_value(); }
};

struct LoadBalancerRecord {
  elbv2::v1::LoadBalancer load_balancer;
  std::vector<elbv2::v1::Tag> tags;
};

struct ListenerRecord {
  elbv2::v1::Listener listener;
  std::vector<elbv2::v1::Tag> tags;
};

struct RuleRecord {
  elbv2::v1::Rule rule;  // Never the default rule: that is the listener's DefaultActions.
  std::string listener_arn;
  std::vector<elbv2::v1::Tag> tags;
};

// Every object, by ARN.
struct ElbState {
  std::map<std::string, LoadBalancerRecord> load_balancers;
  std::map<std::string, ListenerRecord> listeners;
  std::map<std::string, RuleRecord> rules;
  std::map<std::string, TargetGroupRecord> target_groups;

  // The ARNs of the load balancers whose listeners or rules forward to `group_arn`.
  std::vector<std::string> LoadBalancersOf(absl::string_view group_arn) const;
  // The backend name of a target group ARN, or TargetGroupNotFound.
  absl::StatusOr<std::string> BackendOf(const std::string& group_arn) const;
};

// The data plane of `state`: every listener a frontend on `address`:port, every target group a
// backend with its registered targets (draining ones at weight 0). The groups in `fail_open`
// (ARNs: every target unhealthy) also get a twin of each target that is not draining, so that
// traffic goes to all of them, as ALB fails open, until one of them passes its checks again.
// Every Service Connect alias is a TCP frontend on `connect_address`:its port, bound
// transparently (the address may not exist yet), in front of its group's backend; none when
// `connect_address` is "". Fails only on a record that no longer passes the checks it passed
// when it was made (a damaged store).
absl::StatusOr<lb::DataPlane> BuildDataPlane(const ElbState& state, const std::string& address,
                                             const std::set<std::string>& fail_open = {},
                                             const std::string& connect_address = "");

// ELBv2's health of `target` from what HAProxy last said about its server (none before the
// first poll), whether a listener uses its group, and whether the data plane admitted it (a
// check or the first probe passed).
elbv2::v1::TargetHealth HealthOf(const RegisteredTarget& target, bool in_use,
                                 const lb::ServerStat* stat, bool admitted);

// The record as stored, and back. Decoding re-checks the attributes.
std::string EncodeRecord(const TargetGroupRecord& record);
std::string EncodeRecord(const LoadBalancerRecord& record);
std::string EncodeRecord(const ListenerRecord& record);
std::string EncodeRecord(const RuleRecord& record);
absl::Status DecodeRecord(absl::string_view text, TargetGroupRecord* record);
absl::Status DecodeRecord(absl::string_view text, LoadBalancerRecord* record);
absl::Status DecodeRecord(absl::string_view text, ListenerRecord* record);
absl::Status DecodeRecord(absl::string_view text, RuleRecord* record);

}  // namespace skiff::elb

#endif  // SKIFF_ELB_STATE_H_
