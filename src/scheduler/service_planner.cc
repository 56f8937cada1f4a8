// The steps of a pass (see service_planner.h). A Pass holds what one pass has seen and decided
// so far; each step reads the counts the earlier steps left and adjusts them for what it
// decides, so that later steps see the world as it will be once the plan is carried out.
#include "skiff/scheduler/service_planner.h"

#include <algorithm>
#include <climits>
#include <tuple>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace skiff::scheduler {
namespace {

constexpr absl::string_view kSteadyState = "has reached a steady state.";

// "(task a) (task b)", as ECS lists tasks in its events.
std::string TaskList(const std::vector<std::string>& ids) {
  std::vector<std::string> parts;
  parts.reserve(ids.size());
  for (const std::string& id : ids) parts.push_back(absl::StrCat("(task ", id, ")"));
  return absl::StrJoin(parts, " ");
}

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }
absl::Time FromSeconds(double seconds) { return absl::UnixEpoch() + absl::Seconds(seconds); }

// The per-deployment counts of one pass.
struct Count {
  int running = 0;  // Desired RUNNING and RUNNING.
  int healthy = 0;  // Of those, the ones that count towards the floor (ready; see Ready()).
  int serving = 0;  // Of those, the ones that pass their health checks (or have none).
  int pending = 0;  // Desired RUNNING, not yet RUNNING.
  int live = 0;     // Not STOPPED yet, whatever is desired (stopping tasks included).
  int active() const { return running + pending; }
};

// Whole-service counts (every deployment).
struct Totals {
  int active = 0;
  int running = 0;
  int healthy = 0;
  int pending = 0;
};

// A task of the primary deployment that fails its checks, past its grace period: replaced.
struct Failing {
  std::string id;
  std::string target_group;  // The group whose check it fails; "" for its container checks.

  // ECS's words for the stop and the event.
  std::string StoppedReason() const {
    if (target_group.empty()) return "Task failed container health checks";
    return absl::StrCat("Task failed ELB health checks in (target-group ", target_group, ")");
  }
  std::string Event(const std::string& service) const {
    const std::string who = absl::StrCat("(service ", service, ") (task ", id, ")");
    if (target_group.empty()) return absl::StrCat(who, " failed container health checks.");
    return absl::StrCat(who, " failed ELB health checks in (target-group ", target_group, ")");
  }
};

// A candidate for a stop, in the order in which tasks go: not yet running first, then not
// healthy, then the newest.
struct StopCandidate {
  std::tuple<int, int, double> rank;  // (running, healthy, -created_at)
  std::string id;
  bool running() const { return std::get<0>(rank) == 1; }
  bool healthy() const { return std::get<1>(rank) == 1; }
  bool operator<(const StopCandidate& o) const {
    return std::tie(rank, id) < std::tie(o.rank, o.id);
  }
};

class Pass {
 public:
  Pass(const ServicePlannerOptions& options, ServicePlanner& planner,
       const ServiceSnapshot& snapshot)
      : options_(options),
        planner_(planner),
        snapshot_(snapshot),
        record_(snapshot.record),
        service_(snapshot.record.service),
        name_(service_.service_name()),
        now_(snapshot.now) {}

  ServicePlan Run() {
    CountTasks();
    CheckRollout();
    ScalePrimary();
    ReplaceUnhealthy();
    DrainOld();
    RegisterTargets();
    PublishEndpoints();
    RetireDeployments();
    ReportStatus();
    return std::move(plan_);
  }

