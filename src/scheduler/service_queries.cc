// The API side of ServiceManager: request checks and answers. Same thread contract as the rest
// of the class (loop thread only); the control loop itself is in service_manager.cc.
#include <algorithm>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/pagination.h"
#include "skiff/scheduler/service_manager.h"

namespace skiff::scheduler {
namespace {

using model::kClientException;
using model::kInvalidParameterException;

constexpr absl::string_view kServiceNotFoundException = "ServiceNotFoundException";
constexpr absl::string_view kServiceNotActiveException = "ServiceNotActiveException";
// One node cannot run more; a typo such as 50000 should not start a launch storm.
constexpr int kMaxDesiredCount = 5000;
constexpr int kMaxDescribe = 10;  // As ECS's DescribeServices.

absl::Status InvalidParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, kInvalidParameterException, message);
}

absl::Status CheckDesiredCount(int count) {
  if (count < 0 || count > kMaxDesiredCount) {
    return InvalidParameter(absl::StrCat("desiredCount: must be between 0 and ", kMaxDesiredCount,
                                         "; got ", count));
  }
  return absl::OkStatus();
}

absl::Status CheckDeploymentConfiguration(const v1::DeploymentConfiguration& c) {
  if (c.has_minimum_healthy_percent() &&
      (c.minimum_healthy_percent() < 0 || c.minimum_healthy_percent() > 100)) {
    return InvalidParameter(absl::StrCat(
        "deploymentConfiguration.minimumHealthyPercent: must be between 0 and 100; got ",
        c.minimum_healthy_percent()));
  }
  if (c.has_maximum_percent() && (c.maximum_percent() < 100 || c.maximum_percent() > 1000)) {
    return InvalidParameter(absl::StrCat(
        "deploymentConfiguration.maximumPercent: must be between 100 and 1000; got ",
        c.maximum_percent()));
  }
  return absl::OkStatus();
}

absl::Status CheckTags(const google::protobuf::RepeatedPtrField<v1::Tag>& tags) {
  if (tags.size() > 50) return InvalidParameter("tags: at most 50 tags");
  for (int i = 0; i < tags.size(); ++i) {
    const v1::Tag& t = tags[i];
    if (t.key().empty() || t.key().size() > 128) {
      return InvalidParameter(absl::StrCat("tags[", i, "].key: must be 1-128 characters"));
    }
    if (t.value().size() > 256) {
      return InvalidParameter(absl::StrCat("tags[", i, "].value: at most 256 characters"));
    }
    if (absl::StartsWithIgnoreCase(t.key(), "aws:")) {
      return InvalidParameter(absl::StrCat("tags[", i, "].key: the aws: prefix is reserved"));
    }
  }
  return absl::OkStatus();
}

// ECS's defaults, filled in so that DescribeServices shows what applies.
void ApplyDefaults(v1::DeploymentConfiguration* c) {
  if (!c->has_maximum_percent()) c->set_maximum_percent(200);
  if (!c->has_minimum_healthy_percent()) c->set_minimum_healthy_percent(100);
  if (!c->has_deployment_circuit_breaker()) {
    c->mutable_deployment_circuit_breaker()->set_enable(false);
    c->mutable_deployment_circuit_breaker()->set_rollback(false);
  }
}

// CreateService's checks that need nothing but the request, in the order the API reports them.
absl::Status CheckCreateRequest(const v1::CreateServiceRequest& request) {
  const std::string& name = request.service_name();
  if (!model::IsValidName(name)) {
    return InvalidParameter(absl::StrCat(
        "serviceName: must be 1-255 letters, digits, hyphens or underscores; got ",
        model::QuoteValue(name)));
  }
  if (request.has_deployment_controller() && request.deployment_controller().type() != "ECS") {
    return InvalidParameter("deploymentController.type: only ECS (rolling update) is supported");
  }
  const bool daemon = request.scheduling_strategy() == "DAEMON";
  if (daemon && request.has_desired_count()) {
    return InvalidParameter("desiredCount: not allowed with the DAEMON scheduling strategy");
  }
  if (!daemon && !request.has_desired_count()) {
    return InvalidParameter("desiredCount: required for the REPLICA scheduling strategy");
  }
  if (request.has_desired_count()) {
    SKIFF_RETURN_IF_ERROR(CheckDesiredCount(request.desired_count()));
  }
  if (!request.has_task_definition()) return InvalidParameter("taskDefinition: required");
  SKIFF_RETURN_IF_ERROR(CheckDeploymentConfiguration(request.deployment_configuration()));
  if (request.has_health_check_grace_period_seconds() &&
      request.health_check_grace_period_seconds() < 0) {
    return InvalidParameter("healthCheckGracePeriodSeconds: must not be negative");
  }
  return CheckTags(request.tags());
}

