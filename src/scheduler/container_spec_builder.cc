// BuildContainerSpec: one container of an ECS task definition, with the task's overrides, as a
// runtime::ContainerSpec. Field paths in errors are those of the RegisterTaskDefinition request
// (containerDefinitions[i]...., volumes[k]....) or of the overrides (overrides.cpu...), so a user
// can find the setting that stops the task.
#include "skiff/scheduler/container_spec_builder.h"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/container_checks.h"
#include "skiff/model/errors.h"
#include "skiff/model/resources.h"
#include "skiff/runtime/image.h"

namespace skiff::scheduler {
namespace {

using runtime::ContainerSpec;
using runtime::MountSpec;
using v1::ContainerDefinition;
using v1::ContainerOverride;
using v1::TaskDefinition;

constexpr int64_t kMiB = 1024 * 1024;
// The CFS period for the task cpu limit: the kernel's and Docker's default.
constexpr uint64_t kCfsPeriodUs = 100000;
// environmentFiles are small KEY=VALUE lists; a bigger file is a mistake, not an environment.
constexpr std::uintmax_t kMaxEnvironmentFileBytes = 1 << 20;

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

int FindContainer(const TaskDefinition& definition, absl::string_view name) {
  for (int i = 0; i < definition.container_definitions_size(); ++i) {
    if (definition.container_definitions(i).name() == name) return i;
  }
  return -1;
}

const ContainerOverride* FindOverride(const v1::TaskOverride& overrides, absl::string_view name) {
  for (const ContainerOverride& o : overrides.container_overrides()) {
    if (o.name() == name) return &o;
  }
  return nullptr;
}


// environmentFiles name S3 objects on AWS; on one host they name local files: an absolute path
// or a file:// URI.
absl::StatusOr<std::string> LocalPath(absl::string_view path, absl::string_view value) {
  absl::string_view p = value;
  if (absl::ConsumePrefix(&p, "file://") && !absl::StartsWith(p, "/")) {
    return Invalid(path, absl::StrCat(model::QuoteValue(value),
                                      " must be file:///absolute/path (no host part)"));
  }
  if (!absl::StartsWith(p, "/")) {
    return Invalid(path, absl::StrCat(model::QuoteValue(value),
                                      " must be an absolute local path or a file:// URI"));
  }
  return std::string(p);
}

// KEY=VALUE lines, as the ECS agent reads them: '#' comments and blank lines are skipped, the
// value is taken verbatim (no quotes are removed).
// An s3 environment file, arn:PARTITION:s3:::BUCKET/KEY, is DIR/BUCKET/KEY on a node. Failing
// that, the task fails as ECS fails it when the download does (FailedPrecondition carries the
// whole stoppedReason).
absl::StatusOr<std::string> S3Path(const std::string& arn, const std::string& dir) {
  auto fail = [&arn](absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(
        "ResourceInitializationError: failed to download env files: ", arn, ": ", why));
  };
  std::vector<std::string> fields = absl::StrSplit(arn, absl::MaxSplits(':', 5));
  if (fields.size() != 6 || fields[2] != "s3" || !absl::StrContains(fields[5], '/')) {
    return fail("not an S3 object ARN (arn:aws:s3:::BUCKET/KEY)");
  }
  for (absl::string_view part : absl::StrSplit(fields[5], '/')) {
    if (part.empty() || part == "." || part == "..") return fail("bad bucket or key");
  }
  if (dir.empty()) return fail("skiffd has no --environment-files-dir to read S3 objects from");
  const std::string local = (std::filesystem::path(dir) / fields[5]).string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(local, ec)) {
    return fail(absl::StrCat("no file ", local));
  }
  return local;
}

