// The sync thread of DataPlaneSync: each round applies the newest wanted plane (a reload or
// runtime steps), polls `show stat`, admits targets whose first check passed, and reports. In
// between, the first probe admits targets before HAProxy's first check.
#include "skiff/lb/data_plane_sync.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lb/first_probe.h"
#include "lb/health_prober.h"
#include "lb/sync_plan.h"
#include "skiff/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace skiff::lb {
namespace {

// Polls at adoption before giving up on a HAProxy that runs but does not answer.
constexpr int kAdoptAttempts = 10;

// The first probe's pace: ProbePacing's, at options.probe_interval (never slower when slowed).
ProbePacing PacingOf(const DataPlaneSyncOptions& options) {
  ProbePacing pacing;
  pacing.interval = options.probe_interval;
  pacing.slow_interval = std::max(pacing.slow_interval, options.probe_interval);
  return pacing;
}

bool IsEmpty(const DataPlane& plane) { return plane.frontends.empty() && plane.backends.empty(); }

std::vector<std::string> Sorted(const absl::flat_hash_set<std::string>& keys) {
  std::vector<std::string> out(keys.begin(), keys.end());
  std::sort(out.begin(), out.end());
  return out;
}

// `state maint`, then `del server`. True once the server is gone; false while HAProxy refuses
// the delete because a connection lingers (the caller retries at the next poll).
absl::StatusOr<bool> RemoveServer(const HaproxyAdmin& admin, const ServerRef& server) {
  absl::Status status = admin.SetState(server.backend, server.name, ServerAdminState::kMaint);
  if (absl::IsNotFound(status)) return true;  // A reload or an earlier round took it out.
  SKIFF_RETURN_IF_ERROR(status);
  status = admin.DeleteServer(server.backend, server.name);
  if (status.ok() || absl::IsNotFound(status)) return true;
  if (absl::IsFailedPrecondition(status)) return false;
  return status;
}

// `desired`, plus the removed targets HAProxy still holds, as they are there: in maintenance.
DataPlane WithLingering(DataPlane desired, const DataPlane& before,
                        const std::vector<ServerRef>& lingering) {
  for (const ServerRef& ref : lingering) {
    const auto from = std::find_if(before.backends.begin(), before.backends.end(),
                                   [&](const Backend& b) { return b.name == ref.backend; });
    const auto to = std::find_if(desired.backends.begin(), desired.backends.end(),
                                 [&](const Backend& b) { return b.name == ref.backend; });
    if (from == before.backends.end() || to == desired.backends.end()) continue;
    for (const Target& t : from->targets) {
      if (t.name != ref.name) continue;
      to->targets.push_back(t);
      to->targets.back().maintenance = true;
    }
  }
  return desired;
}

}  // namespace

DataPlaneSync::DataPlaneSync(DataPlaneSyncOptions options, Observer observer)
    : options_(std::move(options)),
      observer_(std::move(observer)),
      process_(options_.paths),
      admin_(options_.paths.admin_socket()),
      prober_(std::make_unique<HealthProber>()),
      probe_schedule_(std::make_unique<ProbeSchedule>(PacingOf(options_))) {
  thread_ = std::thread([this] { Run(); });
}

DataPlaneSync::~DataPlaneSync() { Shutdown(/*stop_haproxy=*/false).IgnoreError(); }

void DataPlaneSync::Want(DataPlane plane, uint64_t generation) {
  {
    absl::MutexLock lock(&mu_);
    wanted_ = Wanted{.plane = std::move(plane), .generation = generation};
  }
  prober_->Wakeup();  // In case the sync thread sleeps on probes rather than on mu_.
}

absl::Status DataPlaneSync::Shutdown(bool stop_haproxy) {
  absl::MutexLock shutdown(&shutdown_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  prober_->Wakeup();
  if (thread_.joinable()) thread_.join();
  // The thread is gone: process_ is this caller's now.
  return stop_haproxy ? process_.Stop() : absl::OkStatus();
}

void DataPlaneSync::Run() {
  if (!Adopt()) return;
  Report();
  absl::Time next_poll = absl::Now() + options_.poll_interval;
  for (;;) {
    const Wake wake = WaitForWork(next_poll);
    if (wake == Wake::kStop) return;
    // A probe's end or due time is no reason to ask HAProxy anything: with many targets that do
    // not answer yet, that would be a `show stat` per probe.
    if (wake == Wake::kRound) {
      Reconcile();
      Poll();
      next_poll = absl::Now() + options_.poll_interval;
    }
    Probe();
    Report();
  }
}

bool DataPlaneSync::Adopt() {
  // What a previous skiffd's HAProxy already sends traffic to keeps its weight through our
  // first reload, instead of waiting at 0 for its next check. A master that runs but does not
  // answer may be in the middle of a reload: ask again for a moment before the first apply.
  for (int attempt = 1; attempt <= kAdoptAttempts; ++attempt) {
    Poll();
    if (running_) {
      admitted_ = SeedAdmitted(servers_);
      return true;
    }
    if (!process_.Running() || attempt == kAdoptAttempts) return true;
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.poll_interval)) return false;
  }
  return true;
}