// UpdateService's checks of the request against the service `s`, before the task definition is
// resolved.
absl::Status CheckUpdateRequest(const v1::UpdateServiceRequest& request, const v1::Service& s) {
  if (s.status() != "ACTIVE") {
    return model::EcsError(absl::StatusCode::kFailedPrecondition, kServiceNotActiveException,
                           absl::StrCat("Service was not ACTIVE: ", s.service_name(), " is ",
                                        s.status()));
  }
  if (request.has_desired_count()) {
    SKIFF_RETURN_IF_ERROR(CheckDesiredCount(request.desired_count()));
    if (s.scheduling_strategy() == "DAEMON") {
      return InvalidParameter("desiredCount: not allowed with the DAEMON scheduling strategy");
    }
  }
  SKIFF_RETURN_IF_ERROR(CheckDeploymentConfiguration(request.deployment_configuration()));
  if (request.has_health_check_grace_period_seconds() &&
      request.health_check_grace_period_seconds() < 0) {
    return InvalidParameter("healthCheckGracePeriodSeconds: must not be negative");
  }
  return absl::OkStatus();
}

// The settings an UpdateService request changes in place (the task definition aside); fields the
// request leaves out keep their values.
void ApplyServiceSettings(const v1::UpdateServiceRequest& request, v1::Service& s) {
  if (request.has_desired_count()) s.set_desired_count(request.desired_count());
  if (request.has_deployment_configuration()) {
    const v1::DeploymentConfiguration& c = request.deployment_configuration();
    v1::DeploymentConfiguration* current = s.mutable_deployment_configuration();
    if (c.has_maximum_percent()) current->set_maximum_percent(c.maximum_percent());
    if (c.has_minimum_healthy_percent()) {
      current->set_minimum_healthy_percent(c.minimum_healthy_percent());
    }
    if (c.has_deployment_circuit_breaker()) {
      *current->mutable_deployment_circuit_breaker() = c.deployment_circuit_breaker();
    }
  }
  if (request.has_health_check_grace_period_seconds()) {
    s.set_health_check_grace_period_seconds(request.health_check_grace_period_seconds());
  }
  if (request.has_enable_execute_command()) {
    s.set_enable_execute_command(request.enable_execute_command());
  }
  if (request.has_propagate_tags()) s.set_propagate_tags(request.propagate_tags());
}

}  // namespace

absl::StatusOr<std::string> ServiceManager::Cluster(const std::string& requested) const {
  return clusters_->Resolve(requested);
}

absl::StatusOr<ServiceManager::ServiceState*> ServiceManager::FindLive(const std::string& cluster,
                                                                        const std::string& ref,
                                                                        absl::string_view field) {
  absl::StatusOr<std::string> name = model::ParseServiceRef(scope_, ref, field);
  if (!name.ok()) return model::WithEcsException(name.status(), kInvalidParameterException);
  ServiceState* state = Find({cluster, *name});
  if (state == nullptr || state->record.service.status() == "INACTIVE") {
    return model::EcsError(absl::StatusCode::kNotFound, kServiceNotFoundException,
                           absl::StrCat("Service not found: ", ref));
  }
  return state;
}

