// The load balancer's data plane as skiffd wants it, and the HAProxy config that makes it.
//
// DataPlane is what the ELBv2 objects come to on one node: each listener is a Frontend on
// --lb-address:PORT with its rules, each target group a Backend with its health check and its
// targets (servers). RenderHaproxyConfig turns it into the whole config, every current server
// included, so that a reload reproduces the runtime state (HAProxy forgets servers added over
// the admin socket when it reloads).
//
// ALB semantics kept in the rendering:
// - Rules are evaluated by priority, the lowest first, and the first whose conditions all match
//   decides, whatever its action: the rule that matched is put in a variable, and the actions
//   (return, redirect, use_backend) are keyed on it, since HAProxy would otherwise run every
//   `http-request` action before any `use_backend`.
// - Conditions: path-pattern (case-sensitive), host-header, http-header and query-string
//   (case-insensitive) with the wildcards * and ?; http-request-method (exact); source-ip
//   (CIDR). Values within one condition are alternatives; conditions are all required.
// - A forward to several target groups with weights 0-999 goes through a selector backend
//   whose servers are the groups (over abstract unix sockets, PROXY protocol keeping the
//   client's address), so the split is a smooth weighted round-robin, exact to a request in
//   each cycle, not a coin toss; target-group stickiness is a cookie on that selector.
// - Health checks: protocol, port (or the traffic port), path, interval, timeout, healthy and
//   unhealthy thresholds, and the matcher ("200", "200,202", "200-299").
// - A target that is not ready for traffic (not yet healthy, or draining) is rendered at weight
//   0, as the runtime API left it: the caller gives weight 0 for one not yet healthy
//   (EffectivePlane in data_plane_sync.h), and a draining target is rendered at 0 whatever its
//   weight, without its stickiness cookie in a sticky backend, so that no new request (a sticky
//   client's included) reaches it while the old worker finishes its in-flight ones.
//
// Every type has ==, so that PlanSync can tell what changed between two planes.
//
// Pure: no I/O. Every name and value is checked; bad input is InvalidArgument naming the field.
#ifndef SKIFF_LB_CONFIG_H_
#define SKIFF_LB_CONFIG_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace skiff::lb {

enum class Protocol { kHttp, kTcp };

// load_balancing.algorithm.type: round_robin, least_outstanding_requests, weighted_random.
enum class Algorithm { kRoundRobin, kLeastOutstandingRequests, kWeightedRandom };

struct HealthCheck {
  Protocol protocol = Protocol::kHttp;
  int port = 0;  // 0: each target's traffic port.
  std::string path = "/";
  absl::Duration interval = absl::Seconds(30);
  absl::Duration timeout = absl::Seconds(5);
  int healthy_threshold = 5;
  int unhealthy_threshold = 2;
  std::string matcher = "200";  // HttpCode: "200", "200,202", "200-299" (HTTP checks only).
  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

struct Target {
  std::string name;     // Unique in its backend: a HAProxy identifier.
  std::string address;  // IPv4 literal.
  int port = 0;
  // 0-256; 0 takes no new requests. DataPlaneSync reads it as the weight once admitted (after
  // the target's first passing check) and keeps the server at 0 until then.
  int weight = 0;
  bool maintenance = false;  // Out of service (checks stopped): rendered `disabled`.
  // Deregistered and finishing in-flight requests: no new ones (weight 0, `state drain`).
  bool draining = false;
  // A fail-open twin: a `backup` server without checks, at its weight from the start. HAProxy
  // sends backups requests only while no other server of the backend is UP at a weight (and,
  // with `option allbackups`, spreads them over all of them): ALB's fail-open.
  bool backup = false;
  friend bool operator==(const Target&, const Target&) = default;
};

struct Backend {
  std::string name;  // A HAProxy identifier, unique among backends.
  Protocol protocol = Protocol::kHttp;
  Algorithm algorithm = Algorithm::kRoundRobin;
  HealthCheck check;
  absl::Duration slow_start = absl::ZeroDuration();  // slow_start.duration_seconds; 0 is off.
  // stickiness (lb_cookie) with its duration; none when off. HTTP only.
  std::optional<absl::Duration> stickiness;
  // Every field above is a backend setting: PlanSync reloads HAProxy when one changes, and
  // changes `targets` of a non-sticky backend over the runtime API.
  std::vector<Target> targets;
  friend bool operator==(const Backend&, const Backend&) = default;
};

struct Condition {
  enum class Field {
    kPathPattern,
    kHostHeader,
    kHttpHeader,
    kHttpRequestMethod,
    kQueryString,
    kSourceIp,
  };
  Field field = Field::kPathPattern;
  std::string header_name;          // kHttpHeader.
  std::vector<std::string> values;  // Alternatives. kQueryString uses `query` instead.
  // kQueryString: key (empty: any key) and value patterns; alternatives.
  std::vector<std::pair<std::string, std::string>> query;
  friend bool operator==(const Condition&, const Condition&) = default;
};

struct WeightedBackend {
  std::string backend;
  int weight = 1;  // 0-999.
  friend bool operator==(const WeightedBackend&, const WeightedBackend&) = default;
};

struct Action {
  enum class Type { kForward, kFixedResponse, kRedirect };
  Type type = Type::kForward;

