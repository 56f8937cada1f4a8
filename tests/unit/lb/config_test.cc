#include "skiff/lb/config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::lb {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

const RenderOptions kOptions{.admin_socket = "/var/lib/skiff/lb/admin.sock"};

Backend Web() {
  return Backend{.name = "tg-web",
                 .targets = {{.name = "t1", .address = "127.0.0.1", .port = 32768, .weight = 1},
                             {.name = "t2", .address = "10.0.0.2", .port = 8080, .weight = 0}}};
}

Action Forward(const std::string& backend) {
  return Action{.type = Action::Type::kForward, .forward = {{.backend = backend}}};
}

Frontend Listener(std::vector<Rule> rules = {}) {
  return Frontend{.name = "ln-80",
                  .address = "127.0.0.1",
                  .port = 8080,
                  .rules = std::move(rules),
                  .default_action = Forward("tg-web")};
}

std::string Render(const DataPlane& plane) {
  absl::StatusOr<std::string> config = RenderHaproxyConfig(plane, kOptions);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : "";
}

// The error of a plane that must not render.
std::string ErrorOf(const DataPlane& plane) {
  absl::StatusOr<std::string> config = RenderHaproxyConfig(plane, kOptions);
  if (config.ok()) return "rendered:\n" + *config;
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(config.status().message());
}

TEST(RenderHaproxyConfigTest, TheGlobalSectionHasTheAdminSocketThatKeepsListenersAcrossReloads) {
  const std::string config = Render({.frontends = {Listener()}, .backends = {Web()}});
  EXPECT_THAT(config, HasSubstr("  master-worker\n"));
  EXPECT_THAT(config, Not(HasSubstr("pidfile")));  // HaproxyProcess gives it as -p.
  EXPECT_THAT(config, HasSubstr("  stats socket \"/var/lib/skiff/lb/admin.sock\" mode 600 level "
                                "admin expose-fd listeners\n"));
  EXPECT_THAT(config, HasSubstr("  timeout client 60000\n"));  // ALB's idle timeout.
  EXPECT_THAT(config, HasSubstr("  option redispatch 1\n"));
}

TEST(RenderHaproxyConfigTest, AListenerForwardsToItsTargetGroupWithEveryCurrentTarget) {
  const std::string config = Render({.frontends = {Listener()}, .backends = {Web()}});
  EXPECT_THAT(config, HasSubstr("frontend ln-80\n  mode http\n  bind 127.0.0.1:8080\n"));
  EXPECT_THAT(config, HasSubstr("  option forwardfor\n"));
  EXPECT_THAT(config, HasSubstr("  use_backend tg-web if !{ var(txn.rule) -m found }\n"));
  EXPECT_THAT(config, HasSubstr("backend tg-web\n  mode http\n  balance roundrobin\n"));
  // ALB's default check: GET / every 30 s, timeout 5 s, healthy 5, unhealthy 2, matcher 200.
  EXPECT_THAT(config, HasSubstr("  http-check send meth GET uri / ver HTTP/1.1"));
  EXPECT_THAT(config, HasSubstr("  http-check expect rstatus '^(200)$'\n"));
  EXPECT_THAT(config, HasSubstr("  timeout check 5000\n"));
  EXPECT_THAT(config, HasSubstr("  default-server check inter 30000 fastinter 30000 downinter "
                                "30000 rise 5 fall 2\n"));
  EXPECT_THAT(config, HasSubstr("  server t1 127.0.0.1:32768 weight 1\n"));
  // Not yet healthy (or draining): on the data plane, but no new requests.
  EXPECT_THAT(config, HasSubstr("  server t2 10.0.0.2:8080 weight 0\n"));
}

TEST(RenderHaproxyConfigTest, TargetGroupSettingsReachTheBackend) {
  Backend b = Web();
  b.algorithm = Algorithm::kLeastOutstandingRequests;
  b.check = {.port = 9000, .path = "/healthz", .interval = absl::Seconds(5),
             .timeout = absl::Seconds(2), .healthy_threshold = 2, .unhealthy_threshold = 3,
             .matcher = "200-202,204"};
  b.slow_start = absl::Seconds(30);
  b.stickiness = absl::Hours(1);
  b.targets[0].maintenance = true;
  const std::string config = Render({.frontends = {Listener()}, .backends = {b}});
  EXPECT_THAT(config, HasSubstr("  balance leastconn\n"));
  EXPECT_THAT(config, HasSubstr("uri /healthz ver HTTP/1.1"));
  EXPECT_THAT(config, HasSubstr("  http-check expect rstatus '^(200|201|202|204)$'\n"));
  EXPECT_THAT(config, HasSubstr("  default-server check inter 5000 fastinter 5000 downinter 5000 "
                                "rise 2 fall 3 port 9000 slowstart 30000\n"));
  EXPECT_THAT(config, HasSubstr("  cookie AWSALB insert indirect nocache maxlife 3600000\n"));
  EXPECT_THAT(config, HasSubstr("  server t1 127.0.0.1:32768 weight 1 cookie t1 disabled\n"));
}