DataPlaneSync::Wake DataPlaneSync::WaitForWork(absl::Time next_poll) {
  const absl::Time deadline = std::min(next_poll, probe_schedule_->NextDue());
  // While probes are out the thread sleeps on them; Want() and Shutdown() wake it there too.
  const bool probing = prober_->busy();
  if (probing) prober_->Wait(deadline - absl::Now());
  absl::MutexLock lock(&mu_);
  const auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || wanted_.has_value();
  };
  if (!probing) mu_.AwaitWithDeadline(absl::Condition(&woken), deadline);
  if (stopping_) return Wake::kStop;
  if (wanted_.has_value()) {
    desired_ = std::move(*wanted_);
    wanted_.reset();
    converged_ = false;
    return Wake::kRound;
  }
  return absl::Now() >= next_poll ? Wake::kRound : Wake::kProbe;
}

void DataPlaneSync::Reconcile() {
  if (!desired_.has_value() || rejected_generation_ == desired_->generation) return;
  if (absl::Now() < next_attempt_) return;  // Backing off after a failure.
  if (IsEmpty(desired_->plane)) {
    if (!converged_) StopHaproxy();
    return;
  }
  // Nothing answers (never started, died, or its workers hang), or what runs is unknown.
  if (!running_ || !applied_.has_value()) {
    Finish(ApplyWholeConfig());
    return;
  }
  if (converged_) return;
  const SyncSteps steps = PlanSync(*applied_, desired_->plane, admitted_);
  if (steps.reload) {
    Finish(ApplyWholeConfig());
    return;
  }
  absl::Status status = RunSteps(steps);
  if (!status.ok()) {
    // The reload renders every server as wanted, whatever the steps left behind.
    spdlog::warn("lb: a runtime step failed ({}); reloading HAProxy with the whole config",
                 status.ToString());
    status = ApplyWholeConfig();
  }
  Finish(status);
}

void DataPlaneSync::StopHaproxy() {
  const absl::Status status = process_.Stop();
  if (status.ok()) {
    applied_ = DataPlane{};
    admitted_.clear();
    removing_.clear();
    converged_ = true;
  }
  Finish(status);
}

absl::Status DataPlaneSync::RunSteps(const SyncSteps& steps) {
  // Unknown until every step has run: a failure leaves HAProxy somewhere in between.
  const DataPlane before = *std::move(applied_);
  applied_.reset();
  for (const ServerSpec& spec : steps.add) {
    SKIFF_RETURN_IF_ERROR(admin_.AddServer(spec));
    SKIFF_RETURN_IF_ERROR(admin_.EnableServer(spec.backend, spec.name));
  }
  for (const ServerStateChange& c : steps.set_state) {
    SKIFF_RETURN_IF_ERROR(admin_.SetState(c.server.backend, c.server.name, c.state));
  }
  for (const ServerWeightChange& c : steps.set_weight) {
    SKIFF_RETURN_IF_ERROR(admin_.SetWeight(c.server.backend, c.server.name, c.weight));
  }
  std::vector<ServerRef> lingering;
  removing_.clear();
  for (const ServerRef& server : steps.remove) {
    SKIFF_ASSIGN_OR_RETURN(const bool gone, RemoveServer(admin_, server));
    const std::string key = ServerKey(server.backend, server.name);
    if (gone) {
      admitted_.erase(key);
    } else {
      lingering.push_back(server);
      removing_.push_back(key);
    }
  }
  std::sort(removing_.begin(), removing_.end());
  applied_ = WithLingering(desired_->plane, before, lingering);
  converged_ = lingering.empty();
  return absl::OkStatus();
}

absl::Status DataPlaneSync::ApplyWholeConfig() {
  RenderOptions render = options_.render;
  render.admin_socket = options_.paths.admin_socket();
  const DataPlane& plane = desired_->plane;
  SKIFF_ASSIGN_OR_RETURN(const std::string config,
                         RenderHaproxyConfig(EffectivePlane(plane, admitted_), render));
  if (absl::Status status = process_.Apply(config); !status.ok()) {
    // Rejected by `haproxy -c`: the old config and its servers run on. Otherwise unknown.
    if (!absl::IsInvalidArgument(status)) applied_.reset();
    return status;
  }
  applied_ = plane;
  // The new workers have exactly the rendered servers: admission only stays with them.
  absl::flat_hash_set<std::string> present;
  for (const Backend& b : plane.backends) {
    for (const Target& t : b.targets) present.insert(ServerKey(b.name, t.name));
  }
  absl::erase_if(admitted_, [&](const std::string& key) { return !present.contains(key); });
  removing_.clear();
  converged_ = true;
  return absl::OkStatus();
}