absl::StatusOr<v1::CreateServiceResponse> ServiceManager::CreateService(
    const v1::CreateServiceRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  SKIFF_RETURN_IF_ERROR(CheckCreateRequest(request));
  SKIFF_ASSIGN_OR_RETURN(store::StoredTaskDefinition definition,
                         registry_->ResolveForNewUse(request.task_definition(), "taskDefinition"));
  SKIFF_RETURN_IF_ERROR(CheckLoadBalancers(request.load_balancers(), definition.definition));
  const std::string& name = request.service_name();
  if (ServiceState* existing = Find({cluster, name});
      existing != nullptr && Live(existing->record.service)) {
    return InvalidParameter(absl::StrCat("serviceName: a service named ", model::QuoteValue(name),
                                         " already exists in cluster ", cluster,
                                         " (Creation of service was not idempotent.)"));
  }
  if (request.has_service_connect_configuration()) {
    SKIFF_RETURN_IF_ERROR(CheckServiceConnect(cluster, name,
                                              request.service_connect_configuration(),
                                              definition.definition)
                              .status());
  }

  ServiceState state;
  state.record.cluster = cluster;
  state.record.service = NewService(cluster, request, definition);
  const Key key{cluster, name};
  services_[key] = std::move(state);
  ServiceState& stored = services_[key];
  RecordDeploymentStart(stored, "");
  SayDnsName(stored);
  if (request.has_service_connect_configuration()) {
    SayServiceConnectIgnored(stored, request.service_connect_configuration());
  }
  LoadServiceConnect(key, stored);
  Save(stored);  // Durable before the answer, and before any task exists.
  MarkDirty(key);
  v1::CreateServiceResponse response;
  *response.mutable_service() = stored.record.service;
  return response;
}

v1::Service ServiceManager::NewService(const std::string& cluster,
                                       const v1::CreateServiceRequest& request,
                                       const store::StoredTaskDefinition& definition) {
  const std::string& name = request.service_name();
  const bool daemon = request.scheduling_strategy() == "DAEMON";
  v1::Service s;
  s.set_service_arn(model::ServiceArn(scope_, cluster, name));
  s.set_service_name(name);
  s.set_cluster_arn(model::ClusterArn(scope_, cluster));
  *s.mutable_load_balancers() = request.load_balancers();
  *s.mutable_service_registries() = request.service_registries();
  s.set_status("ACTIVE");
  s.set_desired_count(daemon ? 1 : request.desired_count());  // One node: one daemon task.
  s.set_running_count(0);
  s.set_pending_count(0);
  s.set_launch_type(request.has_launch_type() ? request.launch_type() : "EC2");
  if (request.has_platform_version()) s.set_platform_version(request.platform_version());
  s.set_task_definition(definition.definition.task_definition_arn());
  *s.mutable_deployment_configuration() = request.deployment_configuration();
  ApplyDefaults(s.mutable_deployment_configuration());
  *s.mutable_placement_constraints() = request.placement_constraints();
  *s.mutable_placement_strategy() = request.placement_strategy();
  if (request.has_network_configuration()) {
    *s.mutable_network_configuration() = request.network_configuration();
  }
  if (request.has_health_check_grace_period_seconds()) {
    s.set_health_check_grace_period_seconds(request.health_check_grace_period_seconds());
  }
  s.set_scheduling_strategy(daemon ? "DAEMON" : "REPLICA");
  s.mutable_deployment_controller()->set_type("ECS");
  *s.mutable_tags() = request.tags();
  s.set_created_at(Now());
  s.set_created_by(scope_.Prefix() + "root");
  s.set_enable_ecs_managed_tags(request.enable_ecs_managed_tags());
  s.set_propagate_tags(request.has_propagate_tags() ? request.propagate_tags() : "NONE");
  s.set_enable_execute_command(request.enable_execute_command());
  v1::Deployment deployment =
      planner_.NewDeployment(definition.definition.task_definition_arn(), s.desired_count(),
                             clock_->Now());
  deployment.set_launch_type(s.launch_type());
  if (request.has_service_connect_configuration()) {
    EchoServiceConnect(deployment, request.service_connect_configuration());
  }
  *s.add_deployments() = std::move(deployment);
  return s;
}