absl::Status ReadEnvironmentFile(const std::string& path, const v1::EnvironmentFile& file,
                                 const std::string& s3_dir, std::vector<std::string>* env) {
  absl::StatusOr<std::string> where = absl::StartsWith(file.value(), "arn:")
                                          ? S3Path(file.value(), s3_dir)
                                          : LocalPath(path, file.value());
  SKIFF_ASSIGN_OR_RETURN(std::string local, std::move(where));
  std::error_code ec;
  const std::uintmax_t size = std::filesystem::file_size(local, ec);
  std::ifstream in(local, std::ios::binary);
  if (ec || !in) {
    return Invalid(path, absl::StrCat("cannot read ", model::QuoteValue(local),
                                      ec ? absl::StrCat(": ", ec.message()) : ""));
  }
  if (size > kMaxEnvironmentFileBytes) {
    return Invalid(path, absl::StrCat(model::QuoteValue(local), " is larger than 1 MiB"));
  }
  std::stringstream text;
  text << in.rdbuf();
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    ++line_number;
    absl::ConsumeSuffix(&line, "\r");
    absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    const size_t eq = trimmed.find('=');
    const absl::string_view key = trimmed.substr(0, eq);
    const bool bad_key = std::any_of(key.begin(), key.end(), [](char ch) {
      return absl::ascii_isspace(static_cast<unsigned char>(ch));
    });
    if (eq == 0 || eq == absl::string_view::npos || bad_key) {
      return Invalid(path, absl::StrCat(model::QuoteValue(local), " line ", line_number,
                                        ": expected KEY=VALUE"));
    }
    SetEnv(std::string(key), std::string(trimmed.substr(eq + 1)), env);
  }
  return absl::OkStatus();
}

// Definition files, override files, definition environment, override environment: later wins,
// as ECS gives `environment` precedence over files and overrides over the definition.
absl::StatusOr<std::vector<std::string>> Environment(const ContainerDefinition& c,
                                                     const std::string& path,
                                                     const ContainerOverride* o,
                                                     const std::string& override_path,
                                                     const std::string& s3_dir) {
  std::vector<std::string> env;
  for (int j = 0; j < c.environment_files_size(); ++j) {
    SKIFF_RETURN_IF_ERROR(
        ReadEnvironmentFile(absl::StrCat(path, ".environmentFiles[", j, "].value"),
                            c.environment_files(j), s3_dir, &env));
  }
  if (o != nullptr) {
    for (int j = 0; j < o->environment_files_size(); ++j) {
      SKIFF_RETURN_IF_ERROR(ReadEnvironmentFile(
          absl::StrCat(override_path, ".environmentFiles[", j, "].value"),
          o->environment_files(j), s3_dir, &env));
    }
  }
  for (const auto& kv : c.environment()) SetEnv(kv.name(), kv.value(), &env);
  if (o != nullptr) {
    for (const auto& kv : o->environment()) SetEnv(kv.name(), kv.value(), &env);
  }
  return env;
}

absl::Status ApplyProcess(const ContainerDefinition& c, const std::string& path,
                          const ContainerOverride* o, const std::string& override_path,
                          const std::string& s3_dir, ContainerSpec* spec) {
  if (c.entry_point_size() > 0) {
    spec->entrypoint.emplace(c.entry_point().begin(), c.entry_point().end());
  }
  if (o != nullptr && o->command_size() > 0) {
    spec->command.emplace(o->command().begin(), o->command().end());
  } else if (c.command_size() > 0) {
    spec->command.emplace(c.command().begin(), c.command().end());
  }
  SKIFF_ASSIGN_OR_RETURN(spec->env, Environment(c, path, o, override_path, s3_dir));
  if (c.has_working_directory()) {
    if (auto problem = model::WorkingDirectoryProblem(c.working_directory())) {
      return Invalid(path + ".workingDirectory", *problem);
    }
    spec->working_dir = c.working_directory();
  }
  if (auto problem = model::UserProblem(c.user())) return Invalid(path + ".user", *problem);
  spec->user = c.user();
  spec->hostname = c.hostname();
  return absl::OkStatus();
}