void DataPlaneSync::Finish(const absl::Status& status) {
  apply_status_ = status;
  if (status.ok()) {
    failures_ = 0;
    next_attempt_ = absl::InfinitePast();
    applied_generation_ = desired_->generation;
    return;
  }
  if (absl::IsInvalidArgument(status)) {
    // The same plane would fail the same way: wait for the next generation.
    rejected_generation_ = desired_->generation;
    spdlog::error("lb: generation {} not applied: {}", desired_->generation, status.ToString());
    return;
  }
  ++failures_;
  const absl::Duration wait = RestartBackoff(failures_, options_.min_backoff, options_.max_backoff);
  next_attempt_ = absl::Now() + wait;
  spdlog::warn("lb: HAProxy failed ({} in a row), next attempt in {}: {}", failures_,
               absl::FormatDuration(wait), status.ToString());
}

void DataPlaneSync::Poll() {
  const bool was_running = running_;
  running_ = false;
  servers_.clear();
  poll_status_ = absl::OkStatus();
  const absl::StatusOr<pid_t> master = process_.MasterPid();
  if (!master.ok()) {
    // Only an error when a HAProxy should run.
    if (desired_.has_value() && !IsEmpty(desired_->plane)) {
      poll_status_ = absl::UnavailableError(
          absl::StrCat("HAProxy is not running: ", master.status().message()));
      if (was_running) spdlog::warn("lb: {}", poll_status_.ToString());
    }
    return;
  }
  absl::StatusOr<std::vector<ServerStat>> servers = admin_.Servers();
  if (!servers.ok()) {
    poll_status_ = servers.status();
    return;
  }
  running_ = true;
  servers_ = *std::move(servers);
  Admit();
}

void DataPlaneSync::Admit() {
  if (!applied_.has_value()) return;
  for (const ServerWeightChange& a : Admissions(*applied_, admitted_, servers_)) {
    if (a.weight > 0) {
      const absl::Status status = admin_.SetWeight(a.server.backend, a.server.name, a.weight);
      if (!status.ok()) {
        spdlog::warn("lb: admitting {}/{}: {}", a.server.backend, a.server.name, status.ToString());
        continue;  // Tried again at the next poll.
      }
    }
    admitted_.insert(ServerKey(a.server.backend, a.server.name));
  }
}

void DataPlaneSync::Probe() {
  std::vector<AwaitingTarget> awaiting;
  // Nothing is admitted while what HAProxy runs is unknown or it does not answer: the probes out
  // are cancelled below, and start again once it does.
  if (running_ && applied_.has_value() && desired_.has_value()) {
    awaiting = AwaitingAdmission(*applied_, desired_->plane, admitted_);
  }
  absl::flat_hash_map<std::string, const AwaitingTarget*> by_key;
  for (const AwaitingTarget& t : awaiting) {
    by_key.emplace(ServerKey(t.server.backend, t.server.name), &t);
  }
  const absl::Time now = absl::Now();
  for (const ProbeResult& result : prober_->Collect()) {
    const auto it = by_key.find(result.key);
    // Only a pass of the probe still wanted admits: the target may have moved or drained since.
    if (result.passed && it != by_key.end() && it->second->probe == result.spec &&
        AdmitProbed(*it->second)) {
      probe_schedule_->Passed(result.key);
      by_key.erase(it);
      continue;
    }
    probe_schedule_->Failed(result.key, now);
  }
  std::vector<std::string> keys;
  for (const AwaitingTarget& t : awaiting) {
    std::string key = ServerKey(t.server.backend, t.server.name);
    if (by_key.contains(key)) keys.push_back(std::move(key));
  }
  const ProbeRound round = probe_schedule_->Next(keys, now);
  for (const std::string& key : round.cancel) prober_->Cancel(key);
  for (const std::string& key : round.start) prober_->Start(key, by_key.at(key)->probe);
}

bool DataPlaneSync::AdmitProbed(const AwaitingTarget& target) {
  const ServerRef& s = target.server;
  if (target.weight > 0) {
    const absl::Status status = admin_.SetWeight(s.backend, s.name, target.weight);
    if (!status.ok()) {
      spdlog::warn("lb: admitting {}/{} after its first probe: {}", s.backend, s.name,
                   status.ToString());
      return false;  // Probed again, and admitted, at its next pass.
    }
  }
  admitted_.insert(ServerKey(s.backend, s.name));
  return true;
}

void DataPlaneSync::Report() {
  DataPlaneReport report{.generation = applied_generation_,
                         .running = running_,
                         .status = apply_status_.ok() ? poll_status_ : apply_status_,
                         .servers = servers_,
                         .admitted = Sorted(admitted_),
                         .removing = removing_};
  if (last_report_ == report) return;
  last_report_ = std::move(report);
  if (observer_) observer_(*last_report_);
}

}  // namespace skiff::lb