absl::StatusOr<v1::UpdateServiceResponse> ServiceManager::UpdateService(
    const v1::UpdateServiceRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  SKIFF_ASSIGN_OR_RETURN(ServiceState * state, FindLive(cluster, request.service(), "service"));
  v1::Service& s = state->record.service;
  SKIFF_RETURN_IF_ERROR(CheckUpdateRequest(request, s));
  std::optional<store::StoredTaskDefinition> definition;
  if (request.has_task_definition()) {
    SKIFF_ASSIGN_OR_RETURN(definition,
                           registry_->Resolve(request.task_definition(), "taskDefinition"));
    // The revision the service runs stays its own even once DELETE_IN_PROGRESS; no other may
    // become it then.
    if (definition->definition.task_definition_arn() != s.task_definition()) {
      SKIFF_RETURN_IF_ERROR(registry_->CheckNewUse(definition->definition, "taskDefinition"));
    }
  }
  SKIFF_RETURN_IF_ERROR(CheckLoadBalancersOfUpdate(request, s, definition));
  SKIFF_RETURN_IF_ERROR(CheckServiceConnectOfUpdate(request, *state, definition));

  // Everything is checked; apply.
  const v1::ServiceConnectConfiguration* connect = ConnectConfigurationOf(s);
  // A new Service Connect configuration is a new deployment, as on ECS.
  std::optional<v1::ServiceConnectConfiguration> new_connect;
  if (request.has_service_connect_configuration() &&
      (connect == nullptr || connect->SerializeAsString() !=
                                 request.service_connect_configuration().SerializeAsString())) {
    new_connect = request.service_connect_configuration();
  }
  const std::optional<v1::ServiceConnectConfiguration> carried =
      connect != nullptr ? std::optional(*connect) : std::nullopt;
  ApplyServiceSettings(request, s);
  const std::string target = definition ? definition->definition.task_definition_arn()
                                        : s.task_definition();
  // New loadBalancers apply to new tasks: a new deployment replaces the old ones, which drain
  // from the targets they have (as ECS does).
  const bool new_load_balancers = LoadBalancersChange(request, s);
  if (new_load_balancers) *s.mutable_load_balancers() = request.load_balancers();
  if (target != s.task_definition() || request.force_new_deployment() || new_load_balancers ||
      new_connect) {
    StartNewDeployment(*state, target);
    if (new_connect) {
      EchoServiceConnect(*s.mutable_deployments(0), *new_connect);
      SayServiceConnectIgnored(*state, *new_connect);
    } else if (carried) {
      EchoServiceConnect(*s.mutable_deployments(0), *carried);
    }
  } else if (request.has_desired_count()) {
    s.mutable_deployments(0)->set_desired_count(s.desired_count());
  }
  const Key key{cluster, s.service_name()};
  LoadServiceConnect(key, *state);
  Save(*state);
  MarkDirty(key);
  v1::UpdateServiceResponse response;
  *response.mutable_service() = s;
  return response;
}

void ServiceManager::StartNewDeployment(ServiceState& state, const std::string& target) {
  v1::Service& s = state.record.service;
  // A new PRIMARY deployment; the others become ACTIVE and drain as it comes up.
  for (v1::Deployment& d : *s.mutable_deployments()) {
    d.set_status("ACTIVE");
    d.set_updated_at(Now());
  }
  v1::Deployment deployment = planner_.NewDeployment(target, s.desired_count(), clock_->Now());
  deployment.set_launch_type(s.launch_type());
  auto* deployments = s.mutable_deployments();
  deployments->Add(std::move(deployment));
  for (int i = deployments->size() - 1; i > 0; --i) deployments->SwapElements(i, i - 1);
  s.set_task_definition(target);
  // A new revision deserves a fresh start.
  state.record.launch_failures = 0;
  state.record.next_launch_at = 0;
  RecordDeploymentStart(state, "");
}