absl::Status ApplyResources(const TaskDefinition& definition, const ContainerDefinition& c,
                            const ContainerOverride* o, const v1::TaskOverride& overrides,
                            ContainerSpec* spec) {
  // Container cpu units are relative weights; the kernel's minimum share is 2, as Docker and the
  // ECS agent map 0 and 1.
  const bool has_cpu = (o != nullptr && o->has_cpu()) || c.has_cpu();
  if (has_cpu) {
    const int64_t units = o != nullptr && o->has_cpu() ? o->cpu() : c.cpu();
    spec->cpu_shares = static_cast<uint64_t>(std::max<int64_t>(units, 2));
  }
  // Task cpu is a hard cap for the whole task. Without a task cgroup each container gets the
  // whole task's quota, so a task of n busy containers can use up to n times its cpu: an
  // approximation until containers share a task-level cgroup.
  const bool task_cpu_overridden = overrides.has_cpu();
  if (task_cpu_overridden || definition.has_cpu()) {
    const std::string& text = task_cpu_overridden ? overrides.cpu() : definition.cpu();
    absl::StatusOr<int> units = model::ParseCpuUnits(text);
    if (!units.ok()) {
      return Invalid(task_cpu_overridden ? "overrides.cpu" : "cpu", units.status().message());
    }
    spec->cpu_period_us = kCfsPeriodUs;
    spec->cpu_quota_us = static_cast<int64_t>(*units) * static_cast<int64_t>(kCfsPeriodUs) / 1024;
  }

  if (o != nullptr && o->has_memory()) {
    spec->memory_limit_bytes = o->memory() * kMiB;
  } else if (c.has_memory()) {
    spec->memory_limit_bytes = c.memory() * kMiB;
  } else if (overrides.has_memory() || definition.has_memory()) {
    // Only the task has a limit: the same approximation as for cpu.
    const bool overridden = overrides.has_memory();
    absl::StatusOr<int> mib =
        model::ParseMemoryMiB(overridden ? overrides.memory() : definition.memory());
    if (!mib.ok()) {
      return Invalid(overridden ? "overrides.memory" : "memory", mib.status().message());
    }
    spec->memory_limit_bytes = *mib * kMiB;
  }
  if (o != nullptr && o->has_memory_reservation()) {
    spec->memory_reservation_bytes = o->memory_reservation() * kMiB;
  } else if (c.has_memory_reservation()) {
    spec->memory_reservation_bytes = c.memory_reservation() * kMiB;
  }
  for (const v1::Ulimit& u : c.ulimits()) {
    spec->ulimits.push_back({u.name(), static_cast<uint64_t>(std::max(0, u.soft_limit())),
                             static_cast<uint64_t>(std::max(0, u.hard_limit()))});
  }
  return absl::OkStatus();
}

// ECS tmpfs mounts get Docker's --tmpfs defaults unless the definition says otherwise.
std::vector<std::string> TmpfsOptions(const v1::Tmpfs& t) {
  std::vector<std::string> options;
  for (absl::string_view d : {"nosuid", "nodev", "noexec"}) {
    const absl::string_view positive = d.substr(2);  // "suid", "dev", "exec".
    bool given = false;
    for (const std::string& o : t.mount_options()) given |= o == d || o == positive;
    if (!given) options.emplace_back(d);
  }
  for (const std::string& o : t.mount_options()) {
    if (!absl::StartsWith(o, "size=")) options.push_back(o);  // The size field is the size.
  }
  options.push_back(absl::StrCat("size=", int64_t{t.size()} * 1024, "k"));
  return options;
}

