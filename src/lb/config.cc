// Rendering the data plane into HAProxy's config (see the header for the ALB semantics kept).
#include "skiff/lb/config.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "lb/health_matcher.h"
#include "skiff/base/status_macros.h"

namespace skiff::lb {
namespace {

constexpr int kMaxHaproxyWeight = 256;
constexpr int kMaxForwardWeight = 999;

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

// Names given to HAProxy (proxies, servers, header names): letters, digits, '-', '_', '.'.
// HAProxy also takes ':', which the renderer keeps for the names it makes itself.
bool IsIdentifier(absl::string_view name) {
  if (name.empty() || name.size() > 96) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

absl::Status CheckIdentifier(absl::string_view path, absl::string_view name) {
  if (IsIdentifier(name)) return absl::OkStatus();
  return Invalid(path, absl::StrCat("must be 1-96 letters, digits, '-', '_' or '.'; got \"",
                                    name, "\""));
}

// Printable ASCII and bytes of UTF-8; no control characters.
absl::Status CheckText(absl::string_view path, absl::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return Invalid(path, "must not contain control characters");
  }
  return absl::OkStatus();
}

// Milliseconds, HAProxy's unit when none is written.
std::string Ms(absl::Duration d) { return absl::StrCat(absl::ToInt64Milliseconds(d)); }

// The regex body of an ALB wildcard pattern: '*' any run, '?' one character, everything else
// literal. Literals other than letters and digits are written \xHH, so the result holds no
// character that HAProxy's config parser or PCRE would read specially. `any` is what '*'
// spans ("." everywhere, "[^&]" inside a query string).
std::string WildcardBody(absl::string_view pattern, absl::string_view any) {
  std::string out;
  for (char c : pattern) {
    if (c == '*') {
      absl::StrAppend(&out, any, "*");
    } else if (c == '?') {
      absl::StrAppend(&out, any);
    } else if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      out.push_back(c);
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<unsigned char>(c));
    }
  }
  return out;
}

std::string WildcardRegex(absl::string_view pattern) {
  return absl::StrCat("'^", WildcardBody(pattern, "."), "$'");
}

// A double-quoted config string: backslash, quote and '$' (environment variables) escaped,
// so the text arrives as it was given.
std::string Quote(absl::string_view text) {
  return absl::StrCat("\"",
                      absl::StrReplaceAll(text, {{"\\", "\\\\"}, {"\"", "\\\""}, {"$", "\\$"}}),
                      "\"");
}

bool ParseIpv4(absl::string_view text) {
  std::vector<absl::string_view> parts = absl::StrSplit(text, '.');
  if (parts.size() != 4) return false;
  for (absl::string_view p : parts) {
    int octet = 0;
    if (p.empty() || p.size() > 3 || !absl::SimpleAtoi(p, &octet) || octet < 0 || octet > 255) {
      return false;
    }
  }
  return true;
}

bool ParseCidr(absl::string_view text) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos) return false;
  int bits = 0;
  return ParseIpv4(text.substr(0, slash)) && absl::SimpleAtoi(text.substr(slash + 1), &bits) &&
         bits >= 0 && bits <= 32;
}

// The matcher as a regex of status codes: "200", "200,202", "200-299" (codes 100-599).
absl::StatusOr<std::string> MatcherRegex(absl::string_view path, absl::string_view matcher) {
  const absl::StatusOr<std::vector<CodeRange>> ranges = ParseMatcher(matcher);
  if (!ranges.ok()) return Invalid(path, ranges.status().message());
  std::vector<std::string> codes;
  for (const CodeRange& range : *ranges) {
    for (int code = range.low; code <= range.high; ++code) codes.push_back(absl::StrCat(code));
  }
  return absl::StrCat("^(", absl::StrJoin(codes, "|"), ")$");
}

