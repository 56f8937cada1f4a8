// The control loop of ServiceManager: task changes and timers in, reconcile passes out. The API
// side (request checks, Create/Update/Delete/Describe/List) is in service_queries.cc.
#include "skiff/scheduler/service_manager.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "skiff/base/crash_point.h"
#include "skiff/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace skiff::scheduler {
namespace {

constexpr int kMaxEvents = 100;
// An event is not repeated sooner than this.
constexpr absl::Duration kRepeatAfter = absl::Minutes(15);
constexpr absl::string_view kSteadyState = "has reached a steady state.";

double Seconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }
absl::Time FromSeconds(double seconds) { return absl::UnixEpoch() + absl::Seconds(seconds); }

}  // namespace

ServiceManager::ServiceManager(EventLoop* loop, TaskLauncher* tasks,
                               TaskDefinitionRegistry* registry, const ClusterResolver* clusters,
                               store::Store* store, const Clock* clock, RandomSource* random,
                               model::ArnScope scope, ServiceManagerOptions options)
    : loop_(loop),
      tasks_(tasks),
      registry_(registry),
      clusters_(clusters),
      store_(store),
      clock_(clock),
      random_(random),
      scope_(std::move(scope)),
      options_(std::move(options)),
      targets_(options_.targets),
      endpoints_(options_.endpoints),
      connect_(options_.endpoints != nullptr ? options_.connect : nullptr),
      planner_(options_.planner, random) {}

double ServiceManager::Now() const {
  return absl::ToDoubleSeconds(clock_->Now() - absl::UnixEpoch());
}

absl::Status ServiceManager::Load() {
  SKIFF_DCHECK_ON_LOOP(loop_);
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
        if (ParseRolloutState(d.rollout_state()) == RolloutState::kCompleted) {
          state.record.last_completed_task_definition = d.task_definition();
        }
      }
    }
    if (ParseServiceStatus(s.status()) == ServiceStatus::kInactive) ScheduleRemoval(key);
    if (ParseServiceStatus(s.status()) == ServiceStatus::kActive) LoadServiceConnect(key, state);
  }
  tasks_->ForEachTask([this](const store::StoredTask& task) { OnTaskChanged(task); });
  tasks_->AddListener([this](const store::StoredTask& task) { OnTaskChanged(task); });
  // What the runtime ran while the stream was away is known now: act on it at once.
  tasks_->AddResyncListener([this] { ReconcileNow(); });
  if (targets_ != nullptr) {
    targets_->AddHealthListener([this, alive = std::weak_ptr<bool>(alive_)](const std::string& id) {
      if (!alive.expired()) OnTargetsHealthChanged(id);
    });
  }
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
  event.set_id(RandomUuid(*random_));
  event.set_created_at(Now());
  event.set_message(message);
  // Newest first, as ECS returns them.
  auto* events = s.mutable_events();
  events->Add(std::move(event));
  for (int i = events->size() - 1; i > 0; --i) events->SwapElements(i, i - 1);
  while (events->size() > kMaxEvents) events->RemoveLast();
  return true;
}

DeploymentId ServiceManager::InternDeploymentId(ServiceState& state, const std::string& id) {
  for (const DeploymentId& known : state.deployment_ids) {
    if (known == id) return known;
  }
  // Ids that no view holds any more (their tasks have stopped) go.
  std::erase_if(state.deployment_ids, [](const DeploymentId& d) { return d.holders() == 1; });
  return state.deployment_ids.emplace_back(id);
}

bool ServiceManager::UpdateView(ServiceState& state, TaskView& view, const v1::Task& task) {
  const TaskStage stage = ParseTaskStage(task.last_status()).value_or(view.stage);
  const DesiredStatus desired = ParseDesiredStatus(task.desired_status());
  const HealthStatus health = ParseHealthStatus(task.health_status());
  const bool changed = view.stage != stage || view.desired != desired || view.health != health;
  if (view.deployment_id != task.started_by()) {
    view.deployment_id = InternDeploymentId(state, task.started_by());
  }
  view.stage = stage;
  view.desired = desired;
  view.health = health;
  view.created_at = FromSeconds(task.created_at());
  if (task.has_started_at()) view.started_at = FromSeconds(task.started_at());
  return changed;
}