absl::Status ApplyLinuxParameters(const ContainerDefinition& c, const std::string& path,
                                  ContainerSpec* spec) {
  const v1::LinuxParameters& lp = c.linux_parameters();
  const std::string lpath = path + ".linuxParameters";
  spec->cap_add.assign(lp.capabilities().add().begin(), lp.capabilities().add().end());
  spec->cap_drop.assign(lp.capabilities().drop().begin(), lp.capabilities().drop().end());
  spec->init = lp.init_process_enabled();
  if (lp.has_shared_memory_size()) {
    if (lp.shared_memory_size() <= 0) {
      return Invalid(lpath + ".sharedMemorySize", "must be a positive number of MiB");
    }
    spec->shm_size_bytes = lp.shared_memory_size() * kMiB;
  }
  if (lp.has_max_swap()) {
    if (lp.max_swap() < 0) return Invalid(lpath + ".maxSwap", "must be >= 0");
    if (spec->memory_limit_bytes <= 0) {
      return Invalid(lpath + ".maxSwap", "needs a memory limit (container or task memory)");
    }
    // Docker's --memory-swap is memory plus swap; maxSwap 0 makes them equal: no swap.
    spec->memory_swap_bytes = spec->memory_limit_bytes + lp.max_swap() * kMiB;
  }
  if (lp.has_swappiness()) {
    if (lp.swappiness() < 0 || lp.swappiness() > 100) {
      return Invalid(lpath + ".swappiness", "must be between 0 and 100");
    }
    spec->swappiness = static_cast<uint64_t>(lp.swappiness());
  }
  for (int j = 0; j < lp.tmpfs_size(); ++j) {
    const v1::Tmpfs& t = lp.tmpfs(j);
    const std::string tpath = absl::StrCat(lpath, ".tmpfs[", j, "]");
    if (auto problem = model::ContainerMountPathProblem(t.container_path())) {
      return Invalid(tpath + ".containerPath", *problem);
    }
    if (t.size() <= 0) return Invalid(tpath + ".size", "must be a positive number of MiB");
    spec->mounts.push_back({"tmpfs", "tmpfs", t.container_path(), TmpfsOptions(t)});
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CreatedDirectory(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!ec) {
    std::filesystem::permissions(dir, std::filesystem::perms(0755),
                                 std::filesystem::perm_options::replace, ec);
  }
  if (ec) {
    // The host's problem (disk, permissions), not the definition's: worth retrying.
    return absl::UnavailableError(
        absl::StrCat("create volume directory ", dir, ": ", ec.message()));
  }
  return dir;
}

int FindVolume(const TaskDefinition& definition, absl::string_view name) {
  for (int k = 0; k < definition.volumes_size(); ++k) {
    if (definition.volumes(k).name() == name) return k;
  }
  return -1;
}

// Where volume k of the task definition lives on the host.
absl::StatusOr<std::string> VolumeSource(const TaskDefinition& definition, int k,
                                         const TaskContext& task) {
  const v1::Volume& v = definition.volumes(k);
  const std::string vpath = absl::StrCat("volumes[", k, "]");
  // The name becomes a directory under the state dir; registration allows only [A-Za-z0-9_-],
  // and a stored definition must not lead anywhere else either.
  if (v.name().empty() || v.name() == "." || v.name() == ".." ||
      absl::StrContains(v.name(), '/')) {
    return Invalid(vpath + ".name", absl::StrCat(model::QuoteValue(v.name()),
                                                 " cannot name a directory"));
  }
  if (v.has_efs_volume_configuration() || v.has_fsx_windows_file_server_volume_configuration()) {
    return Invalid(vpath, "EFS and FSx volumes are not supported on this host");
  }
  if (v.host().has_source_path()) {
    if (!absl::StartsWith(v.host().source_path(), "/")) {
      return Invalid(vpath + ".host.sourcePath", "must be an absolute path");
    }
    return v.host().source_path();
  }
  if (v.has_docker_volume_configuration()) {
    const v1::DockerVolumeConfiguration& d = v.docker_volume_configuration();
    if (d.has_driver() && d.driver() != "local") {
      return Invalid(vpath + ".dockerVolumeConfiguration.driver",
                     absl::StrCat("only the local driver is supported; got ",
                                  model::QuoteValue(d.driver())));
    }
    if (d.scope() == "shared") {
      // A shared volume outlives its tasks and is found again by name. It is created on first
      // use whatever autoprovision says: nothing else on this host could create it.
      return CreatedDirectory(absl::StrCat(task.volumes_dir, "/", v.name()));
    }
  }
  return CreatedDirectory(absl::StrCat(task.task_dir, "/volumes/", v.name()));
}

bool HasDestination(const std::vector<MountSpec>& mounts, const std::string& destination) {
  for (const MountSpec& m : mounts) {
    if (m.destination == destination) return true;
  }
  return false;
}

// The mountPoints of container `index`, then (recursively, as Docker's --volumes-from copies
// every mount of the source) those of its volumesFrom sources. A destination already taken is
// skipped: the container's own mount points win.
absl::Status AddVolumeMounts(const TaskDefinition& definition, int index,
                             bool force_read_only, const TaskContext& task,
                             std::set<int>* visited, std::vector<MountSpec>* mounts) {
  if (!visited->insert(index).second) return absl::OkStatus();
  const ContainerDefinition& c = definition.container_definitions(index);
  const std::string path = absl::StrCat("containerDefinitions[", index, "]");
  for (int j = 0; j < c.mount_points_size(); ++j) {
    const v1::MountPoint& m = c.mount_points(j);
    const std::string mpath = absl::StrCat(path, ".mountPoints[", j, "]");
    if (auto problem = model::ContainerMountPathProblem(m.container_path())) {
      return Invalid(mpath + ".containerPath", *problem);
    }
    const int volume = FindVolume(definition, m.source_volume());
    if (volume < 0) {
      return Invalid(mpath + ".sourceVolume",
                     absl::StrCat("no volume named ", model::QuoteValue(m.source_volume()),
                                  " in volumes"));
    }
    if (HasDestination(*mounts, m.container_path())) continue;
    SKIFF_ASSIGN_OR_RETURN(std::string source, VolumeSource(definition, volume, task));
    const bool read_only = force_read_only || m.read_only();
    mounts->push_back({"bind", source, m.container_path(), {"rbind", read_only ? "ro" : "rw"}});
  }
  for (int j = 0; j < c.volumes_from_size(); ++j) {
    const v1::VolumeFrom& vf = c.volumes_from(j);
    const int source = FindContainer(definition, vf.source_container());
    if (source < 0) {
      return Invalid(absl::StrCat(path, ".volumesFrom[", j, "].sourceContainer"),
                     absl::StrCat("no container named ", model::QuoteValue(vf.source_container())));
    }
    // readOnly true makes every inherited mount read-only; otherwise each keeps its own mode.
    SKIFF_RETURN_IF_ERROR(AddVolumeMounts(definition, source, force_read_only || vf.read_only(),
                                          task, visited, mounts));
  }
  return absl::OkStatus();
}

size_t Depth(const std::string& path) { return std::count(path.begin(), path.end(), '/'); }

runtime::NetworkMode Network(const TaskDefinition& definition, const ContainerDefinition& c) {
  // Unset is bridge, ECS's default on Linux. The namespace to join is made at launch
  // (task_networking.h); a container with networking disabled gets one with only lo.
  const std::string mode = definition.has_network_mode() ? definition.network_mode() : "bridge";
  if (mode == "none" || (c.disable_networking() && mode != "awsvpc")) {
    return runtime::NetworkMode::kNone;
  }
  if (mode == "host") return runtime::NetworkMode::kHost;
  return runtime::NetworkMode::kJoin;
}

absl::Status ApplyLabels(const ContainerDefinition& c, const std::string& path,
                         const TaskContext& task, ContainerSpec* spec) {
  for (const auto& [key, value] : c.docker_labels()) {
    if (model::IsReservedLabelKey(key)) {
      return Invalid(absl::StrCat(path, ".dockerLabels.", key), model::kReservedLabelsProblem);
    }
    spec->labels[key] = value;
  }
  spec->labels["skiff.task"] = task.task_id;
  spec->labels["skiff.container"] = c.name();
  spec->labels["skiff.cluster"] = task.cluster;
  if (!task.service_name.empty()) spec->labels["skiff.service"] = task.service_name;
  return absl::OkStatus();
}

}  // namespace

