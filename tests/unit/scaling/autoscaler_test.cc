// Target tracking decisions in simulated time: a sample every 10 s, decisions applied at once
// (the desired count becomes the decision, the state becomes state_after), no clock, no sleep.
#include "skiff/scaling/autoscaler.h"

#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace skiff::scaling {
namespace {

constexpr absl::Duration kInterval = absl::Seconds(10);
const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

TargetTrackingPolicy Cpu(double target, std::string name = "cpu50") {
  TargetTrackingPolicy policy;
  policy.name = std::move(name);
  policy.metric = MetricKind::kEcsServiceAverageCpuUtilization;
  policy.target_value = target;
  return policy;
}

TargetTrackingPolicy Memory(double target, std::string name = "mem70") {
  TargetTrackingPolicy policy = Cpu(target, std::move(name));
  policy.metric = MetricKind::kEcsServiceAverageMemoryUtilization;
  return policy;
}

// A service with a desired and a running count, sampled every 10 s. By default its tasks start
// the moment the desired count rises (running follows desired); tests that need pending tasks
// pin `running`.
class AutoscalerTest : public ::testing::Test {
 protected:
  AutoscalerTest() {
    target_.resource_id = "service/default/web";
    target_.min_capacity = 1;
    target_.max_capacity = 10;
    policies_ = {Cpu(50)};
  }

  std::optional<ScalingDecision> Tick(std::optional<double> cpu,
                                      std::optional<double> memory = std::nullopt) {
    now_ += kInterval;
    Sample sample;
    sample.at = now_;
    sample.desired_count = desired_;
    sample.running_count = running_.value_or(desired_);
    sample.metrics.cpu_utilization = cpu;
    sample.metrics.memory_utilization = memory;
    std::optional<ScalingDecision> decision = engine_.Evaluate(target_, policies_, state_, sample);
    if (decision) {
      EXPECT_EQ(decision->previous_desired_count, desired_);
      desired_ = decision->new_desired_count;
      state_ = decision->state_after;
      decisions_.push_back(*decision);
    }
    return decision;
  }

  // `n` samples of the same metrics; the decisions they made.
  std::vector<ScalingDecision> Run(int n, std::optional<double> cpu,
                                   std::optional<double> memory = std::nullopt) {
    const size_t before = decisions_.size();
    for (int i = 0; i < n; ++i) Tick(cpu, memory);
    return {decisions_.begin() + static_cast<std::ptrdiff_t>(before), decisions_.end()};
  }

  Autoscaler engine_;
  ScalableTarget target_;
  std::vector<TargetTrackingPolicy> policies_;
  AutoscalerState state_;
  absl::Time now_ = kT0;
  int desired_ = 2;
  std::optional<int> running_;
  std::vector<ScalingDecision> decisions_;
};

TEST_F(AutoscalerTest, TwoHighSamplesDoNothingTheThirdScalesOutProportionally) {
  EXPECT_FALSE(Tick(80));
  EXPECT_FALSE(Tick(80));
  std::optional<ScalingDecision> decision = Tick(80);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->new_desired_count, 4);  // ceil(2 × 80 / 50) = ceil(3.2).
  EXPECT_EQ(decision->trigger, DecisionTrigger::kPolicyScaleOut);
  EXPECT_EQ(decision->source, "cpu50");
  EXPECT_EQ(decision->description, "Setting desired count to 4.");
  EXPECT_EQ(decision->cause,
            "monitor TargetTracking-service/default/web-High-cpu50 in state ALARM triggered "
            "policy cpu50 (ECSServiceAverageCPUUtilization 80 above target 50 on the last 3 "
            "samples)");
  EXPECT_EQ(decision->state_after.last_scale_out_at, now_);
  EXPECT_EQ(decision->state_after.last_scale_out_capacity, 4);
  EXPECT_EQ(decision->state_after.last_scale_in_at, absl::InfinitePast());
}

TEST_F(AutoscalerTest, OneSampleBackUnderTheLineRestartsTheCount) {
  EXPECT_TRUE(Run(2, 80).empty());
  EXPECT_TRUE(Run(1, 50).empty());
  EXPECT_TRUE(Run(2, 80).empty());
  EXPECT_EQ(Run(1, 80).size(), 1u);
}

