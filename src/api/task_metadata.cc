#include "api/task_metadata.h"

#include <algorithm>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "skiff/model/resources.h"
#include "skiff/model/task_definition.h"

namespace skiff::api {
namespace {

using nlohmann::json;

// Go's zero time, which Docker gives as preread before a second sample.
constexpr char kZeroTime[] = "0001-01-01T00:00:00Z";

// RFC 3339 with the fraction Go's time.Time marshals to, as the agent's answers carry them.
std::string Timestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}
std::string Timestamp(double epoch_seconds) {
  return Timestamp(absl::FromUnixNanos(static_cast<int64_t>(epoch_seconds * 1e9)));
}

const v1::ContainerDefinition* DefinitionOf(const scheduler::TaskDetails& task,
                                            const std::string& name) {
  if (task.definition == nullptr) return nullptr;
  for (const v1::ContainerDefinition& d : task.definition->container_definitions()) {
    if (d.name() == name) return &d;
  }
  return nullptr;
}

std::string NetworkModeOf(const scheduler::TaskDetails& task) {
  if (task.definition == nullptr || !task.definition->has_network_mode()) return "bridge";
  return task.definition->network_mode();
}

json Labels(const scheduler::TaskDetails& task, const v1::Container& c,
            const v1::ContainerDefinition* d) {
  json labels = json::object();
  if (d != nullptr) {
    for (const auto& [key, value] : d->docker_labels()) labels[key] = value;
  }
  labels["com.amazonaws.ecs.cluster"] = task.record.cluster;
  labels["com.amazonaws.ecs.container-name"] = c.name();
  labels["com.amazonaws.ecs.task-arn"] = task.record.task.task_arn();
  if (task.definition != nullptr) {
    labels["com.amazonaws.ecs.task-definition-family"] = task.definition->family();
    labels["com.amazonaws.ecs.task-definition-version"] =
        absl::StrCat(task.definition->revision());
  }
  return labels;
}

json Ports(const scheduler::TaskDetails& task, const v1::Container& c,
           const v1::ContainerDefinition* d) {
  json ports = json::array();
  if (NetworkModeOf(task) == "awsvpc" && d != nullptr) {
    // An ENI's ports are the container's own, not published on a host.
    for (const v1::PortMapping& m : d->port_mappings()) {
      if (!m.has_container_port()) continue;
      ports.push_back({{"ContainerPort", m.container_port()},
                       {"Protocol", m.has_protocol() ? m.protocol() : "tcp"},
                       {"HostPort", m.container_port()}});
    }
    return ports;
  }
  for (const v1::NetworkBinding& b : c.network_bindings()) {
    // A containerPortRange's binding, port by port.
    int container_port = b.container_port();
    int host_port = b.host_port();
    int count = 1;
    const std::optional<std::pair<int, int>> range =
        model::ParsePortRange(b.container_port_range());
    const std::optional<std::pair<int, int>> host = model::ParsePortRange(b.host_port_range());
    if (range && host) {
      container_port = range->first;
      host_port = host->first;
      count = range->second - range->first + 1;
    }
    for (int k = 0; k < count; ++k) {
      json port = {{"ContainerPort", container_port + k},
                   {"Protocol", b.has_protocol() ? b.protocol() : "tcp"},
                   {"HostPort", host_port + k}};
      if (b.has_bind_ip()) port["HostIp"] = b.bind_ip();
      ports.push_back(std::move(port));
    }
  }
  return ports;
}

std::string AttachmentDetail(const v1::Task& task, const std::string& name) {
  for (const v1::Attachment& a : task.attachments()) {
    for (const v1::KeyValuePair& kv : a.details()) {
      if (kv.name() == name) return kv.value();
    }
  }
  return "";
}

json Networks(const scheduler::TaskDetails& task, const v1::Container& c) {
  const std::string mode = NetworkModeOf(task);
  json network = {{"NetworkMode", mode}};
  for (const v1::NetworkInterface& ni : c.network_interfaces()) {
    if (ni.has_private_ipv4_address()) {
      network["IPv4Addresses"] = json::array({ni.private_ipv4_address()});
      break;
    }
  }
  if (mode == "awsvpc") {
    const v1::Task& t = task.record.task;
    network["AttachmentIndex"] = 0;
    network["MACAddress"] = AttachmentDetail(t, "macAddress");
    network["PrivateDNSName"] = AttachmentDetail(t, "privateDnsName");
    network["SubnetGatewayIpv4Address"] = AttachmentDetail(t, "gatewayIPv4Address");
  }
  return json::array({network});
}

json ContainerLimits(const v1::ContainerDefinition* d) {
  json limits = {{"CPU", d != nullptr ? d->cpu() : 0}};
  if (d != nullptr && d->has_memory()) limits["Memory"] = d->memory();
  return limits;
}

void AddTimes(const v1::Task& t, const v1::Container& c, json& out) {
  if (t.has_pull_stopped_at() || t.has_created_at()) {
    out["CreatedAt"] = Timestamp(t.has_pull_stopped_at() ? t.pull_stopped_at() : t.created_at());
  }
  const bool ran = c.last_status() == "RUNNING" || c.last_status() == "STOPPED";
  if (ran && t.has_started_at()) out["StartedAt"] = Timestamp(t.started_at());
  if (c.last_status() == "STOPPED" && (t.has_execution_stopped_at() || t.has_stopped_at())) {
    out["FinishedAt"] = Timestamp(t.has_execution_stopped_at() ? t.execution_stopped_at()
                                                                : t.stopped_at());
  }
}

void AddLogging(const v1::ContainerDefinition& d, json& out) {
  if (!d.has_log_configuration()) return;
  // options only: secretOptions are secrets, never shown.
  out["LogDriver"] = d.log_configuration().log_driver();
  json options = json::object();
  for (const auto& [key, value] : d.log_configuration().options()) options[key] = value;
  out["LogOptions"] = std::move(options);
}

json CpuStats(const runtime::ContainerStats& s, const HostFacts& host) {
  // Docker's system_cpu_usage is the host's CPU time, all cores, so that a client's
  // Δtotal_usage / Δsystem_cpu_usage × online_cpus is the container's share of one core. The
  // node's clock times the online cores gives the same ratio from the same samples.
  const auto system = static_cast<uint64_t>(absl::ToUnixNanos(s.sampled_at)) *
                      static_cast<uint64_t>(host.online_cpus);
  return {{"cpu_usage", {{"total_usage", s.cpu_usage_ns}}},
          {"system_cpu_usage", system},
          {"online_cpus", host.online_cpus},
          {"throttling_data",
           {{"periods", s.cpu_periods},
            {"throttled_periods", s.cpu_throttled_periods},
            {"throttled_time", s.cpu_throttled_ns}}}};
}

}  // namespace

