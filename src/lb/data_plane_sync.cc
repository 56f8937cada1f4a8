// The sync thread of DataPlaneSync: each round applies the newest wanted plane (a reload or
// runtime steps), polls `show stat`, admits targets whose first check passed, and reports.
#include "skiff/lb/data_plane_sync.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lb/sync_plan.h"
#include "skiff/base/status_macros.h"
#include "spdlog/spdlog.h"

namespace skiff::lb {
namespace {

// Polls at adoption before giving up on a HAProxy that runs but does not answer.
constexpr int kAdoptAttempts = 10;

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
      admin_(options_.paths.admin_socket()) {
  thread_ = std::thread([this] { Run(); });
}

DataPlaneSync::~DataPlaneSync() { Shutdown(/*stop_haproxy=*/false).IgnoreError(); }

void DataPlaneSync::Want(DataPlane plane, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  wanted_ = Wanted{.plane = std::move(plane), .generation = generation};
}

absl::Status DataPlaneSync::Shutdown(bool stop_haproxy) {
  absl::MutexLock shutdown(&shutdown_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // The thread is gone: process_ is this caller's now.
  return stop_haproxy ? process_.Stop() : absl::OkStatus();
}

void DataPlaneSync::Run() {
  if (!Adopt()) return;
  Report();
  while (WaitForWork()) {
    Reconcile();
    Poll();
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

bool DataPlaneSync::WaitForWork() {
  absl::MutexLock lock(&mu_);
  const auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || wanted_.has_value();
  };
  mu_.AwaitWithTimeout(absl::Condition(&woken), options_.poll_interval);
  if (stopping_) return false;
  if (wanted_.has_value()) {
    desired_ = std::move(*wanted_);
    wanted_.reset();
    converged_ = false;
  }
  return true;
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