TEST_F(AutoscalerTest, ProportionalCapacityIsExactAndAtLeastOneMore) {
  desired_ = 4;
  std::vector<ScalingDecision> exact = Run(3, 75);  // 4 × 75 / 50 = 6 exactly, not 7.
  ASSERT_EQ(exact.size(), 1u);
  EXPECT_EQ(exact[0].new_desired_count, 6);

  Autoscaler strict(AutoscalerOptions{.scale_out_tolerance = 0});
  engine_ = std::move(strict);
  desired_ = 10;
  target_.max_capacity = 20;
  now_ += absl::Hours(1);  // Past the cooldown.
  std::vector<ScalingDecision> slightly = Run(3, 50.1);  // ceil(10.02) = 11.
  ASSERT_EQ(slightly.size(), 1u);
  EXPECT_EQ(slightly[0].new_desired_count, 11);
}

TEST_F(AutoscalerTest, ScaleOutIsBasedOnRunningTasksNotPendingOnes) {
  // 2 running at 100%: the load is 4 tasks' worth at target 50.
  running_ = 2;
  ASSERT_EQ(Run(3, 100).size(), 1u);
  EXPECT_EQ(desired_, 4);
  // The two new tasks are still pending and the metric stays at 100: the same load, no new
  // activity, in or after the cooldown (desired 4 already covers it).
  EXPECT_TRUE(Run(60, 100).empty());
}

TEST_F(AutoscalerTest, CappedAtMaxAndNothingAtMax) {
  ASSERT_EQ(Run(3, 500).size(), 1u);  // ceil(2 × 10) = 20.
  EXPECT_EQ(desired_, 10);
  now_ += absl::Hours(1);
  EXPECT_TRUE(Run(10, 500).empty());
}

TEST_F(AutoscalerTest, WithinTheScaleOutCooldownOnlyALargerScaleOutGoesAhead) {
  ASSERT_EQ(Run(3, 80).size(), 1u);  // 2 -> 4 at t.
  const absl::Time scaled_out_at = now_;
  // Someone sets 2 by hand; 2 running at 80% want 4 again, which the last scale-out already
  // set: blocked until the cooldown (300 s) ends. (The load stays 2 tasks' worth at 80%.)
  desired_ = 2;
  running_ = 2;
  std::vector<ScalingDecision> decisions = Run(40, 80);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].trigger, DecisionTrigger::kPolicyScaleOut);
  EXPECT_EQ(decisions[0].new_desired_count, 4);
  EXPECT_EQ(decisions[0].state_after.last_scale_out_at, scaled_out_at + absl::Seconds(300));

  // A larger one is not blocked: 4 running at 150% want 12, capped at 10, at once.
  running_ = 4;
  decisions = Run(3, 150);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].new_desired_count, 10);
}

TEST_F(AutoscalerTest, ScalesInWhenLowThroughTheWholeCooldownWindow) {
  desired_ = 4;
  // 20% on 4 tasks: 2 would do. Observed from the first sample at T0+10s; the window is 300 s,
  // so the 31st sample (T0+310s) is the first that has seen 300 s of it.
  EXPECT_TRUE(Run(30, 20).empty());
  std::optional<ScalingDecision> decision = Tick(20);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->new_desired_count, 2);
  EXPECT_EQ(decision->trigger, DecisionTrigger::kPolicyScaleIn);
  EXPECT_EQ(decision->cause,
            "monitor TargetTracking-service/default/web-Low-cpu50 in state ALARM triggered "
            "policy cpu50 (ECSServiceAverageCPUUtilization 20 below 45, 90% of target 50, for "
            "300 s; every policy with scale-in enabled agrees)");
  EXPECT_EQ(decision->state_after.last_scale_in_at, now_);
}

TEST_F(AutoscalerTest, ScaleInNeedsMoreThanTenPercentUnderTarget) {
  // With 10 tasks, 45% would make ceil(10 × 0.9) = 9: only the threshold holds it.
  desired_ = 10;
  EXPECT_TRUE(Run(120, 45).empty());  // Exactly 90%: not under.
  EXPECT_TRUE(Run(30, 44.9).empty());  // 300 s have not passed at 44.9 yet.
  std::vector<ScalingDecision> decisions = Run(1, 44.9);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].new_desired_count, 9);
}

