#include "absl/strings/string_view.h"
#include "skiff/model/task_definition.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/container_checks.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/resources.h"
#include "skiff/model/tags.h"

namespace skiff::model {
namespace {

using skiff::v1::ContainerDefinition;
using skiff::v1::RegisterTaskDefinitionRequest;
using skiff::v1::TaskDefinition;

absl::Status Invalid(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

absl::Status CheckRange(absl::string_view path, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    return Invalid(path, absl::StrCat("must be between ", lo, " and ", hi, "; got ", value));
  }
  return absl::OkStatus();
}

bool IsFargate(const RegisterTaskDefinitionRequest& r) {
  for (const auto& c : r.requires_compatibilities()) {
    if (c == "FARGATE") return true;
  }
  return false;
}

std::string NetworkMode(const RegisterTaskDefinitionRequest& r) {
  return r.has_network_mode() ? r.network_mode() : "bridge";
}

// Linux capabilities as ECS names them (without CAP_).
bool IsCapability(absl::string_view name) {
  static const absl::flat_hash_set<absl::string_view> kCapabilities = {
      "ALL", "AUDIT_CONTROL", "AUDIT_WRITE", "BLOCK_SUSPEND", "CHOWN", "DAC_OVERRIDE",
      "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
      "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE",
      "NET_BROADCAST", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN",
      "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE",
      "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "SYSLOG", "WAKE_ALARM"};
  return kCapabilities.contains(name);
}

// Checks one task definition against ECS's rules. Members hold the request and what the
// container-level checks need to know about the whole task.
class Validator {
 public:
  explicit Validator(const RegisterTaskDefinitionRequest& r) : r_(r) {}

  absl::Status Run() {
    SKIFF_RETURN_IF_ERROR(CheckShape(r_));
    if (!IsValidName(r_.family())) {
      return Invalid("family", "must be 1-255 letters, digits, hyphens or underscores");
    }
    SKIFF_RETURN_IF_ERROR(CheckTaskSize());
    SKIFF_RETURN_IF_ERROR(CheckVolumes());
    SKIFF_RETURN_IF_ERROR(CheckContainers());
    SKIFF_RETURN_IF_ERROR(CheckDependencies());
    SKIFF_RETURN_IF_ERROR(CheckTags());
    if (r_.has_ephemeral_storage()) {
      SKIFF_RETURN_IF_ERROR(CheckRange("ephemeralStorage.sizeInGiB",
                                       r_.ephemeral_storage().size_in_gi_b(), 21, 200));
    }
    if (r_.has_proxy_configuration() &&
        !containers_.contains(r_.proxy_configuration().container_name())) {
      return Invalid("proxyConfiguration.containerName",
                     absl::StrCat("no container named ",
                                  QuoteValue(r_.proxy_configuration().container_name())));
    }
    return absl::OkStatus();
  }

 private:
  absl::Status CheckTaskSize() {
    if (r_.has_cpu()) {
      absl::StatusOr<int> cpu = ParseCpuUnits(r_.cpu());
      if (!cpu.ok()) return Invalid("cpu", cpu.status().message());
      task_cpu_ = *cpu;
    }
    if (r_.has_memory()) {
      absl::StatusOr<int> memory = ParseMemoryMiB(r_.memory());
      if (!memory.ok()) return Invalid("memory", memory.status().message());
      task_memory_ = *memory;
    }
    if (!IsFargate(r_)) return absl::OkStatus();
    if (NetworkMode(r_) != "awsvpc") {
      return Invalid("networkMode", "must be awsvpc when requiresCompatibilities includes FARGATE");
    }
    if (!task_cpu_) return Invalid("cpu", "required when requiresCompatibilities includes FARGATE");
    if (!task_memory_) {
      return Invalid("memory", "required when requiresCompatibilities includes FARGATE");
    }
    if (!IsValidFargateSize(*task_cpu_, *task_memory_)) {
      return Invalid("memory", absl::StrCat(*task_memory_, " MiB with cpu ", *task_cpu_,
                                            " is not a valid Fargate task size"));
    }
    if (r_.has_pid_mode() && r_.pid_mode() == "host") {
      return Invalid("pidMode", "host is not supported with FARGATE");
    }
    if (r_.has_ipc_mode()) return Invalid("ipcMode", "not supported with FARGATE");
    return absl::OkStatus();
  }

  absl::Status CheckVolumes() {
    for (int i = 0; i < r_.volumes_size(); ++i) {
      const auto& v = r_.volumes(i);
      const std::string path = absl::StrCat("volumes[", i, "]");
      if (!IsValidName(v.name())) {
        return Invalid(path + ".name", "must be 1-255 letters, digits, hyphens or underscores");
      }
      if (!volumes_.insert(v.name()).second) {
        return Invalid(path + ".name", absl::StrCat("duplicate volume name ", QuoteValue(v.name())));
      }
      const int kinds = v.has_host() + v.has_docker_volume_configuration() +
                        v.has_efs_volume_configuration() +
                        v.has_fsx_windows_file_server_volume_configuration();
      if (kinds > 1) {
        return Invalid(path, "give at most one of host, dockerVolumeConfiguration, "
                             "efsVolumeConfiguration, fsxWindowsFileServerVolumeConfiguration");
      }
      if (v.host().has_source_path()) {
        if (!absl::StartsWith(v.host().source_path(), "/")) {
          return Invalid(path + ".host.sourcePath", "must be an absolute path");
        }
        if (IsFargate(r_)) return Invalid(path + ".host.sourcePath", "not supported with FARGATE");
      }
      const auto& docker = v.docker_volume_configuration();
      if (docker.has_autoprovision() && docker.autoprovision() &&
          docker.scope() != "shared") {
        return Invalid(path + ".dockerVolumeConfiguration.autoprovision",
                       "only valid when scope is shared");
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckContainers() {
    if (r_.container_definitions().empty()) {
      return Invalid("containerDefinitions", "must have at least one container");
    }
    if (r_.container_definitions_size() > kMaxContainersPerTask) {
      return Invalid("containerDefinitions",
                     absl::StrCat("at most ", kMaxContainersPerTask, " containers per task"));
    }
    for (int i = 0; i < r_.container_definitions_size(); ++i) {
      const auto& c = r_.container_definitions(i);
      const std::string path = absl::StrCat("containerDefinitions[", i, "]");
      if (!c.has_name()) return Invalid(path + ".name", "required");
      if (!IsValidName(c.name())) {
        return Invalid(path + ".name", "must be 1-255 letters, digits, hyphens or underscores");
      }
      if (containers_.contains(c.name())) {
        return Invalid(path + ".name", absl::StrCat("duplicate container name ", QuoteValue(c.name())));
      }
      containers_[c.name()] = i;
    }
    bool any_essential = false;
    int64_t memory_sum = 0;
    int64_t cpu_sum = 0;
    for (int i = 0; i < r_.container_definitions_size(); ++i) {
      const auto& c = r_.container_definitions(i);
      SKIFF_RETURN_IF_ERROR(CheckContainer(c, absl::StrCat("containerDefinitions[", i, "]")));
      any_essential |= !c.has_essential() || c.essential();
      memory_sum += c.has_memory() ? c.memory() : c.memory_reservation();
      cpu_sum += c.cpu();
    }
    if (!any_essential) {
      return Invalid("containerDefinitions", "at least one container must be essential");
    }
    if (task_memory_ && memory_sum > *task_memory_) {
      return Invalid("containerDefinitions",
                     absl::StrCat("the containers' memory (", memory_sum,
                                  " MiB) exceeds the task memory (", *task_memory_, " MiB)"));
    }
    if (task_cpu_ && cpu_sum > *task_cpu_) {
      return Invalid("containerDefinitions",
                     absl::StrCat("the containers' cpu (", cpu_sum,
                                  " units) exceeds the task cpu (", *task_cpu_, " units)"));
    }
    return absl::OkStatus();
  }

  absl::Status CheckContainer(const ContainerDefinition& c, const std::string& path) {
    if (!c.has_image() || c.image().empty()) return Invalid(path + ".image", "required");
    if (c.image().size() > 255) return Invalid(path + ".image", "must be at most 255 characters");
    SKIFF_RETURN_IF_ERROR(CheckMemory(c, path));
    if (c.has_cpu()) SKIFF_RETURN_IF_ERROR(CheckRange(path + ".cpu", c.cpu(), 0, 10 * 1024 * 16));
    SKIFF_RETURN_IF_ERROR(CheckPorts(c, path));
    if (c.has_health_check()) SKIFF_RETURN_IF_ERROR(CheckHealthCheck(c.health_check(), path));
    for (int j = 0; j < c.mount_points_size(); ++j) {
      const auto& m = c.mount_points(j);
      const std::string mp = absl::StrCat(path, ".mountPoints[", j, "]");
      if (!m.has_source_volume()) return Invalid(mp + ".sourceVolume", "required");
      if (!volumes_.contains(m.source_volume())) {
        return Invalid(mp + ".sourceVolume",
                       absl::StrCat("no volume named ", QuoteValue(m.source_volume()), " in volumes"));
      }
      if (auto problem = ContainerMountPathProblem(m.container_path())) {
        return Invalid(mp + ".containerPath", *problem);
      }
    }
    for (int j = 0; j < c.volumes_from_size(); ++j) {
      const std::string& source = c.volumes_from(j).source_container();
      const std::string vp = absl::StrCat(path, ".volumesFrom[", j, "].sourceContainer");
      if (!containers_.contains(source)) {
        return Invalid(vp, absl::StrCat("no container named ", QuoteValue(source)));
      }
      if (source == c.name()) return Invalid(vp, "a container cannot take volumes from itself");
    }
    absl::flat_hash_set<std::string> ulimits;
    for (int j = 0; j < c.ulimits_size(); ++j) {
      const auto& u = c.ulimits(j);
      const std::string up = absl::StrCat(path, ".ulimits[", j, "]");
      if (!ulimits.insert(u.name()).second) {
        return Invalid(up + ".name", absl::StrCat("duplicate ulimit ", QuoteValue(u.name())));
      }
      if (u.soft_limit() < 0 || u.hard_limit() < 0) return Invalid(up, "limits must be >= 0");
      if (u.soft_limit() > u.hard_limit()) {
        return Invalid(up + ".softLimit", "must not exceed hardLimit");
      }
    }
    for (const auto& [key, value] : c.docker_labels()) {
      if (IsReservedLabelKey(key)) {
        return Invalid(absl::StrCat(path, ".dockerLabels.", key), kReservedLabelsProblem);
      }
    }
    for (int j = 0; j < c.environment_size(); ++j) {
      const std::string& name = c.environment(j).name();
      if (name.empty() || absl::StrContains(name, '=')) {
        return Invalid(absl::StrCat(path, ".environment[", j, "].name"),
                       "must be non-empty and must not contain '='");
      }
    }
    if (c.has_working_directory()) {
      if (auto problem = WorkingDirectoryProblem(c.working_directory())) {
        return Invalid(path + ".workingDirectory", *problem);
      }
    }
    if (auto problem = UserProblem(c.user())) return Invalid(path + ".user", *problem);
    if (c.has_start_timeout()) {
      SKIFF_RETURN_IF_ERROR(CheckRange(path + ".startTimeout", c.start_timeout(), 2, 120));
    }
    if (c.has_stop_timeout()) {
      SKIFF_RETURN_IF_ERROR(CheckRange(path + ".stopTimeout", c.stop_timeout(), 0, 120));
    }
    const std::string mode = NetworkMode(r_);
    if (c.has_hostname() && mode == "awsvpc") {
      return Invalid(path + ".hostname", "not supported in awsvpc network mode");
    }
    if (c.extra_hosts_size() > 0 && mode == "awsvpc") {
      return Invalid(path + ".extraHosts", "not supported in awsvpc network mode");
    }
    if (c.links_size() > 0 && mode != "bridge") {
      return Invalid(path + ".links", "only supported in bridge network mode");
    }
    if (c.has_linux_parameters()) SKIFF_RETURN_IF_ERROR(CheckLinuxParameters(c, path));
    if (c.has_restart_policy()) SKIFF_RETURN_IF_ERROR(CheckRestartPolicy(c, path));
    return absl::OkStatus();
  }

  // ECS's bounds: a period of 60-1800 seconds, at most 50 ignored exit codes.
  absl::Status CheckRestartPolicy(const ContainerDefinition& c, const std::string& container) {
    const skiff::v1::ContainerRestartPolicy& p = c.restart_policy();
    const std::string path = container + ".restartPolicy";
    if (p.has_restart_attempt_period()) {
      SKIFF_RETURN_IF_ERROR(CheckRange(path + ".restartAttemptPeriod",
                                       p.restart_attempt_period(), kMinRestartAttemptPeriod,
                                       kMaxRestartAttemptPeriod));
    }
    if (p.ignored_exit_codes_size() > kMaxIgnoredExitCodes) {
      return Invalid(path + ".ignoredExitCodes",
                     absl::StrCat("must have at most ", kMaxIgnoredExitCodes, " exit codes; got ",
                                  p.ignored_exit_codes_size()));
    }
    return absl::OkStatus();
  }

  absl::Status CheckMemory(const ContainerDefinition& c, const std::string& path) {
    if (c.has_memory() && c.memory() < kMinContainerMemoryMiB) {
      return Invalid(path + ".memory",
                     absl::StrCat("must be at least ", kMinContainerMemoryMiB, " MiB; got ",
                                  c.memory()));
    }
    if (c.has_memory_reservation() && c.memory_reservation() < kMinContainerMemoryMiB) {
      return Invalid(path + ".memoryReservation",
                     absl::StrCat("must be at least ", kMinContainerMemoryMiB, " MiB; got ",
                                  c.memory_reservation()));
    }
    if (c.has_memory() && c.has_memory_reservation() && c.memory_reservation() > c.memory()) {
      return Invalid(path + ".memoryReservation",
                     absl::StrCat("must not exceed memory (", c.memory(), " MiB)"));
    }
    if (!task_memory_ && !c.has_memory() && !c.has_memory_reservation()) {
      return Invalid(path + ".memory",
                     "a container needs memory or memoryReservation when the task sets no memory");
    }
    return absl::OkStatus();
  }

  absl::Status CheckPorts(const ContainerDefinition& c, const std::string& path) {
    const std::string mode = NetworkMode(r_);
    absl::flat_hash_set<std::string> seen;
    int ranges = 0;
    int range_ports = 0;  // Of a bridge container: each is a DNAT rule of its own.
    for (int j = 0; j < c.port_mappings_size(); ++j) {
      const auto& p = c.port_mappings(j);
      const std::string pp = absl::StrCat(path, ".portMappings[", j, "]");
      if (p.has_container_port_range()) {
        SKIFF_RETURN_IF_ERROR(CheckPortRange(p, pp, mode, ++ranges, seen, range_ports));
        continue;
      }
      if (!p.has_container_port()) {
        return Invalid(pp + ".containerPort", "required (or a containerPortRange)");
      }
      SKIFF_RETURN_IF_ERROR(CheckRange(pp + ".containerPort", p.container_port(), 1, 65535));
      if (p.has_host_port()) {
        SKIFF_RETURN_IF_ERROR(CheckRange(pp + ".hostPort", p.host_port(), 0, 65535));
        if ((mode == "awsvpc" || mode == "host") && p.host_port() != p.container_port()) {
          return Invalid(pp + ".hostPort",
                         absl::StrCat("must equal containerPort in ", mode, " network mode"));
        }
      }
      if (mode == "none") return Invalid(pp, "port mappings need a network; networkMode is none");
      const std::string protocol = p.has_protocol() ? p.protocol() : "tcp";
      const std::string key = absl::StrCat(p.container_port(), "/", protocol);
      if (!seen.insert(key).second) {
        return Invalid(pp + ".containerPort", absl::StrCat("duplicate port mapping ", key));
      }
      const int host_port = p.has_host_port() ? p.host_port()
                            : mode == "bridge" ? 0 : p.container_port();
      if (host_port != 0) {
        const std::string host_key = absl::StrCat(host_port, "/", protocol);
        auto [it, inserted] = host_ports_.emplace(host_key, c.name());
        if (!inserted) {
          return Invalid(pp + ".hostPort", absl::StrCat("host port ", host_key,
                                                        " is already used by container \"",
                                                        it->second, "\""));
        }
      }
    }
    return absl::OkStatus();
  }

  // A containerPortRange as ECS takes it: bridge or awsvpc, no hostPort (the host ports are
  // chosen, contiguous, in bridge mode; the same in awsvpc), at most 100 ranges per container,
  // no port in two mappings. `range_ports` counts the ports of bridge ranges.
  absl::Status CheckPortRange(const skiff::v1::PortMapping& p, const std::string& pp,
                              const std::string& mode, int ranges,
                              absl::flat_hash_set<std::string>& seen, int& range_ports) {
    const std::string field = pp + ".containerPortRange";
    if (mode != "bridge" && mode != "awsvpc") {
      return Invalid(field, "needs networkMode bridge or awsvpc; it is " + mode);
    }
    if (p.container_port() != 0) {
      return Invalid(pp + ".containerPort", "give containerPort or containerPortRange, not both");
    }
    if (p.has_host_port()) {
      return Invalid(pp + ".hostPort", "must be empty with containerPortRange: the host ports "
                                       "are chosen for it");
    }
    const std::optional<std::pair<int, int>> range = ParsePortRange(p.container_port_range());
    if (!range) {
      return Invalid(field, absl::StrCat("must be FIRST-LAST with 1 <= FIRST < LAST <= 65535; "
                                         "got ", QuoteValue(p.container_port_range())));
    }
    if (ranges > kMaxPortRangesPerContainer) {
      return Invalid(field, absl::StrCat("at most ", kMaxPortRangesPerContainer,
                                         " port ranges per container"));
    }
    const std::string protocol = p.has_protocol() ? p.protocol() : "tcp";
    for (int port = range->first; port <= range->second; ++port) {
      if (!seen.insert(absl::StrCat(port, "/", protocol)).second) {
        return Invalid(field, absl::StrCat("port ", port, "/", protocol,
                                           " is in another port mapping of the container"));
      }
    }
    if (mode == "bridge") range_ports += range->second - range->first + 1;
    if (range_ports > kMaxBridgeRangePorts) {
      return Invalid(field, absl::StrCat("at most ", kMaxBridgeRangePorts,
                                         " ports in the ranges of a bridge-mode container (each "
                                         "is a DNAT rule of its own on the host)"));
    }
    return absl::OkStatus();
  }

  absl::Status CheckHealthCheck(const skiff::v1::HealthCheck& h, const std::string& container) {
    const std::string path = container + ".healthCheck";
    if (h.command().empty() || (h.command(0) != "CMD" && h.command(0) != "CMD-SHELL")) {
      return Invalid(path + ".command", "must start with CMD or CMD-SHELL");
    }
    if (h.command_size() < 2) {
      return Invalid(path + ".command", "must name a command after " + h.command(0));
    }
    if (h.has_interval()) SKIFF_RETURN_IF_ERROR(CheckRange(path + ".interval", h.interval(), 5, 300));
    if (h.has_timeout()) SKIFF_RETURN_IF_ERROR(CheckRange(path + ".timeout", h.timeout(), 2, 60));
    if (h.has_retries()) SKIFF_RETURN_IF_ERROR(CheckRange(path + ".retries", h.retries(), 1, 10));
    if (h.has_start_period()) {
      SKIFF_RETURN_IF_ERROR(CheckRange(path + ".startPeriod", h.start_period(), 0, 300));
    }
    return absl::OkStatus();
  }

  absl::Status CheckLinuxParameters(const ContainerDefinition& c, const std::string& container) {
    const auto& lp = c.linux_parameters();
    const std::string path = container + ".linuxParameters";
    for (const char* list : {"add", "drop"}) {
      const auto& caps = absl::string_view(list) == "add" ? lp.capabilities().add()
                                                           : lp.capabilities().drop();
      for (int j = 0; j < caps.size(); ++j) {
        absl::string_view name = caps[j];
        if (absl::StartsWith(name, "CAP_")) name.remove_prefix(4);
        if (!IsCapability(name)) {
          return Invalid(absl::StrCat(path, ".capabilities.", list, "[", j, "]"),
                         absl::StrCat("unknown capability ", QuoteValue(caps[j])));
        }
      }
    }
    if (lp.has_shared_memory_size() && lp.shared_memory_size() <= 0) {
      return Invalid(path + ".sharedMemorySize", "must be a positive number of MiB");
    }
    for (int j = 0; j < lp.tmpfs_size(); ++j) {
      const auto& t = lp.tmpfs(j);
      const std::string tp = absl::StrCat(path, ".tmpfs[", j, "]");
      if (auto problem = ContainerMountPathProblem(t.container_path())) {
        return Invalid(tp + ".containerPath", *problem);
      }
      if (t.size() <= 0) return Invalid(tp + ".size", "must be a positive number of MiB");
    }
    if (lp.has_max_swap() && lp.max_swap() < 0) {
      return Invalid(path + ".maxSwap", "must be >= 0");
    }
    if (lp.has_swappiness()) {
      SKIFF_RETURN_IF_ERROR(CheckRange(path + ".swappiness", lp.swappiness(), 0, 100));
    }
    return absl::OkStatus();
  }

  absl::Status CheckDependencies() {
    for (int i = 0; i < r_.container_definitions_size(); ++i) {
      const auto& c = r_.container_definitions(i);
      for (int j = 0; j < c.depends_on_size(); ++j) {
        const auto& d = c.depends_on(j);
        const std::string path = absl::StrCat("containerDefinitions[", i, "].dependsOn[", j, "]");
        auto target = containers_.find(d.container_name());
        if (target == containers_.end()) {
          return Invalid(path + ".containerName",
                         absl::StrCat("no container named ", QuoteValue(d.container_name())));
        }
        if (d.container_name() == c.name()) {
          return Invalid(path + ".containerName", "a container cannot depend on itself");
        }
        const auto& dep = r_.container_definitions(target->second);
        const bool dep_essential = !dep.has_essential() || dep.essential();
        if ((d.condition() == "COMPLETE" || d.condition() == "SUCCESS") && dep_essential) {
          return Invalid(path + ".condition",
                         absl::StrCat(d.condition(), " needs \"", dep.name(),
                                      "\" to be non-essential (an essential container must not "
                                      "exit)"));
        }
        if (d.condition() == "HEALTHY" && !dep.has_health_check()) {
          return Invalid(path + ".condition",
                         absl::StrCat("HEALTHY needs \"", dep.name(), "\" to have a healthCheck"));
        }
      }
    }
    return CheckNoCycle();
  }

  // Depth-first search over dependsOn; a grey node met again closes a cycle.
  absl::Status CheckNoCycle() {
    const int n = r_.container_definitions_size();
    std::vector<int> colour(n, 0);  // 0 white, 1 grey, 2 black
    std::vector<std::string> stack;
    std::function<std::optional<std::string>(int)> visit = [&](int i) -> std::optional<std::string> {
      colour[i] = 1;
      stack.push_back(r_.container_definitions(i).name());
      for (const auto& d : r_.container_definitions(i).depends_on()) {
        const int j = containers_.at(d.container_name());
        if (colour[j] == 1) {
          stack.push_back(d.container_name());
          return absl::StrJoin(stack, " -> ");
        }
        if (colour[j] == 0) {
          if (auto cycle = visit(j)) return cycle;
        }
      }
      stack.pop_back();
      colour[i] = 2;
      return std::nullopt;
    };
    for (int i = 0; i < n; ++i) {
      if (colour[i] != 0) continue;
      if (auto cycle = visit(i)) {
        return Invalid(absl::StrCat("containerDefinitions[", i, "].dependsOn"),
                       absl::StrCat("dependency cycle: ", *cycle));
      }
    }
    return absl::OkStatus();
  }

  absl::Status CheckTags() { return ValidateTags(r_.tags(), "tags"); }

  const RegisterTaskDefinitionRequest& r_;
  std::optional<int> task_cpu_;
  std::optional<int> task_memory_;
  absl::flat_hash_set<std::string> volumes_;
  absl::flat_hash_map<std::string, int> containers_;
  absl::flat_hash_map<std::string, std::string> host_ports_;
};

void ApplyContainerDefaults(const std::string& network_mode, ContainerDefinition* c) {
  if (!c->has_essential()) c->set_essential(true);
  if (!c->has_cpu()) c->set_cpu(0);
  for (auto& p : *c->mutable_port_mappings()) {
    if (!p.has_protocol()) p.set_protocol("tcp");
    if (!p.has_host_port() && p.has_container_port() && network_mode != "bridge") {
      p.set_host_port(p.container_port());
    }
  }
  if (c->has_health_check()) {
    auto* h = c->mutable_health_check();
    if (!h->has_interval()) h->set_interval(kDefaultHealthCheckInterval);
    if (!h->has_timeout()) h->set_timeout(kDefaultHealthCheckTimeout);
    if (!h->has_retries()) h->set_retries(kDefaultHealthCheckRetries);
  }
}

// The ECS agent capabilities a task definition asks of its container instance, as ECS derives
// them (the subset that applies to what Skiff runs).
std::vector<std::string> RequiredAttributes(const TaskDefinition& td) {
  std::vector<std::string> out;
  auto add = [&out](std::string name) {
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(std::move(name));
  };
  if (td.network_mode() == "awsvpc") {
    add("ecs.capability.task-eni");
    add("com.amazonaws.ecs.capability.docker-remote-api.1.18");
  }
  if (td.has_task_role_arn()) add("com.amazonaws.ecs.capability.task-iam-role");
  for (const auto& c : td.container_definitions()) {
    if (c.has_health_check()) {
      add("ecs.capability.container-health-check");
      add("com.amazonaws.ecs.capability.docker-remote-api.1.24");
    }
    if (c.depends_on_size() > 0 || c.has_start_timeout() || c.has_stop_timeout()) {
      add("ecs.capability.container-ordering");
    }
    if (c.docker_labels_size() > 0 || c.ulimits_size() > 0) {
      add("com.amazonaws.ecs.capability.docker-remote-api.1.18");
    }
    if (c.has_log_configuration()) {
      add("com.amazonaws.ecs.capability.logging-driver." + c.log_configuration().log_driver());
      if (c.log_configuration().log_driver() == "awslogs" && td.has_execution_role_arn()) {
        add("ecs.capability.execution-role-awslogs");
      }
    }
    if (c.has_repository_credentials()) {
      add("com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager");
    }
    if (c.environment_files_size() > 0) add("ecs.capability.env-files.s3");
    if (c.has_restart_policy()) add("ecs.capability.container-restart-policy");
    if (c.linux_parameters().has_init_process_enabled()) {
      add("com.amazonaws.ecs.capability.docker-remote-api.1.25");
    }
  }
  for (const auto& v : td.volumes()) {
    if (v.has_docker_volume_configuration()) {
      add("com.amazonaws.ecs.capability.docker-remote-api.1.25");
    }
  }
  return out;
}

}  // namespace

absl::Status ValidateRegisterTaskDefinition(const RegisterTaskDefinitionRequest& request) {
  return Validator(request).Run();
}

std::optional<std::pair<int, int>> ParsePortRange(absl::string_view text) {
  const size_t dash = text.find('-');
  int first = 0;
  int last = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(text.substr(0, dash), &first) ||
      !absl::SimpleAtoi(text.substr(dash + 1), &last) || first < 1 || last > 65535 ||
      first >= last) {
    return std::nullopt;
  }
  return std::pair{first, last};
}

double ToEpochSeconds(absl::Time t) {
  return static_cast<double>(absl::ToUnixMillis(t)) / 1000.0;
}

namespace {

// Every member of the request that a TaskDefinition has too, as given: what ECS stores and
// echoes without giving it a meaning here (enableFaultInjection, and members newer than this
// code). BuildTaskDefinition then sets what it normalizes or derives over it.
void CopyMembersAsGiven(const RegisterTaskDefinitionRequest& r, TaskDefinition* td) {
  nlohmann::ordered_json given = EncodeMessage(r);
  const google::protobuf::Descriptor* shape = TaskDefinition::descriptor();
  for (auto it = given.begin(); it != given.end();) {
    bool known = false;
    for (int i = 0; i < shape->field_count() && !known; ++i) {
      known = shape->field(i)->json_name() == it.key();
    }
    it = known ? std::next(it) : given.erase(it);
  }
  // The request passed the same decoder's checks, and the shapes agree member for member.
  DecodeMessage(given, td).IgnoreError();
}

}  // namespace

TaskDefinition BuildTaskDefinition(const RegisterTaskDefinitionRequest& r, const ArnScope& scope,
                                   int revision, absl::Time registered_at) {
  TaskDefinition td;
  CopyMembersAsGiven(r, &td);
  td.set_task_definition_arn(TaskDefinitionArn(scope, r.family(), revision));
  *td.mutable_container_definitions() = r.container_definitions();
  td.set_family(r.family());
  if (r.has_task_role_arn()) td.set_task_role_arn(r.task_role_arn());
  if (r.has_execution_role_arn()) td.set_execution_role_arn(r.execution_role_arn());
  td.set_network_mode(NetworkMode(r));
  td.set_revision(revision);
  *td.mutable_volumes() = r.volumes();
  td.set_status("ACTIVE");
  *td.mutable_placement_constraints() = r.placement_constraints();
  td.add_compatibilities("EC2");
  for (const auto& c : r.requires_compatibilities()) {
    if (c != "EC2") td.add_compatibilities(c);
  }
  if (r.has_runtime_platform()) *td.mutable_runtime_platform() = r.runtime_platform();
  *td.mutable_requires_compatibilities() = r.requires_compatibilities();
  // Validation has parsed both already; normalize "1 vCPU" to "1024" and "2GB" to "2048".
  if (r.has_cpu()) td.set_cpu(absl::StrCat(ParseCpuUnits(r.cpu()).value_or(0)));
  if (r.has_memory()) td.set_memory(absl::StrCat(ParseMemoryMiB(r.memory()).value_or(0)));
  *td.mutable_inference_accelerators() = r.inference_accelerators();
  if (r.has_pid_mode()) td.set_pid_mode(r.pid_mode());
  if (r.has_ipc_mode()) td.set_ipc_mode(r.ipc_mode());
  if (r.has_proxy_configuration()) *td.mutable_proxy_configuration() = r.proxy_configuration();
  td.set_registered_at(ToEpochSeconds(registered_at));
  if (r.has_ephemeral_storage()) *td.mutable_ephemeral_storage() = r.ephemeral_storage();

  for (auto& c : *td.mutable_container_definitions()) ApplyContainerDefaults(td.network_mode(), &c);
  for (auto& v : *td.mutable_volumes()) {
    if (!v.has_docker_volume_configuration() && !v.has_efs_volume_configuration() &&
        !v.has_fsx_windows_file_server_volume_configuration()) {
      v.mutable_host();  // ECS shows a task-scoped bind volume as "host": {}.
    }
    if (v.has_docker_volume_configuration()) {
      auto* d = v.mutable_docker_volume_configuration();
      if (!d->has_scope()) d->set_scope("task");
      if (!d->has_driver()) d->set_driver("local");
    }
  }
  for (auto& name : RequiredAttributes(td)) td.add_requires_attributes()->set_name(std::move(name));
  return td;
}

}  // namespace skiff::model
