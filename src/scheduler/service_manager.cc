// The control loop of ServiceManager: task changes and timers in, reconcile passes out. The API
// side (request checks, Create/Update/Delete/Describe/List) is in service_queries.cc.
#include "skiff/scheduler/service_manager.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <random>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "skiff/base/crash_point.h"
#include "skiff/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {
namespace {

constexpr int kMaxEvents = 100;
// An event is not repeated sooner than this.
constexpr absl::Duration kRepeatAfter = absl::Minutes(15);
constexpr absl::string_view kSteadyState = "has reached a steady state.";

std::string RandomDigits(int n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string out;
  for (int i = 0; i < n; ++i) out += static_cast<char>('0' + rng() % 10);
  return out;
}

std::string NewEventId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", a >> 32, (a >> 16) & 0xffff, a & 0xffff,
                         b >> 48, b & 0xffffffffffffULL);
}

// "(task a) (task b)", as ECS lists tasks in its events.
std::string TaskList(const std::vector<std::string>& ids) {
  std::vector<std::string> parts;
  for (const std::string& id : ids) parts.push_back(absl::StrCat("(task ", id, ")"));
  return absl::StrJoin(parts, " ");
}

// The per-deployment counts of one pass.
struct Count {
  int running = 0;  // Desired RUNNING and RUNNING.
  int healthy = 0;  // Of those, the ones that count towards the floor (ready, see Reconcile).
  int serving = 0;  // Of those, the ones that pass their health checks (or have none).
  int pending = 0;  // Desired RUNNING, not yet RUNNING.
  int live = 0;     // Not STOPPED yet, whatever is desired (stopping tasks included).
  int active() const { return running + pending; }
};

// Sets *field to value, noting whether anything changed.
template <typename Message, typename Value>
void Set(Message* message, bool (Message::*has)() const, Value (Message::*get)() const,
         void (Message::*set)(Value), Value value, bool* changed) {
  if ((message->*has)() && (message->*get)() == value) return;
  (message->*set)(value);
  *changed = true;
}

void SetCounts(v1::Deployment* d, int desired, const Count& c, double now, bool* changed) {
  bool mine = false;
  Set(d, &v1::Deployment::has_desired_count, &v1::Deployment::desired_count,
      &v1::Deployment::set_desired_count, desired, &mine);
  Set(d, &v1::Deployment::has_running_count, &v1::Deployment::running_count,
      &v1::Deployment::set_running_count, c.running, &mine);
  Set(d, &v1::Deployment::has_pending_count, &v1::Deployment::pending_count,
      &v1::Deployment::set_pending_count, c.pending, &mine);
  if (mine) {
    d->set_updated_at(now);
    *changed = true;
  }
}

}  // namespace

ServiceManager::ServiceManager(EventLoop* loop, TaskManager* tasks, TaskDefinitionRegistry* registry,
                               store::Store* store, const Clock* clock, model::ArnScope scope,
                               ServiceManagerOptions options)
    : loop_(loop),
      tasks_(tasks),
      registry_(registry),
      store_(store),
      clock_(clock),
      scope_(std::move(scope)),
      options_(std::move(options)) {}

double ServiceManager::Now() const {
  return absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch());
}

absl::Status ServiceManager::Load() {
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::StoredService> stored, store_->LoadServices());
  for (store::StoredService& record : stored) {
    const Key key{record.cluster, record.service.service_name()};
    ServiceState& state = services_[key];
    state.record = std::move(record);
    const v1::Service& s = state.record.service;
    // Said before the restart; not said again for the same state.
    state.steady = s.events_size() > 0 && absl::EndsWith(s.events(0).message(), kSteadyState);
    if (state.record.last_completed_task_definition.empty()) {
      // A row from before schema version 5: its completed deployment, if it still has one.
      for (const v1::Deployment& d : s.deployments()) {
        if (d.rollout_state() == "COMPLETED") {
          state.record.last_completed_task_definition = d.task_definition();
        }
      }
    }
    if (s.status() == "INACTIVE") ScheduleRemoval(key);
  }
  tasks_->ForEachTask([this](const store::StoredTask& task) { OnTaskChanged(task); });
  tasks_->AddListener([this](const store::StoredTask& task) { OnTaskChanged(task); });
  spdlog::info("loaded {} services from the store", services_.size());
  MarkAllDirty();
  return absl::OkStatus();
}