void ServiceManager::OnTaskChanged(const store::StoredTask& record) {
  const v1::Task& task = record.task;
  const bool stopped = ParseTaskStage(task.last_status()) == TaskStage::kStopped;
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
    TaskView fresh{.health_checked = tasks_->HealthChecked(record.id)};
    if (LoadBalanced(state->record.service)) FollowTargets(key, *state, record, fresh);
    it = state->tasks.emplace(record.id, std::move(fresh)).first;
  }
  TaskView& view = it->second;
  const bool was_started = view.started_at != absl::InfinitePast();
  bool changed = UpdateView(*state, view, task);
  if (view.scale_in_protected_until_ms != record.protected_until_ms) {
    view.scale_in_protected_until_ms = record.protected_until_ms;
    changed = true;  // A scale-in that waited for it may go on.
  }
  if (RecordContainerImages(*state, record)) Save(*state);
  if (view.load_balanced) changed |= TrackTargets(*state, view, record);
  if (endpoints_ != nullptr) changed |= TrackEndpoint(*state, view, record);
  if (!was_started && view.running() && view.desired == DesiredStatus::kRunning) {
    loop_->PostAfter(options_.planner.min_healthy_runtime,
                     [this, key, id = record.id] { ClearBackoffIfStillRunning(key, id); });
  }
  if (view.desired == DesiredStatus::kStopped && !view.failure_counted) {
    JudgeStop(key, *state, view, task);
  }
  if (stopped) {
    if (view.load_balanced) ForgetTargets(*state, record.id);
    if (state->discovery != nullptr) state->discovery->addressed.erase(record.id);
    state->tasks.erase(it);
  }
  if (changed || stopped) MarkDirty(key);
}

void ServiceManager::ClearBackoffIfStillRunning(const Key& key, const std::string& task_id) {
  ServiceState* state = Find(key);
  if (state == nullptr || state->record.launch_failures == 0) return;
  auto it = state->tasks.find(task_id);
  if (it == state->tasks.end() || !it->second.running() ||
      it->second.desired != DesiredStatus::kRunning) {
    return;
  }
  state->record.launch_failures = 0;
  state->record.next_launch_at = 0;
  Save(*state);
}

void ServiceManager::JudgeStop(const Key& key, ServiceState& state, TaskView& view,
                               const v1::Task& task) {
  view.failure_counted = true;  // Judged once, when the stop is decided.
  const absl::Time now = clock_->Now();
  const StopVerdict verdict =
      planner_.JudgeStop(state.record, view, ParseStopCode(task.stop_code()), now);
  store::StoredService& r = state.record;
  if (verdict.launch_failure) {
    ++r.launch_failures;
    r.next_launch_at = Seconds(planner_.NextLaunchAt(r.launch_failures, now));
    CountFailedTask(state, view.deployment_id);
    if (auto event = planner_.UnstableEvent(key.second, r.launch_failures)) AddEvent(state, *event);
    Save(state);
  } else if (verdict.breaker_failure) {
    CountFailedTask(state, view.deployment_id);
    Save(state);
  }
}

void ServiceManager::CountFailedTask(ServiceState& state, const std::string& deployment_id) {
  for (v1::Deployment& d : *state.record.service.mutable_deployments()) {
    if (d.id() == deployment_id) {
      d.set_failed_tasks(d.failed_tasks() + 1);
      d.set_updated_at(Now());
    }
  }
}

void ServiceManager::MarkDirty(const Key& key) {
  dirty_.insert(key);
  PostPass();
}

void ServiceManager::PostPass() {
  if (pass_posted_) return;
  pass_posted_ = true;
  loop_->Post([this] {
    pass_posted_ = false;
    ReconcileNow();
  });
}

void ServiceManager::ForEachService(const std::function<void(const v1::Service&)>& fn) const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  for (const auto& [key, state] : services_) {
    if (Live(state.record.service)) fn(state.record.service);
  }
}

void ServiceManager::ForEachTaskDefinitionInUse(
    const std::function<void(const std::string&)>& fn) const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  for (const auto& [key, state] : services_) {
    const v1::Service& s = state.record.service;
    if (!Live(s)) continue;
    fn(s.task_definition());
    for (const v1::Deployment& d : s.deployments()) fn(d.task_definition());
    const std::string& rollback = state.record.last_completed_task_definition;
    if (!rollback.empty()) fn(rollback);
  }
}