 private:
  // Step 0: count the tasks of each deployment, and find the primary's unhealthy ones.
  void CountTasks();
  // Step 1: the circuit breaker and the progress deadline.
  void CheckRollout();
  // Step 2: the primary deployment towards the desired count (an unhealthy task counts as
  // gone: its replacement is launched here).
  void ScalePrimary();
  // Step 3: unhealthy tasks stop once their replacements have a verdict, or at once when
  // maximumPercent leaves no room to start the replacements first.
  void ReplaceUnhealthy();
  // Step 4: older deployments drain while the healthy floor holds.
  void DrainOld();
  // Step 5: tasks that run (HEALTHY, when checked) and stay get their targets registered.
  void RegisterTargets();
  // Step 6: with discovery, the tasks that can be found by name.
  void PublishEndpoints();
  // Whether a task can be found by name after this pass (step 6).
  bool Discoverable(const std::string& id, const TaskView& t);
  bool StoppedByPlan(const std::string& id) const {
    return absl::c_any_of(plan_.stops, [&id](const TaskStop& stop) { return stop.task_id == id; });
  }
  // Step 7: a drained deployment (nothing of it left, stopping tasks included) is done.
  void RetireDeployments();
  // Step 8: counts, COMPLETED, steady state, INACTIVE.
  void ReportStatus();

  // Step 0 for one task of the primary that runs: failing its container checks or (load
  // balanced) its targets', it is replaced once past the grace period.
  void CountFailing(const std::string& id, const TaskView& t, absl::Duration grace);
  // The target group whose checks the task's targets fail.
  std::string FailingGroup(const std::string& id) const;
  bool Replaced(const std::string& id) const {
    return absl::c_any_of(unhealthy_, [&id](const Failing& f) { return f.id == id; });
  }

  // Failing the primary deployment (step 1), and a rollback.
  void FailDeployment(const std::string& why);
  void CountFailedTask(const std::string& deployment_id);

  // Healthy, and past the first moments in which a broken revision dies (a task with health
  // checks has proven itself by passing one). Only then does a task count towards the floor,
  // so that old tasks are never drained against new ones that are about to exit.
  bool Ready(const TaskView& t);
  std::vector<StopCandidate> StopOrder(const std::string& deployment_id) const;
  void Stop(const StopCandidate& task, const std::string& deployment_id, TaskStop::Cause cause,
            std::string reason);

  // The deployments as the plan leaves them: the record's until the first change, then the
  // plan's copy.
  int DeploymentCount() const {
    return plan_.deployments ? static_cast<int>(plan_.deployments->size())
                             : service_.deployments_size();
  }
  const v1::Deployment& Deployment(int i) const {
    return plan_.deployments ? (*plan_.deployments)[i] : service_.deployments(i);
  }
  v1::Deployment& MutableDeployment(int i) { return MutableDeployments()[i]; }
  std::vector<v1::Deployment>& MutableDeployments() {
    if (!plan_.deployments) {
      plan_.deployments.emplace(service_.deployments().begin(), service_.deployments().end());
    }
    return *plan_.deployments;
  }
  const std::string& TaskDefinition() const {
    return plan_.task_definition ? *plan_.task_definition : service_.task_definition();
  }
  void SetCounts(int index, int desired, const Count& c);

  void Say(std::string message, bool repeat = false) {
    plan_.events.push_back({.message = std::move(message), .repeat = repeat});
  }
  void WakeAt(absl::Time at) { plan_.wake_at = std::min(plan_.wake_at, at); }
  // No launch before this (the back-off); a rollback in this pass starts afresh.
  absl::Time NextLaunchAt() const {
    return plan_.reset_launch_backoff ? absl::InfinitePast() : FromSeconds(record_.next_launch_at);
  }
  bool Active() const { return service_.status() == "ACTIVE"; }

  const ServicePlannerOptions& options_;
  ServicePlanner& planner_;
  const ServiceSnapshot& snapshot_;
  const store::StoredService& record_;
  const v1::Service& service_;
  const std::string& name_;
  const absl::Time now_;
  ServicePlan plan_;