ServiceManager::ServiceState* ServiceManager::Find(const Key& key) {
  auto it = services_.find(key);
  return it == services_.end() ? nullptr : &it->second;
}

void ServiceManager::Save(ServiceState& state) {
  absl::Status saved = store_->PutService(state.record);
  if (!saved.ok()) {
    spdlog::error("store: service {}/{}: {}", state.record.cluster,
                  state.record.service.service_name(), saved.ToString());
  }
  for (const ServiceListener& listener : listeners_) listener(state.record);
}

bool ServiceManager::AddEvent(ServiceState& state, const std::string& message, bool repeat) {
  v1::Service& s = state.record.service;
  // The same news again within a while is noise (a service that stays unplaceable, a crash loop).
  const double since = Now() - absl::ToDoubleSeconds(kRepeatAfter);
  for (const v1::ServiceEvent& e : s.events()) {
    if (repeat || e.created_at() < since) break;
    if (e.message() == message) return false;
  }
  v1::ServiceEvent event;
  event.set_id(NewEventId());
  event.set_created_at(Now());
  event.set_message(message);
  // Newest first, as ECS returns them.
  auto* events = s.mutable_events();
  events->Add(std::move(event));
  for (int i = events->size() - 1; i > 0; --i) events->SwapElements(i, i - 1);
  while (events->size() > kMaxEvents) events->RemoveLast();
  return true;
}

v1::Deployment ServiceManager::NewDeployment(const std::string& task_definition_arn,
                                             int desired) const {
  v1::Deployment d;
  d.set_id(absl::StrCat("ecs-svc/", RandomDigits(19)));
  d.set_status("PRIMARY");
  d.set_task_definition(task_definition_arn);
  d.set_desired_count(desired);
  d.set_pending_count(0);
  d.set_running_count(0);
  d.set_failed_tasks(0);
  d.set_created_at(Now());
  d.set_updated_at(Now());
  d.set_launch_type("EC2");
  d.set_rollout_state("IN_PROGRESS");
  d.set_rollout_state_reason(absl::StrCat("ECS deployment ", d.id(), " in progress."));
  return d;
}

void ServiceManager::OnTaskChanged(const store::StoredTask& record) {
  const v1::Task& task = record.task;
  const bool stopped = task.last_status() == "STOPPED";
  if (stopped) {
    // Resources came free: services that could not place a task try again.
    for (const Key& key : waiting_for_capacity_) MarkDirty(key);
    waiting_for_capacity_.clear();
  }
  if (record.service.empty()) return;
  const Key key{record.cluster, record.service};
  ServiceState* state = Find(key);
  if (state == nullptr) return;  // The service was removed; its tasks finish on their own.
  auto it = state->tasks.find(record.id);
  if (it == state->tasks.end()) {
    if (stopped) return;  // Nothing to count.
    it = state->tasks.emplace(record.id, TaskView{.health_checked = tasks_->HealthChecked(record.id)})
             .first;
    service_of_task_[record.id] = key;
  }
  TaskView& view = it->second;
  const bool status_changed = view.last_status != task.last_status() ||
                              view.desired_status != task.desired_status() ||
                              view.health_status != task.health_status();
  const bool became_running = task.last_status() == "RUNNING" && view.started_at == 0;
  view.deployment_id = task.started_by();
  view.last_status = task.last_status();
  view.desired_status = task.desired_status();
  view.health_status = task.health_status();
  view.created_at = task.created_at();
  if (task.has_started_at()) view.started_at = task.started_at();

  if (became_running && task.desired_status() == "RUNNING") {
    // A task that keeps running this long clears the back-off.
    const std::string id = record.id;
    loop_->PostAfter(options_.min_healthy_runtime, [this, key, id] {
      ServiceState* state = Find(key);
      if (state == nullptr || state->record.launch_failures == 0) return;
      auto it = state->tasks.find(id);
      if (it == state->tasks.end() || it->second.last_status != "RUNNING" ||
          it->second.desired_status != "RUNNING") {
        return;
      }
      state->record.launch_failures = 0;
      state->record.next_launch_at = 0;
      Save(*state);
    });
  }
  if (task.desired_status() == "STOPPED" && !view.failure_counted) {
    view.failure_counted = true;  // Judged once, when the stop is decided.
    const std::string& code = task.stop_code();
    const bool ran_long = view.started_at > 0 &&
                          Now() - view.started_at >= absl::ToDoubleSeconds(options_.min_healthy_runtime);
    if (code == "TaskFailedToStart" || (code == "EssentialContainerExited" && !ran_long)) {
      RecordFailure(*state, view);
    } else if (code == "EssentialContainerExited" && InProgress(*state, view.deployment_id)) {
      // A crash after a good start fails the rollout as much as a failed launch does; once the
      // deployment has completed, a crash is only replaced.
      CountFailedTask(*state, view.deployment_id);
      Save(*state);
    }
  }
  if (stopped) {
    state->tasks.erase(it);
    service_of_task_.erase(record.id);
  }
  if (status_changed || stopped) MarkDirty(key);
}

