#include "skiff/elb/state.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "elb/errors.h"
#include "nlohmann/json.hpp"
#include "skiff/base/status_macros.h"
#include "skiff/elb/rules.h"
#include "skiff/model/json_codec.h"

namespace skiff::elb {
namespace {

using json = nlohmann::ordered_json;
using elbv2::v1::TargetHealth;

// The last part of an ARN: the object's 16 hex digit id.
std::string IdOf(absl::string_view arn) {
  const size_t slash = arn.rfind('/');
  return std::string(slash == absl::string_view::npos ? arn : arn.substr(slash + 1));
}

lb::Protocol ProtocolOf(absl::string_view protocol) {
  return protocol == "TCP" ? lb::Protocol::kTcp : lb::Protocol::kHttp;
}

lb::Algorithm AlgorithmOf(absl::string_view name) {
  if (name == "least_outstanding_requests") return lb::Algorithm::kLeastOutstandingRequests;
  if (name == "weighted_random") return lb::Algorithm::kWeightedRandom;
  return lb::Algorithm::kRoundRobin;
}

lb::HealthCheck CheckOf(const elbv2::v1::TargetGroup& g) {
  lb::HealthCheck check;
  check.protocol = ProtocolOf(g.health_check_protocol());
  int port = 0;
  if (absl::SimpleAtoi(g.health_check_port(), &port)) check.port = port;  // Else traffic-port.
  check.path = g.has_health_check_path() ? g.health_check_path() : "/";
  check.interval = absl::Seconds(g.health_check_interval_seconds());
  check.timeout = absl::Seconds(g.health_check_timeout_seconds());
  check.healthy_threshold = g.healthy_threshold_count();
  check.unhealthy_threshold = g.unhealthy_threshold_count();
  if (g.matcher().has_http_code()) check.matcher = g.matcher().http_code();
  return check;
}

lb::Backend BackendOfGroup(const TargetGroupRecord& record, bool fail_open) {
  lb::Backend backend;
  backend.name = record.BackendName();
  backend.protocol = ProtocolOf(record.group.protocol());
  backend.algorithm = AlgorithmOf(record.attributes.algorithm);
  backend.check = CheckOf(record.group);
  backend.slow_start = record.attributes.slow_start;
  if (record.attributes.stickiness) backend.stickiness = record.attributes.stickiness_duration;
  for (const RegisteredTarget& t : record.targets) {
    backend.targets.push_back({.name = t.ServerName(),
                               .address = t.address,
                               .port = t.port,
                               .weight = 1,
                               .maintenance = false,
                               .draining = t.draining()});
  }
  if (!fail_open) return backend;
  for (const RegisteredTarget& t : record.targets) {
    if (t.draining()) continue;
    backend.targets.push_back(
        {.name = t.TwinName(), .address = t.address, .port = t.port, .weight = 1, .backup = true});
  }
  return backend;
}

absl::StatusOr<lb::Frontend> FrontendOf(const ElbState& state, const ListenerRecord& record,
                                        const std::string& address) {
  const elbv2::v1::Listener& l = record.listener;
  const bool tcp = l.protocol() == "TCP";
  auto backend_of = [&state](const std::string& arn) { return state.BackendOf(arn); };
  lb::Frontend frontend{.name = absl::StrCat("l_", IdOf(l.listener_arn())),
                        .address = address,
                        .port = l.port(),
                        .protocol = tcp ? lb::Protocol::kTcp : lb::Protocol::kHttp};
  SKIFF_ASSIGN_OR_RETURN(frontend.default_action,
                         ActionOf(l.default_actions(), "DefaultActions", tcp, backend_of));
  for (const auto& [arn, rule] : state.rules) {
    if (rule.listener_arn != l.listener_arn()) continue;
    lb::Rule out;
    if (!absl::SimpleAtoi(rule.rule.priority(), &out.priority)) {
      return absl::DataLossError(absl::StrCat("rule ", arn, ": priority ", rule.rule.priority()));
    }
    SKIFF_ASSIGN_OR_RETURN(out.conditions, ConditionsOf(rule.rule.conditions()));
    SKIFF_ASSIGN_OR_RETURN(out.action, ActionOf(rule.rule.actions(), "Actions", false, backend_of));
    frontend.rules.push_back(std::move(out));
  }
  return frontend;
}

// A Service Connect alias: its port on the alias address, straight to its group's backend.
lb::Frontend AliasFrontend(const TargetGroupRecord& record, const std::string& address) {
  lb::Frontend frontend{.name = absl::StrCat("sc_", IdOf(record.group.target_group_arn())),
                        .address = address,
                        .port = record.group.port(),
                        .protocol = lb::Protocol::kTcp,
                        .transparent = true};
  frontend.default_action.forward.push_back({.backend = record.BackendName()});
  return frontend;
}

json AliasJson(const ServiceConnectAlias& alias) {
  return {{"Owner", alias.owner},
          {"Namespace", alias.ns},
          {"DnsName", alias.dns_name},
          {"PortName", alias.port_name},
          {"DiscoveryName", alias.discovery_name}};
}

json TagsJson(const std::vector<elbv2::v1::Tag>& tags) {
  json out = json::array();
  for (const auto& tag : tags) out.push_back(model::EncodeMessage(tag));
  return out;
}

// Parses a record: the object at `key` into `message`, its tags into `tags`.
absl::StatusOr<json> DecodeObject(absl::string_view text, const char* key,
                                  google::protobuf::Message* message,
                                  std::vector<elbv2::v1::Tag>* tags) {
  SKIFF_ASSIGN_OR_RETURN(json doc, model::ParseJsonText(text, {.max_bytes = 4 << 20}));
  if (!doc.is_object() || !doc.contains(key)) {
    return absl::DataLossError(absl::StrCat("ELBv2 record without ", key));
  }
  SKIFF_RETURN_IF_ERROR(model::DecodeMessage(doc[key], message));
  if (doc.contains("Tags")) {
    for (const json& item : doc["Tags"]) {
      SKIFF_RETURN_IF_ERROR(model::DecodeMessage(item, &tags->emplace_back()));
    }
  }
  return doc;
}

}  // namespace

std::string RegisteredTarget::ServerName() const {
  return absl::StrCat("t_", absl::StrReplaceAll(id, {{".", "_"}, {":", "_"}}), "_", port);
}

std::string RegisteredTarget::TwinName() const {
  return absl::StrCat("o_", absl::StrReplaceAll(id, {{".", "_"}, {":", "_"}}), "_", port);
}

std::string TargetGroupRecord::BackendName() const {
  return absl::StrCat("tg_", IdOf(group.target_group_arn()));
}

std::vector<std::string> ElbState::LoadBalancersOf(absl::string_view group_arn) const {
  std::set<std::string> out;
  for (const auto& [arn, l] : listeners) {
    for (const std::string& g : ForwardedGroups(l.listener.default_actions())) {
      if (g == group_arn) out.insert(l.listener.load_balancer_arn());
    }
  }
  for (const auto& [arn, r] : rules) {
    auto listener = listeners.find(r.listener_arn);
    if (listener == listeners.end()) continue;
    for (const std::string& g : ForwardedGroups(r.rule.actions())) {
      if (g == group_arn) out.insert(listener->second.listener.load_balancer_arn());
    }
  }
  return {out.begin(), out.end()};
}

absl::StatusOr<std::string> ElbState::BackendOf(const std::string& group_arn) const {
  auto it = target_groups.find(group_arn);
  if (it == target_groups.end()) {
    return model::EcsError(absl::StatusCode::kNotFound, kTargetGroupNotFound,
                           absl::StrCat("Target group '", group_arn, "' not found"));
  }
  return it->second.BackendName();
}

absl::StatusOr<lb::DataPlane> BuildDataPlane(const ElbState& state, const std::string& address,
                                             const std::set<std::string>& fail_open,
                                             const std::string& connect_address) {
  lb::DataPlane plane;
  for (const auto& [arn, record] : state.target_groups) {
    if (record.internal() && connect_address.empty()) continue;
    plane.backends.push_back(BackendOfGroup(record, fail_open.contains(arn)));
    if (record.internal()) plane.frontends.push_back(AliasFrontend(record, connect_address));
  }
  for (const auto& [arn, record] : state.listeners) {
    SKIFF_ASSIGN_OR_RETURN(lb::Frontend frontend, FrontendOf(state, record, address));
    plane.frontends.push_back(std::move(frontend));
  }
  return plane;
}

TargetHealth HealthOf(const RegisteredTarget& target, bool in_use, const lb::ServerStat* stat,
                      bool admitted) {
  TargetHealth health;
  auto set = [&health](const char* state, const char* reason, std::string description) {
    health.set_state(state);
    if (reason != nullptr) health.set_reason(reason);
    if (!description.empty()) health.set_description(std::move(description));
  };
  if (target.draining()) {
    set("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress");
  } else if (!in_use) {
    set("unused", "Target.NotInUse",
        "Target group is not configured to receive traffic from the load balancer");
  } else if (admitted && stat != nullptr && stat->up()) {
    // Admitted after a passing check: HAProxy's, or the data plane's first probe, which may
    // come before HAProxy's first check (still INI then).
    set("healthy", nullptr, "");
  } else if (stat == nullptr || stat->check_status.empty() || stat->check_status == "INI") {
    if (stat == nullptr) {
      set("initial", "Elb.RegistrationInProgress", "Target registration is in progress");
    } else {
      set("initial", "Elb.InitialHealthChecking", "Initial health checks in progress");
    }
  } else if (stat->check_status == "L7STS" || stat->check_status == "L7RSP") {
    set("unhealthy", "Target.ResponseCodeMismatch",
        absl::StrCat("Health checks failed with these codes: [", stat->check_code, "]"));
  } else if (absl::StrContains(stat->check_status, "TOUT")) {
    set("unhealthy", "Target.Timeout", "Request timed out");
  } else if (!admitted && stat->up()) {
    set("initial", "Elb.InitialHealthChecking", "Initial health checks in progress");
  } else {
    set("unhealthy", "Target.FailedHealthChecks", "Health checks failed");
  }
  return health;
}

std::string EncodeRecord(const TargetGroupRecord& record) {
  json targets = json::array();
  for (const RegisteredTarget& t : record.targets) {
    targets.push_back({{"Id", t.id},
                       {"Port", t.port},
                       {"AvailabilityZone", t.availability_zone},
                       {"Address", t.address},
                       {"DrainUntil", t.drain_until},
                       {"TaskId", t.task_id}});
  }
  json attributes = json::array();
  for (const auto& a : record.attributes.ToList(record.group)) {
    attributes.push_back(model::EncodeMessage(a));
  }
  json out{{"TargetGroup", model::EncodeMessage(record.group)},
           {"Attributes", attributes},
           {"Targets", targets},
           {"Tags", TagsJson(record.tags)}};
  if (record.alias) out["ServiceConnect"] = AliasJson(*record.alias);
  return out.dump();
}

std::string EncodeRecord(const LoadBalancerRecord& record) {
  return json{{"LoadBalancer", model::EncodeMessage(record.load_balancer)},
              {"Tags", TagsJson(record.tags)}}
      .dump();
}

std::string EncodeRecord(const ListenerRecord& record) {
  return json{{"Listener", model::EncodeMessage(record.listener)},
              {"Tags", TagsJson(record.tags)}}
      .dump();
}

std::string EncodeRecord(const RuleRecord& record) {
  return json{{"Rule", model::EncodeMessage(record.rule)},
              {"ListenerArn", record.listener_arn},
              {"Tags", TagsJson(record.tags)}}
      .dump();
}

absl::Status DecodeRecord(absl::string_view text, TargetGroupRecord* record) {
  SKIFF_ASSIGN_OR_RETURN(json doc, DecodeObject(text, "TargetGroup", &record->group,
                                                &record->tags));
  google::protobuf::RepeatedPtrField<elbv2::v1::TargetGroupAttribute> attributes;
  for (const json& item : doc.value("Attributes", json::array())) {
    SKIFF_RETURN_IF_ERROR(model::DecodeMessage(item, attributes.Add()));
  }
  SKIFF_ASSIGN_OR_RETURN(record->attributes,
                         ApplyAttributes(TargetGroupAttributes{}, record->group, attributes));
  for (const json& item : doc.value("Targets", json::array())) {
    if (!item.is_object()) return absl::DataLossError("ELBv2 target that is not an object");
    record->targets.push_back({.id = item.value("Id", ""),
                               .port = item.value("Port", 0),
                               .availability_zone = item.value("AvailabilityZone", ""),
                               .address = item.value("Address", ""),
                               .drain_until = item.value("DrainUntil", 0.0),
                               .task_id = item.value("TaskId", "")});
  }
  if (const auto it = doc.find("ServiceConnect"); it != doc.end()) {
    if (!it->is_object()) return absl::DataLossError("ServiceConnect that is not an object");
    record->alias = ServiceConnectAlias{.owner = it->value("Owner", ""),
                                        .ns = it->value("Namespace", ""),
                                        .dns_name = it->value("DnsName", ""),
                                        .port_name = it->value("PortName", ""),
                                        .discovery_name = it->value("DiscoveryName", "")};
  }
  return absl::OkStatus();
}

absl::Status DecodeRecord(absl::string_view text, LoadBalancerRecord* record) {
  return DecodeObject(text, "LoadBalancer", &record->load_balancer, &record->tags).status();
}

absl::Status DecodeRecord(absl::string_view text, ListenerRecord* record) {
  return DecodeObject(text, "Listener", &record->listener, &record->tags).status();
}

absl::Status DecodeRecord(absl::string_view text, RuleRecord* record) {
  SKIFF_ASSIGN_OR_RETURN(json doc, DecodeObject(text, "Rule", &record->rule, &record->tags));
  record->listener_arn = doc.value("ListenerArn", "");
  return absl::OkStatus();
}

}  // namespace skiff::elb