  // The counts of each deployment, made on first use. A pass sees one deployment or a few: a
  // short list searched in order, not a map made anew for every service in every pass. A
  // reference to a count holds until the next CountOf that adds a deployment.
  Count& CountOf(const DeploymentId& id);
  Count& CountOf(const std::string& id);
  absl::InlinedVector<std::pair<DeploymentId, Count>, 2> counts_;
  Totals totals_;
  // The primary before step 1 (a rollback makes a new one); the record's own string, which
  // stays as it is during the pass.
  const std::string* first_primary_id_ = nullptr;
  std::vector<Failing> unhealthy_;     // Of the primary, past the grace period: replaced.
  int unhealthy_in_grace_ = 0;         // Of the primary: failing, but not acted on yet.
  int desired_ = 0;
  int ceiling_ = 0;  // maximumPercent of desired, rounded down.
  int floor_ = 0;    // minimumHealthyPercent of desired, rounded up.
  bool halted_ = false;
  int need_ = 0;     // Tasks the primary lacks (after step 2 computes it).
  int launched_ = 0;
  std::vector<std::string> stopped_running_;
};

Count& Pass::CountOf(const DeploymentId& id) {
  for (auto& [known, count] : counts_) {
    if (known == id) return count;
  }
  return counts_.emplace_back(id, Count{}).second;
}

Count& Pass::CountOf(const std::string& id) {
  for (auto& [known, count] : counts_) {
    if (known == id) return count;
  }
  return counts_.emplace_back(DeploymentId(id), Count{}).second;
}

bool Pass::Ready(const TaskView& t) {
  if (!t.Healthy()) return false;
  // A passing check (its container's, or the load balancer's) is proof enough.
  if (t.health_checked || t.load_balanced || now_ >= t.started_at + options_.ready_after) {
    return true;
  }
  WakeAt(t.started_at + options_.ready_after);
  return false;
}

void Pass::CountTasks() {
  first_primary_id_ = &service_.deployments(0).id();
  const absl::Duration grace = absl::Seconds(service_.health_check_grace_period_seconds());
  for (const auto& [id, t] : snapshot_.tasks) {
    Count& c = CountOf(t.deployment_id);
    ++c.live;
    if (t.desired != DesiredStatus::kRunning) continue;
    if (!t.running()) {
      ++c.pending;
      continue;
    }
    ++c.running;
    if (t.Healthy()) ++c.serving;
    if (Ready(t)) ++c.healthy;
    if (t.deployment_id == *first_primary_id_) CountFailing(id, t, grace);
  }
  for (const auto& [id, c] : counts_) {
    totals_.active += c.active();
    totals_.running += c.running;
    totals_.healthy += c.healthy;
    totals_.pending += c.pending;
  }
  desired_ = Active() ? service_.desired_count() : 0;
  const v1::DeploymentConfiguration& config = service_.deployment_configuration();
  const int max_percent = config.has_maximum_percent() ? config.maximum_percent() : 200;
  const int min_percent =
      config.has_minimum_healthy_percent() ? config.minimum_healthy_percent() : 100;
  ceiling_ = desired_ * max_percent / 100;
  floor_ = (desired_ * min_percent + 99) / 100;
}

void Pass::CountFailing(const std::string& id, const TaskView& t, absl::Duration grace) {
  const bool container_failed = t.health == HealthStatus::kUnhealthy;
  const bool targets_failed = t.load_balanced && t.targets == TargetsHealth::kUnhealthy;
  if (!container_failed && !targets_failed) return;
  if (now_ < t.started_at + grace) {
    ++unhealthy_in_grace_;
    WakeAt(t.started_at + grace);
    return;
  }
  // Its container checks' verdict first: the load balancer's follows from it.
  unhealthy_.push_back({.id = id, .target_group = container_failed ? "" : FailingGroup(id)});
}

std::string Pass::FailingGroup(const std::string& id) const {
  if (const auto* groups = snapshot_.failing_target_groups; groups != nullptr) {
    auto it = groups->find(id);
    if (it != groups->end() && !it->second.empty()) return it->second;
  }
  // The applier says which; failing that, the service's first group is the likeliest.
  return service_.load_balancers().empty() ? std::string("unknown")
                                           : service_.load_balancers(0).target_group_arn();
}

