// ScalingController: what makes services scale. After every stats round it hands each scalable
// target of an ACTIVE service one Sample (desired and running counts, the service's CPU and
// memory utilization, its requests per target) to that target's Autoscaler; a decision becomes
// the service's new desired count (ScalableServices::SetDesiredCountForScaling, which says the
// ECS service event), a scaling activity (Successful, or Failed with the error), and the
// engine's state persisted through AutoScalingManager. A loop timer runs scheduled actions as
// they come due: new bounds for the target, an activity, and the desired count clamped into
// them.
//
// Restarts: cooldowns and the last scale-out's capacity are persisted (ScalingEngineState and
// its `extra`), so a restart loses none; the sample history is not (a new engine needs three
// new samples to scale out, a full window to scale in). For scheduled actions the controller
// persists, per target, when it last ran them (`extra`'s "schedule_checked"): an occurrence
// after that and before now runs once at start (several missed ones run once), and one already
// run never runs again.
//
// Everything comes through seams: the manager (targets, activities, state), ScalableServices
// (the services), ScalingMetrics (what the service uses) and the clock, so that tests run it in
// simulated time with fakes.
//
// Thread contract: loop-owned. Constructed on the loop thread (or by main acting for it before
// the loop runs); every method runs on the loop thread. The manager, services, metrics, clock
// and loop must outlive it.
#ifndef SKIFF_SCALING_SCALING_CONTROLLER_H_
#define SKIFF_SCALING_SCALING_CONTROLLER_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "skiff/base/clock.h"
#include "skiff/scaling/auto_scaling_manager.h"
#include "skiff/scaling/autoscaler.h"
#include "skiff/scaling/utilization.h"
#include "skiff/scheduler/event_loop.h"
#include "skiff/scheduler/scalable_services.h"

namespace skiff::scaling {

// The metrics of a service, as the controller reads them at each round. skiffd implements it
// with the StatsReporter (utilization) and ELBv2's HAProxy counters (requests), so that scaling
// links neither the load balancer nor anything else that measures.
class ScalingMetrics {
 public:
  virtual ~ScalingMetrics() = default;
  // ECSServiceAverage{CPU,Memory}Utilization over the service's RUNNING tasks.
  virtual ServiceUtilization UtilizationOf(const std::string& cluster,
                                           const std::string& service) = 0;
  // ALBRequestCountPerTarget: requests to these target groups over the last 60 s ÷ their
  // healthy targets; none when there is no group, no healthy target or no counter yet.
  virtual std::optional<double> RequestsPerTarget(
      const std::vector<std::string>& target_group_arns) = 0;
};

struct ScalingControllerOptions {
  // How often stats rounds come (--stats-interval): a gap of 3 intervals restarts the history.
  absl::Duration stats_interval = absl::Seconds(10);
  double scale_out_tolerance = 0.1;  // AutoscalerOptions::scale_out_tolerance.
  // The longest the scheduled-action timer sleeps, so that a wall-clock step is noticed.
  absl::Duration max_schedule_sleep = absl::Minutes(1);
};

class ScalingController {
 public:
  ScalingController(ScalingControllerOptions options, scheduler::EventLoop* loop,
                    AutoScalingManager* manager, scheduler::ScalableServices* services,
                    ScalingMetrics* metrics, const Clock* clock);
  ~ScalingController();

  // Listens to the manager's changes and arms the scheduled-action timer (due actions run at
  // once, from the loop). Call once.
  void Start();

  // A stats round has landed: one sample for each target, and its decision applied.
  void OnStatsRound();

  // Runs the scheduled actions due now and re-arms the timer (the timer calls it).
  void RunScheduledActions();

  // For tests: when the timer is due next (InfiniteFuture when no action will fire).
  absl::Time next_scheduled_run() const { return next_run_; }

 private:
  void Evaluate(const ScalableTargetState& target);
  // Applies a decision of `target`; `state_after` is persisted only when it succeeded.
  bool Apply(const ScalableTargetState& target, const ScalingDecision& decision,
             absl::Time now);
  void RunScheduledActionsOf(const std::string& resource_id, absl::Time now);
  bool RunScheduledAction(const std::string& resource_id, const std::string& name,
                          absl::Time now);
  void ArmScheduleTimer();
  // When an action of `target` may next fire (after the last run), none if never.
  std::optional<absl::Time> NextDue(const ScalableTargetState& target) const;
  void OnTargetChanged(const std::string& resource_id);

  const ScalingControllerOptions options_;
  scheduler::EventLoop* const loop_;
  AutoScalingManager* const manager_;
  scheduler::ScalableServices* const services_;
  ScalingMetrics* const metrics_;
  const Clock* const clock_;
  std::map<std::string, Autoscaler> engines_;  // By resource id.
  // By resource id: the status message of the last decision that failed, until one succeeds.
  // The same failure on every sample is one activity, not one a sample.
  std::map<std::string, std::string> failing_;
  std::unique_ptr<scheduler::Timer> schedule_timer_;
  absl::Time next_run_ = absl::InfiniteFuture();
};

}  // namespace skiff::scaling

#endif  // SKIFF_SCALING_SCALING_CONTROLLER_H_
