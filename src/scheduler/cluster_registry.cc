// Clusters and the node as their container instance. The tag operations are in
// cluster_tags.cc. Loop thread only (see the header).
#include "skiff/scheduler/cluster_registry.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "scheduler/task_states.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/pagination.h"
#include "skiff/model/tags.h"
#include "skiff/model/task_definition.h"

namespace skiff::scheduler {
namespace {

using model::kClientException;
using model::kInvalidParameterException;

constexpr int kMaxDescribed = 100;  // ECS's limit for clusters and container instances.

absl::Status InvalidParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, kInvalidParameterException, message);
}

// ECS's names for the machine types it knows; others pass through as uname says them.
std::string CpuArchitecture() {
  struct utsname name {};
  if (uname(&name) != 0) return "unknown";
  const std::string machine = name.machine;
  if (machine == "aarch64") return "arm64";
  return machine;
}

// Tasks that should run and have not got there yet (a lastStatus that names no stage is not).
bool IsPending(const v1::Task& task) {
  const std::optional<TaskStage> stage = ParseTaskStage(task.last_status());
  return stage.has_value() && *stage < TaskStage::kRunning;
}

int32_t ClampToInt32(int64_t value) {
  return static_cast<int32_t>(std::clamp<int64_t>(value, 0, std::numeric_limits<int32_t>::max()));
}

void AddIntegerResource(google::protobuf::RepeatedPtrField<v1::Resource>* out,
                        absl::string_view name, int64_t value) {
  v1::Resource* r = out->Add();
  r->set_name(std::string(name));
  r->set_type("INTEGER");
  r->set_integer_value(ClampToInt32(value));
}

// CPU and MEMORY as ECS counts them, and the port sets (no host port is registered as taken).
void AddResources(google::protobuf::RepeatedPtrField<v1::Resource>* out, const Resources& r) {
  AddIntegerResource(out, "CPU", r.cpu);
  AddIntegerResource(out, "MEMORY", r.memory);
  for (const char* ports : {"PORTS", "PORTS_UDP"}) {
    v1::Resource* set = out->Add();
    set->set_name(ports);
    set->set_type("STRINGSET");
  }
}

void AddStatistic(v1::Cluster* cluster, absl::string_view name, int value) {
  v1::KeyValuePair* pair = cluster->add_statistics();
  pair->set_name(std::string(name));
  pair->set_value(absl::StrCat(value));
}