void Pass::CheckRollout() {
  const v1::Deployment& d = Deployment(0);
  if (ParseRolloutState(d.rollout_state()) != RolloutState::kInProgress || !Active()) return;
  const int threshold = std::max(3, std::min(200, (service_.desired_count() + 1) / 2));
  const absl::Duration deadline = options_.progress_deadline;
  const absl::Time due = FromSeconds(d.created_at()) + deadline;
  if (service_.deployment_configuration().deployment_circuit_breaker().enable() &&
      d.failed_tasks() >= threshold) {
    FailDeployment(absl::StrCat("circuit breaker: tasks failed to start or keep running (",
                                d.failed_tasks(), " failed; the threshold is ", threshold, ")."));
  } else if (deadline > absl::ZeroDuration() && now_ >= due) {
    FailDeployment(absl::StrCat("progress deadline: the deployment did not complete within the "
                                "progress deadline of ",
                                absl::FormatDuration(deadline), "."));
  } else if (deadline > absl::ZeroDuration()) {
    WakeAt(due);
  }
}

void Pass::FailDeployment(const std::string& why) {
  const double now = Seconds(now_);
  v1::Deployment& failed = MutableDeployment(0);
  failed.set_rollout_state(std::string(RolloutStateName(RolloutState::kFailed)));
  failed.set_rollout_state_reason(absl::StrCat("ECS deployment ", why));
  failed.set_updated_at(now);
  const std::string failed_id = failed.id();
  Say(absl::StrCat("(service ", name_, ") (deployment ", failed_id, ") deployment failed: ", why),
      /*repeat=*/true);
  const std::string& target = record_.last_completed_task_definition;
  const v1::DeploymentCircuitBreaker& breaker =
      service_.deployment_configuration().deployment_circuit_breaker();
  const bool rollback =
      breaker.rollback() && !target.empty() && target != failed.task_definition();
  plan_.history.push_back({.kind = HistoryChange::Kind::kFailed,
                           .deployment_id = failed_id,
                           .why = why,
                           .rolling_back = rollback});
  // Without a rollback nothing launches for it any more; the older tasks keep serving.
  if (!rollback) return;
  failed.set_status(std::string(DeploymentStatusName(DeploymentStatus::kActive)));
  v1::Deployment next = planner_.NewDeployment(target, service_.desired_count(), now_);
  next.set_rollout_state_reason(absl::StrCat("ECS deployment ", next.id(),
                                             " in progress: rolling back from ", failed_id, "."));
  const std::string next_id = next.id();
  std::vector<v1::Deployment>& deployments = MutableDeployments();
  deployments.insert(deployments.begin(), std::move(next));
  plan_.task_definition = target;
  // The new deployment starts afresh, as one the user asked for does.
  plan_.reset_launch_backoff = true;
  plan_.history.push_back({.kind = HistoryChange::Kind::kStarted,
                           .deployment_id = next_id,
                           .rollback_of = failed_id});
  Say(absl::StrCat("(service ", name_, ") (deployment ", next_id, ") rolling back to ",
                   target.substr(target.rfind('/') + 1),
                   ", the task definition of the last deployment that completed, after "
                   "deployment ",
                   failed_id, " failed."),
      /*repeat=*/true);
}

void Pass::CountFailedTask(const std::string& deployment_id) {
  for (int i = 0; i < DeploymentCount(); ++i) {
    if (Deployment(i).id() != deployment_id) continue;
    v1::Deployment& d = MutableDeployment(i);
    d.set_failed_tasks(d.failed_tasks() + 1);
    d.set_updated_at(Seconds(now_));
  }
}

std::vector<StopCandidate> Pass::StopOrder(const std::string& deployment_id) const {
  std::vector<StopCandidate> candidates;
  for (const auto& [id, t] : snapshot_.tasks) {
    if (t.deployment_id != deployment_id || t.desired != DesiredStatus::kRunning) continue;
    if (Replaced(id)) continue;  // Replaced in step 3.
    candidates.push_back({.rank = {t.running() ? 1 : 0, t.Healthy() ? 1 : 0,
                                   -Seconds(t.created_at)},
                          .id = id});
  }
  std::sort(candidates.begin(), candidates.end());
  return candidates;
}