TEST(RenderHaproxyConfigTest, ADrainingTargetIsAtWeightZeroAndKeepsNoStickyClient) {
  Backend b = Web();
  b.targets[0].weight = 7;
  b.targets[0].draining = true;
  EXPECT_THAT(Render({.frontends = {Listener()}, .backends = {b}}),
              HasSubstr("  server t1 127.0.0.1:32768 weight 0\n"));
  b.stickiness = absl::Hours(1);
  const std::string sticky = Render({.frontends = {Listener()}, .backends = {b}});
  EXPECT_THAT(sticky, HasSubstr("  server t1 127.0.0.1:32768 weight 0\n"));
  EXPECT_THAT(sticky, HasSubstr("  server t2 10.0.0.2:8080 weight 0 cookie t2\n"));
}

TEST(RenderHaproxyConfigTest, AFailOpenTwinIsABackupWithoutCheckAndAllBackupsShareTraffic) {
  Backend b = Web();
  b.targets[0].weight = 7;
  Target twin = b.targets[0];
  twin.name = "open-t1";
  twin.backup = true;
  b.targets.push_back(twin);
  const std::string config = Render({.frontends = {Listener()}, .backends = {b}});
  EXPECT_THAT(config, HasSubstr("  option allbackups\n"));
  EXPECT_THAT(config, HasSubstr("  server open-t1 127.0.0.1:32768 weight 7 backup no-check\n"));
}

TEST(RenderHaproxyConfigTest, ATcpCheckHasNoHttpLines) {
  Backend b = Web();
  b.protocol = Protocol::kTcp;
  b.check.protocol = Protocol::kTcp;
  Frontend f = Listener();
  f.protocol = Protocol::kTcp;
  const std::string config = Render({.frontends = {f}, .backends = {b}});
  EXPECT_THAT(config, HasSubstr("frontend ln-80\n  mode tcp\n  bind 127.0.0.1:8080\n"
                                "  default_backend tg-web\n"));
  EXPECT_THAT(config, HasSubstr("backend tg-web\n  mode tcp\n"));
  EXPECT_THAT(config, Not(HasSubstr("httpchk")));
  EXPECT_THAT(config, Not(HasSubstr("forwardfor")));
}

// A Service Connect alias listens on the bridge's gateway, which may not exist yet.
TEST(RenderHaproxyConfigTest, ATransparentFrontendBindsAnAddressNoInterfaceHasYet) {
  Backend b = Web();
  b.protocol = Protocol::kTcp;
  b.check.protocol = Protocol::kTcp;
  Frontend f = Listener();
  f.protocol = Protocol::kTcp;
  f.transparent = true;
  EXPECT_THAT(Render({.frontends = {f}, .backends = {b}}),
              HasSubstr("  bind 127.0.0.1:8080 transparent\n"));
  f.transparent = false;
  EXPECT_THAT(Render({.frontends = {f}, .backends = {b}}), HasSubstr("  bind 127.0.0.1:8080\n"));
}