void ServiceManager::RecordFailure(ServiceState& state, TaskView& task) {
  store::StoredService& r = state.record;
  ++r.launch_failures;
  // The first failure retries at once; then base, 2 x base, ... up to the cap.
  absl::Duration delay = absl::ZeroDuration();
  if (r.launch_failures > 1) {
    delay = options_.backoff_base;
    for (int i = 2; i < r.launch_failures && delay < options_.backoff_cap; ++i) delay *= 2;
    delay = std::min(delay, options_.backoff_cap);
  }
  r.next_launch_at = Now() + absl::ToDoubleSeconds(delay);
  CountFailedTask(state, task.deployment_id);
  const std::string& name = r.service.service_name();
  if (r.launch_failures >= options_.unstable_after) {
    AddEvent(state, absl::StrCat("(service ", name,
                                 ") is unable to consistently start tasks successfully. For more "
                                 "information, see the Troubleshooting section of the Amazon ECS "
                                 "Developer Guide."));
  }
  Save(state);
}

bool ServiceManager::InProgress(const ServiceState& state, const std::string& deployment_id) {
  for (const v1::Deployment& d : state.record.service.deployments()) {
    if (d.id() == deployment_id) return d.rollout_state() == "IN_PROGRESS";
  }
  return false;
}

void ServiceManager::CountFailedTask(ServiceState& state, const std::string& deployment_id) {
  for (v1::Deployment& d : *state.record.service.mutable_deployments()) {
    if (d.id() == deployment_id) {
      d.set_failed_tasks(d.failed_tasks() + 1);
      d.set_updated_at(Now());
    }
  }
}

void ServiceManager::FailDeployment(ServiceState& state, const std::string& why) {
  store::StoredService& r = state.record;
  v1::Service& s = r.service;
  v1::Deployment* failed = s.mutable_deployments(0);
  const std::string& name = s.service_name();
  failed->set_rollout_state("FAILED");
  failed->set_rollout_state_reason(absl::StrCat("ECS deployment ", why));
  failed->set_updated_at(Now());
  AddEvent(state, absl::StrCat("(service ", name, ") (deployment ", failed->id(),
                               ") deployment failed: ", why),
           /*repeat=*/true);
  const std::string& target = r.last_completed_task_definition;
  if (!s.deployment_configuration().deployment_circuit_breaker().rollback() || target.empty() ||
      target == failed->task_definition()) {
    RecordDeploymentFailed(state, failed->id(), why, /*rolling_back=*/false);
    return;  // Nothing launches for it any more; the older tasks keep serving.
  }
  RecordDeploymentFailed(state, failed->id(), why, /*rolling_back=*/true);
  failed->set_status("ACTIVE");
  v1::Deployment rollback = NewDeployment(target, s.desired_count());
  rollback.set_rollout_state_reason(absl::StrCat("ECS deployment ", rollback.id(),
                                                 " in progress: rolling back from ",
                                                 failed->id(), "."));
  const std::string failed_id = failed->id();
  s.mutable_deployments()->Add(std::move(rollback));
  for (int i = s.deployments_size() - 1; i > 0; --i) s.mutable_deployments()->SwapElements(i, i - 1);
  s.set_task_definition(target);
  // The new deployment starts afresh, as one the user asked for does.
  r.launch_failures = 0;
  r.next_launch_at = 0;
  RecordDeploymentStart(state, failed_id);
  AddEvent(state, absl::StrCat("(service ", name, ") (deployment ", s.deployments(0).id(),
                               ") rolling back to ", target.substr(target.rfind('/') + 1),
                               ", the task definition of the last deployment that completed, "
                               "after deployment ", failed_id, " failed."),
           /*repeat=*/true);
}

