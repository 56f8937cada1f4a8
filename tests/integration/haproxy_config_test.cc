// The configs RenderHaproxyConfig writes are ones the real HAProxy accepts (`haproxy -c`),
// every feature at once. Needs haproxy (a failure in CI, a skip elsewhere); binds nothing.
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fakes/temp_dir.h"
#include "gtest/gtest.h"
#include "skiff/lb/config.h"
#include "skiff/lb/haproxy_process.h"
#include "support/containerd_fixture.h"
#include "support/http_backend.h"
#include "support/subprocess.h"

namespace skiff::lb {
namespace {

DataPlane EveryFeature() {
  Backend web{.name = "tg-web",
              .algorithm = Algorithm::kLeastOutstandingRequests,
              .check = {.path = "/health", .interval = absl::Seconds(5),
                        .timeout = absl::Seconds(2), .matcher = "200-299,304"},
              .slow_start = absl::Seconds(30),
              .stickiness = absl::Hours(1),
              .targets = {{.name = "t1", .address = "127.0.0.1", .port = 32768, .weight = 256},
                          {.name = "t2", .address = "127.0.0.1", .port = 32769, .weight = 0},
                          {.name = "t3", .address = "127.0.0.1", .port = 32770, .weight = 1,
                           .maintenance = true}}};
  Backend green{.name = "tg-green",
                .algorithm = Algorithm::kWeightedRandom,
                .check = {.port = 9000},
                .targets = {{.name = "t1", .address = "10.1.0.5", .port = 8080, .weight = 1}}};
  Backend db{.name = "tg-db",
             .protocol = Protocol::kTcp,
             .check = {.protocol = Protocol::kTcp},
             .targets = {{.name = "t1", .address = "127.0.0.1", .port = 5432, .weight = 1}}};
  using Field = Condition::Field;
  Frontend http{
      .name = "ln-http",
      .address = "127.0.0.1",
      .port = 18080,
      .rules = {{.priority = 1,
                 .conditions = {{.field = Field::kPathPattern, .values = {"/api/*", "/v?/x"}},
                                {.field = Field::kHostHeader, .values = {"*.example.com"}},
                                {.field = Field::kHttpHeader,
                                 .header_name = "X-Env",
                                 .values = {"it's \"quoted\" $HOME"}},
                                {.field = Field::kHttpRequestMethod, .values = {"GET", "POST"}},
                                {.field = Field::kQueryString, .query = {{"v", "1*"}, {"", "b"}}},
                                {.field = Field::kSourceIp, .values = {"127.0.0.0/8"}}},
                 .action = {.type = Action::Type::kForward,
                            .forward = {{.backend = "tg-web", .weight = 1},
                                        {.backend = "tg-green", .weight = 999}},
                            .group_stickiness = absl::Minutes(10)}},
                {.priority = 2,
                 .conditions = {{.field = Field::kPathPattern, .values = {"/old/*"}}},
                 .action = {.type = Action::Type::kRedirect,
                            .status_code = 301,
                            .redirect_protocol = "HTTPS",
                            .redirect_path = "/new/#{path}"}},
                {.priority = 3,
                 .conditions = {{.field = Field::kPathPattern, .values = {"/down"}}},
                 .action = {.type = Action::Type::kFixedResponse,
                            .status_code = 503,
                            .content_type = "application/json",
                            .body = "{\"error\": \"it's down; cost $0\"}"}}},
      .default_action = {.type = Action::Type::kForward, .forward = {{.backend = "tg-web"}}}};
  Frontend tcp{.name = "ln-tcp",
               .address = "127.0.0.1",
               .port = 15432,
               .protocol = Protocol::kTcp,
               .default_action = {.type = Action::Type::kForward,
                                  .forward = {{.backend = "tg-db"}}}};
  return {.frontends = {http, tcp}, .backends = {web, green, db}};
}

TEST(HaproxyConfigTest, HaproxyAcceptsARenderedConfigWithEveryFeature) {
  SKIFF_REQUIRE_NOTHING_MISSING(skiff::testing::MissingHaproxy());
  fakes::TempDir dir;
  absl::StatusOr<std::string> config = RenderHaproxyConfig(
      EveryFeature(),
      {.admin_socket = dir.path() + "/admin.sock"});
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string file = dir.path() + "/haproxy.cfg";
  std::ofstream(file) << *config;
  absl::StatusOr<skiff::testing::CommandResult> checked =
      skiff::testing::RunCommand({"haproxy", "-c", "-f", file}, absl::Seconds(30));
  ASSERT_TRUE(checked.ok()) << checked.status();
  EXPECT_EQ(checked->exit_code, 0) << checked->stdout_text << checked->stderr_text << "\n"
                                   << *config;
  // Valid, and without warnings: a warning is a setting HAProxy ignores or reinterprets.
  EXPECT_EQ(checked->stderr_text.find("WARNING"), std::string::npos) << checked->stderr_text;
  EXPECT_EQ(checked->stdout_text.find("WARNING"), std::string::npos) << checked->stdout_text;
}

// A rendered config routes as an ALB does: the lowest priority that matches acts, whatever its
// kind; a weighted forward splits exactly; fixed responses and redirects answer from HAProxy.
TEST(HaproxyConfigTest, RenderedRulesRouteAsAnAlbDoes) {
  SKIFF_REQUIRE_NOTHING_MISSING(skiff::testing::MissingHaproxy());
  fakes::TempDir dir;
  std::map<std::string, std::unique_ptr<skiff::testing::HttpBackend>> tasks;
  for (const char* name : {"api", "web", "green"}) {
    auto backend = skiff::testing::HttpBackend::Start(name);
    ASSERT_TRUE(backend.ok()) << backend.status();
    tasks[name] = *std::move(backend);
  }
  absl::StatusOr<int> port = skiff::testing::PickFreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status();
  auto group = [&tasks](const std::string& name) {
    return Backend{.name = "tg-" + name,
                   .check = {.path = "/health", .interval = absl::Seconds(1),
                             .timeout = absl::Milliseconds(500), .healthy_threshold = 1},
                   .targets = {{.name = "t1", .address = "127.0.0.1",
                                .port = tasks.at(name)->port(), .weight = 1}}};
  };
  using Field = Condition::Field;
  auto path_is = [](const std::string& pattern) {
    return std::vector<Condition>{{.field = Field::kPathPattern, .values = {pattern}}};
  };
  Frontend listener{
      .name = "ln-web",
      .address = "127.0.0.1",
      .port = *port,
      .rules = {{.priority = 10, .conditions = path_is("/api/*"),
                 .action = {.forward = {{.backend = "tg-api"}}}},
                {.priority = 5,
                 .conditions = {{.field = Field::kHostHeader, .values = {"*.green.test"}}},
                 .action = {.forward = {{.backend = "tg-web", .weight = 30},
                                        {.backend = "tg-green", .weight = 70}}}},
                {.priority = 20, .conditions = path_is("/down"),
                 .action = {.type = Action::Type::kFixedResponse, .status_code = 503,
                            .body = "maintenance"}},
                {.priority = 30, .conditions = path_is("/old/*"),
                 .action = {.type = Action::Type::kRedirect, .status_code = 301,
                            .redirect_path = "/new/#{path}"}},
                {.priority = 1,
                 .conditions = {{.field = Field::kHttpRequestMethod, .values = {"DELETE"}}},
                 .action = {.type = Action::Type::kFixedResponse, .status_code = 405}}},
      .default_action = {.forward = {{.backend = "tg-web"}}}};
  HaproxyProcess haproxy({.binary = skiff::testing::kHaproxyBinary, .dir = dir.path()});
  absl::Cleanup stop = [&haproxy] { EXPECT_TRUE(haproxy.Stop().ok()); };
  absl::StatusOr<std::string> config = RenderHaproxyConfig(
      {.frontends = {listener}, .backends = {group("api"), group("web"), group("green")}},
      {.admin_socket = haproxy.paths().admin_socket()});
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Status applied = haproxy.Apply(*config);
  ASSERT_TRUE(applied.ok()) << applied;

  using skiff::testing::Http;
  auto body = [&](skiff::testing::HttpRequest request) {
    absl::StatusOr<skiff::testing::HttpResponse> r = Http(*port, request);
    return r.ok() ? absl::StrCat(r->status, " ", r->body) : r.status().ToString();
  };
  EXPECT_EQ(body({.path = "/api/users"}), "200 api");
  EXPECT_EQ(body({.path = "/apix"}), "200 web");  // No match: the default action.
  EXPECT_EQ(body({.method = "DELETE", .path = "/api/users"}), "405 ");  // Priority 1 first.
  EXPECT_EQ(body({.path = "/down"}), "503 maintenance");
  absl::StatusOr<skiff::testing::HttpResponse> moved = Http(*port, {.path = "/old/a/b?x=1"});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->status, 301);
  EXPECT_EQ(moved->Header("Location"),
            absl::StrCat("http://127.0.0.1:", *port, "/new/old/a/b?x=1"));

  // 100 requests to a host of the weighted rule: 30 and 70, give or take round robin's one.
  std::map<std::string, int> split;
  for (int i = 0; i < 100; ++i) ++split[body({.host = "shop.green.test"})];
  EXPECT_NEAR(split["200 web"], 30, 1) << absl::StrJoin(split, ", ", absl::PairFormatter("="));
  EXPECT_NEAR(split["200 green"], 70, 1) << absl::StrJoin(split, ", ", absl::PairFormatter("="));
}

}  // namespace
}  // namespace skiff::lb
