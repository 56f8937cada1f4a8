// Target groups: validation, defaults and attributes (see the header).
#include "skiff/elb/target_groups.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "elb/errors.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"

namespace skiff::elb {
namespace {

using elbv2::v1::TargetGroup;
using elbv2::v1::TargetGroupAttribute;

constexpr char kTrafficPort[] = "traffic-port";

// What a node cannot serve: said, never ignored.
absl::Status CheckProtocols(const TargetGroup& g) {
  if (g.protocol() != "HTTP" && g.protocol() != "TCP") {
    return Invalid(absl::StrCat("Protocol: ", g.protocol(),
                                " is not supported on a skiff node; use HTTP or TCP"));
  }
  if (g.protocol_version() != "HTTP1" && g.protocol() == "HTTP") {
    return Invalid(absl::StrCat("ProtocolVersion: ", g.protocol_version(),
                                " is not supported on a skiff node; use HTTP1"));
  }
  if (g.target_type() != "instance" && g.target_type() != "ip") {
    return Invalid(absl::StrCat("TargetType: ", g.target_type(),
                                " is not supported on a skiff node; use instance or ip"));
  }
  if (g.ip_address_type() != "ipv4") {
    return Invalid("IpAddressType: only ipv4 is supported on a skiff node");
  }
  if (g.health_check_protocol() != "HTTP" && g.health_check_protocol() != "TCP") {
    return Invalid(absl::StrCat("HealthCheckProtocol: ", g.health_check_protocol(),
                                " is not supported on a skiff node; use HTTP or TCP"));
  }
  if (g.protocol() == "HTTP" && g.health_check_protocol() == "TCP") {
    return Invalid("HealthCheckProtocol: an HTTP target group is checked over HTTP");
  }
  return absl::OkStatus();
}

// "200", "200,202", "200-299" (and lists of both), within [low, high].
absl::Status CheckMatcher(absl::string_view code, int low, int high) {
  for (absl::string_view part : absl::StrSplit(code, ',')) {
    std::vector<absl::string_view> range = absl::StrSplit(part, absl::MaxSplits('-', 1));
    int from = 0, to = 0;
    if (!absl::SimpleAtoi(range[0], &from) ||
        !absl::SimpleAtoi(range.size() == 2 ? range[1] : range[0], &to) || from < low ||
        to > high || from > to) {
      return Invalid(absl::StrCat("Matcher.HttpCode: must be codes ", low, "-", high,
                                  " as '200', '200,202' or '200-299'; got '", code, "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckHealthCheck(const TargetGroup& g) {
  if (!g.health_check_enabled()) {
    return Invalid("HealthCheckEnabled: health checks cannot be disabled for instance and ip "
                   "targets");
  }
  int port = 0;
  if (g.health_check_port() != kTrafficPort &&
      (!absl::SimpleAtoi(g.health_check_port(), &port) || port < 1 || port > 65535)) {
    return Invalid(absl::StrCat("HealthCheckPort: must be traffic-port or 1-65535; got '",
                                g.health_check_port(), "'"));
  }
  const int interval = g.health_check_interval_seconds();
  const int timeout = g.health_check_timeout_seconds();
  if (interval < 5 || interval > 300) {
    return OutOfRange("HealthCheckIntervalSeconds", interval, 5, 300);
  }
  if (timeout < 2 || timeout > 120) return OutOfRange("HealthCheckTimeoutSeconds", timeout, 2, 120);
  if (timeout >= interval) {
    return Invalid(absl::StrCat("HealthCheckTimeoutSeconds: must be smaller than the interval (",
                                interval, " s); got ", timeout));
  }
  for (const auto& [member, value] : {std::pair{"HealthyThresholdCount",
                                                g.healthy_threshold_count()},
                                      {"UnhealthyThresholdCount", g.unhealthy_threshold_count()}}) {
    if (value < 2 || value > 10) return OutOfRange(member, value, 2, 10);
  }
  if (g.health_check_protocol() != "HTTP") return absl::OkStatus();
  const std::string& path = g.health_check_path();
  if (path.empty() || path.size() > 1024 || path[0] != '/' ||
      std::any_of(path.begin(), path.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u >= 0x7f || c == '"' || c == '\'' || c == '\\';
      })) {
    return Invalid(absl::StrCat("HealthCheckPath: must be 1-1024 printable characters starting "
                                "with / (no spaces, quotes or backslashes); got '",
                                path, "'"));
  }
  if (g.matcher().has_grpc_code()) {
    return Invalid("Matcher.GrpcCode: gRPC health checks are not supported on a skiff node");
  }
  // ALB checks accept 200-499; an NLB's HTTP check 200-599.
  return CheckMatcher(g.matcher().http_code(), 200, g.protocol() == "HTTP" ? 499 : 599);
}

// The health-check members an input sets, over `g` (CreateTargetGroup and ModifyTargetGroup
// share their names).
template <typename Input>
void CopyHealthCheck(const Input& in, TargetGroup& g) {
  if (in.has_health_check_protocol()) g.set_health_check_protocol(in.health_check_protocol());
  if (in.has_health_check_port()) g.set_health_check_port(in.health_check_port());
  if (in.has_health_check_enabled()) g.set_health_check_enabled(in.health_check_enabled());
  if (in.has_health_check_path()) g.set_health_check_path(in.health_check_path());
  if (in.has_health_check_interval_seconds()) {
    g.set_health_check_interval_seconds(in.health_check_interval_seconds());
  }
  if (in.has_health_check_timeout_seconds()) {
    g.set_health_check_timeout_seconds(in.health_check_timeout_seconds());
  }
  if (in.has_healthy_threshold_count()) g.set_healthy_threshold_count(in.healthy_threshold_count());
  if (in.has_unhealthy_threshold_count()) {
    g.set_unhealthy_threshold_count(in.unhealthy_threshold_count());
  }
  if (in.has_matcher()) *g.mutable_matcher() = in.matcher();
}

// ALB's defaults for an HTTP target group, an NLB's for a TCP one (with an HTTP check or not).
void SetDefaults(TargetGroup& g) {
  const bool http = g.protocol() == "HTTP";
  g.set_health_check_protocol(http ? "HTTP" : "TCP");
  g.set_health_check_port(kTrafficPort);
  g.set_health_check_enabled(true);
  g.set_health_check_interval_seconds(30);
  g.set_health_check_timeout_seconds(http ? 5 : 10);
  g.set_healthy_threshold_count(5);
  g.set_unhealthy_threshold_count(2);
  g.set_target_type("instance");
  g.set_ip_address_type("ipv4");
  if (http) g.set_protocol_version("HTTP1");
}

// After the input's members: what only an HTTP check has, and only then.
void SetHttpCheckDefaults(TargetGroup& g) {
  if (g.health_check_protocol() != "HTTP") {
    g.clear_health_check_path();
    g.clear_matcher();
    return;
  }
  if (!g.has_health_check_path()) g.set_health_check_path("/");
  if (!g.matcher().has_http_code() && !g.matcher().has_grpc_code()) {
    g.mutable_matcher()->set_http_code(g.protocol() == "HTTP" ? "200" : "200-399");
  }
}

}  // namespace

std::string TargetGroupArn(const model::ArnScope& scope, absl::string_view name,
                           absl::string_view id) {
  return absl::StrCat("arn:", scope.partition, ":elasticloadbalancing:", scope.region, ":",
                      scope.account, ":targetgroup/", name, "/", id);
}

absl::StatusOr<TargetGroup> NewTargetGroup(const elbv2::v1::CreateTargetGroupInput& input,
                                           const model::ArnScope& scope,
                                           absl::string_view id) {
  SKIFF_RETURN_IF_ERROR(CheckName(input.name()));
  if (!input.has_protocol()) return Invalid("Protocol: required for instance and ip targets");
  if (!input.has_port()) return Invalid("Port: required for instance and ip targets");
  if (input.port() < 1 || input.port() > 65535) return OutOfRange("Port", input.port(), 1, 65535);
  TargetGroup g;
  g.set_target_group_arn(TargetGroupArn(scope, input.name(), id));
  g.set_target_group_name(input.name());
  g.set_protocol(input.protocol());
  g.set_port(input.port());
  SetDefaults(g);
  if (input.has_vpc_id()) g.set_vpc_id(input.vpc_id());
  if (input.has_protocol_version()) g.set_protocol_version(input.protocol_version());
  if (input.has_target_type()) g.set_target_type(input.target_type());
  if (input.has_ip_address_type()) g.set_ip_address_type(input.ip_address_type());
  CopyHealthCheck(input, g);
  SetHttpCheckDefaults(g);
  SKIFF_RETURN_IF_ERROR(CheckProtocols(g));
  SKIFF_RETURN_IF_ERROR(CheckHealthCheck(g));
  return g;
}

absl::StatusOr<TargetGroup> ModifiedTargetGroup(const TargetGroup& group,
                                                const elbv2::v1::ModifyTargetGroupInput& input) {
  TargetGroup g = group;
  CopyHealthCheck(input, g);
  SetHttpCheckDefaults(g);
  SKIFF_RETURN_IF_ERROR(CheckProtocols(g));
  SKIFF_RETURN_IF_ERROR(CheckHealthCheck(g));
  return g;
}

// --- Attributes ---

namespace {

constexpr char kDeregistrationDelay[] = "deregistration_delay.timeout_seconds";
constexpr char kSlowStart[] = "slow_start.duration_seconds";
constexpr char kAlgorithm[] = "load_balancing.algorithm.type";
constexpr char kStickiness[] = "stickiness.enabled";
constexpr char kStickinessType[] = "stickiness.type";
constexpr char kCookieDuration[] = "stickiness.lb_cookie.duration_seconds";

TargetGroupAttribute Attribute(absl::string_view key, std::string value) {
  TargetGroupAttribute a;
  a.set_key(std::string(key));
  a.set_value(std::move(value));
  return a;
}

absl::StatusOr<int64_t> Seconds(const std::string& path, const std::string& value, int64_t low,
                                int64_t high) {
  int64_t seconds = 0;
  if (!absl::SimpleAtoi(value, &seconds) || seconds < low || seconds > high) {
    return Invalid(absl::StrCat(path, ": must be ", low, "-", high, " seconds; got '", value,
                                "'"));
  }
  return seconds;
}

// One change applied to `a`, or why it cannot be.
absl::Status ApplyOne(const TargetGroupAttribute& change, const std::string& path, bool http,
                      TargetGroupAttributes& a) {
  const std::string& key = change.key();
  const std::string& value = change.value();
  if (key == kDeregistrationDelay) {
    SKIFF_ASSIGN_OR_RETURN(int64_t s, Seconds(path, value, 0, 3600));
    a.deregistration_delay = absl::Seconds(s);
  } else if (http && key == kSlowStart) {
    SKIFF_ASSIGN_OR_RETURN(int64_t s, Seconds(path, value, 0, 900));
    if (s != 0 && s < 30) return Invalid(absl::StrCat(path, ": must be 0 or 30-900 seconds"));
    a.slow_start = absl::Seconds(s);
  } else if (http && key == kAlgorithm) {
    if (value != "round_robin" && value != "least_outstanding_requests" &&
        value != "weighted_random") {
      return Invalid(absl::StrCat(path, ": must be round_robin, least_outstanding_requests or "
                                        "weighted_random; got '", value, "'"));
    }
    a.algorithm = value;
  } else if (key == kStickiness) {
    if (value != "true" && value != "false") {
      return Invalid(absl::StrCat(path, ": must be true or false; got '", value, "'"));
    }
    if (value == "true" && !http) {
      return Invalid(absl::StrCat(path, ": source_ip stickiness is not supported on a skiff "
                                        "node"));
    }
    a.stickiness = value == "true";
  } else if (key == kStickinessType) {
    // A TCP group lists source_ip (ToList): its stored attributes must read back.
    if (value != (http ? "lb_cookie" : "source_ip")) {
      return Invalid(absl::StrCat(path, ": only ", http ? "lb_cookie" : "source_ip",
                                  " is supported on a skiff node; got '", value, "'"));
    }
  } else if (http && key == kCookieDuration) {
    SKIFF_ASSIGN_OR_RETURN(int64_t s, Seconds(path, value, 1, 604800));
    a.stickiness_duration = absl::Seconds(s);
  } else {
    return Invalid(absl::StrCat(path, ": target group attribute key '", key,
                                "' is not recognized"));
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<TargetGroupAttribute> TargetGroupAttributes::ToList(const TargetGroup& group) const {
  const auto seconds = [](absl::Duration d) { return absl::StrCat(absl::ToInt64Seconds(d)); };
  std::vector<TargetGroupAttribute> list = {
      Attribute(kDeregistrationDelay, seconds(deregistration_delay)),
      Attribute(kStickiness, stickiness ? "true" : "false")};
  if (group.protocol() != "HTTP") {
    list.push_back(Attribute(kStickinessType, "source_ip"));
    return list;
  }
  list.push_back(Attribute(kStickinessType, "lb_cookie"));
  list.push_back(Attribute(kCookieDuration, seconds(stickiness_duration)));
  list.push_back(Attribute(kSlowStart, seconds(slow_start)));
  list.push_back(Attribute(kAlgorithm, algorithm));
  return list;
}

absl::StatusOr<TargetGroupAttributes> ApplyAttributes(
    const TargetGroupAttributes& current, const TargetGroup& group,
    const google::protobuf::RepeatedPtrField<TargetGroupAttribute>& changes) {
  if (changes.empty()) return Invalid("Attributes: must name at least one attribute");
  TargetGroupAttributes a = current;
  const bool http = group.protocol() == "HTTP";
  for (int i = 0; i < changes.size(); ++i) {
    SKIFF_RETURN_IF_ERROR(ApplyOne(changes[i], absl::StrCat("Attributes[", i, "]"), http, a));
  }
  if (a.slow_start > absl::ZeroDuration() && a.algorithm != "round_robin" &&
      a.algorithm != "least_outstanding_requests") {
    return Invalid("Attributes: slow start needs the round_robin or least_outstanding_requests "
                   "algorithm");
  }
  return a;
}

}  // namespace skiff::elb