TEST_F(AutoscalerTest, ScaleInRoundsUpSoItNeverOvershootsTheTarget) {
  desired_ = 4;
  EXPECT_TRUE(Run(120, 40).empty());  // ceil(4 × 0.8) = 4: 3 tasks would run at 53%.
}

TEST_F(AutoscalerTest, OneHighSampleInTheWindowRestartsIt) {
  desired_ = 4;
  EXPECT_TRUE(Run(20, 20).empty());
  EXPECT_TRUE(Run(1, 47).empty());
  EXPECT_TRUE(Run(29, 20).empty());  // The 47 is still in the window.
  EXPECT_TRUE(Run(1, 20).empty());   // 300 s after the 47, it is on the window's edge.
  EXPECT_EQ(Run(1, 20).size(), 1u);
}

TEST_F(AutoscalerTest, ScaleInCooldownBlocksTheNextScaleInButNotAScaleOut) {
  desired_ = 8;
  target_.min_capacity = 1;
  std::vector<ScalingDecision> first = Run(31, 10);  // ceil(8 × 0.2) = 2.
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(desired_, 2);
  // Still 10% on 2 tasks (the load fell): 1 would do, but not before 300 s.
  EXPECT_TRUE(Run(29, 10).empty());
  std::vector<ScalingDecision> second = Run(1, 10);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].new_desired_count, 1);
  EXPECT_EQ(second[0].state_after.last_scale_in_at,
            first[0].state_after.last_scale_in_at + absl::Seconds(300));
  // Load comes back right after: scale-out within the scale-in cooldown goes ahead.
  std::vector<ScalingDecision> out = Run(3, 90);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].new_desired_count, 2);
}

TEST_F(AutoscalerTest, NeverBelowMin) {
  desired_ = 6;
  target_.min_capacity = 3;
  ASSERT_EQ(Run(31, 1).size(), 1u);
  EXPECT_EQ(desired_, 3);
  now_ += absl::Hours(1);
  EXPECT_TRUE(Run(60, 1).empty());
}

TEST_F(AutoscalerTest, SeveralPoliciesScaleOutIfAnyWantsTo) {
  policies_ = {Cpu(50), Memory(70)};
  std::vector<ScalingDecision> decisions = Run(3, 10, 140);  // CPU low, memory twice target.
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].source, "mem70");
  EXPECT_EQ(decisions[0].new_desired_count, 4);
}

TEST_F(AutoscalerTest, SeveralPoliciesTheLargestProposalWins) {
  policies_ = {Cpu(50), Memory(70)};
  std::vector<ScalingDecision> decisions = Run(3, 100, 140);  // Both want 4; CPU 200% wants 8.
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].new_desired_count, 4);
  now_ += absl::Hours(1);
  decisions = Run(3, 200, 140);  // 4 × 4 = 16 -> 10 (max) vs 4 × 2 = 8.
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].source, "cpu50");
  EXPECT_EQ(decisions[0].new_desired_count, 10);
}

TEST_F(AutoscalerTest, SeveralPoliciesScaleInOnlyIfAllAgree) {
  policies_ = {Cpu(50), Memory(70)};
  desired_ = 6;
  EXPECT_TRUE(Run(120, 10, 65).empty());  // Memory near its target: no scale-in.
  // Both low: each proposes; the larger (more conservative) wins: CPU 6 × 10/50 -> 2,
  // memory 6 × 35/70 = 3.
  std::vector<ScalingDecision> decisions = Run(31, 10, 35);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].new_desired_count, 3);
  EXPECT_EQ(decisions[0].source, "mem70");
}

TEST_F(AutoscalerTest, DisableScaleInNeverScalesInButScalesOut) {
  policies_ = {Cpu(50)};
  policies_[0].disable_scale_in = true;
  desired_ = 6;
  EXPECT_TRUE(Run(180, 5).empty());
  ASSERT_EQ(Run(3, 100).size(), 1u);
  EXPECT_EQ(desired_, 10);
}

