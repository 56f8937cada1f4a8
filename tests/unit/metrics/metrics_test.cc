// Metrics: what a scrape renders, in Prometheus' text format, from recorded calls and from
// collectors run at render time.
#include "skiff/metrics/metrics.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/gauge.h"

namespace skiff::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, RecordedCallsAreCountedByTheirLabelsWithTheirLatency) {
  Metrics metrics;
  metrics.RecordCall("http", "RunTask", "OK", absl::Milliseconds(2));
  metrics.RecordCall("http", "RunTask", "OK", absl::Milliseconds(3));
  metrics.RecordCall("grpc", "RunTask", "ClusterNotFoundException", absl::Milliseconds(1));
  metrics.RecordContainerdCall("Tasks.Start", "NOT_FOUND", absl::Milliseconds(4));
  metrics.RecordStoreWrite(absl::Microseconds(300));
  metrics.RecordPass(absl::Milliseconds(40));
  const std::string text = metrics.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE skiff_api_requests_total counter"));
  EXPECT_THAT(text, HasSubstr(R"(skiff_api_requests_total{code="OK",operation="RunTask",)"
                              R"(transport="http"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(skiff_api_requests_total{code="ClusterNotFoundException",)"
                              R"(operation="RunTask",transport="grpc"} 1)"));
  EXPECT_THAT(text, HasSubstr(R"(skiff_api_request_duration_seconds_sum{operation="RunTask",)"
                              R"(transport="http"} 0.005)"));
  EXPECT_THAT(text, HasSubstr(R"(skiff_containerd_requests_total{code="NOT_FOUND",)"
                              R"(method="Tasks.Start"} 1)"));
  EXPECT_THAT(text, HasSubstr("skiff_store_write_duration_seconds_count 1"));
  EXPECT_THAT(text, HasSubstr(R"(skiff_store_write_duration_seconds_bucket{le="0.0005"} 1)"));
  EXPECT_THAT(text, HasSubstr("skiff_reconcile_pass_duration_seconds_sum 0.04"));
}

TEST(MetricsTest, CollectorsAddTheSeriesOfEachScrapeOnly) {
  Metrics metrics;
  bool web_exists = true;
  metrics.AddCollector([&web_exists](prometheus::Registry& registry) {
    auto& gauge =
        prometheus::BuildGauge().Name("skiff_service_running_tasks").Help("x").Register(registry);
    if (web_exists) gauge.Add({{"service", "web"}}).Set(3);
  });
  EXPECT_THAT(metrics.Render(), HasSubstr(R"(skiff_service_running_tasks{service="web"} 3)"));
  web_exists = false;  // Deleted: its series goes with it.
  EXPECT_THAT(metrics.Render(), Not(HasSubstr(R"(service="web")")));
}

}  // namespace
}  // namespace skiff::metrics
