// GET /metrics as Prometheus sees it: skiffd runs a service for real, `promtool check metrics`
// finds nothing to say about the text, and a real Prometheus server (Debian's package, with a
// private config, TSDB and port) scrapes skiffd on loopback until its HTTP API answers a query
// for the service's running tasks. The server is killed and its data removed with the test.
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/containerd_fixture.h"
#include "support/loopback.h"
#include "support/subprocess.h"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

std::string MissingTools() {
  for (const char* tool : {"prometheus", "promtool", "curl"}) {
    if (skiff::testing::FindInPath(tool).empty()) {
      return absl::StrCat(tool, " is missing (Debian packages prometheus, curl)");
    }
  }
  return "";
}

class MetricsTest : public E2eTest {
 protected:
  MetricsTest() { namespace_prefix_ = "skiff-metrics"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    SKIFF_REQUIRE_NOTHING_MISSING(MissingTools());
    // Samples every second, so that the service's container has its series when scraped.
    ASSERT_NO_FATAL_FAILURE(StartSkiffd({"--stats-interval", "1"}));
    ASSERT_NO_FATAL_FAILURE(LoadTestImage());
  }

  void TearDown() override {
    if (prometheus_ > 0) {
      kill(-prometheus_, SIGKILL);  // Its own process group (Spawn).
      waitpid(prometheus_, nullptr, 0);
    }
    E2eTest::TearDown();  // Removes skiffd's temp dir, which holds Prometheus' data too.
  }

  // `curl` of url: its exit code and body.
  static skiff::testing::CommandResult Curl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "5", "--noproxy", "*"};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<skiff::testing::CommandResult> r =
        skiff::testing::RunCommand(argv, absl::Seconds(10));
    return r.ok() ? *r : skiff::testing::CommandResult{};
  }

  // Starts Prometheus scraping skiffd every second; its API's URL.
  std::string StartPrometheus() {
    const std::string dir = skiffd_->dir() + "/prometheus";
    std::filesystem::create_directories(dir);
    const std::string target = skiffd_->HttpEndpoint().substr(std::string("http://").size());
    std::ofstream(dir + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        << "scrape_configs:\n  - job_name: skiffd\n    static_configs:\n"
        << "      - targets: ['" << target << "']\n";
    absl::StatusOr<int> port = skiff::testing::PickFreeLoopbackPort();
    EXPECT_TRUE(port.ok()) << port.status();
    const std::string address = absl::StrCat("127.0.0.1:", port.value_or(0));
    const int log = open((dir + "/log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    skiff::testing::ChildSpec spec{
        .path = skiff::testing::FindInPath("prometheus"),
        .argv = {"prometheus", "--config.file=" + dir + "/prometheus.yml",
                 "--storage.tsdb.path=" + dir + "/data", "--web.listen-address=" + address,
                 "--log.level=warn"},
        .stdout_fd = log,
        .stderr_fd = log,
        .die_with_parent = true};
    absl::StatusOr<pid_t> pid = skiff::testing::Spawn(spec);
    close(log);
    EXPECT_TRUE(pid.ok()) << pid.status();
    prometheus_ = pid.value_or(-1);
    return "http://" + address;
  }

  pid_t prometheus_ = -1;
};

TEST_F(MetricsTest, PromtoolAcceptsTheTextAndPrometheusQueriesAService) {
  RegisterTaskDefinition(
      {{"family", "metered"},
       {"networkMode", "host"},
       {"containerDefinitions",
        json::array({{{"name", "app"},
                      {"image", skiff::testing::kTestImageRef},
                      {"memory", 32},
                      {"linuxParameters", {{"initProcessEnabled", true}}},
                      {"command", json::array({"sh", "-c", "exec sleep 100000"})}}})}});
  Ok({"create-service", "--service-name", "web", "--task-definition", "metered",
      "--desired-count", "1"});
  Ok({"wait", "services-stable", "--services", "web"});

  const std::string metrics_url = skiffd_->HttpEndpoint() + "/metrics";
  skiff::testing::CommandResult scraped = Curl({"-f", metrics_url});
  // The container's series come with the first stats round after it started.
  for (int i = 0; i < 30 && !absl::StrContains(scraped.stdout_text,
                                               "skiff_container_memory_working_set_bytes{");
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    scraped = Curl({"-f", metrics_url});
  }
  ASSERT_EQ(scraped.exit_code, 0) << scraped.stderr_text;
  EXPECT_THAT(scraped.stdout_text,
              HasSubstr("skiff_container_memory_working_set_bytes{cluster=\"default\","
                        "container=\"app\",service=\"web\",task=\""));
  EXPECT_THAT(scraped.stdout_text,
              HasSubstr("skiff_container_cpu_usage_seconds_total{cluster=\"default\","
                        "container=\"app\",service=\"web\",task=\""));
  EXPECT_THAT(scraped.stdout_text,
              HasSubstr("skiff_service_running_tasks{cluster=\"default\",service=\"web\"} 1"));
  EXPECT_THAT(scraped.stdout_text,
              HasSubstr("skiff_tasks{cluster=\"default\",last_status=\"RUNNING\"} 1"));
  EXPECT_THAT(scraped.stdout_text, HasSubstr("skiff_reconcile_pass_duration_seconds_count"));
  // skiffd's own health: containerd's RPCs by method and code, the store's writes, API calls.
  EXPECT_THAT(scraped.stdout_text,
              HasSubstr("skiff_containerd_requests_total{code=\"OK\",method=\"Tasks.Start\"}"));
  EXPECT_THAT(scraped.stdout_text, HasSubstr("skiff_store_write_duration_seconds_count"));
  EXPECT_THAT(scraped.stdout_text,
              HasSubstr("skiff_api_requests_total{code=\"OK\",operation=\"CreateService\","
                        "transport=\"grpc\"} 1"));
  const std::string file = skiffd_->dir() + "/metrics.txt";
  std::ofstream(file) << scraped.stdout_text;
  absl::StatusOr<skiff::testing::CommandResult> lint = skiff::testing::RunCommand(
      {"sh", "-c", "promtool check metrics < \"$0\"", file}, absl::Seconds(30));
  ASSERT_TRUE(lint.ok()) << lint.status();
  EXPECT_EQ(lint->exit_code, 0) << lint->stdout_text << lint->stderr_text;
  EXPECT_EQ(lint->stdout_text + lint->stderr_text, "");

  const std::string prometheus = StartPrometheus();
  std::string last;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    last = Curl({"-G", prometheus + "/api/v1/query", "--data-urlencode",
                 "query=skiff_service_running_tasks{service=\"web\"}"})
               .stdout_text;
    const json answer = json::parse(last, nullptr, /*allow_exceptions=*/false);
    if (answer.is_object() && answer.value("status", "") == "success" &&
        !answer["data"]["result"].empty()) {
      EXPECT_EQ(answer["data"]["result"][0]["metric"]["cluster"], "default");
      EXPECT_EQ(answer["data"]["result"][0]["value"][1], "1");
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ADD_FAILURE() << "Prometheus never had the series; last answer: " << last;
}

}  // namespace
}  // namespace skiff::e2e
