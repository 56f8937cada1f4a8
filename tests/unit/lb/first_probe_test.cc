// The first probe's pure part: which targets await admission and with what probe, and how the
// schedule paces probes ("given these targets and this time, these probes start"). No sockets,
// no clock: time is a variable the tests move.
#include "lb/first_probe.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::lb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

using Admitted = absl::flat_hash_set<std::string>;

Target T(const std::string& name, int port, int weight = 1) {
  return Target{.name = name, .address = "10.0.0.1", .port = port, .weight = weight};
}

DataPlane Plane(std::vector<Target> targets, HealthCheck check = {}) {
  return DataPlane{.backends = {{.name = "tg", .check = check, .targets = std::move(targets)}}};
}

std::vector<std::string> Keys(const std::vector<AwaitingTarget>& targets) {
  std::vector<std::string> keys;
  for (const AwaitingTarget& t : targets)
    keys.push_back(ServerKey(t.server.backend, t.server.name));
  return keys;
}

// --- AwaitingAdmission ---

TEST(AwaitingAdmissionTest, ATargetNotYetAdmittedIsProbedWithItsBackendsHttpCheck) {
  const DataPlane plane =
      Plane({T("t1", 81, 7)},
            {.path = "/health", .timeout = absl::Milliseconds(300), .matcher = "200-299"});
  EXPECT_THAT(AwaitingAdmission(plane, plane, {}),
              ElementsAre(AwaitingTarget{.server = {"tg", "t1"},
                                         .weight = 7,
                                         .probe = {.protocol = Protocol::kHttp,
                                                   .address = "10.0.0.1",
                                                   .port = 81,
                                                   .path = "/health",
                                                   .matcher = "200-299",
                                                   .timeout = absl::Milliseconds(300)}}));
}

TEST(AwaitingAdmissionTest, TheProbeUsesTheChecksPortAndWaitsAtMostASecond) {
  // ALB's default timeout is 5 s: a probe that long would only delay the next one.
  const DataPlane plane = Plane({T("t1", 81)}, {.port = 9000, .timeout = absl::Seconds(5)});
  const std::vector<AwaitingTarget> awaiting = AwaitingAdmission(plane, plane, {});
  ASSERT_EQ(awaiting.size(), 1u);
  EXPECT_EQ(awaiting[0].probe.port, 9000);
  EXPECT_EQ(awaiting[0].probe.timeout, absl::Seconds(1));
}

TEST(AwaitingAdmissionTest, ATcpCheckIsAConnect) {
  const DataPlane plane = Plane({T("t1", 81)}, {.protocol = Protocol::kTcp});
  const std::vector<AwaitingTarget> awaiting = AwaitingAdmission(plane, plane, {});
  ASSERT_EQ(awaiting.size(), 1u);
  EXPECT_EQ(awaiting[0].probe, (ProbeSpec{.protocol = Protocol::kTcp,
                                          .address = "10.0.0.1",
                                          .port = 81,
                                          .timeout = absl::Seconds(1)}));
}

TEST(AwaitingAdmissionTest, AdmittedDrainingAndMaintenanceTargetsAreNotProbed) {
  Target draining = T("d", 82);
  draining.draining = true;
  Target maint = T("m", 83);
  maint.maintenance = true;
  const DataPlane plane = Plane({T("admitted", 81), draining, maint, T("new", 84)});
  EXPECT_THAT(Keys(AwaitingAdmission(plane, plane, {"tg/admitted"})), ElementsAre("tg/new"));
}

TEST(AwaitingAdmissionTest, OnlyTargetsStillWantedAtTheSameAddressAreProbed) {
  // HAProxy holds all four; the plane wanted now removes one, drains one, moves one.
  const DataPlane applied =
      Plane({T("kept", 81), T("removed", 82), T("drained", 83), T("moved", 84)});
  Target drained = T("drained", 83);
  drained.draining = true;
  const DataPlane desired = Plane({T("kept", 81), drained, T("moved", 94), T("not-yet", 85)});
  EXPECT_THAT(Keys(AwaitingAdmission(applied, desired, {})), ElementsAre("tg/kept"));
}

// --- ProbeSchedule ---

// The pace DataPlaneSync uses with its default probe_interval.
constexpr absl::Duration kInterval = absl::Milliseconds(100);
constexpr absl::Duration kSlow = absl::Milliseconds(400);

ProbePacing Pacing(int max_in_flight = ProbePacing{}.max_in_flight) {
  ProbePacing pacing;
  pacing.max_in_flight = max_in_flight;
  return pacing;
}

TEST(ProbePacingTest, TheDefaultsKeepAReadyTargetWithinHalfASecondOfItsFirstRequest) {
  const ProbePacing pacing;
  EXPECT_EQ(pacing.interval, kInterval);
  EXPECT_EQ(pacing.slow_interval, kSlow);
  EXPECT_EQ(pacing.failures_before_slow, 20);
  EXPECT_EQ(pacing.max_in_flight, 32);
  // A target that becomes ready waits at most one slow interval for its next probe.
  EXPECT_LT(pacing.slow_interval, absl::Milliseconds(500));
}

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(ProbeScheduleTest, ANewTargetIsProbedAtOnceAndOnlyOnceAtATime) {
  ProbeSchedule schedule(Pacing());
  EXPECT_THAT(schedule.Next({"tg/a"}, kStart).start, ElementsAre("tg/a"));
  EXPECT_EQ(schedule.in_flight(), 1);
  EXPECT_THAT(schedule.Next({"tg/a"}, kStart + absl::Seconds(5)).start, IsEmpty());
  EXPECT_EQ(schedule.NextDue(), absl::InfiniteFuture());  // Its end is what comes next.
}

