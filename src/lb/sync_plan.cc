// The pure parts of DataPlaneSync: planning a change (PlanSync), the plane to render
// (EffectivePlane), admission and back-off.
#include "lb/sync_plan.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "skiff/lb/data_plane_sync.h"

namespace skiff::lb {
namespace {

using Admitted = absl::flat_hash_set<std::string>;

bool IsAdmitted(const Admitted& admitted, const Backend& b, const Target& t) {
  return admitted.contains(ServerKey(b.name, t.name));
}

// A backup has no check to pass: it is at its weight from the start.
int EffectiveWeight(const Backend& b, const Target& t, const Admitted& admitted) {
  return (t.backup || IsAdmitted(admitted, b, t)) && !t.draining ? t.weight : 0;
}

ServerAdminState AdminState(const Target& t) {
  if (t.maintenance) return ServerAdminState::kMaint;
  if (t.draining) return ServerAdminState::kDrain;
  return ServerAdminState::kReady;
}

// A backend's settings: everything but its targets. A copy, but planning runs once per wanted
// generation (and per poll only while a removal waits), and this stays right when Backend grows.
Backend Settings(const Backend& b) {
  Backend settings = b;
  settings.targets.clear();
  return settings;
}

// By name; nullopt when a name repeats (the renderer rejects that, so it is a reload).
template <typename T>
std::optional<absl::flat_hash_map<std::string, const T*>> ByName(const std::vector<T>& items) {
  absl::flat_hash_map<std::string, const T*> index;
  for (const T& item : items) {
    if (!index.emplace(item.name, &item).second) return std::nullopt;
  }
  return index;
}

// A new target: added at weight 0 with the backend's checks (a dynamic server does not read
// `default-server`), then put in its state and at its weight.
void PlanAdd(const Backend& b, const Target& t, const Admitted& admitted, SyncSteps& steps) {
  const HealthCheck& c = b.check;
  const ServerRef ref{b.name, t.name};
  if (t.backup) {
    steps.add.push_back(ServerSpec{.backend = b.name,
                                   .name = t.name,
                                   .address = t.address,
                                   .port = t.port,
                                   .weight = EffectiveWeight(b, t, admitted),
                                   .check = false,
                                   .backup = true});
    if (AdminState(t) != ServerAdminState::kReady) steps.set_state.push_back({ref, AdminState(t)});
    return;
  }
  steps.add.push_back(ServerSpec{.backend = b.name,
                                 .name = t.name,
                                 .address = t.address,
                                 .port = t.port,
                                 .weight = 0,
                                 .check = true,
                                 .interval = c.interval,
                                 .rise = c.healthy_threshold,
                                 .fall = c.unhealthy_threshold,
                                 .check_port = c.port,
                                 .slow_start = b.slow_start});
  if (AdminState(t) != ServerAdminState::kReady) steps.set_state.push_back({ref, AdminState(t)});
  if (const int w = EffectiveWeight(b, t, admitted); w > 0) steps.set_weight.push_back({ref, w});
}

// The runtime steps from `before`'s targets to `after`'s (same settings, not sticky); false
// when only a reload can do it.
bool PlanTargets(const Backend& before, const Backend& after, const Admitted& admitted,
                 SyncSteps& steps) {
  const auto old = ByName(before.targets);
  const auto wanted = ByName(after.targets);
  if (!old.has_value() || !wanted.has_value()) return false;
  for (const Target& t : after.targets) {
    const auto it = old->find(t.name);
    if (it == old->end()) {
      PlanAdd(after, t, admitted, steps);
      continue;
    }
    const Target& o = *it->second;
    // A server's address cannot change over the runtime API without its checks' history, nor
    // can a server become a backup or stop being one.
    if (o.address != t.address || o.port != t.port || o.backup != t.backup) return false;
    const ServerRef ref{after.name, t.name};
    if (AdminState(o) != AdminState(t)) steps.set_state.push_back({ref, AdminState(t)});
    const int w = EffectiveWeight(after, t, admitted);
    if (EffectiveWeight(before, o, admitted) != w) steps.set_weight.push_back({ref, w});
  }
  for (const Target& o : before.targets) {
    if (!wanted->contains(o.name)) steps.remove.push_back({before.name, o.name});
  }
  return true;
}

// The targets of two backends as sets: the same servers in any order.
bool SameTargets(const Backend& a, const Backend& b) {
  if (a.targets.size() != b.targets.size()) return false;
  const auto index = ByName(a.targets);
  if (!index.has_value()) return false;
  return std::all_of(b.targets.begin(), b.targets.end(), [&](const Target& t) {
    const auto it = index->find(t.name);
    return it != index->end() && *it->second == t;
  });
}

}  // namespace

std::string ServerKey(absl::string_view backend, absl::string_view name) {
  return absl::StrCat(backend, "/", name);
}

SyncSteps PlanSync(const DataPlane& applied, const DataPlane& desired, const Admitted& admitted) {
  const SyncSteps reload{.reload = true};
  if (applied.frontends != desired.frontends ||
      applied.backends.size() != desired.backends.size()) {
    return reload;
  }
  const auto before = ByName(applied.backends);
  if (!before.has_value() || !ByName(desired.backends).has_value()) return reload;
  SyncSteps steps;
  for (const Backend& b : desired.backends) {
    const auto it = before->find(b.name);
    if (it == before->end() || Settings(*it->second) != Settings(b)) return reload;
    // HAProxy 2.6 refuses `cookie` on `add server`: a sticky backend's servers come by reload.
    if (b.stickiness.has_value()) {
      if (!SameTargets(*it->second, b)) return reload;
      continue;
    }
    if (!PlanTargets(*it->second, b, admitted, steps)) return reload;
  }
  return steps;
}

DataPlane EffectivePlane(const DataPlane& desired, const Admitted& admitted) {
  DataPlane plane = desired;
  for (Backend& b : plane.backends) {
    for (Target& t : b.targets) t.weight = EffectiveWeight(b, t, admitted);
  }
  return plane;
}

bool CheckPassed(absl::string_view check_status) {
  return check_status == "L7OK" || check_status == "L4OK" || check_status == "L6OK";
}

Admitted SeedAdmitted(const std::vector<ServerStat>& servers) {
  Admitted admitted;
  for (const ServerStat& s : servers) {
    if (s.up() && (CheckPassed(s.check_status) || s.weight > 0)) {
      admitted.insert(ServerKey(s.backend, s.name));
    }
  }
  return admitted;
}

std::vector<ServerWeightChange> Admissions(const DataPlane& applied, const Admitted& admitted,
                                           const std::vector<ServerStat>& servers) {
  absl::flat_hash_set<std::string> passed;
  for (const ServerStat& s : servers) {
    if (CheckPassed(s.check_status)) passed.insert(ServerKey(s.backend, s.name));
  }
  std::vector<ServerWeightChange> out;
  if (passed.empty()) return out;
  for (const Backend& b : applied.backends) {
    for (const Target& t : b.targets) {
      const std::string key = ServerKey(b.name, t.name);
      if (t.maintenance || t.backup || admitted.contains(key) || !passed.contains(key)) continue;
      out.push_back({{b.name, t.name}, t.draining ? 0 : t.weight});
    }
  }
  return out;
}

absl::Duration RestartBackoff(int failures, absl::Duration min, absl::Duration max) {
  absl::Duration wait = min;
  for (int i = 1; i < failures && wait < max; ++i) wait *= 2;
  return std::min(wait, max);
}

}  // namespace skiff::lb