TEST_F(AutoscalerTest, DisableScaleInPolicyDoesNotVetoOthersUnlessItWantsOut) {
  policies_ = {Cpu(50), Memory(70)};
  policies_[1].disable_scale_in = true;
  desired_ = 6;
  // Memory is at 70 (its target), CPU low: the CPU policy alone decides scale-in.
  std::vector<ScalingDecision> decisions = Run(31, 10, 70);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].new_desired_count, 2);
  EXPECT_EQ(decisions[0].source, "cpu50");

  // Memory above its line blocks scale-in (and scales out instead, once: the new tasks stay
  // pending, so the load is the same).
  desired_ = 6;
  running_ = 6;
  now_ += absl::Hours(1);
  decisions = Run(31, 10, 90);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].trigger, DecisionTrigger::kPolicyScaleOut);
  EXPECT_EQ(decisions[0].source, "mem70");
  EXPECT_EQ(decisions[0].new_desired_count, 8);  // ceil(6 × 90 / 70).
}

TEST_F(AutoscalerTest, OnlyDisabledScaleInPoliciesMeanNoScaleIn) {
  policies_ = {Cpu(50), Memory(70)};
  policies_[0].disable_scale_in = true;
  policies_[1].disable_scale_in = true;
  desired_ = 6;
  EXPECT_TRUE(Run(120, 5, 5).empty());
}

TEST_F(AutoscalerTest, HandSetDesiredCountWithinRangeIsRespected) {
  desired_ = 7;  // Set by hand; the metric is on target for it.
  EXPECT_TRUE(Run(120, 50).empty());
  desired_ = 3;
  EXPECT_TRUE(Run(120, 52).empty());
}

TEST_F(AutoscalerTest, HandSetDesiredCountOutsideRangeIsBroughtBack) {
  desired_ = 12;
  std::optional<ScalingDecision> decision = Tick(50);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->new_desired_count, 10);
  EXPECT_EQ(decision->trigger, DecisionTrigger::kCapacityBounds);
  EXPECT_EQ(decision->description, "Setting desired count to 10.");
  EXPECT_EQ(decision->cause, "desired count 12 was above the maximum capacity 10");
  EXPECT_EQ(decision->state_after, AutoscalerState{});  // No cooldown started.

  target_.min_capacity = 2;
  desired_ = 0;
  decision = Tick(std::nullopt);  // No task runs, so no metric: bounds still apply.
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->new_desired_count, 2);
  EXPECT_EQ(decision->cause, "desired count 0 was below the minimum capacity 2");
}

TEST_F(AutoscalerTest, SuspendedScaleOutStopsPolicyAndBoundsScaleOut) {
  target_.suspended.dynamic_scaling_out_suspended = true;
  EXPECT_TRUE(Run(60, 100).empty());
  target_.min_capacity = 3;
  EXPECT_TRUE(Run(5, 100).empty());
  target_.suspended.dynamic_scaling_out_suspended = false;
  std::optional<ScalingDecision> decision = Tick(100);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->trigger, DecisionTrigger::kCapacityBounds);
}

TEST_F(AutoscalerTest, SuspendedScaleInStopsPolicyAndBoundsScaleIn) {
  target_.suspended.dynamic_scaling_in_suspended = true;
  desired_ = 8;
  EXPECT_TRUE(Run(120, 5).empty());
  target_.max_capacity = 6;
  EXPECT_TRUE(Run(5, 5).empty());
  target_.suspended.dynamic_scaling_in_suspended = false;
  std::optional<ScalingDecision> decision = Tick(5);
  ASSERT_TRUE(decision);
  EXPECT_EQ(decision->new_desired_count, 6);
  EXPECT_EQ(decision->trigger, DecisionTrigger::kCapacityBounds);
}

TEST_F(AutoscalerTest, SuspendedScheduledScalingDoesNotStopDynamicScaling) {
  target_.suspended.scheduled_scaling_suspended = true;
  EXPECT_EQ(Run(3, 100).size(), 1u);
}