void ServiceManager::MarkAllDirty() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  if (services_.empty()) return;
  // In key order, as dirty_ is: into an empty set (as between passes) each key goes in at the
  // end without a search.
  for (const auto& [key, state] : services_) dirty_.insert(dirty_.end(), key);
  PostPass();
}

int ServiceManager::ReconcileNow() {
  SKIFF_DCHECK_ON_LOOP(loop_);
  // Changes made by this pass (tasks started or stopped) mark services dirty again; they run in
  // the next pass, which finds nothing more to do once desired and observed agree.
  std::set<Key> dirty;
  dirty.swap(dirty_);
  const absl::Time start = clock_->MonotonicNow();
  for (const Key& key : dirty) Reconcile(key);
  if (!dirty.empty() && options_.pass_observer) {
    options_.pass_observer(clock_->MonotonicNow() - start);
  }
  return static_cast<int>(dirty.size());
}

void ServiceManager::ScheduleAt(const Key& key, absl::Time when) {
  ServiceState* state = Find(key);
  if (state == nullptr) return;
  if (state->wake == nullptr) state->wake = loop_->CreateTimer([this, key] { MarkDirty(key); });
  // The earliest wake-up wins: a short back-off is not held back by a 30 s placement retry.
  state->wake->EnableWithin(std::max(absl::ZeroDuration(), when - clock_->Now()));
}

void ServiceManager::Reconcile(const Key& key) {
  ServiceState* state = Find(key);
  if (state == nullptr || !Live(state->record.service)) return;
  const Balancing* balancing = state->balancing.get();
  static const std::map<std::string, Endpoint> kNoneAddressed;
  const std::map<std::string, Endpoint>* addressed = nullptr;
  if (endpoints_ != nullptr) {
    addressed = state->discovery != nullptr ? &state->discovery->addressed : &kNoneAddressed;
  }
  ServicePlan plan = planner_.Plan({.record = state->record,
                                    .tasks = state->tasks,
                                    .failing_target_groups =
                                        balancing != nullptr ? &balancing->failing_groups : nullptr,
                                    .steady_said = state->steady,
                                    .now = clock_->Now(),
                                    .addressed = addressed});
  // Record first: a launch that fails at once reports its failure against the deployments as
  // the plan leaves them (a rollback's new one included).
  bool changed = ApplyRecordChanges(*state, plan);
  for (size_t i = 0; i < plan.launch_events_at; ++i) changed |= AddEvent(*state, plan.events[i]);
  ApplyStops(plan, TaskStop::Cause::kScaleIn);
  changed |= ApplyLaunch(key, *state, plan);
  for (size_t i = plan.launch_events_at; i < plan.events.size(); ++i) {
    changed |= AddEvent(*state, plan.events[i]);
  }
  ApplyStops(plan, TaskStop::Cause::kUnhealthy);
  if (plan.rolling_update) CrashPoint("rolling-update");
  ApplyStops(plan, TaskStop::Cause::kDrain);
  changed |= ApplyRegistrations(key, *state, plan);
  // The stops above began drains (and so did any stop since the last pass).
  changed |= SayDeregistered(key, *state);
  ApplyEndpoints(key, *state, plan);
  ApplyServiceConnect(key, *state, plan);
  state->steady = plan.steady;
  if (plan.wake_at != absl::InfiniteFuture()) ScheduleAt(key, plan.wake_at);
  if (plan.inactive) ScheduleRemoval(key);
  if (changed) Save(*state);
}

