// DecodeMetric on real cgroup v1 and v2 messages, packed as containerd packs them.
#include "containerd/containerd_stats.h"

#include "github.com/containerd/cgroups/stats/v1/metrics.pb.h"
#include "github.com/containerd/cgroups/v2/stats/metrics.pb.h"
#include "gtest/gtest.h"

namespace skiff::runtime {
namespace {

containerd::types::Metric Pack(const std::string& type_url, const std::string& bytes) {
  containerd::types::Metric metric;
  metric.set_id("abc-web");
  metric.mutable_timestamp()->set_seconds(1700000000);
  metric.mutable_timestamp()->set_nanos(500);
  metric.mutable_data()->set_type_url(type_url);
  metric.mutable_data()->set_value(bytes);
  return metric;
}

TEST(DecodeMetricTest, CgroupV1) {
  io::containerd::cgroups::v1::Metrics m;
  m.mutable_cpu()->mutable_usage()->set_total(5'000'000'000);
  m.mutable_cpu()->mutable_throttling()->set_periods(100);
  m.mutable_cpu()->mutable_throttling()->set_throttled_periods(40);
  m.mutable_cpu()->mutable_throttling()->set_throttled_time(2'000'000'000);
  m.mutable_memory()->mutable_usage()->set_usage(300 << 20);
  m.mutable_memory()->mutable_usage()->set_limit(512 << 20);
  m.mutable_memory()->set_inactive_file(1 << 20);          // The cgroup's own: not used.
  m.mutable_memory()->set_total_inactive_file(100 << 20);  // With descendants: the one.
  m.mutable_pids()->set_current(3);
  absl::StatusOr<ContainerStats> s =
      DecodeMetric(Pack("io.containerd.cgroups.v1.Metrics", m.SerializeAsString()));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->id, "abc-web");
  EXPECT_EQ(s->sampled_at, absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(500));
  EXPECT_EQ(s->cpu_usage_ns, 5'000'000'000u);
  EXPECT_EQ(s->cpu_periods, 100u);
  EXPECT_EQ(s->cpu_throttled_periods, 40u);
  EXPECT_EQ(s->cpu_throttled_ns, 2'000'000'000u);
  EXPECT_EQ(s->memory_usage_bytes, uint64_t{300} << 20);
  EXPECT_EQ(s->memory_working_set_bytes, uint64_t{200} << 20);
  EXPECT_EQ(s->memory_limit_bytes, uint64_t{512} << 20);
  EXPECT_EQ(s->pids, 3u);
}

TEST(DecodeMetricTest, CgroupV2WithPrefixedTypeUrl) {
  io::containerd::cgroups::v2::Metrics m;
  m.mutable_cpu()->set_usage_usec(1'500'000);
  m.mutable_cpu()->set_nr_periods(10);
  m.mutable_cpu()->set_nr_throttled(2);
  m.mutable_cpu()->set_throttled_usec(30'000);
  m.mutable_memory()->set_usage(64 << 20);
  m.mutable_memory()->set_inactive_file(16 << 20);
  m.mutable_memory()->set_usage_limit(UINT64_MAX);  // "max": no limit.
  m.mutable_pids()->set_current(7);
  absl::StatusOr<ContainerStats> s = DecodeMetric(
      Pack("type.googleapis.com/io.containerd.cgroups.v2.Metrics", m.SerializeAsString()));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->cpu_usage_ns, 1'500'000'000u);
  EXPECT_EQ(s->cpu_periods, 10u);
  EXPECT_EQ(s->cpu_throttled_periods, 2u);
  EXPECT_EQ(s->cpu_throttled_ns, 30'000'000u);
  EXPECT_EQ(s->memory_usage_bytes, uint64_t{64} << 20);
  EXPECT_EQ(s->memory_working_set_bytes, uint64_t{48} << 20);
  EXPECT_EQ(s->memory_limit_bytes, 0u);
  EXPECT_EQ(s->pids, 7u);
}

TEST(DecodeMetricTest, V1WithoutLimitAndInactiveAboveUsage) {
  io::containerd::cgroups::v1::Metrics m;
  m.mutable_memory()->mutable_usage()->set_usage(10);
  m.mutable_memory()->mutable_usage()->set_limit(9223372036854771712u);  // v1's "unlimited".
  m.mutable_memory()->set_total_inactive_file(20);
  absl::StatusOr<ContainerStats> s =
      DecodeMetric(Pack("io.containerd.cgroups.v1.Metrics", m.SerializeAsString()));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->memory_limit_bytes, 0u);
  EXPECT_EQ(s->memory_working_set_bytes, 0u);
}

TEST(DecodeMetricTest, UnknownTypeAndBadBytesAreInvalidArgument) {
  EXPECT_EQ(DecodeMetric(Pack("io.containerd.cgroups.v3.Metrics", "")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeMetric(Pack("io.containerd.cgroups.v2.Metrics", "\xff\xff\xff")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::runtime