void Pass::Stop(const StopCandidate& task, const std::string& deployment_id,
                TaskStop::Cause cause, std::string reason) {
  if (task.running()) stopped_running_.push_back(task.id);
  plan_.stops.push_back({.task_id = task.id,
                         .deployment_id = deployment_id,
                         .cause = cause,
                         .running = task.running(),
                         .reason = std::move(reason)});
}

void Pass::ScalePrimary() {
  const v1::Deployment& primary = Deployment(0);
  const std::string primary_id = primary.id();
  Count& mine = CountOf(primary_id);
  halted_ = ParseRolloutState(primary.rollout_state()) == RolloutState::kFailed;
  // Not replaced: nothing of a failed revision launches, and after a rollback its tasks drain.
  if (halted_ || primary_id != *first_primary_id_) unhealthy_.clear();
  const int replacing = static_cast<int>(unhealthy_.size());
  need_ = desired_ - (mine.active() - replacing);
  plan_.launch_events_at = plan_.events.size();
  if (need_ > 0 && !halted_) {
    const bool capped = DeploymentCount() > 1 || replacing > 0;
    const int room = capped ? std::min(need_, std::max(0, ceiling_ - totals_.active)) : need_;
    const absl::Time backoff_until = NextLaunchAt();
    if (room > 0 && now_ < backoff_until) {
      WakeAt(backoff_until);  // Launch back-off.
    } else if (room > 0) {
      plan_.launch = room;
      plan_.launch_deployment_id = primary_id;
      plan_.launch_task_definition = primary.task_definition();
      launched_ = room;
      mine.pending += room;
      totals_.pending += room;
      totals_.active += room;
    }
    return;
  }
  if (need_ >= 0) return;
  int excess = -need_;
  int protected_tasks = 0;
  for (const StopCandidate& task : StopOrder(primary_id)) {
    if (excess == 0) break;
    const TaskView& view = snapshot_.tasks.at(task.id);
    if (view.ScaleInProtected(now_)) {
      // Waits for the protection, which ends by itself at its expiry (or when removed).
      ++protected_tasks;
      WakeAt(absl::FromUnixMillis(view.scale_in_protected_until_ms));
      continue;
    }
    --excess;
    Stop(task, primary_id, TaskStop::Cause::kScaleIn,
         absl::StrCat("Scaling activity initiated by (deployment ", primary_id, ")"));
    (task.running() ? mine.running : mine.pending)--;
    (task.running() ? totals_.running : totals_.pending)--;
    if (task.running() && task.healthy()) --mine.healthy, --mine.serving;
  }
  if (excess > 0 && protected_tasks > 0) {
    Say(absl::StrCat("(service ", name_, ") was unable to scale in due to (reason: ",
                     protected_tasks, " tasks under protection)."));
  }
}

void Pass::ReplaceUnhealthy() {
  const std::string primary_id = Deployment(0).id();
  Count& mine = CountOf(primary_id);
  const int replacing = static_cast<int>(unhealthy_.size());
  // An unhealthy task stops once a replacement has a verdict in its place (healthy, or failing
  // too: then keeping both helps nothing), or at once when the ceiling leaves no room to start
  // the replacement first.
  const int decided = mine.healthy + unhealthy_in_grace_;
  int stops = std::min(replacing, std::max(0, decided + replacing - desired_));
  const bool blocked = need_ > launched_ && totals_.active >= ceiling_ && now_ >= NextLaunchAt();
  if (blocked) stops = std::max(stops, std::min(replacing, need_ - launched_));
  for (int i = 0; i < stops; ++i) {
    const Failing& failing = unhealthy_[i];
    stopped_running_.push_back(failing.id);
    plan_.stops.push_back({.task_id = failing.id,
                           .deployment_id = primary_id,
                           .cause = TaskStop::Cause::kUnhealthy,
                           .running = true,
                           .reason = failing.StoppedReason()});
    Say(failing.Event(name_), /*repeat=*/true);
    CountFailedTask(primary_id);
    --mine.running;
    --totals_.running;
  }
}