bool ServiceManager::ApplyRecordChanges(ServiceState& state, const ServicePlan& plan) {
  store::StoredService& r = state.record;
  v1::Service& s = r.service;
  if (plan.deployments) {
    const v1::ServiceConnectConfiguration* before = ConnectConfigurationOf(s);
    const std::optional<v1::ServiceConnectConfiguration> connect =
        before != nullptr ? std::optional(*before) : std::nullopt;
    s.mutable_deployments()->Clear();
    for (const v1::Deployment& d : *plan.deployments) *s.add_deployments() = d;
    // A deployment the planner made (a rollback) serves what the service serves.
    if (connect && s.deployments_size() > 0 &&
        !s.deployments(0).has_service_connect_configuration()) {
      EchoServiceConnect(*s.mutable_deployments(0), *connect);
    }
  }
  if (plan.running_count) s.set_running_count(*plan.running_count);
  if (plan.pending_count) s.set_pending_count(*plan.pending_count);
  if (plan.task_definition) s.set_task_definition(*plan.task_definition);
  if (plan.last_completed_task_definition) {
    r.last_completed_task_definition = *plan.last_completed_task_definition;
  }
  if (plan.reset_launch_backoff) {
    r.launch_failures = 0;
    r.next_launch_at = 0;
  }
  if (plan.inactive) s.set_status(std::string(ServiceStatusName(ServiceStatus::kInactive)));
  for (const HistoryChange& change : plan.history) {
    switch (change.kind) {
      case HistoryChange::Kind::kStarted:
        RecordDeploymentStart(state, change.rollback_of);
        break;
      case HistoryChange::Kind::kCompleted:
        RecordDeploymentCompleted(state, change.deployment_id);
        break;
      case HistoryChange::Kind::kFailed:
        RecordDeploymentFailed(state, change.deployment_id, change.why, change.rolling_back);
        break;
    }
  }
  return plan.ChangesRecord() || !plan.history.empty();
}

void ServiceManager::ApplyStops(const ServicePlan& plan, TaskStop::Cause cause) {
  for (const TaskStop& stop : plan.stops) {
    if (stop.cause == cause) tasks_->StopTask(stop.task_id, stop.reason);
  }
}

bool ServiceManager::ApplyLaunch(const Key& key, ServiceState& state, const ServicePlan& plan) {
  if (plan.launch == 0) return false;
  v1::Service& s = state.record.service;
  const TaskStart start{
      .cluster = key.first,
      .service = key.second,
      .task_definition = plan.launch_task_definition,
      .started_by = plan.launch_deployment_id,
      .tags = s.propagate_tags() == "SERVICE"
                  ? std::vector<v1::Tag>(s.tags().begin(), s.tags().end())
                  : std::vector<v1::Tag>{},
      .enable_execute_command = s.enable_execute_command(),
      .container_images = EstablishedImages(state, plan.launch_deployment_id)};
  std::vector<std::string> started;
  bool changed = false;
  for (int i = 0; i < plan.launch; ++i) {
    absl::StatusOr<Placement> placed = tasks_->StartTask(start);
    if (placed.ok() && placed->placed()) {
      started.push_back(placed->task_id);
      continue;
    }
    const std::optional<PlacementFailure> failure =
        placed.ok() ? placed->failure : std::optional<PlacementFailure>();
    const absl::Status error = placed.ok() ? absl::OkStatus() : placed.status();
    if (!placed.ok() && !absl::IsUnavailable(error)) {
      spdlog::warn("service {}/{}: cannot start a task: {}", key.first, key.second,
                   error.ToString());
    }
    const LaunchFailurePlan next =
        planner_.LaunchFailed(key.second, scope_.instance_id, failure, error, clock_->Now());
    if (next.event) changed |= AddEvent(state, *next.event);
    if (next.wait_for_capacity) waiting_for_capacity_.insert(key);
    if (next.retry_at != absl::InfiniteFuture()) ScheduleAt(key, next.retry_at);
    break;
  }
  if (const int shortfall = plan.launch - static_cast<int>(started.size()); shortfall > 0) {
    // The counts were planned as if every launch succeeded.
    for (v1::Deployment& d : *s.mutable_deployments()) {
      if (d.id() == plan.launch_deployment_id) d.set_pending_count(d.pending_count() - shortfall);
    }
    s.set_pending_count(s.pending_count() - shortfall);
    changed = true;
  }
  if (!started.empty()) changed |= AddEvent(state, StartedTasksEvent(key.second, started));
  return changed;
}

void ServiceManager::ScheduleRemoval(const Key& key) {
  loop_->PostAfter(options_.retention, [this, key] { Remove(key); });
}

void ServiceManager::Remove(const Key& key) {
  ServiceState* state = Find(key);
  // A service created again under the same name is not the one that was deleted.
  if (state == nullptr ||
      ParseServiceStatus(state->record.service.status()) != ServiceStatus::kInactive) {
    return;
  }
  absl::Status deleted = store_->DeleteService(key.first, key.second);
  if (!deleted.ok()) spdlog::error("store: delete service {}/{}: {}", key.first, key.second,
                                   deleted.ToString());
  services_.erase(key);
}

}  // namespace skiff::scheduler
