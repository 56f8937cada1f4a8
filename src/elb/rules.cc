// Listener rules: conditions and actions (see the header).
#include "skiff/elb/rules.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "elb/errors.h"
#include "skiff/base/status_macros.h"
#include "skiff/elb/target_groups.h"
#include "skiff/model/errors.h"

namespace skiff::elb {
namespace {

using google::protobuf::RepeatedPtrField;
using Field = lb::Condition::Field;

constexpr int kMaxConditionValues = 5;   // ALB's "condition values per rule".
constexpr int kMaxTargetGroups = 5;      // Target groups of one forward action.
constexpr size_t kMaxValueLength = 128;

absl::StatusOr<Field> FieldOf(const std::string& name, const std::string& path) {
  static const std::pair<const char*, Field> kFields[] = {
      {"path-pattern", Field::kPathPattern},   {"host-header", Field::kHostHeader},
      {"http-header", Field::kHttpHeader},     {"http-request-method", Field::kHttpRequestMethod},
      {"query-string", Field::kQueryString},   {"source-ip", Field::kSourceIp}};
  for (const auto& [n, f] : kFields) {
    if (name == n) return f;
  }
  return Invalid(absl::StrCat(path, ".Field: must be path-pattern, host-header, http-header, "
                                    "http-request-method, query-string or source-ip; got '",
                              name, "'"));
}

// Printable, at most 128 characters.
absl::Status CheckValue(const std::string& value, const std::string& path) {
  if (value.empty() || value.size() > kMaxValueLength) {
    return Invalid(absl::StrCat(path, ": must be 1-128 characters"));
  }
  if (std::any_of(value.begin(), value.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
      })) {
    return Invalid(absl::StrCat(path, ": must not contain control characters"));
  }
  return absl::OkStatus();
}

absl::Status CheckValues(const RepeatedPtrField<std::string>& values, const std::string& path) {
  if (values.empty()) return Invalid(absl::StrCat(path, ": must have at least one value"));
  for (int i = 0; i < values.size(); ++i) {
    SKIFF_RETURN_IF_ERROR(CheckValue(values[i], absl::StrCat(path, "[", i, "]")));
  }
  return absl::OkStatus();
}

// The values of a field that has them in `Values` (the older form, path-pattern and host-header
// only) or in its own config, not both.
absl::StatusOr<std::vector<std::string>> PlainValues(const elbv2::v1::RuleCondition& c,
                                                     const RepeatedPtrField<std::string>* config,
                                                     absl::string_view config_name,
                                                     const std::string& path) {
  const bool legacy = !c.values().empty();
  const bool configured = config != nullptr && !config->empty();
  if (legacy && configured) {
    return Invalid(absl::StrCat(path, ": give Values or ", config_name, ".Values, not both"));
  }
  if (configured) {
    SKIFF_RETURN_IF_ERROR(CheckValues(*config, absl::StrCat(path, ".", config_name, ".Values")));
    return std::vector<std::string>(config->begin(), config->end());
  }
  SKIFF_RETURN_IF_ERROR(CheckValues(c.values(), path + ".Values"));
  return std::vector<std::string>(c.values().begin(), c.values().end());
}

absl::Status RefuseRegex(const elbv2::v1::RuleCondition& c, const std::string& path) {
  const bool regex = !c.regex_values().empty() || !c.host_header_config().regex_values().empty() ||
                     !c.path_pattern_config().regex_values().empty() ||
                     !c.http_header_config().regex_values().empty();
  if (!regex) return absl::OkStatus();
  return Invalid(absl::StrCat(path, ": RegexValues are not supported on a skiff node; use "
                                    "Values with the wildcards * and ?"));
}

// The values of the fields that have only their config (http-header's also its name).
absl::Status ConfigOnlyValues(const elbv2::v1::RuleCondition& c, const std::string& path,
                              lb::Condition& out) {
  if (!c.values().empty()) {
    return Invalid(absl::StrCat(path, ".Values: only path-pattern and host-header take Values; "
                                      "use the field's own config"));
  }
  switch (out.field) {
    case Field::kHttpHeader: {
      const std::string& name = c.http_header_config().http_header_name();
      if (name.empty() || name.size() > 40 || !std::all_of(name.begin(), name.end(), [](char ch) {
            return absl::ascii_isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_';
          })) {
        return Invalid(absl::StrCat(path, ".HttpHeaderConfig.HttpHeaderName: must be 1-40 "
                                          "letters, digits, '-' or '_'"));
      }
      out.header_name = name;
      SKIFF_RETURN_IF_ERROR(
          CheckValues(c.http_header_config().values(), path + ".HttpHeaderConfig.Values"));
      out.values.assign(c.http_header_config().values().begin(),
                        c.http_header_config().values().end());
      return absl::OkStatus();
    }
    case Field::kHttpRequestMethod:
      SKIFF_RETURN_IF_ERROR(CheckValues(c.http_request_method_config().values(),
                                        path + ".HttpRequestMethodConfig.Values"));
      out.values.assign(c.http_request_method_config().values().begin(),
                        c.http_request_method_config().values().end());
      return absl::OkStatus();
    case Field::kSourceIp:
      SKIFF_RETURN_IF_ERROR(
          CheckValues(c.source_ip_config().values(), path + ".SourceIpConfig.Values"));
      out.values.assign(c.source_ip_config().values().begin(),
                        c.source_ip_config().values().end());
      return absl::OkStatus();
    default:
      break;
  }
  const auto& pairs = c.query_string_config().values();
  if (pairs.empty()) {
    return Invalid(absl::StrCat(path, ".QueryStringConfig.Values: must have at least one value"));
  }
  for (int i = 0; i < pairs.size(); ++i) {
    const std::string at = absl::StrCat(path, ".QueryStringConfig.Values[", i, "]");
    if (pairs[i].has_key()) SKIFF_RETURN_IF_ERROR(CheckValue(pairs[i].key(), at + ".Key"));
    SKIFF_RETURN_IF_ERROR(CheckValue(pairs[i].value(), at + ".Value"));
    out.query.emplace_back(pairs[i].key(), pairs[i].value());
  }
  return absl::OkStatus();
}

absl::StatusOr<lb::Condition> ConditionOf(const elbv2::v1::RuleCondition& c,
                                          const std::string& path) {
  SKIFF_ASSIGN_OR_RETURN(const Field field, FieldOf(c.field(), path));
  SKIFF_RETURN_IF_ERROR(RefuseRegex(c, path));
  lb::Condition out{.field = field};
  if (field == Field::kPathPattern) {
    SKIFF_ASSIGN_OR_RETURN(out.values, PlainValues(c, &c.path_pattern_config().values(),
                                                   "PathPatternConfig", path));
  } else if (field == Field::kHostHeader) {
    SKIFF_ASSIGN_OR_RETURN(out.values, PlainValues(c, &c.host_header_config().values(),
                                                   "HostHeaderConfig", path));
  } else {
    SKIFF_RETURN_IF_ERROR(ConfigOnlyValues(c, path, out));
  }
  return out;
}

// --- Actions ---

absl::StatusOr<lb::Action> ForwardOf(const elbv2::v1::Action& a, const std::string& path,
                                     const BackendResolver& backend_of) {
  lb::Action out{.type = lb::Action::Type::kForward};
  const auto& groups = a.forward_config().target_groups();
  if (!a.has_target_group_arn() && groups.empty()) {
    return BadAction(absl::StrCat(path, ": a forward action needs TargetGroupArn or "
                                        "ForwardConfig.TargetGroups"));
  }
  if (groups.size() > kMaxTargetGroups) {
    return BadAction(absl::StrCat(path, ".ForwardConfig.TargetGroups: at most 5 target groups"));
  }
  if (a.has_target_group_arn() &&
      (groups.size() > 1 || (groups.size() == 1 && groups[0].target_group_arn() !=
                                                        a.target_group_arn()))) {
    return BadAction(absl::StrCat(path, ": TargetGroupArn and ForwardConfig.TargetGroups name "
                                        "different target groups"));
  }
  std::set<std::string> seen;
  for (int i = 0; i < std::max<int>(groups.size(), 1); ++i) {
    const std::string at = groups.empty() ? path + ".TargetGroupArn"
                                          : absl::StrCat(path, ".ForwardConfig.TargetGroups[", i,
                                                         "]");
    const std::string& arn = groups.empty() ? a.target_group_arn() : groups[i].target_group_arn();
    const int weight = groups.empty() || !groups[i].has_weight() ? 1 : groups[i].weight();
    if (weight < 0 || weight > 999) return BadAction(absl::StrCat(at, ".Weight: must be 0-999"));
    if (!seen.insert(arn).second) return BadAction(absl::StrCat(at, ": named twice"));
    absl::StatusOr<std::string> backend = backend_of(arn);
    if (!backend.ok()) {
      return model::EcsError(absl::StatusCode::kNotFound, kTargetGroupNotFound,
                             absl::StrCat(at, ": no target group '", arn, "'"));
    }
    out.forward.push_back({.backend = *std::move(backend), .weight = weight});
  }
  const auto& sticky = a.forward_config().target_group_stickiness_config();
  if (sticky.enabled()) {
    const int seconds = sticky.has_duration_seconds() ? sticky.duration_seconds() : 3600;
    if (seconds < 1 || seconds > 604800) {
      return BadAction(absl::StrCat(path, ".ForwardConfig.TargetGroupStickinessConfig."
                                          "DurationSeconds: must be 1-604800"));
    }
    out.group_stickiness = absl::Seconds(seconds);
  }
  return out;
}

absl::StatusOr<lb::Action> RedirectOf(const elbv2::v1::Action& a, const std::string& path) {
  const elbv2::v1::RedirectActionConfig& r = a.redirect_config();
  lb::Action out{.type = lb::Action::Type::kRedirect};
  if (!a.has_redirect_config()) return BadAction(path + ": a redirect needs RedirectConfig");
  out.status_code = r.status_code() == "HTTP_302" ? 302 : 301;
  if (r.has_protocol()) out.redirect_protocol = r.protocol();
  if (r.has_host()) out.redirect_host = r.host();
  if (r.has_port()) out.redirect_port = r.port();
  if (r.has_path()) out.redirect_path = r.path();
  if (r.has_query()) out.redirect_query = r.query();
  int port = 0;
  if (out.redirect_port != "#{port}" &&
      (!absl::SimpleAtoi(out.redirect_port, &port) || port < 1 || port > 65535)) {
    return BadAction(absl::StrCat(path, ".RedirectConfig.Port: must be 1-65535 or #{port}"));
  }
  const lb::Action same;
  if (out.redirect_protocol == same.redirect_protocol && out.redirect_host == same.redirect_host &&
      out.redirect_port == same.redirect_port && out.redirect_path == same.redirect_path &&
      out.redirect_query == same.redirect_query) {
    return BadAction(absl::StrCat(path, ".RedirectConfig: would redirect to the same URL; change "
                                        "at least one of Protocol, Host, Port, Path, Query"));
  }
  return out;
}

absl::StatusOr<lb::Action> FixedResponseOf(const elbv2::v1::Action& a, const std::string& path) {
  const elbv2::v1::FixedResponseActionConfig& f = a.fixed_response_config();
  int code = 0;
  if (!a.has_fixed_response_config() || !absl::SimpleAtoi(f.status_code(), &code) ||
      f.status_code().size() != 3 || (code / 100 != 2 && code / 100 != 4 && code / 100 != 5)) {
    return BadAction(absl::StrCat(path, ".FixedResponseConfig.StatusCode: must be 2XX, 4XX or "
                                        "5XX"));
  }
  static const std::set<std::string> kTypes = {"text/plain", "text/css", "text/html",
                                               "application/javascript", "application/json"};
  const std::string type = f.has_content_type() ? f.content_type() : "text/plain";
  if (!kTypes.contains(type)) {
    return BadAction(absl::StrCat(path, ".FixedResponseConfig.ContentType: must be text/plain, "
                                        "text/css, text/html, application/javascript or "
                                        "application/json"));
  }
  if (f.message_body().size() > 1024) {
    return BadAction(absl::StrCat(path, ".FixedResponseConfig.MessageBody: at most 1024 "
                                        "characters"));
  }
  return lb::Action{.type = lb::Action::Type::kFixedResponse,
                    .status_code = code,
                    .content_type = type,
                    .body = f.message_body()};
}

}  // namespace