// The names the renderer gives: backends keep theirs; these are its own.
struct Names {
  std::string prefix;  // Makes abstract socket names unique to this HAProxy.
  std::string Selector(absl::string_view frontend, absl::string_view rule) const {
    return absl::StrCat("sel:", frontend, ":", rule);
  }
  std::string Via(absl::string_view backend) const { return absl::StrCat("via:", backend); }
  std::string ViaSocket(absl::string_view backend) const {
    return absl::StrCat("abns@", prefix, "-via-", backend);
  }
};

// --- Global and defaults ---

void RenderGlobal(const RenderOptions& options, std::string& out) {
  // The pid file is HaproxyProcess's -p: a `pidfile` line as well makes HAProxy complain.
  absl::StrAppend(&out, "global\n", "  master-worker\n", "  stats socket ",
                  Quote(options.admin_socket),
                  " mode 600 level admin expose-fd listeners\n", "  maxconn ",
                  options.max_connections, "\n",
                  // Checks of many targets do not all start at the same instant.
                  "  spread-checks 5\n\n");
  absl::StrAppend(&out, "defaults\n", "  timeout connect ", Ms(options.connect_timeout), "\n",
                  "  timeout client ", Ms(options.idle_timeout), "\n", "  timeout server ",
                  Ms(options.idle_timeout), "\n", "  timeout http-request 10s\n",
                  "  timeout http-keep-alive ", Ms(options.idle_timeout), "\n",
                  // A target that refuses a connection is not an error for the client: the
                  // request goes to another one.
                  "  retries 2\n", "  option redispatch 1\n\n");
}

// --- Backends ---

absl::Status CheckBackend(const Backend& b, const std::string& path) {
  SKIFF_RETURN_IF_ERROR(CheckIdentifier(path + ".name", b.name));
  const HealthCheck& c = b.check;
  if (c.port < 0 || c.port > 65535) return Invalid(path + ".check.port", "must be 0-65535");
  if (c.interval < absl::Seconds(1) || c.timeout < absl::Milliseconds(100) ||
      c.timeout > c.interval) {
    return Invalid(path + ".check", "interval must be at least 1 s and timeout 100 ms to interval");
  }
  if (c.healthy_threshold < 1 || c.unhealthy_threshold < 1) {
    return Invalid(path + ".check", "thresholds must be at least 1");
  }
  if (c.protocol == Protocol::kHttp) {
    if (c.path.empty() || c.path[0] != '/' ||
        c.path.find_first_of(" \"'\\") != std::string::npos) {
      return Invalid(path + ".check.path", "must start with / and hold no spaces or quotes");
    }
    SKIFF_RETURN_IF_ERROR(CheckText(path + ".check.path", c.path));
  }
  if (b.stickiness.has_value() && b.protocol != Protocol::kHttp) {
    return Invalid(path + ".stickiness", "needs an HTTP target group");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < b.targets.size(); ++i) {
    const Target& t = b.targets[i];
    const std::string at = absl::StrCat(path, ".targets[", i, "]");
    SKIFF_RETURN_IF_ERROR(CheckIdentifier(at + ".name", t.name));
    if (!names.insert(t.name).second) return Invalid(at + ".name", "is not unique");
    if (!ParseIpv4(t.address)) return Invalid(at + ".address", "must be an IPv4 address");
    if (t.port < 1 || t.port > 65535) return Invalid(at + ".port", "must be 1-65535");
    if (t.weight < 0 || t.weight > kMaxHaproxyWeight) {
      return Invalid(at + ".weight", "must be 0-256");
    }
  }
  return absl::OkStatus();
}

absl::string_view Balance(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kRoundRobin:
      return "roundrobin";
    case Algorithm::kLeastOutstandingRequests:
      return "leastconn";
    case Algorithm::kWeightedRandom:
      return "random";
  }
  return "roundrobin";
}