// What CreateCluster accepts beyond the shape: names, tags, settings, strategy ranges.
absl::Status ValidateCreateCluster(const v1::CreateClusterRequest& request,
                                   const std::string& name) {
  if (!model::IsValidName(name)) {
    return InvalidParameter(
        absl::StrCat("clusterName: must be 1-255 letters, digits, hyphens or underscores; got ",
                     model::QuoteValue(name)));
  }
  absl::Status tags = model::ValidateTags(request.tags(), "tags");
  if (!tags.ok()) return model::WithEcsException(tags, kInvalidParameterException);
  for (int i = 0; i < request.settings_size(); ++i) {
    const v1::ClusterSetting& setting = request.settings(i);
    if (!setting.has_name()) {
      return InvalidParameter(absl::StrCat("settings[", i, "].name: must be containerInsights"));
    }
    if (setting.value() != "enabled" && setting.value() != "disabled") {
      return InvalidParameter(absl::StrCat("settings[", i,
                                           "].value: must be enabled or disabled; got ",
                                           model::QuoteValue(setting.value())));
    }
  }
  for (int i = 0; i < request.default_capacity_provider_strategy_size(); ++i) {
    const v1::CapacityProviderStrategyItem& item = request.default_capacity_provider_strategy(i);
    const std::string path = absl::StrCat("defaultCapacityProviderStrategy[", i, "]");
    if (item.weight() < 0 || item.weight() > 1000) {
      return InvalidParameter(absl::StrCat(path, ".weight: must be between 0 and 1000; got ",
                                           item.weight()));
    }
    if (item.base() < 0 || item.base() > 100000) {
      return InvalidParameter(absl::StrCat(path, ".base: must be between 0 and 100000; got ",
                                           item.base()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

ClusterRegistry::ClusterRegistry(ClusterDirectory* clusters, const TaskInventory* tasks,
                                 ServiceInventory* services,
                                 TaskDefinitionRegistry* task_definitions, const Clock* clock,
                                 model::ArnScope scope, NodeInfo node, const EventLoop* loop)
    : clusters_(clusters),
      tasks_(tasks),
      services_(services),
      task_definitions_(task_definitions),
      clock_(clock),
      scope_(std::move(scope)),
      node_(std::move(node)),
      loop_(loop),
      cpu_architecture_(CpuArchitecture()) {}

double ClusterRegistry::Now() const { return model::ToEpochSeconds(clock_->Now()); }

std::map<std::string, ClusterRegistry::TaskCounts> ClusterRegistry::CountTasks() const {
  std::map<std::string, TaskCounts> counts;
  tasks_->ForEachTask([&counts](const store::StoredTask& record) {
    const v1::Task& task = record.task;
    if (DesiredOf(task) != DesiredStatus::kRunning) return;
    const bool fargate = task.launch_type() == "FARGATE";
    TaskCounts& c = counts[record.cluster];
    if (StageOf(task) == TaskStage::kRunning) {
      ++c.running;
      if (fargate) ++c.running_fargate;
    } else if (IsPending(task)) {
      ++c.pending;
      if (fargate) ++c.pending_fargate;
    }
  });
  return counts;
}

ClusterRegistry::TaskCounts ClusterRegistry::CountsOf(
    const std::map<std::string, TaskCounts>& all, const std::string& cluster) {
  const auto it = all.find(cluster);
  return it == all.end() ? TaskCounts{} : it->second;
}

v1::Cluster ClusterRegistry::View(const store::StoredCluster& record, const ClusterParts& parts,
                                  const std::map<std::string, TaskCounts>& all_counts) const {
  v1::Cluster c = record.cluster;
  const std::string& name = c.cluster_name();
  // From the scope in force, so a changed --region shows in every ARN alike.
  c.set_cluster_arn(model::ClusterArn(scope_, name));
  c.set_status("ACTIVE");
  c.set_registered_container_instances_count(1);
  const TaskCounts counts = CountsOf(all_counts, name);
  c.set_running_tasks_count(counts.running);
  c.set_pending_tasks_count(counts.pending);
  c.set_active_services_count(services_->ActiveServiceCount(name));
  if (!parts.tags) c.clear_tags();
  if (!parts.settings) c.clear_settings();
  if (!parts.configurations) c.clear_configuration();
  if (parts.statistics) {
    AddStatistic(&c, "runningEC2TasksCount", counts.running - counts.running_fargate);
    AddStatistic(&c, "runningFargateTasksCount", counts.running_fargate);
    AddStatistic(&c, "pendingEC2TasksCount", counts.pending - counts.pending_fargate);
    AddStatistic(&c, "pendingFargateTasksCount", counts.pending_fargate);
  }
  return c;
}

absl::StatusOr<v1::CreateClusterResponse> ClusterRegistry::CreateCluster(
    const v1::CreateClusterRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  const std::string name =
      request.has_cluster_name() ? request.cluster_name() : ClusterDirectory::kDefaultCluster;
  SKIFF_RETURN_IF_ERROR(ValidateCreateCluster(request, name));
  const ClusterParts all_parts{.tags = true, .settings = true, .configurations = true};
  v1::CreateClusterResponse response;
  // As ECS: creating a cluster that exists returns it as it is.
  if (const store::StoredCluster* existing = clusters_->Find(name)) {
    *response.mutable_cluster() = View(*existing, all_parts, CountTasks());
    return response;
  }
  store::StoredCluster record = clusters_->NewCluster(name);
  v1::Cluster& c = record.cluster;
  *c.mutable_tags() = request.tags();
  if (!request.settings().empty()) *c.mutable_settings() = request.settings();
  if (request.has_configuration()) *c.mutable_configuration() = request.configuration();
  // Capacity providers and Service Connect mean nothing on one node; they are kept and echoed.
  *c.mutable_capacity_providers() = request.capacity_providers();
  *c.mutable_default_capacity_provider_strategy() = request.default_capacity_provider_strategy();
  if (request.has_service_connect_defaults()) {
    c.mutable_service_connect_defaults()->set_namespace_(
        request.service_connect_defaults().namespace_());
  }
  SKIFF_ASSIGN_OR_RETURN(const store::StoredCluster* created, clusters_->Put(std::move(record)));
  *response.mutable_cluster() = View(*created, all_parts, CountTasks());
  return response;
}

absl::StatusOr<v1::DescribeClustersResponse> ClusterRegistry::DescribeClusters(
    const v1::DescribeClustersRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  if (request.clusters_size() > kMaxDescribed) {
    return InvalidParameter(
        absl::StrCat("clusters: at most 100 clusters; got ", request.clusters_size()));
  }
  const auto& include = request.include();
  const ClusterParts parts{.tags = absl::c_linear_search(include, "TAGS"),
                           .settings = absl::c_linear_search(include, "SETTINGS"),
                           .configurations = absl::c_linear_search(include, "CONFIGURATIONS"),
                           .statistics = absl::c_linear_search(include, "STATISTICS")};
  std::vector<std::string> refs(request.clusters().begin(), request.clusters().end());
  if (refs.empty()) refs.emplace_back();  // The default cluster.
  const std::map<std::string, TaskCounts> counts = CountTasks();
  v1::DescribeClustersResponse response;
  for (const std::string& ref : refs) {
    absl::StatusOr<std::string> name = model::ParseClusterRef(scope_, ref);
    const store::StoredCluster* record = name.ok() ? clusters_->Find(*name) : nullptr;
    if (record == nullptr) {
      v1::Failure* failure = response.add_failures();
      failure->set_arn(name.ok() ? model::ClusterArn(scope_, *name) : ref);
      failure->set_reason("MISSING");
      continue;
    }
    *response.add_clusters() = View(*record, parts, counts);
  }
  return response;
}

absl::StatusOr<v1::ListClustersResponse> ClusterRegistry::ListClusters(
    const v1::ListClustersRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  std::vector<std::string> arns;
  for (const auto& [name, record] : clusters_->clusters()) arns.push_back(model::ClusterArn(scope_, name));
  absl::StatusOr<model::Page> page = model::Paginate(
      std::move(arns),
      request.has_max_results() ? std::optional<int>(request.max_results()) : std::nullopt,
      request.has_next_token() ? std::optional<std::string>(request.next_token()) : std::nullopt);
  if (!page.ok()) return model::WithEcsException(page.status(), kInvalidParameterException);
  v1::ListClustersResponse response;
  for (std::string& arn : page->items) response.add_cluster_arns(std::move(arn));
  if (page->next_token) response.set_next_token(*page->next_token);
  return response;
}

absl::StatusOr<v1::DeleteClusterResponse> ClusterRegistry::DeleteCluster(
    const v1::DeleteClusterRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(const std::string name, clusters_->Resolve(request.cluster()));
  if (services_->ActiveServiceCount(name) > 0) {
    return model::EcsError(absl::StatusCode::kFailedPrecondition,
                           model::kClusterContainsServicesException,
                           "The Cluster cannot be deleted while Services are active.");
  }
  bool has_tasks = false;
  tasks_->ForEachTask([&](const store::StoredTask& task) {
    if (task.cluster == name && !IsStopped(task.task)) has_tasks = true;
  });
  if (has_tasks) {
    return model::EcsError(absl::StatusCode::kFailedPrecondition,
                           model::kClusterContainsTasksException,
                           "The Cluster cannot be deleted while Tasks are active.");
  }
  v1::DeleteClusterResponse response;
  v1::Cluster* c = response.mutable_cluster();
  *c = View(*clusters_->Find(name), {.tags = true, .settings = true, .configurations = true},
            CountTasks());
  c->set_status("INACTIVE");
  c->set_registered_container_instances_count(0);
  SKIFF_RETURN_IF_ERROR(clusters_->Erase(name));
  return response;
}

v1::ContainerInstance ClusterRegistry::Instance(const store::StoredCluster& record,
                                                bool health) const {
  const std::string& cluster = record.cluster.cluster_name();
  const bool connected = node_.runtime_health != nullptr && node_.runtime_health->available();
  v1::ContainerInstance ci;
  ci.set_container_instance_arn(model::ContainerInstanceArn(scope_, cluster));
  ci.set_status("ACTIVE");
  ci.set_agent_connected(connected);
  v1::VersionInfo* version = ci.mutable_version_info();
  version->set_agent_version(node_.agent_version);
  const std::string runtime = node_.runtime_version ? node_.runtime_version() : std::string();
  if (!runtime.empty()) version->set_docker_version(runtime);
  // The node is the one instance of every cluster, so what remains is what tasks of all
  // clusters leave.
  const Resources& capacity = tasks_->capacity();
  const Resources& reserved = tasks_->reserved();
  AddResources(ci.mutable_registered_resources(), capacity);
  AddResources(ci.mutable_remaining_resources(),
               {.cpu = capacity.cpu - reserved.cpu, .memory = capacity.memory - reserved.memory});
  const TaskCounts counts = CountsOf(CountTasks(), cluster);
  ci.set_running_tasks_count(counts.running);
  ci.set_pending_tasks_count(counts.pending);
  for (const auto& [name, value] : {std::pair<std::string, std::string>{"ecs.os-type", "linux"},
                                    {"ecs.cpu-architecture", cpu_architecture_}}) {
    v1::Attribute* attribute = ci.add_attributes();
    attribute->set_name(name);
    attribute->set_value(value);
  }
  ci.set_registered_at(record.registered_at);
  if (health) {
    const std::string status = connected ? "OK" : "IMPAIRED";
    v1::ContainerInstanceHealthStatus* h = ci.mutable_health_status();
    h->set_overall_status(status);
    v1::InstanceHealthCheckResult* runtime_check = h->add_details();
    runtime_check->set_type("CONTAINER_RUNTIME");
    runtime_check->set_status(status);
    runtime_check->set_last_updated(Now());
  }
  return ci;
}

absl::StatusOr<v1::DescribeContainerInstancesResponse> ClusterRegistry::DescribeContainerInstances(
    const v1::DescribeContainerInstancesRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  if (request.container_instances_size() > kMaxDescribed) {
    return InvalidParameter(
        absl::StrCat("containerInstances: at most 100 container instances; got ",
                     request.container_instances_size()));
  }
  SKIFF_ASSIGN_OR_RETURN(const std::string cluster, clusters_->Resolve(request.cluster()));
  const std::string arn = model::ContainerInstanceArn(scope_, cluster);
  // ECS also takes the older ARN form without the cluster.
  const std::string short_arn =
      absl::StrCat(scope_.Prefix(), "container-instance/", scope_.instance_id);
  const bool health = absl::c_linear_search(request.include(), "CONTAINER_INSTANCE_HEALTH");
  v1::DescribeContainerInstancesResponse response;
  bool described = false;
  for (const std::string& ref : request.container_instances()) {
    if (ref == arn || ref == short_arn || ref == scope_.instance_id) {
      if (!described) {
        *response.add_container_instances() = Instance(*clusters_->Find(cluster), health);
      }
      described = true;
      continue;
    }
    v1::Failure* failure = response.add_failures();
    const bool is_id =
        ref.size() == 32 && ref.find_first_not_of("0123456789abcdef") == std::string::npos;
    failure->set_arn(is_id ? absl::StrCat(scope_.Prefix(), "container-instance/", cluster, "/", ref)
                           : ref);
    failure->set_reason("MISSING");
  }
  return response;
}

}  // namespace skiff::scheduler