absl::StatusOr<v1::DeleteServiceResponse> ServiceManager::DeleteService(
    const v1::DeleteServiceRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  SKIFF_ASSIGN_OR_RETURN(ServiceState * state, FindLive(cluster, request.service(), "service"));
  v1::Service& s = state->record.service;
  if (s.status() == "ACTIVE") {
    if (s.desired_count() > 0 && !request.force() && s.scheduling_strategy() != "DAEMON") {
      return InvalidParameter(absl::StrCat(
          "The service cannot be stopped while it is scaled above 0 (desiredCount is ",
          s.desired_count(), "); set it to 0 with update-service or delete with --force"));
    }
    s.set_status("DRAINING");
    s.set_desired_count(0);
    ForgetEndpoints({cluster, s.service_name()}, *state);
    ForgetServiceConnect({cluster, s.service_name()}, *state);
    Save(*state);
    MarkDirty({cluster, s.service_name()});
  }
  v1::DeleteServiceResponse response;
  *response.mutable_service() = s;
  return response;
}

absl::StatusOr<v1::DescribeServicesResponse> ServiceManager::DescribeServices(
    const v1::DescribeServicesRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  if (request.services().empty() || request.services().size() > kMaxDescribe) {
    return InvalidParameter(absl::StrCat("services: between 1 and ", kMaxDescribe, " services"));
  }
  v1::DescribeServicesResponse response;
  for (const std::string& ref : request.services()) {
    absl::StatusOr<std::string> name = model::ParseServiceRef(scope_, ref, "services");
    ServiceState* state = name.ok() ? Find({cluster, *name}) : nullptr;
    if (state == nullptr) {
      v1::Failure* failure = response.add_failures();
      failure->set_arn(name.ok() ? model::ServiceArn(scope_, cluster, *name) : ref);
      failure->set_reason("MISSING");
      continue;
    }
    v1::Service* out = response.add_services();
    *out = state->record.service;
    if (!absl::c_linear_search(request.include(), "TAGS")) out->clear_tags();
  }
  return response;
}

absl::StatusOr<v1::ListServicesResponse> ServiceManager::ListServices(
    const v1::ListServicesRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  std::vector<std::string> arns;
  for (const auto& [key, state] : services_) {
    const v1::Service& s = state.record.service;
    if (key.first != cluster || !Live(s)) continue;
    if (request.has_launch_type() && s.launch_type() != request.launch_type()) continue;
    if (request.has_scheduling_strategy() &&
        s.scheduling_strategy() != request.scheduling_strategy()) {
      continue;
    }
    arns.push_back(s.service_arn());
  }
  absl::StatusOr<model::Page> page = model::Paginate(
      std::move(arns),
      request.has_max_results() ? std::optional<int>(request.max_results()) : std::nullopt,
      request.has_next_token() ? std::optional<std::string>(request.next_token()) : std::nullopt);
  if (!page.ok()) return model::WithEcsException(page.status(), kInvalidParameterException);
  v1::ListServicesResponse response;
  for (std::string& arn : page->items) response.add_service_arns(std::move(arn));
  if (page->next_token) response.set_next_token(*page->next_token);
  return response;
}

int ServiceManager::ActiveServiceCount(const std::string& cluster) const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  int n = 0;
  for (const auto& [key, state] : services_) {
    if (key.first == cluster && Live(state.record.service)) ++n;
  }
  return n;
}

absl::StatusOr<std::vector<v1::Tag>> ServiceManager::Tags(const std::string& cluster,
                                                          const std::string& service) const {
  SKIFF_DCHECK_ON_LOOP(loop_);
  auto it = services_.find({cluster, service});
  if (it == services_.end() || !Live(it->second.record.service)) {
    return model::EcsError(absl::StatusCode::kNotFound, kServiceNotFoundException,
                           absl::StrCat("Service not found: ", service));
  }
  const auto& tags = it->second.record.service.tags();
  return std::vector<v1::Tag>(tags.begin(), tags.end());
}

absl::Status ServiceManager::SetTags(const std::string& cluster, const std::string& service,
                                     std::vector<v1::Tag> tags) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  ServiceState* state = Find({cluster, service});
  if (state == nullptr || !Live(state->record.service)) {
    return model::EcsError(absl::StatusCode::kNotFound, kServiceNotFoundException,
                           absl::StrCat("Service not found: ", service));
  }
  auto* out = state->record.service.mutable_tags();
  out->Clear();
  for (v1::Tag& t : tags) *out->Add() = std::move(t);
  Save(*state);
  return absl::OkStatus();
}

}  // namespace skiff::scheduler