void ServiceManager::MarkDirty(const Key& key) {
  dirty_.insert(key);
  if (pass_posted_) return;
  pass_posted_ = true;
  loop_->Post([this] {
    pass_posted_ = false;
    ReconcileNow();
  });
}

void ServiceManager::MarkAllDirty() {
  for (const auto& [key, state] : services_) MarkDirty(key);
}

int ServiceManager::ReconcileNow() {
  // Changes made by this pass (tasks started or stopped) mark services dirty again; they run in
  // the next pass, which finds nothing more to do once desired and observed agree.
  std::set<Key> dirty;
  dirty.swap(dirty_);
  for (const Key& key : dirty) Reconcile(key);
  return static_cast<int>(dirty.size());
}

void ServiceManager::ScheduleAt(const Key& key, absl::Time when) {
  ServiceState* state = Find(key);
  if (state == nullptr) return;
  // A timer that fires no later will re-plan (at worst it comes early). One that fires later
  // must not hold this wake-up back: a short back-off behind a 30 s placement retry.
  if (state->wake_at <= when) return;
  state->wake_at = when;
  loop_->PostAfter(std::max(absl::ZeroDuration(), when - clock_->Now()), [this, key, when] {
    if (ServiceState* state = Find(key); state != nullptr) {
      // A later timer overtaken by this one still fires; it only marks the service dirty.
      if (state->wake_at == when) state->wake_at = absl::InfiniteFuture();
      MarkDirty(key);
    }
  });
}