absl::StatusOr<std::vector<lb::Condition>> ConditionsOf(
    const RepeatedPtrField<elbv2::v1::RuleCondition>& conditions) {
  if (conditions.empty()) return Invalid("Conditions: must have at least one condition");
  std::vector<lb::Condition> out;
  std::set<Field> once;
  int values = 0;
  for (int i = 0; i < conditions.size(); ++i) {
    const std::string path = absl::StrCat("Conditions[", i, "]");
    SKIFF_ASSIGN_OR_RETURN(lb::Condition c, ConditionOf(conditions[i], path));
    const bool repeatable = c.field == Field::kHttpHeader || c.field == Field::kQueryString;
    if (!repeatable && !once.insert(c.field).second) {
      return Invalid(absl::StrCat(path, ".Field: '", conditions[i].field(),
                                  "' may appear once in a rule"));
    }
    values += static_cast<int>(c.values.size() + c.query.size());
    out.push_back(std::move(c));
  }
  if (values > kMaxConditionValues) {
    return Invalid(absl::StrCat("Conditions: a rule has at most ", kMaxConditionValues,
                                " condition values; got ", values));
  }
  return out;
}

absl::StatusOr<lb::Action> ActionOf(const RepeatedPtrField<elbv2::v1::Action>& actions,
                                    absl::string_view member, bool tcp,
                                    const BackendResolver& backend_of) {
  if (actions.size() != 1) {
    return BadAction(absl::StrCat(member, ": a skiff node takes exactly one action (forward, "
                                          "redirect or fixed-response); got ", actions.size()));
  }
  const elbv2::v1::Action& a = actions[0];
  const std::string path = absl::StrCat(member, "[0]");
  if (tcp && a.type() != "forward") {
    return BadAction(absl::StrCat(path, ".Type: a TCP listener only forwards"));
  }
  if (a.type() == "forward") {
    SKIFF_ASSIGN_OR_RETURN(lb::Action forward, ForwardOf(a, path, backend_of));
    if (tcp && (forward.forward.size() != 1 || forward.group_stickiness.has_value())) {
      return BadAction(absl::StrCat(path, ": a TCP listener forwards to one target group"));
    }
    return forward;
  }
  if (a.type() == "redirect") return RedirectOf(a, path);
  if (a.type() == "fixed-response") return FixedResponseOf(a, path);
  return BadAction(absl::StrCat(path, ".Type: ", a.type(),
                                " is not supported on a skiff node; use forward, redirect or "
                                "fixed-response"));
}

std::vector<std::string> ForwardedGroups(const RepeatedPtrField<elbv2::v1::Action>& actions) {
  std::vector<std::string> arns;
  for (const elbv2::v1::Action& a : actions) {
    if (a.has_target_group_arn()) arns.push_back(a.target_group_arn());
    for (const auto& g : a.forward_config().target_groups()) arns.push_back(g.target_group_arn());
  }
  std::sort(arns.begin(), arns.end());
  arns.erase(std::unique(arns.begin(), arns.end()), arns.end());
  return arns;
}

}  // namespace skiff::elb