void Pass::DrainOld() {
  plan_.rolling_update = DeploymentCount() > 1 && totals_.pending > 0;
  // A task that is not healthy may always go, a healthy one only while enough others stay
  // healthy. Behind a failed deployment (without rollback) only tasks beyond the desired count
  // go (a scale-down, a delete): the rest keep serving.
  int may_stop_healthy = std::max(0, totals_.healthy - floor_);
  int may_stop = halted_ ? std::max(0, totals_.running + totals_.pending - desired_) : INT_MAX;
  for (int d = 1; d < DeploymentCount(); ++d) {
    const std::string deployment_id = Deployment(d).id();
    Count& c = CountOf(deployment_id);
    for (const StopCandidate& task : StopOrder(deployment_id)) {
      const bool healthy = task.running() && task.healthy();
      if (may_stop == 0 || (healthy && may_stop_healthy == 0)) break;  // The rest are healthy.
      if (healthy) --may_stop_healthy;
      --may_stop;
      Stop(task, deployment_id, TaskStop::Cause::kDrain,
           absl::StrCat("Scaling activity initiated by (deployment ", deployment_id, ")"));
      (task.running() ? c.running : c.pending)--;
      (task.running() ? totals_.running : totals_.pending)--;
    }
  }
  if (!stopped_running_.empty()) {
    Say(absl::StrCat("(service ", name_, ") has stopped ", stopped_running_.size(),
                     " running tasks: ", TaskList(stopped_running_), "."));
  }
}

void Pass::RegisterTargets() {
  for (const auto& [task_id, t] : snapshot_.tasks) {
    if (!t.load_balanced || t.targets_registered || t.desired != DesiredStatus::kRunning) continue;
    // Traffic only once its containers say it can take it.
    if (!t.running() || (t.health_checked && t.health != HealthStatus::kHealthy)) continue;
    if (!StoppedByPlan(task_id)) plan_.register_targets.push_back(task_id);
  }
}

void Pass::PublishEndpoints() {
  if (snapshot_.addressed == nullptr || !Active()) return;
  std::vector<std::string>& ids = plan_.discoverable.emplace();
  for (const auto& [id, t] : snapshot_.tasks) {
    if (Discoverable(id, t)) ids.push_back(id);  // The map's order is id order.
  }
}

bool Pass::Discoverable(const std::string& id, const TaskView& t) {
  // Staying: not told to stop (draining, stopping), and not stopped by this pass.
  if (t.desired != DesiredStatus::kRunning || !t.ContainersHealthy()) return false;
  if (!snapshot_.addressed->contains(id) || StoppedByPlan(id)) return false;
  // Behind a load balancer it is found while its targets are not failing (before their first
  // check too: it may take requests that do not come through the load balancer).
  if (t.load_balanced && t.targets == TargetsHealth::kUnhealthy) return false;
  if (t.health_checked) return true;  // HEALTHY (ContainersHealthy): it passed a check.
  // Without checks, once it has run a while: a task that dies at once is never found.
  if (now_ >= t.started_at + options_.ready_after) return true;
  WakeAt(t.started_at + options_.ready_after);
  return false;
}

void Pass::RetireDeployments() {
  for (int d = DeploymentCount() - 1; d >= 1; --d) {
    if (CountOf(Deployment(d).id()).live == 0) {
      std::vector<v1::Deployment>& deployments = MutableDeployments();
      deployments.erase(deployments.begin() + d);
    }
  }
}