namespace {

// containerd's identifier rule (pkg/identifiers): at most 76 characters; runs of letters and
// digits joined by single separators.
bool IsContainerdIdentifier(absl::string_view id) {
  if (id.empty() || id.size() > 76) return false;
  bool after_separator = true;  // The first character must be a letter or a digit.
  for (char ch : id) {
    const bool separator = ch == '.' || ch == '_' || ch == '-';
    if (!separator && !absl::ascii_isalnum(static_cast<unsigned char>(ch))) return false;
    if (separator && after_separator) return false;
    after_separator = separator;
  }
  return !after_separator;
}

}  // namespace

std::string RuntimeContainerId(const std::string& task_id, const std::string& container_name,
                               int index) {
  std::string id = absl::StrCat(task_id, "-", container_name);
  return IsContainerdIdentifier(id) ? id : absl::StrCat(task_id, ".", index);
}

void SetEnv(const std::string& key, const std::string& value, std::vector<std::string>* env) {
  const std::string prefix = key + "=";
  for (std::string& entry : *env) {
    if (absl::StartsWith(entry, prefix)) {
      entry = prefix + value;
      return;
    }
  }
  env->push_back(prefix + value);
}

std::string ContainerLogPath(const TaskContext& task, const std::string& container_name) {
  return absl::StrCat(task.task_dir, "/", container_name, ".log");
}