TEST_F(AutoscalerTest, NoDataNoDecision) {
  // A service without a CPU reservation has no CPU metric.
  EXPECT_TRUE(Run(60, std::nullopt).empty());
  // A gap among high samples breaks the run of 3.
  EXPECT_TRUE(Run(2, 100).empty());
  EXPECT_TRUE(Run(1, std::nullopt).empty());
  EXPECT_TRUE(Run(2, 100).empty());
  EXPECT_EQ(Run(1, 100).size(), 1u);
}

TEST_F(AutoscalerTest, MissingDataInTheWindowBlocksScaleIn) {
  desired_ = 4;
  EXPECT_TRUE(Run(15, 10).empty());
  EXPECT_TRUE(Run(1, std::nullopt).empty());
  EXPECT_TRUE(Run(30, 10).empty());
  EXPECT_EQ(Run(1, 10).size(), 1u);
}

TEST_F(AutoscalerTest, APolicyWithoutDataBlocksScaleInByTheOthers) {
  policies_ = {Cpu(50), Memory(70)};
  desired_ = 6;
  EXPECT_TRUE(Run(120, std::nullopt, 10).empty());
  // While it scales out on memory alone.
  EXPECT_EQ(Run(3, std::nullopt, 140).size(), 1u);
}

// ±5% around the target, in a pattern that is above the target for long runs: the engine must
// stay still for ten minutes.
double Jitter(int i) { return 50 + 2.5 * std::sin(i * 0.7) + 2.4 * std::sin(i * 0.13); }

TEST_F(AutoscalerTest, TenMinutesAtTargetPlusMinusFivePercentMakeNoActivity) {
  desired_ = 4;
  int above_runs = 0;
  for (int i = 0; i < 60; ++i) {
    ASSERT_LE(std::abs(Jitter(i) - 50), 2.5 * 2);
    if (i >= 2 && Jitter(i) > 50 && Jitter(i - 1) > 50 && Jitter(i - 2) > 50) ++above_runs;
    EXPECT_FALSE(Tick(Jitter(i))) << "sample " << i << " at " << Jitter(i);
  }
  EXPECT_GT(above_runs, 0);  // The pattern would trip AWS's exact rule...
  EXPECT_EQ(decisions_.size(), 0u);
}

TEST_F(AutoscalerTest, WithoutToleranceTheSameJitterScalesOut) {
  engine_ = Autoscaler(AutoscalerOptions{.scale_out_tolerance = 0});
  desired_ = 4;
  for (int i = 0; i < 60; ++i) Tick(Jitter(i));
  EXPECT_GT(decisions_.size(), 0u);  // ...which is why the tolerance exists.
}

TEST_F(AutoscalerTest, AStallInSamplingStartsTheHistoryAfresh) {
  Run(2, 80);
  now_ += absl::Minutes(5) + absl::Seconds(1);
  EXPECT_TRUE(Run(2, 80).empty());  // The two before the stall do not count.
  EXPECT_EQ(Run(1, 80).size(), 1u);

  desired_ = 10;
  target_.max_capacity = 10;
  Run(40, 10);  // Scales in once, to 2.
  ASSERT_EQ(desired_, 2);
  now_ += absl::Hours(1);
  desired_ = 10;
  EXPECT_TRUE(Run(30, 10).empty());  // 300 s observed again before a scale-in.
  EXPECT_EQ(Run(1, 10).size(), 1u);
}

TEST_F(AutoscalerTest, ABadTargetOrMetricDecidesNothing) {
  policies_ = {Cpu(0)};
  EXPECT_TRUE(Run(60, 80).empty());
  policies_ = {Cpu(50)};
  EXPECT_TRUE(Run(3, std::nan("")).empty());
  std::vector<ScalingDecision> decisions = Run(3, HUGE_VAL);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].new_desired_count, 10);  // Saturated, then capped at max.
}

TEST_F(AutoscalerTest, SamplesOutOfOrderAreIgnored) {
  Tick(80);
  Tick(80);
  now_ -= absl::Seconds(30);
  EXPECT_FALSE(Tick(80));  // Earlier than the last one: ignored, not a third high sample.
  EXPECT_EQ(engine_.history().size(), 2u);
}