void Pass::SetCounts(int index, int desired, const Count& c) {
  const v1::Deployment& d = Deployment(index);
  if (d.has_desired_count() && d.desired_count() == desired && d.has_running_count() &&
      d.running_count() == c.running && d.has_pending_count() && d.pending_count() == c.pending) {
    return;
  }
  v1::Deployment& m = MutableDeployment(index);
  m.set_desired_count(desired);
  m.set_running_count(c.running);
  m.set_pending_count(c.pending);
  m.set_updated_at(Seconds(now_));
}

void Pass::ReportStatus() {
  const std::string primary_id = Deployment(0).id();
  const Count mine = CountOf(primary_id);
  SetCounts(0, desired_, mine);
  for (int d = 1; d < DeploymentCount(); ++d) {
    const Count& c = CountOf(Deployment(d).id());
    SetCounts(d, c.active(), c);
  }
  if (!service_.has_running_count() || service_.running_count() != totals_.running) {
    plan_.running_count = totals_.running;
  }
  if (!service_.has_pending_count() || service_.pending_count() != totals_.pending) {
    plan_.pending_count = totals_.pending;
  }
  // Complete once nothing of the older deployments is left and every task serves: the
  // readiness window is for draining against new tasks, not for a verdict the waiter has
  // already given.
  const bool steady = DeploymentCount() == 1 && mine.running == desired_ &&
                      mine.serving == desired_ && mine.pending == 0 && mine.live == desired_;
  if (steady && ParseRolloutState(Deployment(0).rollout_state()) == RolloutState::kInProgress) {
    v1::Deployment& primary = MutableDeployment(0);
    primary.set_rollout_state(std::string(RolloutStateName(RolloutState::kCompleted)));
    plan_.last_completed_task_definition = primary.task_definition();
    plan_.history.push_back({.kind = HistoryChange::Kind::kCompleted, .deployment_id = primary_id});
    primary.set_rollout_state_reason(absl::StrCat("ECS deployment ", primary_id, " completed."));
    primary.set_updated_at(Seconds(now_));
    if (Active()) {
      Say(absl::StrCat("(service ", name_, ") (deployment ", primary_id,
                       ") deployment completed."));
    }
  }
  if (steady && !snapshot_.steady_said && Active()) {
    // Said each time the service comes back to a steady state.
    Say(absl::StrCat("(service ", name_, ") ", kSteadyState), /*repeat=*/true);
  }
  plan_.steady = steady;
  // A deleted service is gone once its last task has stopped.
  plan_.inactive = ParseServiceStatus(service_.status()) == ServiceStatus::kDraining &&
                   snapshot_.tasks.empty();
}

}  // namespace

ServicePlanner::ServicePlanner(ServicePlannerOptions options, RandomSource* random)
    : options_(std::move(options)), random_(random) {}

ServicePlan ServicePlanner::Plan(const ServiceSnapshot& snapshot) {
  const v1::Service& s = snapshot.record.service;
  const ServiceStatus status = ParseServiceStatus(s.status());
  if (status == ServiceStatus::kInactive || s.deployments_size() == 0) return {};
  return Pass(options_, *this, snapshot).Run();
}

v1::Deployment ServicePlanner::NewDeployment(const std::string& task_definition_arn,
                                             int desired, absl::Time now) {
  const double at = Seconds(now);
  v1::Deployment d;
  d.set_id(absl::StrCat("ecs-svc/", RandomDigits(*random_, 19)));
  d.set_status(std::string(DeploymentStatusName(DeploymentStatus::kPrimary)));
  d.set_task_definition(task_definition_arn);
  d.set_desired_count(desired);
  d.set_pending_count(0);
  d.set_running_count(0);
  d.set_failed_tasks(0);
  d.set_created_at(at);
  d.set_updated_at(at);
  d.set_launch_type("EC2");
  d.set_rollout_state(std::string(RolloutStateName(RolloutState::kInProgress)));
  d.set_rollout_state_reason(absl::StrCat("ECS deployment ", d.id(), " in progress."));
  return d;
}