void ServiceManager::Reconcile(const Key& key) {
  ServiceState* state = Find(key);
  if (state == nullptr) return;
  store::StoredService& r = state->record;
  v1::Service& s = r.service;
  if (!Live(s) || s.deployments_size() == 0) return;
  const double now = Now();
  const std::string& name = s.service_name();
  bool changed = false;

  std::map<std::string, Count> counts;
  // Tasks of the primary deployment that failed their health checks, once the grace period
  // after their start is over, are replaced.
  const std::string primary_id = s.deployments(0).id();
  const double grace = s.health_check_grace_period_seconds();
  std::vector<std::string> unhealthy;
  int unhealthy_in_grace = 0;  // Of the primary deployment: failing, but not acted on yet.
  // Healthy, and past the first moments in which a broken revision dies (a task with health
  // checks has proven itself by passing one). Only then does a task count towards the floor,
  // so that old tasks are never drained against new ones that are about to exit.
  const double ready_after = absl::ToDoubleSeconds(options_.ready_after);
  auto ready = [&](const TaskView& t) {
    if (!t.Healthy()) return false;
    if (t.health_checked || now >= t.started_at + ready_after) return true;
    ScheduleAt(key, absl::UnixEpoch() + absl::Seconds(t.started_at + ready_after));
    return false;
  };
  for (const auto& [id, t] : state->tasks) {
    Count& c = counts[t.deployment_id];
    ++c.live;
    if (t.desired_status != "RUNNING") continue;
    if (t.last_status != "RUNNING") {
      ++c.pending;
      continue;
    }
    ++c.running;
    if (t.Healthy()) ++c.serving;
    if (ready(t)) ++c.healthy;
    if (t.health_status != "UNHEALTHY" || t.deployment_id != primary_id) continue;
    if (now < t.started_at + grace) {
      ++unhealthy_in_grace;
      ScheduleAt(key, absl::UnixEpoch() + absl::Seconds(t.started_at + grace));
    } else {
      unhealthy.push_back(id);
    }
  }
  const int desired = s.status() == "ACTIVE" ? s.desired_count() : 0;
  const v1::DeploymentConfiguration& config = s.deployment_configuration();
  const int max_percent = config.has_maximum_percent() ? config.maximum_percent() : 200;
  const int min_percent = config.has_minimum_healthy_percent() ? config.minimum_healthy_percent()
                                                                : 100;
  const int ceiling = desired * max_percent / 100;               // Rounded down, as ECS.
  const int floor = (desired * min_percent + 99) / 100;          // Rounded up, as ECS.
  int total_active = 0, total_running = 0, total_healthy = 0, total_pending = 0;
  for (const auto& [id, c] : counts) {
    total_active += c.active();
    total_running += c.running;
    total_healthy += c.healthy;
    total_pending += c.pending;
  }
  // 0. The circuit breaker and the progress deadline.
  if (s.deployments(0).rollout_state() == "IN_PROGRESS" && s.status() == "ACTIVE") {
    const v1::Deployment& d = s.deployments(0);
    const int threshold = std::max(3, std::min(200, (s.desired_count() + 1) / 2));
    const absl::Duration deadline = options_.progress_deadline;
    if (config.deployment_circuit_breaker().enable() && d.failed_tasks() >= threshold) {
      FailDeployment(*state, absl::StrCat("circuit breaker: tasks failed to start or keep running (",
                                          d.failed_tasks(), " failed; the threshold is ", threshold,
                                          ")."));
      changed = true;
    } else if (deadline > absl::ZeroDuration() &&
               now >= d.created_at() + absl::ToDoubleSeconds(deadline)) {
      FailDeployment(*state, absl::StrCat("progress deadline: the deployment did not complete "
                                          "within the progress deadline of ",
                                          absl::FormatDuration(deadline), "."));
      changed = true;
    } else if (deadline > absl::ZeroDuration()) {
      ScheduleAt(key, absl::UnixEpoch() + absl::Seconds(d.created_at()) + deadline);
    }
  }
  v1::Deployment* primary = s.mutable_deployments(0);
  Count& mine = counts[primary->id()];
  const bool draining_old = s.deployments_size() > 1;
  // A failed deployment without rollback launches nothing more and drains nothing: what runs of
  // the older deployments keeps serving until the next update.
  const bool halted = primary->rollout_state() == "FAILED";
  // Not replaced: nothing of a failed revision launches, and after a rollback its tasks drain.
  if (halted || primary->id() != primary_id) unhealthy.clear();

  // Pick what to stop first: tasks not running yet, then those not healthy, then the newest.
  auto stop_order = [&](const std::string& deployment) {
    std::vector<std::pair<std::tuple<int, int, double>, std::string>> candidates;
    for (const auto& [id, t] : state->tasks) {
      if (t.deployment_id != deployment || t.desired_status != "RUNNING") continue;
      if (absl::c_linear_search(unhealthy, id)) continue;  // Replaced below.
      candidates.push_back({{t.last_status == "RUNNING" ? 1 : 0, t.Healthy() ? 1 : 0,
                             -t.created_at},
                            id});
    }
    std::sort(candidates.begin(), candidates.end());
    return candidates;
  };
  std::vector<std::string> stopped_running;
  auto stop = [&](const std::string& id, bool running, const std::string& deployment) {
    if (running) stopped_running.push_back(id);
    tasks_->StopTask(id, absl::StrCat("Scaling activity initiated by (deployment ", deployment,
                                      ")"));
  };

  // 1. The primary deployment towards the desired count; an unhealthy task counts as gone.
  const int replacing = static_cast<int>(unhealthy.size());
  const int need = desired - (mine.active() - replacing);
  int started_now = 0;
  if (need > 0 && !halted) {
    const bool capped = draining_old || replacing > 0;
    const int room = capped ? std::min(need, std::max(0, ceiling - total_active)) : need;
    if (room > 0 && now < r.next_launch_at) {
      ScheduleAt(key, absl::UnixEpoch() + absl::Seconds(r.next_launch_at));
    } else if (room > 0) {
      std::vector<std::string> started;
      for (int i = 0; i < room; ++i) {
        absl::StatusOr<v1::Task> task = tasks_->StartTask(
            {.cluster = r.cluster,
             .service = name,
             .task_definition = primary->task_definition(),
             .started_by = primary->id(),
             .tags = s.propagate_tags() == "SERVICE"
                         ? std::vector<v1::Tag>(s.tags().begin(), s.tags().end())
                         : std::vector<v1::Tag>{},
             .enable_execute_command = s.enable_execute_command()});
        if (task.ok()) {
          started.push_back(task->task_arn().substr(task->task_arn().rfind('/') + 1));
          continue;
        }
        if (task.status().code() == absl::StatusCode::kUnavailable) {
          // Not the service's fault and not a failed launch: every service is looked at again
          // when the runtime is back (MarkAllDirty).
          break;
        }
        if (task.status().code() == absl::StatusCode::kResourceExhausted) {
          waiting_for_capacity_.insert(key);
          const absl::string_view reason = task.status().message();
          const std::string why =
              absl::StartsWith(reason, "RESOURCE:PORTS")
                  ? "is already using a port required by your task"
                  : absl::StrCat("has insufficient ",
                                 reason == "RESOURCE:CPU" ? "CPU units" : "memory", " available");
          changed |= AddEvent(
              *state,
              absl::StrCat("(service ", name,
                           ") was unable to place a task because no container instance met all "
                           "of its requirements. The closest matching (container-instance ",
                           scope_.instance_id, ") ", why,
                           ". For more information, see the Troubleshooting section "
                           "of the Amazon ECS Developer Guide."));
          ScheduleAt(key, clock_->Now() + options_.placement_retry);
        } else {
          spdlog::warn("service {}/{}: cannot start a task: {}", r.cluster, name,
                       task.status().ToString());
          changed |= AddEvent(*state, absl::StrCat("(service ", name, ") failed to launch a task: ",
                                                   task.status().message()));
          ScheduleAt(key, clock_->Now() + options_.placement_retry);
        }
        break;
      }
      if (!started.empty()) {
        changed |= AddEvent(*state, absl::StrCat("(service ", name, ") has started ",
                                                 started.size(), " tasks: ", TaskList(started),
                                                 "."));
        started_now = static_cast<int>(started.size());
        mine.pending += started_now;
        total_pending += started_now;
        total_active += started_now;
      }
    }
  } else if (need < 0) {
    int excess = -need;
    for (const auto& [rank, id] : stop_order(primary->id())) {
      if (excess-- == 0) break;
      const bool running = std::get<0>(rank) == 1;
      stop(id, running, primary->id());
      (running ? mine.running : mine.pending)--;
      (running ? total_running : total_pending)--;
      if (running && std::get<1>(rank) == 1) --mine.healthy, --mine.serving;
    }
  }

  // An unhealthy task stops once a replacement has a verdict in its place (healthy, or failing
  // too: then keeping both helps nothing), or at once when the ceiling leaves no room to start
  // the replacement first.
  const int decided = mine.healthy + unhealthy_in_grace;
  int stop_unhealthy = std::min(replacing, std::max(0, decided + replacing - desired));
  const bool replacements_blocked = need > started_now && total_active >= ceiling &&
                                    now >= r.next_launch_at;
  if (replacements_blocked) stop_unhealthy = std::max(stop_unhealthy, std::min(replacing, need - started_now));
  for (int i = 0; i < stop_unhealthy; ++i) {
    const std::string& id = unhealthy[i];
    stopped_running.push_back(id);
    tasks_->StopTask(id, "Task failed container health checks");
    changed |= AddEvent(*state, absl::StrCat("(service ", name, ") (task ", id,
                                             ") failed container health checks."),
                        /*repeat=*/true);
    CountFailedTask(*state, primary->id());
    --mine.running;
    --total_running;
  }

  if (draining_old && total_pending > 0) CrashPoint("rolling-update");
  // 2. Older deployments drain while the healthy floor holds: a task that is not healthy may
  // always go, a healthy one only while enough others stay healthy.
  // Behind a failed deployment (without rollback) only tasks beyond the desired count go (a
  // scale-down, a delete): the rest keep serving.
  int may_stop_healthy = std::max(0, total_healthy - floor);
  int may_stop = halted ? std::max(0, total_running + total_pending - desired) : INT_MAX;
  for (int d = 1; d < s.deployments_size(); ++d) {
    const std::string deployment = s.deployments(d).id();
    Count& c = counts[deployment];
    for (const auto& [rank, id] : stop_order(deployment)) {
      const bool running = std::get<0>(rank) == 1;
      const bool healthy = running && std::get<1>(rank) == 1;
      if (may_stop == 0 || (healthy && may_stop_healthy == 0)) break;  // The rest are healthy too.
      if (healthy) --may_stop_healthy;
      --may_stop;
      stop(id, running, deployment);
      (running ? c.running : c.pending)--;
      (running ? total_running : total_pending)--;
    }
  }
  if (!stopped_running.empty()) {
    changed |= AddEvent(*state, absl::StrCat("(service ", name, ") has stopped ",
                                             stopped_running.size(),
                                             " running tasks: ", TaskList(stopped_running), "."));
  }
  // A drained deployment (nothing of it left, stopping tasks included) is done.
  for (int d = s.deployments_size() - 1; d >= 1; --d) {
    if (counts[s.deployments(d).id()].live == 0) {
      s.mutable_deployments()->DeleteSubrange(d, 1);
      changed = true;
    }
  }
  primary = s.mutable_deployments(0);

  // 3. What the service reports.
  SetCounts(primary, desired, mine, now, &changed);
  for (int d = 1; d < s.deployments_size(); ++d) {
    const Count& c = counts[s.deployments(d).id()];
    SetCounts(s.mutable_deployments(d), c.active(), c, now, &changed);
  }
  Set(&s, &v1::Service::has_running_count, &v1::Service::running_count,
      &v1::Service::set_running_count, total_running, &changed);
  Set(&s, &v1::Service::has_pending_count, &v1::Service::pending_count,
      &v1::Service::set_pending_count, total_pending, &changed);

  // Complete once nothing of the older deployments is left and every task serves: the readiness
  // window is for draining against new tasks, not for a verdict the waiter has already given.
  const bool steady = s.deployments_size() == 1 && mine.running == desired &&
                      mine.serving == desired && mine.pending == 0 &&
                      counts[primary->id()].live == desired;
  if (steady && primary->rollout_state() == "IN_PROGRESS") {
    primary->set_rollout_state("COMPLETED");
    r.last_completed_task_definition = primary->task_definition();
    RecordDeploymentCompleted(*state, primary->id());
    primary->set_rollout_state_reason(absl::StrCat("ECS deployment ", primary->id(),
                                                   " completed."));
    primary->set_updated_at(now);
    if (s.status() == "ACTIVE") {
      AddEvent(*state, absl::StrCat("(service ", name, ") (deployment ", primary->id(),
                                    ") deployment completed."));
    }
    changed = true;
  }
  if (steady && !state->steady && s.status() == "ACTIVE") {
    // Said each time the service comes back to a steady state.
    changed |= AddEvent(*state, absl::StrCat("(service ", name, ") ", kSteadyState),
                        /*repeat=*/true);
  }
  state->steady = steady;

  // 4. A deleted service is gone once its last task has stopped.
  if (s.status() == "DRAINING" && state->tasks.empty()) {
    s.set_status("INACTIVE");
    changed = true;
    ScheduleRemoval(key);
  }
  if (changed) Save(*state);
}

void ServiceManager::ScheduleRemoval(const Key& key) {
  loop_->PostAfter(options_.retention, [this, key] { Remove(key); });
}

void ServiceManager::Remove(const Key& key) {
  ServiceState* state = Find(key);
  // A service created again under the same name is not the one that was deleted.
  if (state == nullptr || state->record.service.status() != "INACTIVE") return;
  absl::Status deleted = store_->DeleteService(key.first, key.second);
  if (!deleted.ok()) spdlog::error("store: delete service {}/{}: {}", key.first, key.second,
                                   deleted.ToString());
  services_.erase(key);
}

}  // namespace skiff::scheduler
