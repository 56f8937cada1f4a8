// The configs RenderHaproxyConfig writes are ones the real HAProxy accepts (`haproxy -c`),
// every feature at once. Needs haproxy (a failure in CI, a skip elsewhere); binds nothing.
#include <fstream>
#include <string>

#include "fakes/temp_dir.h"
#include "gtest/gtest.h"
#include "skiff/lb/config.h"
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

}  // namespace
}  // namespace skiff::lb