StopVerdict ServicePlanner::JudgeStop(const store::StoredService& record, const TaskView& task,
                                      StopCode code, absl::Time now) const {
  const bool ran_long = task.started_at != absl::InfinitePast() &&
                        now - task.started_at >= options_.min_healthy_runtime;
  if (code == StopCode::kTaskFailedToStart ||
      (code == StopCode::kEssentialContainerExited && !ran_long)) {
    return {.launch_failure = true};
  }
  if (code != StopCode::kEssentialContainerExited) return {};
  // A crash after a good start fails the rollout as much as a failed launch does; once the
  // deployment has completed, a crash is only replaced.
  for (const v1::Deployment& d : record.service.deployments()) {
    if (d.id() == task.deployment_id) {
      return {.breaker_failure =
                  ParseRolloutState(d.rollout_state()) == RolloutState::kInProgress};
    }
  }
  return {};
}

absl::Time ServicePlanner::NextLaunchAt(int failures, absl::Time now) const {
  // The first failure retries at once; then base, 2 x base, ... up to the cap.
  if (failures <= 1) return now;
  absl::Duration delay = options_.backoff_base;
  for (int i = 2; i < failures && delay < options_.backoff_cap; ++i) delay *= 2;
  return now + std::min(delay, options_.backoff_cap);
}

std::optional<PlannedEvent> ServicePlanner::UnstableEvent(const std::string& service,
                                                          int failures) const {
  if (failures < options_.unstable_after) return std::nullopt;
  return PlannedEvent{
      .message = absl::StrCat("(service ", service,
                              ") is unable to consistently start tasks successfully. For more "
                              "information, see the Troubleshooting section of the Amazon ECS "
                              "Developer Guide.")};
}

LaunchFailurePlan ServicePlanner::LaunchFailed(const std::string& service,
                                               const std::string& instance_id,
                                               const std::optional<PlacementFailure>& failure,
                                               const absl::Status& error, absl::Time now) const {
  LaunchFailurePlan plan;
  if (!failure.has_value() && absl::IsUnavailable(error)) {
    // Not the service's fault and not a failed launch: every service is looked at again when
    // the runtime is back.
    return plan;
  }
  plan.retry_at = now + options_.placement_retry;
  if (!failure.has_value()) {
    plan.event = PlannedEvent{
        .message = absl::StrCat("(service ", service, ") failed to launch a task: ",
                                error.message())};
    return plan;
  }
  plan.wait_for_capacity = true;
  std::string why;
  switch (failure->kind) {
    case PlacementFailure::Kind::kPorts:
    case PlacementFailure::Kind::kPortsUdp:
      why = "is already using a port required by your task";
      break;
    case PlacementFailure::Kind::kCpu:
      why = "has insufficient CPU units available";
      break;
    case PlacementFailure::Kind::kMemory:
      why = "has insufficient memory available";
      break;
  }
  plan.event = PlannedEvent{
      .message = absl::StrCat("(service ", service,
                              ") was unable to place a task because no container instance met all "
                              "of its requirements. The closest matching (container-instance ",
                              instance_id, ") ", why,
                              ". For more information, see the Troubleshooting section of the "
                              "Amazon ECS Developer Guide.")};
  return plan;
}

std::string StartedTasksEvent(const std::string& service, const std::vector<std::string>& ids) {
  return absl::StrCat("(service ", service, ") has started ", ids.size(), " tasks: ",
                      TaskList(ids), ".");
}

absl::string_view PlacementFailure::Reason() const {
  switch (kind) {
    case Kind::kCpu:
      return "RESOURCE:CPU";
    case Kind::kMemory:
      return "RESOURCE:MEMORY";
    case Kind::kPorts:
      return "RESOURCE:PORTS";
    case Kind::kPortsUdp:
      return "RESOURCE:PORTS_UDP";
  }
  return "RESOURCE:UNKNOWN";
}

}  // namespace skiff::scheduler