std::optional<MetadataRoute> ParseMetadataPath(absl::string_view path) {
  if (!absl::ConsumePrefix(&path, "/v4/") && !absl::ConsumePrefix(&path, "/v3/")) {
    return std::nullopt;
  }
  absl::ConsumeSuffix(&path, "/");
  MetadataRoute route;
  if (absl::ConsumeSuffix(&path, "/task/stats")) {
    route.kind = MetadataRoute::Kind::kTaskStats;
  } else if (absl::ConsumeSuffix(&path, "/task")) {
    route.kind = MetadataRoute::Kind::kTask;
  } else if (absl::ConsumeSuffix(&path, "/stats")) {
    route.kind = MetadataRoute::Kind::kContainerStats;
  }
  if (path.empty() || absl::StrContains(path, '/')) return std::nullopt;
  route.token = std::string(path);
  return route;
}

json ContainerMetadata(const scheduler::TaskDetails& task, int index) {
  const v1::Task& t = task.record.task;
  const v1::Container& c = t.containers(index);
  const v1::ContainerDefinition* d = DefinitionOf(task, c.name());
  json out = {{"DockerId", c.runtime_id()},
              {"Name", c.name()},
              {"DockerName", c.runtime_id()},
              {"Image", d != nullptr ? d->image() : c.image()},
              {"ImageID", c.image_digest()},
              {"Labels", Labels(task, c, d)},
              {"DesiredStatus", t.desired_status()},
              {"KnownStatus", c.last_status()},
              {"Limits", ContainerLimits(d)},
              {"Type", "NORMAL"},
              {"ContainerARN", c.container_arn()},
              {"Networks", Networks(task, c)}};
  if (json ports = Ports(task, c, d); !ports.empty()) out["Ports"] = std::move(ports);
  if (c.has_exit_code()) out["ExitCode"] = c.exit_code();
  AddTimes(t, c, out);
  if (d != nullptr) {
    AddLogging(*d, out);
    if (d->has_health_check()) {
      out["Health"] = {{"status", c.has_health_status() ? c.health_status() : "UNKNOWN"}};
    }
    if (d->restart_policy().enabled() && index < static_cast<int>(task.restart_counts.size())) {
      out["RestartCount"] = task.restart_counts[index];
    }
  }
  return out;
}