TEST_F(AutoscalerTest, HistoryIsBoundedByTheLongestWindow) {
  for (int i = 0; i < 1000; ++i) Tick(50);
  EXPECT_EQ(engine_.history().size(), 31u);  // 300 s at 10 s, both ends.
  policies_[0].scale_in_cooldown = absl::ZeroDuration();
  Tick(50);
  EXPECT_EQ(engine_.history().size(), 3u);
}

TEST_F(AutoscalerTest, ShortScaleInCooldownStillNeedsThreeLowSamples) {
  policies_[0].scale_in_cooldown = absl::ZeroDuration();
  desired_ = 4;
  EXPECT_TRUE(Run(2, 10).empty());
  EXPECT_EQ(Run(1, 10).size(), 1u);
}

TEST(MetricKindTest, NamesRoundTrip) {
  for (MetricKind kind : {MetricKind::kEcsServiceAverageCpuUtilization,
                          MetricKind::kEcsServiceAverageMemoryUtilization,
                          MetricKind::kAlbRequestCountPerTarget}) {
    EXPECT_EQ(MetricKindFromName(MetricKindName(kind)), kind);
  }
  EXPECT_EQ(MetricKindName(MetricKind::kAlbRequestCountPerTarget), "ALBRequestCountPerTarget");
  EXPECT_FALSE(MetricKindFromName("ECSServiceAverageCpuUtilization"));  // Case matters.
}

class ScheduledActionTest : public ::testing::Test {
 protected:
  ScheduledActionTest() {
    target_.resource_id = "service/default/web";
    target_.min_capacity = 1;
    target_.max_capacity = 10;
  }
  ScalableTarget target_;
  AutoscalerState state_{.last_scale_in_at = kT0};
};

TEST_F(ScheduledActionTest, RaisesMinAndTheDesiredCountWithIt) {
  absl::StatusOr<ScheduledActionOutcome> outcome =
      ApplyScheduledAction(target_, {"morning", 5, 20}, 2, state_);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->min_capacity, 5);
  EXPECT_EQ(outcome->max_capacity, 20);
  EXPECT_EQ(outcome->description, "Setting min capacity to 5 and max capacity to 20");
  EXPECT_EQ(outcome->cause, "scheduled action name morning was triggered");
  ASSERT_TRUE(outcome->desired_change);
  EXPECT_EQ(outcome->desired_change->new_desired_count, 5);
  EXPECT_EQ(outcome->desired_change->trigger, DecisionTrigger::kScheduledAction);
  EXPECT_EQ(outcome->desired_change->description, "Setting desired count to 5.");
  EXPECT_EQ(outcome->desired_change->cause,
            "scheduled action name morning was triggered, desired count 2 was below the new "
            "minimum capacity 5");
  EXPECT_EQ(outcome->desired_change->state_after, state_);
}

TEST_F(ScheduledActionTest, LowersMaxAndTheDesiredCountWithItKeepingTheOtherBound) {
  absl::StatusOr<ScheduledActionOutcome> outcome =
      ApplyScheduledAction(target_, {"night", std::nullopt, 3}, 8, state_);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_EQ(outcome->min_capacity, 1);
  EXPECT_EQ(outcome->max_capacity, 3);
  EXPECT_EQ(outcome->description, "Setting max capacity to 3");
  ASSERT_TRUE(outcome->desired_change);
  EXPECT_EQ(outcome->desired_change->new_desired_count, 3);
}

TEST_F(ScheduledActionTest, DesiredCountInsideTheNewBoundsStays) {
  absl::StatusOr<ScheduledActionOutcome> outcome =
      ApplyScheduledAction(target_, {"wide", 2, 9}, 4, state_);
  ASSERT_TRUE(outcome.ok());
  EXPECT_FALSE(outcome->desired_change);
}

TEST_F(ScheduledActionTest, RefusedWhenSuspendedOrWhenMinWouldExceedMax) {
  EXPECT_EQ(ApplyScheduledAction(target_, {"big", 11, std::nullopt}, 4, state_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ApplyScheduledAction(target_, {"none", std::nullopt, std::nullopt}, 4, state_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  target_.suspended.scheduled_scaling_suspended = true;
  EXPECT_EQ(ApplyScheduledAction(target_, {"ok", 2, 5}, 4, state_).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace skiff::scaling
