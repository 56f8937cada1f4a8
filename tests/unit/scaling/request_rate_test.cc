// RequestRate: HAProxy's running totals made into ELB's requests per target per minute.
#include "skiff/scaling/request_rate.h"

#include "gtest/gtest.h"

namespace skiff::scaling {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);

TEST(RequestRateTest, CountsTheLastMinutePerHealthyTarget) {
  RequestRate rate;
  EXPECT_EQ(rate.Observe(kT0, 1000, 2), std::nullopt);  // One observation is no rate.
  // 600 requests in 60 s over 2 targets: 300 per target per minute.
  for (int i = 1; i <= 6; ++i) rate.Observe(kT0 + absl::Seconds(10 * i), 1000 + 100 * i, 2);
  EXPECT_DOUBLE_EQ(*rate.Observe(kT0 + absl::Seconds(70), 1700, 2), 300);
  // Idle for a minute: nothing in the window.
  for (int i = 8; i <= 13; ++i) rate.Observe(kT0 + absl::Seconds(10 * i), 1700, 2);
  EXPECT_DOUBLE_EQ(*rate.Observe(kT0 + absl::Seconds(140), 1700, 2), 0);
}

TEST(RequestRateTest, ADropOfTheTotalIsAResetNotNegativeTraffic) {
  RequestRate rate;
  rate.Observe(kT0, 500, 1);
  rate.Observe(kT0 + absl::Seconds(10), 600, 1);       // +100
  rate.Observe(kT0 + absl::Seconds(20), 50, 1);        // A server left: +0
  const auto r = rate.Observe(kT0 + absl::Seconds(30), 150, 1);  // +100
  EXPECT_DOUBLE_EQ(*r, 200.0 * 60 / 30);
}

TEST(RequestRateTest, NoHealthyTargetIsNoMetric) {
  RequestRate rate;
  rate.Observe(kT0, 0, 0);
  EXPECT_EQ(rate.Observe(kT0 + absl::Seconds(10), 100, 0), std::nullopt);
}

}  // namespace
}  // namespace skiff::scaling