absl::StatusOr<runtime::ContainerSpec> BuildContainerSpec(const v1::TaskDefinition& definition,
                                                          const std::string& container_name,
                                                          const v1::TaskOverride& overrides,
                                                          const TaskContext& task) {
  const int index = FindContainer(definition, container_name);
  if (index < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "containerDefinitions: no container named ", model::QuoteValue(container_name)));
  }
  const ContainerDefinition& c = definition.container_definitions(index);
  const std::string path = absl::StrCat("containerDefinitions[", index, "]");
  const ContainerOverride* o = FindOverride(overrides, container_name);
  std::string override_path = "overrides.containerOverrides";
  for (int j = 0; j < overrides.container_overrides_size(); ++j) {
    if (&overrides.container_overrides(j) == o) absl::StrAppend(&override_path, "[", j, "]");
  }

  ContainerSpec spec;
  spec.id = RuntimeContainerId(task.task_id, container_name, index);
  spec.image = runtime::NormalizeImageReference(c.image());
  spec.log_path = ContainerLogPath(task, container_name);
  spec.network = Network(definition, c);
  SKIFF_RETURN_IF_ERROR(ApplyLabels(c, path, task, &spec));
  SKIFF_RETURN_IF_ERROR(
      ApplyProcess(c, path, o, override_path, task.environment_files_dir, &spec));
  SKIFF_RETURN_IF_ERROR(ApplyResources(definition, c, o, overrides, &spec));
  if (task.metadata != nullptr && spec.network != runtime::NetworkMode::kNone) {
    const bool host = spec.network == runtime::NetworkMode::kHost;
    SetEnv("ECS_CONTAINER_METADATA_URI_V4",
           task.metadata->ContainerUri(task.task_id, index, host, 4), &spec.env);
    SetEnv("ECS_CONTAINER_METADATA_URI", task.metadata->ContainerUri(task.task_id, index, host, 3),
           &spec.env);
  }
  spec.readonly_rootfs = c.readonly_root_filesystem();
  spec.privileged = c.privileged();

  std::set<int> visited;
  SKIFF_RETURN_IF_ERROR(AddVolumeMounts(definition, index, /*force_read_only=*/false, task,
                                        &visited, &spec.mounts));
  SKIFF_RETURN_IF_ERROR(ApplyLinuxParameters(c, path, &spec));  // Its tmpfs mounts come after.
  // Parents before children (/data before /data/cache) whatever the definition's order, as
  // Docker sorts them; the same depth keeps the definition's order.
  std::stable_sort(spec.mounts.begin(), spec.mounts.end(),
                   [](const MountSpec& a, const MountSpec& b) {
                     return Depth(a.destination) < Depth(b.destination);
                   });
  return spec;
}

}  // namespace skiff::scheduler