// A backend that CheckBackend accepted.
absl::Status RenderBackend(const Backend& b, const std::string& path, std::string& out) {
  const HealthCheck& c = b.check;
  const bool http = b.protocol == Protocol::kHttp;
  absl::StrAppend(&out, "backend ", b.name, "\n", "  mode ", http ? "http" : "tcp", "\n",
                  "  balance ", Balance(b.algorithm), "\n", "  timeout check ", Ms(c.timeout),
                  "\n");
  if (c.protocol == Protocol::kHttp) {
    SKIFF_ASSIGN_OR_RETURN(std::string codes, MatcherRegex(path + ".check.matcher", c.matcher));
    absl::StrAppend(&out, "  option httpchk\n", "  http-check send meth GET uri ", c.path,
                    " ver HTTP/1.1 hdr Host skiff-health-check\n",
                    "  http-check expect rstatus '", codes, "'\n");
  }
  if (b.stickiness.has_value()) {
    absl::StrAppend(&out, "  cookie AWSALB insert indirect nocache maxlife ",
                    Ms(*b.stickiness), "\n");
  }
  // Every backup server is a fail-open twin: when no target is UP, all of them share traffic.
  absl::StrAppend(&out, "  option allbackups\n");
  absl::StrAppend(&out, "  default-server check inter ", Ms(c.interval), " fastinter ",
                  Ms(c.interval), " downinter ", Ms(c.interval), " rise ", c.healthy_threshold,
                  " fall ", c.unhealthy_threshold);
  if (c.port != 0) absl::StrAppend(&out, " port ", c.port);
  if (b.slow_start > absl::ZeroDuration()) absl::StrAppend(&out, " slowstart ", Ms(b.slow_start));
  absl::StrAppend(&out, "\n");
  for (const Target& t : b.targets) {
    absl::StrAppend(&out, "  server ", t.name, " ", t.address, ":", t.port, " weight ",
                    t.draining ? 0 : t.weight);
    // HAProxy sends a request whose cookie names a server to it whatever its weight: a
    // draining target has no cookie, so its sticky clients go to another one; nor has a
    // fail-open twin, which must not hold clients once a target is healthy again.
    if (b.stickiness.has_value() && !t.draining && !t.backup) {
      absl::StrAppend(&out, " cookie ", t.name);
    }
    if (t.maintenance) absl::StrAppend(&out, " disabled");
    if (t.backup) absl::StrAppend(&out, " backup no-check");
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "\n");
  return absl::OkStatus();
}

// --- Rules: conditions ---