TEST(ProbeScheduleTest, AFailedProbeIsFollowedOneIntervalAfterItEnded) {
  ProbeSchedule schedule(Pacing());
  schedule.Next({"tg/a"}, kStart);
  const absl::Time ended = kStart + absl::Milliseconds(3);
  schedule.Failed("tg/a", ended);
  EXPECT_EQ(schedule.in_flight(), 0);
  EXPECT_EQ(schedule.NextDue(), ended + kInterval);
  EXPECT_THAT(schedule.Next({"tg/a"}, ended + kInterval - absl::Milliseconds(1)).start, IsEmpty());
  EXPECT_THAT(schedule.Next({"tg/a"}, ended + kInterval).start, ElementsAre("tg/a"));
}

TEST(ProbeScheduleTest, AfterTwentyFailuresInARowATargetIsProbedAtTheSlowPace) {
  ProbeSchedule schedule(Pacing());
  absl::Time now = kStart;
  for (int i = 1; i <= 19; ++i) {
    ASSERT_THAT(schedule.Next({"tg/a"}, now).start, ElementsAre("tg/a")) << i;
    schedule.Failed("tg/a", now);
    EXPECT_EQ(schedule.NextDue(), now + kInterval) << i;
    now += kInterval;
  }
  ASSERT_THAT(schedule.Next({"tg/a"}, now).start, ElementsAre("tg/a"));
  schedule.Failed("tg/a", now);  // The 20th.
  EXPECT_EQ(schedule.NextDue(), now + kSlow);
  EXPECT_THAT(schedule.Next({"tg/a"}, now + kSlow - absl::Milliseconds(1)).start, IsEmpty());
  EXPECT_THAT(schedule.Next({"tg/a"}, now + kSlow).start, ElementsAre("tg/a"));
}

TEST(ProbeScheduleTest, ATargetNoLongerAwaitingHasItsProbeCancelledAndStartsAfreshIfItReturns) {
  ProbeSchedule schedule(Pacing());
  absl::Time now = kStart;
  for (int i = 0; i < 25; ++i) {
    schedule.Next({"tg/a"}, now);
    schedule.Failed("tg/a", now);
    now += absl::Seconds(1);
  }
  schedule.Next({"tg/a", "tg/b"}, now);
  ASSERT_EQ(schedule.in_flight(), 2);
  const ProbeRound round = schedule.Next({"tg/b"}, now);  // Admitted by HAProxy, or removed.
  EXPECT_THAT(round.cancel, ElementsAre("tg/a"));
  EXPECT_THAT(round.start, IsEmpty());
  EXPECT_EQ(schedule.in_flight(), 1);
  // Back (say, wanted again): probed at once, and at the fast pace after a failure.
  EXPECT_THAT(schedule.Next({"tg/a", "tg/b"}, now).start, ElementsAre("tg/a"));
  schedule.Failed("tg/a", now);
  EXPECT_EQ(schedule.NextDue(), now + kInterval);
}

TEST(ProbeScheduleTest, APassedProbeIsForgotten) {
  ProbeSchedule schedule(Pacing());
  schedule.Next({"tg/a"}, kStart);
  schedule.Passed("tg/a");
  EXPECT_EQ(schedule.in_flight(), 0);
  EXPECT_EQ(schedule.NextDue(), absl::InfiniteFuture());
  EXPECT_THAT(schedule.Next({}, kStart).cancel, IsEmpty());
}

TEST(ProbeScheduleTest, AtMostMaxInFlightProbesAreOutAndTheLongestWaitingGoFirst) {
  ProbeSchedule schedule(Pacing(/*max_in_flight=*/2));
  const std::vector<std::string> all = {"tg/a", "tg/b", "tg/c"};
  EXPECT_THAT(schedule.Next(all, kStart).start, ElementsAre("tg/a", "tg/b"));
  EXPECT_EQ(schedule.NextDue(), absl::InfiniteFuture());
  EXPECT_THAT(schedule.Next(all, kStart).start, IsEmpty());
  schedule.Failed("tg/b", kStart + absl::Milliseconds(1));
  // c has waited since the start; b's next probe is not due before an interval.
  EXPECT_EQ(schedule.NextDue(), absl::InfinitePast());
  EXPECT_THAT(schedule.Next(all, kStart + absl::Milliseconds(1)).start, ElementsAre("tg/c"));
  schedule.Failed("tg/a", kStart + absl::Milliseconds(2));
  schedule.Failed("tg/c", kStart + absl::Milliseconds(3));
  EXPECT_THAT(schedule.Next(all, kStart + absl::Seconds(1)).start, ElementsAre("tg/b", "tg/a"));
}

TEST(ProbeScheduleTest, HundredsOfTargetsThatNeverAnswerAreProbedAtTheSlowPaceEach) {
  ProbeSchedule schedule(Pacing());
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) keys.push_back(absl::StrCat("tg/t", i));
  absl::flat_hash_map<std::string, int> probes;
  absl::Time now = kStart;
  // Every probe fails at once (connection refused); the sync runs a round at each NextDue (its
  // clock never goes back).
  while (now < kStart + absl::Seconds(12)) {
    const ProbeRound round = schedule.Next(keys, now);
    EXPECT_LE(round.start.size(), 32u);
    for (const std::string& key : round.start) {
      ++probes[key];
      schedule.Failed(key, now);
    }
    now = std::max(now, schedule.NextDue());
  }
  // Each: 20 probes 100 ms apart (0 to 1.9 s), then one every 400 ms from 2.3 s to 11.9 s.
  ASSERT_EQ(probes.size(), 300u);
  for (const auto& [key, count] : probes) EXPECT_EQ(count, 20 + 25) << key;
}

}  // namespace
}  // namespace skiff::lb