TEST(RenderHaproxyConfigTest, TheLowestPriorityThatMatchesActsWhateverTheActionsKind) {
  Rule api{.priority = 10,
           .conditions = {{.field = Condition::Field::kPathPattern, .values = {"/api/*"}}},
           .action = Forward("tg-web")};
  Rule maintenance{.priority = 5,
                   .conditions = {{.field = Condition::Field::kHostHeader,
                                   .values = {"*.example.com", "example.com"}},
                                  {.field = Condition::Field::kHttpRequestMethod,
                                   .values = {"GET", "HEAD"}}},
                   .action = {.type = Action::Type::kFixedResponse,
                              .status_code = 503,
                              .body = "down for \"maintenance\" at $5"}};
  const std::string config = Render({.frontends = {Listener({api, maintenance})},
                                     .backends = {Web()}});
  // Wildcards become anchored regexes; everything literal but letters and digits is \xHH.
  EXPECT_THAT(config, HasSubstr("  acl r10c0 path -m reg '^\\x2fapi\\x2f.*$'\n"));
  EXPECT_THAT(config, HasSubstr("  acl r5c0 req.hdr(host),field(1,:) -m reg -i "
                                "'^.*\\x2eexample\\x2ecom$' '^example\\x2ecom$'\n"));
  EXPECT_THAT(config, HasSubstr("  acl r5c1 method -m str GET HEAD\n"));
  // Priority 5 is tried before priority 10, though given after it.
  const size_t first = config.find("set-var(txn.rule) int(5) if !{ var(txn.rule) -m found } "
                                   "r5c0 r5c1\n");
  const size_t second = config.find("set-var(txn.rule) int(10) if !{ var(txn.rule) -m found } "
                                    "r10c0\n");
  ASSERT_NE(first, std::string::npos) << config;
  ASSERT_NE(second, std::string::npos) << config;
  EXPECT_LT(first, second);
  EXPECT_THAT(config, HasSubstr("  http-request return status 503 content-type \"text/plain\" "
                                "string \"down for \\\"maintenance\\\" at \\$5\" "
                                "if { var(txn.rule) -m int eq 5 }\n"));
  EXPECT_THAT(config, HasSubstr("  use_backend tg-web if { var(txn.rule) -m int eq 10 }\n"));
}

TEST(RenderHaproxyConfigTest, HeaderQueryAndSourceConditions) {
  Rule r{.priority = 1,
         .conditions = {{.field = Condition::Field::kHttpHeader,
                         .header_name = "User-Agent",
                         .values = {"*Mobile*"}},
                        {.field = Condition::Field::kQueryString,
                         .query = {{"version", "v?"}, {"", "beta"}}},
                        {.field = Condition::Field::kSourceIp, .values = {"10.0.0.0/8"}}},
         .action = Forward("tg-web")};
  const std::string config = Render({.frontends = {Listener({r})}, .backends = {Web()}});
  EXPECT_THAT(config, HasSubstr("  acl r1c0 req.hdr(User-Agent) -m reg -i '^.*Mobile.*$'\n"));
  // Lines of one ACL name are alternatives; a query wildcard stays within its parameter.
  EXPECT_THAT(config, HasSubstr("  acl r1c1 query -m reg -i '(^|&)version=v[^&](&|$)'\n"));
  EXPECT_THAT(config, HasSubstr("  acl r1c1 query -m reg -i '(^|&)[^=&]*=beta(&|$)'\n"));
  EXPECT_THAT(config, HasSubstr("  acl r1c2 src 10.0.0.0/8\n"));
}

TEST(RenderHaproxyConfigTest, ARedirectKeepsWhatItDoesNotChange) {
  Frontend f = Listener();
  f.default_action = {.type = Action::Type::kRedirect,
                      .status_code = 302,
                      .redirect_host = "new.example.com",
                      .redirect_path = "/v2/#{path}"};
  const std::string config = Render({.frontends = {f}, .backends = {Web()}});
  EXPECT_THAT(config, HasSubstr("  http-request redirect location \"http://new.example.com:"
                                "%[dst_port]/v2/%[path,regsub(^/,)]?%[query]\" code 302 if "
                                "!{ var(txn.rule) -m found } { query -m found }\n"));
  // Without a query string, no bare '?'.
  EXPECT_THAT(config, HasSubstr("  http-request redirect location \"http://new.example.com:"
                                "%[dst_port]/v2/%[path,regsub(^/,)]\" code 302 if "
                                "!{ var(txn.rule) -m found }\n"));
}

TEST(RenderHaproxyConfigTest, AWeightedForwardGoesThroughASelectorOverTheGroups) {
  Backend blue = Web();
  Backend green = Web();
  green.name = "tg-green";
  Frontend f = Listener();
  f.default_action = {.type = Action::Type::kForward,
                      .forward = {{.backend = "tg-web", .weight = 30},
                                  {.backend = "tg-green", .weight = 70}},
                      .group_stickiness = absl::Minutes(5)};
  const std::string config = Render({.frontends = {f}, .backends = {blue, green}});
  EXPECT_THAT(config,
              HasSubstr("  use_backend sel:ln-80:default if !{ var(txn.rule) -m found }\n"));
  EXPECT_THAT(config, HasSubstr("backend sel:ln-80:default\n  mode http\n  balance roundrobin\n"
                                "  cookie AWSALBTG insert indirect nocache maxlife 300000\n"));
  EXPECT_THAT(config, AllOf(HasSubstr("-via-tg-web send-proxy-v2 weight 110 cookie tg-web\n"),
                            HasSubstr("-via-tg-green send-proxy-v2 weight 256 cookie tg-green\n")));
  EXPECT_THAT(config, HasSubstr("frontend via:tg-green\n  mode http\n  bind abns@skiff-"));
  EXPECT_THAT(config, HasSubstr(" accept-proxy\n  default_backend tg-green\n"));
}