json TaskMetadata(const scheduler::TaskDetails& task) {
  const v1::Task& t = task.record.task;
  json out = {{"Cluster", t.cluster_arn()},
              {"TaskARN", t.task_arn()},
              {"DesiredStatus", t.desired_status()},
              {"KnownStatus", t.last_status()},
              {"LaunchType", t.has_launch_type() ? t.launch_type() : "EC2"},
              {"Containers", json::array()}};
  if (task.definition != nullptr) {
    out["Family"] = task.definition->family();
    out["Revision"] = absl::StrCat(task.definition->revision());
  }
  if (!task.record.service.empty()) out["ServiceName"] = task.record.service;
  json limits = json::object();
  if (absl::StatusOr<int> cpu = model::ParseCpuUnits(t.cpu()); t.has_cpu() && cpu.ok()) {
    limits["CPU"] = *cpu / 1024.0;  // vCPUs at the task level.
  }
  if (absl::StatusOr<int> mib = model::ParseMemoryMiB(t.memory()); t.has_memory() && mib.ok()) {
    limits["Memory"] = *mib;
  }
  if (!limits.empty()) out["Limits"] = std::move(limits);
  if (t.has_pull_started_at()) out["PullStartedAt"] = Timestamp(t.pull_started_at());
  if (t.has_pull_stopped_at()) out["PullStoppedAt"] = Timestamp(t.pull_stopped_at());
  if (t.has_execution_stopped_at()) {
    out["ExecutionStoppedAt"] = Timestamp(t.execution_stopped_at());
  }
  if (t.has_availability_zone()) out["AvailabilityZone"] = t.availability_zone();
  if (t.tags_size() > 0) {
    json tags = json::object();
    for (const v1::Tag& tag : t.tags()) tags[tag.key()] = tag.value();
    out["TaskTags"] = std::move(tags);
  }
  for (int i = 0; i < t.containers_size(); ++i) {
    out["Containers"].push_back(ContainerMetadata(task, i));
  }
  return out;
}

json ContainerStats(const TaskSnapshot& snapshot, int index, const HostFacts& host) {
  if (index >= static_cast<int>(snapshot.stats.size()) || !snapshot.stats[index]) return nullptr;
  const scaling::StatsStore::Entry& entry = *snapshot.stats[index];
  const runtime::ContainerStats& s = entry.latest;
  const std::string& id = snapshot.task.record.task.containers(index).runtime_id();
  // Docker's memory "usage" less stats.inactive_file is what `docker stats` shows as used:
  // the working set.
  const uint64_t inactive = s.memory_usage_bytes - std::min(s.memory_usage_bytes,
                                                            s.memory_working_set_bytes);
  json precpu = {{"cpu_usage", {{"total_usage", 0}}}, {"system_cpu_usage", 0},
                 {"online_cpus", host.online_cpus}, {"throttling_data", json::object()}};
  if (entry.previous) precpu = CpuStats(*entry.previous, host);
  return {{"read", Timestamp(s.sampled_at)},
          {"preread", entry.previous ? Timestamp(entry.previous->sampled_at) : kZeroTime},
          {"id", id},
          {"name", "/" + id},
          {"num_procs", 0},
          {"pids_stats", {{"current", s.pids}}},
          {"cpu_stats", CpuStats(s, host)},
          {"precpu_stats", std::move(precpu)},
          {"memory_stats",
           {{"usage", s.memory_usage_bytes},
            {"limit", s.memory_limit_bytes != 0 ? s.memory_limit_bytes : host.memory_bytes},
            {"stats", {{"inactive_file", inactive}}}}}};
}

json TaskStats(const TaskSnapshot& snapshot, const HostFacts& host) {
  json out = json::object();
  const v1::Task& t = snapshot.task.record.task;
  for (int i = 0; i < t.containers_size(); ++i) {
    if (t.containers(i).runtime_id().empty()) continue;
    out[t.containers(i).runtime_id()] = ContainerStats(snapshot, i, host);
  }
  return out;
}

}  // namespace skiff::api