  // kForward: one backend, or several by weight; stickiness across them (a cookie), if any.
  std::vector<WeightedBackend> forward;
  std::optional<absl::Duration> group_stickiness;

  // kFixedResponse.
  int status_code = 200;  // Also kRedirect's: 301 or 302.
  std::string content_type = "text/plain";
  std::string body;

  // kRedirect: each part may name the request's own with #{protocol}, #{host}, #{port},
  // #{path} (without its leading slash) and #{query}, as ALB's RedirectConfig does.
  std::string redirect_protocol = "#{protocol}";
  std::string redirect_host = "#{host}";
  std::string redirect_port = "#{port}";
  std::string redirect_path = "/#{path}";
  std::string redirect_query = "#{query}";
  friend bool operator==(const Action&, const Action&) = default;
};

struct Rule {
  int priority = 1;  // 1-50000, unique in its frontend.
  std::vector<Condition> conditions;
  Action action;
  friend bool operator==(const Rule&, const Rule&) = default;
};

struct Frontend {
  std::string name;  // A HAProxy identifier, unique among frontends.
  std::string address = "0.0.0.0";
  int port = 0;
  Protocol protocol = Protocol::kHttp;
  std::vector<Rule> rules;  // HTTP only; any order.
  Action default_action;    // TCP: a forward to one backend.
  // Binds `address` even when no interface has it yet (`transparent`: IP_TRANSPARENT, which
  // needs CAP_NET_ADMIN): a Service Connect alias listens on the task bridge's gateway, which
  // exists only once the first bridged task has started.
  bool transparent = false;
  friend bool operator==(const Frontend&, const Frontend&) = default;
};

struct DataPlane {
  std::vector<Frontend> frontends;
  std::vector<Backend> backends;
  friend bool operator==(const DataPlane&, const DataPlane&) = default;
};

struct RenderOptions {
  std::string admin_socket;  // `stats socket`, level admin, with the listeners' fds.
  absl::Duration idle_timeout = absl::Seconds(60);  // idle_timeout.timeout_seconds of an ALB.
  absl::Duration connect_timeout = absl::Seconds(5);
  int max_connections = 4096;
};

// The whole config, or InvalidArgument naming the field (e.g. "frontends[1].rules[0]
// .conditions[2].values[0]: ...") when something cannot be rendered safely.
absl::StatusOr<std::string> RenderHaproxyConfig(const DataPlane& plane,
                                                const RenderOptions& options);

// HAProxy's weight for an ALB forward weight among `max_weight`: 0 stays 0, others keep their
// ratio on HAProxy's 1-256 scale.
int ScaleWeight(int weight, int max_weight);

}  // namespace skiff::lb

#endif  // SKIFF_LB_CONFIG_H_