TEST(ScaleWeightTest, KeepsTheRatioOnHaproxysScaleAndZeroMeansNone) {
  EXPECT_EQ(ScaleWeight(0, 999), 0);
  EXPECT_EQ(ScaleWeight(999, 999), 256);
  EXPECT_EQ(ScaleWeight(1, 999), 1);  // Rare, but not never.
  EXPECT_EQ(ScaleWeight(500, 999), 128);
  EXPECT_EQ(ScaleWeight(1, 1), 256);
  EXPECT_EQ(ScaleWeight(1, 3), 85);
}

TEST(RenderHaproxyConfigTest, BadInputIsAnErrorNamingTheField) {
  Backend bad_target = Web();
  bad_target.targets[1].address = "10.0.0.300";
  EXPECT_THAT(ErrorOf({.frontends = {Listener()}, .backends = {bad_target}}),
              HasSubstr("backends[0].targets[1].address: must be an IPv4 address"));

  Backend bad_matcher = Web();
  bad_matcher.check.matcher = "200-99";
  EXPECT_THAT(ErrorOf({.frontends = {Listener()}, .backends = {bad_matcher}}),
              HasSubstr("backends[0].check.matcher: must be HTTP codes"));

  Backend bad_name = Web();
  bad_name.name = "tg web";
  EXPECT_THAT(ErrorOf({.frontends = {Listener()}, .backends = {bad_name}}),
              HasSubstr("backends[0].name: must be 1-96 letters"));

  EXPECT_THAT(ErrorOf({.frontends = {Listener()}, .backends = {}}),
              HasSubstr("frontends[0].default_action.forward[0].backend: no target group "
                        "\"tg-web\""));

  Rule a{.priority = 7,
         .conditions = {{.field = Condition::Field::kPathPattern, .values = {"/a"}}},
         .action = Forward("tg-web")};
  EXPECT_THAT(ErrorOf({.frontends = {Listener({a, a})}, .backends = {Web()}}),
              HasSubstr("frontends[0].rules[1].priority: is not unique"));

  Rule bad_cidr{.priority = 1,
                .conditions = {{.field = Condition::Field::kSourceIp, .values = {"10.0.0.0"}}},
                .action = Forward("tg-web")};
  EXPECT_THAT(ErrorOf({.frontends = {Listener({bad_cidr})}, .backends = {Web()}}),
              HasSubstr("frontends[0].rules[0].conditions[0].values[0]: must be an IPv4 CIDR"));

  Rule control{.priority = 1,
               .conditions = {{.field = Condition::Field::kPathPattern, .values = {"/a\nb"}}},
               .action = Forward("tg-web")};
  EXPECT_THAT(ErrorOf({.frontends = {Listener({control})}, .backends = {Web()}}),
              HasSubstr("frontends[0].rules[0].conditions[0].values[0]: must not contain "
                        "control characters"));

  Frontend tcp_with_rules = Listener({a});
  tcp_with_rules.protocol = Protocol::kTcp;
  EXPECT_THAT(ErrorOf({.frontends = {tcp_with_rules}, .backends = {Web()}}),
              HasSubstr("frontends[0].rules: a TCP listener has no rules"));

  Frontend redirect = Listener();
  redirect.default_action = {.type = Action::Type::kRedirect, .status_code = 307};
  EXPECT_THAT(ErrorOf({.frontends = {redirect}, .backends = {Web()}}),
              HasSubstr("frontends[0].default_action.status_code: must be 301 or 302"));

  Frontend twice = Listener();
  EXPECT_THAT(ErrorOf({.frontends = {twice, twice}, .backends = {Web()}}),
              HasSubstr("frontends[1].name: is not unique"));
}

}  // namespace
}  // namespace skiff::lb