// A condition's values as ACL patterns: checked, and wildcards made regexes.
absl::StatusOr<std::vector<std::string>> Patterns(const Condition& c, const std::string& path) {
  using Field = Condition::Field;
  std::vector<std::string> patterns;
  for (size_t i = 0; i < c.values.size(); ++i) {
    const std::string at = absl::StrCat(path, ".values[", i, "]");
    const std::string& v = c.values[i];
    if (v.empty() || v.size() > 128) return Invalid(at, "must be 1-128 characters");
    SKIFF_RETURN_IF_ERROR(CheckText(at, v));
    switch (c.field) {
      case Field::kHttpRequestMethod:
        if (!std::all_of(v.begin(), v.end(), [](char ch) {
              return absl::ascii_isupper(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-';
            })) {
          return Invalid(at, "must be upper-case letters, '_' or '-'");
        }
        patterns.push_back(v);
        break;
      case Field::kSourceIp:
        if (!ParseCidr(v)) return Invalid(at, "must be an IPv4 CIDR block like 10.0.0.0/8");
        patterns.push_back(v);
        break;
      default:
        patterns.push_back(WildcardRegex(v));
    }
  }
  return patterns;
}

// One condition as ACL lines named `name` (lines of the same name are alternatives).
absl::Status RenderCondition(const Condition& c, const std::string& path, const std::string& name,
                             std::string& out) {
  using Field = Condition::Field;
  const bool query = c.field == Field::kQueryString;
  if (query ? c.query.empty() : c.values.empty()) {
    return Invalid(path + (query ? ".query" : ".values"), "must not be empty");
  }
  SKIFF_ASSIGN_OR_RETURN(const std::vector<std::string> patterns, Patterns(c, path));
  switch (c.field) {
    case Field::kPathPattern:
      absl::StrAppend(&out, "  acl ", name, " path -m reg ", absl::StrJoin(patterns, " "), "\n");
      break;
    case Field::kHostHeader:
      absl::StrAppend(&out, "  acl ", name, " req.hdr(host),field(1,:) -m reg -i ",
                      absl::StrJoin(patterns, " "), "\n");
      break;
    case Field::kHttpHeader:
      SKIFF_RETURN_IF_ERROR(CheckIdentifier(path + ".header_name", c.header_name));
      absl::StrAppend(&out, "  acl ", name, " req.hdr(", c.header_name, ") -m reg -i ",
                      absl::StrJoin(patterns, " "), "\n");
      break;
    case Field::kHttpRequestMethod:
      absl::StrAppend(&out, "  acl ", name, " method -m str ", absl::StrJoin(patterns, " "), "\n");
      break;
    case Field::kSourceIp:
      absl::StrAppend(&out, "  acl ", name, " src ", absl::StrJoin(patterns, " "), "\n");
      break;
    case Field::kQueryString:
      for (size_t i = 0; i < c.query.size(); ++i) {
        const auto& [key, value] = c.query[i];
        const std::string at = absl::StrCat(path, ".query[", i, "]");
        if (value.empty() || value.size() > 128) {
          return Invalid(at + ".value", "must be 1-128 characters");
        }
        SKIFF_RETURN_IF_ERROR(CheckText(at + ".key", key));
        SKIFF_RETURN_IF_ERROR(CheckText(at + ".value", value));
        const std::string k = key.empty() ? "[^=&]*" : WildcardBody(key, "[^&=]");
        absl::StrAppend(&out, "  acl ", name, " query -m reg -i '(^|&)", k, "=",
                        WildcardBody(value, "[^&]"), "(&|$)'\n");
      }
      break;
  }
  return absl::OkStatus();
}

}  // namespace

int ScaleWeight(int weight, int max_weight) {
  if (weight <= 0 || max_weight <= 0) return 0;
  const int64_t scaled =
      (static_cast<int64_t>(weight) * kMaxHaproxyWeight + max_weight / 2) / max_weight;
  return static_cast<int>(std::clamp<int64_t>(scaled, 1, kMaxHaproxyWeight));
}

namespace {

// --- Rules: actions ---

struct FrontendContext {
  const Frontend& frontend;
  const std::string& path;
  const Names& names;
  const std::set<std::string>& backends;
  std::vector<std::string>& selectors;  // Selector backends to render after the frontends.
  std::set<std::string>& vias;          // Backends reached through a selector.
};

std::string Substitute(absl::string_view part, bool with_query) {
  return absl::StrReplaceAll(part, {{"#{protocol}", "http"},
                                    {"#{host}", "%[req.hdr(host),field(1,:)]"},
                                    {"#{port}", "%[dst_port]"},
                                    {"#{path}", "%[path,regsub(^/,)]"},
                                    {"#{query}", with_query ? "%[query]" : ""}});
}

absl::Status CheckRedirect(const Action& a, const std::string& path) {
  if (a.status_code != 301 && a.status_code != 302) {
    return Invalid(path + ".status_code", "must be 301 or 302 (HTTP_301, HTTP_302)");
  }
  const std::pair<absl::string_view, const std::string*> parts[] = {
      {"protocol", &a.redirect_protocol}, {"host", &a.redirect_host}, {"port", &a.redirect_port},
      {"path", &a.redirect_path}, {"query", &a.redirect_query}};
  for (const auto& [name, value] : parts) {
    const std::string at = absl::StrCat(path, ".redirect.", name);
    SKIFF_RETURN_IF_ERROR(CheckText(at, *value));
    if (value->find_first_of("% \"'\\") != std::string::npos) {
      return Invalid(at, "must not contain '%', spaces, quotes or backslashes");
    }
  }
  const std::string protocol = absl::AsciiStrToLower(a.redirect_protocol);
  if (protocol != "#{protocol}" && protocol != "http" && protocol != "https") {
    return Invalid(path + ".redirect.protocol", "must be HTTP, HTTPS or #{protocol}");
  }
  if (a.redirect_path.empty() || a.redirect_path[0] != '/') {
    return Invalid(path + ".redirect.path", "must start with /");
  }
  return absl::OkStatus();
}

// The `http-request redirect` lines of a redirect action, under `condition`.
absl::Status RenderRedirect(const Action& a, const std::string& path, const std::string& condition,
                            std::string& out) {
  SKIFF_RETURN_IF_ERROR(CheckRedirect(a, path));
  auto location = [&a](bool with_query) {
    std::string query = Substitute(a.redirect_query, with_query);
    std::string l = absl::StrCat(absl::AsciiStrToLower(Substitute(a.redirect_protocol, false)),
                                 "://", Substitute(a.redirect_host, false), ":",
                                 Substitute(a.redirect_port, false),
                                 Substitute(a.redirect_path, false));
    if (!query.empty()) absl::StrAppend(&l, "?", query);
    return l;
  };
  const bool uses_query = a.redirect_query.find("#{query}") != std::string::npos;
  if (uses_query) {
    absl::StrAppend(&out, "  http-request redirect location \"", location(true), "\" code ",
                    a.status_code, " if ", condition, " { query -m found }\n");
  }
  absl::StrAppend(&out, "  http-request redirect location \"", location(false), "\" code ",
                  a.status_code, " if ", condition, "\n");
  return absl::OkStatus();
}

absl::Status RenderFixedResponse(const Action& a, const std::string& path,
                                 const std::string& condition, std::string& out) {
  if (a.status_code < 200 || a.status_code > 599) {
    return Invalid(path + ".status_code", "must be 2XX, 4XX or 5XX");
  }
  if (a.body.size() > 1024) return Invalid(path + ".body", "must be at most 1024 characters");
  SKIFF_RETURN_IF_ERROR(CheckText(path + ".content_type", a.content_type));
  SKIFF_RETURN_IF_ERROR(CheckText(path + ".body", a.body));
  absl::StrAppend(&out, "  http-request return status ", a.status_code, " content-type ",
                  Quote(a.content_type), a.body.empty() ? "" : " string ",
                  a.body.empty() ? "" : Quote(a.body), " if ", condition, "\n");
  return absl::OkStatus();
}

// The backend a forward goes to: the group itself, or a selector over several by weight.
absl::StatusOr<std::string> ForwardTarget(FrontendContext& ctx, const Action& a,
                                          const std::string& path, absl::string_view rule) {
  if (a.forward.empty()) return Invalid(path + ".forward", "must name a target group");
  for (size_t i = 0; i < a.forward.size(); ++i) {
    const std::string at = absl::StrCat(path, ".forward[", i, "]");
    if (!ctx.backends.contains(a.forward[i].backend)) {
      return Invalid(at + ".backend",
                     absl::StrCat("no target group \"", a.forward[i].backend, "\""));
    }
    if (a.forward[i].weight < 0 || a.forward[i].weight > kMaxForwardWeight) {
      return Invalid(at + ".weight", "must be 0-999");
    }
  }
  if (a.forward.size() == 1 && !a.group_stickiness.has_value()) return a.forward[0].backend;
  int max_weight = 0;
  for (const WeightedBackend& w : a.forward) max_weight = std::max(max_weight, w.weight);
  const std::string name = ctx.names.Selector(ctx.frontend.name, rule);
  std::string s = absl::StrCat("backend ", name, "\n  mode http\n  balance roundrobin\n");
  if (a.group_stickiness.has_value()) {
    absl::StrAppend(&s, "  cookie AWSALBTG insert indirect nocache maxlife ",
                    Ms(*a.group_stickiness), "\n");
  }
  for (const WeightedBackend& w : a.forward) {
    absl::StrAppend(&s, "  server ", w.backend, " ", ctx.names.ViaSocket(w.backend),
                    " send-proxy-v2 weight ", ScaleWeight(w.weight, max_weight));
    if (a.group_stickiness.has_value()) absl::StrAppend(&s, " cookie ", w.backend);
    absl::StrAppend(&s, "\n");
    ctx.vias.insert(w.backend);
  }
  ctx.selectors.push_back(std::move(s));
  return name;
}

// One action under `condition` (an ACL expression). Forwards add `use_backend` lines to
// `use_backends`, which HAProxy evaluates after every http-request line anyway.
absl::Status RenderAction(FrontendContext& ctx, const Action& a, const std::string& path,
                          absl::string_view rule, const std::string& condition, std::string& out,
                          std::string& use_backends) {
  switch (a.type) {
    case Action::Type::kFixedResponse:
      return RenderFixedResponse(a, path, condition, out);
    case Action::Type::kRedirect:
      return RenderRedirect(a, path, condition, out);
    case Action::Type::kForward: {
      SKIFF_ASSIGN_OR_RETURN(std::string backend, ForwardTarget(ctx, a, path, rule));
      absl::StrAppend(&use_backends, "  use_backend ", backend, " if ", condition, "\n");
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

// --- Frontends ---

absl::Status RenderRules(FrontendContext& ctx, std::string& out) {
  std::vector<const Rule*> rules;
  std::set<int> priorities;
  for (size_t i = 0; i < ctx.frontend.rules.size(); ++i) {
    const Rule& r = ctx.frontend.rules[i];
    const std::string at = absl::StrCat(ctx.path, ".rules[", i, "]");
    if (r.priority < 1 || r.priority > 50000) return Invalid(at + ".priority", "must be 1-50000");
    if (!priorities.insert(r.priority).second) return Invalid(at + ".priority", "is not unique");
    if (r.conditions.empty()) return Invalid(at + ".conditions", "must not be empty");
    rules.push_back(&r);
  }
  std::sort(rules.begin(), rules.end(),
            [](const Rule* a, const Rule* b) { return a->priority < b->priority; });
  std::string actions, use_backends;
  for (const Rule* r : rules) {
    const size_t index = static_cast<size_t>(r - ctx.frontend.rules.data());
    const std::string at = absl::StrCat(ctx.path, ".rules[", index, "]");
    std::vector<std::string> acls;
    for (size_t c = 0; c < r->conditions.size(); ++c) {
      acls.push_back(absl::StrCat("r", r->priority, "c", c));
      SKIFF_RETURN_IF_ERROR(RenderCondition(r->conditions[c],
                                            absl::StrCat(at, ".conditions[", c, "]"), acls.back(),
                                            out));
    }
    // The first rule to match, by priority, is the one that acts.
    absl::StrAppend(&out, "  http-request set-var(txn.rule) int(", r->priority,
                    ") if !{ var(txn.rule) -m found } ", absl::StrJoin(acls, " "), "\n");
    SKIFF_RETURN_IF_ERROR(RenderAction(ctx, r->action, at + ".action",
                                       absl::StrCat(r->priority),
                                       absl::StrCat("{ var(txn.rule) -m int eq ", r->priority,
                                                    " }"),
                                       actions, use_backends));
  }
  SKIFF_RETURN_IF_ERROR(RenderAction(ctx, ctx.frontend.default_action,
                                     ctx.path + ".default_action", "default",
                                     "!{ var(txn.rule) -m found }", actions, use_backends));
  absl::StrAppend(&out, actions, use_backends);
  return absl::OkStatus();
}

absl::Status RenderFrontend(FrontendContext& ctx, std::string& out) {
  const Frontend& f = ctx.frontend;
  SKIFF_RETURN_IF_ERROR(CheckIdentifier(ctx.path + ".name", f.name));
  if (!ParseIpv4(f.address)) return Invalid(ctx.path + ".address", "must be an IPv4 address");
  if (f.port < 1 || f.port > 65535) return Invalid(ctx.path + ".port", "must be 1-65535");
  const bool http = f.protocol == Protocol::kHttp;
  absl::StrAppend(&out, "frontend ", f.name, "\n  mode ", http ? "http" : "tcp", "\n  bind ",
                  f.address, ":", f.port, f.transparent ? " transparent" : "", "\n");
  if (!http) {
    const Action& a = f.default_action;
    if (!f.rules.empty()) return Invalid(ctx.path + ".rules", "a TCP listener has no rules");
    if (a.type != Action::Type::kForward || a.forward.size() != 1 || a.group_stickiness) {
      return Invalid(ctx.path + ".default_action", "a TCP listener forwards to one target group");
    }
    SKIFF_ASSIGN_OR_RETURN(std::string backend,
                           ForwardTarget(ctx, a, ctx.path + ".default_action", "default"));
    absl::StrAppend(&out, "  default_backend ", backend, "\n\n");
    return absl::OkStatus();
  }
  // As an ALB: the client's address and the listener's port and protocol go to the targets.
  absl::StrAppend(&out, "  option forwardfor\n",
                  "  http-request set-header X-Forwarded-Proto http\n",
                  "  http-request set-header X-Forwarded-Port %[dst_port]\n");
  SKIFF_RETURN_IF_ERROR(RenderRules(ctx, out));
  absl::StrAppend(&out, "\n");
  return absl::OkStatus();
}

// The internal frontend through which a selector reaches a target group.
void RenderVia(const Names& names, const Backend& b, std::string& out) {
  absl::StrAppend(&out, "frontend ", names.Via(b.name), "\n  mode ",
                  b.protocol == Protocol::kHttp ? "http" : "tcp", "\n  bind ",
                  names.ViaSocket(b.name), " accept-proxy\n  default_backend ", b.name, "\n\n");
}

}  // namespace

absl::StatusOr<std::string> RenderHaproxyConfig(const DataPlane& plane,
                                                const RenderOptions& options) {
  if (options.admin_socket.empty()) return absl::InvalidArgumentError("admin_socket is required");
  // Abstract socket names are per network namespace: tie them to this HAProxy's socket path.
  const Names names{.prefix = absl::StrFormat(
                        "skiff-%016x", std::hash<std::string>{}(options.admin_socket))};
  std::string out = "# Written by skiffd; any change here is lost at its next write.\n";
  RenderGlobal(options, out);
  std::set<std::string> backend_names, frontend_names;
  std::map<std::string, const Backend*> by_name;
  for (size_t i = 0; i < plane.backends.size(); ++i) {
    const std::string& name = plane.backends[i].name;
    SKIFF_RETURN_IF_ERROR(CheckBackend(plane.backends[i], absl::StrCat("backends[", i, "]")));
    if (!backend_names.insert(name).second) {
      return Invalid(absl::StrCat("backends[", i, "].name"), "is not unique");
    }
    by_name[name] = &plane.backends[i];
  }
  std::vector<std::string> selectors;
  std::set<std::string> vias;
  for (size_t i = 0; i < plane.frontends.size(); ++i) {
    const std::string path = absl::StrCat("frontends[", i, "]");
    if (!frontend_names.insert(plane.frontends[i].name).second) {
      return Invalid(path + ".name", "is not unique");
    }
    FrontendContext ctx{plane.frontends[i], path, names, backend_names, selectors, vias};
    SKIFF_RETURN_IF_ERROR(RenderFrontend(ctx, out));
  }
  for (const std::string& via : vias) RenderVia(names, *by_name.at(via), out);
  for (const std::string& selector : selectors) absl::StrAppend(&out, selector, "\n");
  for (size_t i = 0; i < plane.backends.size(); ++i) {
    SKIFF_RETURN_IF_ERROR(
        RenderBackend(plane.backends[i], absl::StrCat("backends[", i, "]"), out));
  }
  return out;
}

}  // namespace skiff::lb
