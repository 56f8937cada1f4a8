// ServiceManager's deployment history: what ListServiceDeployments, DescribeServiceDeployments
// and DescribeServiceRevisions answer. Each deployment the service makes (a create, an update,
// a rollback) gets an entry, kept with the service in the store, whose status follows ECS's:
// IN_PROGRESS, then SUCCESSFUL, STOPPED (failed without rollback, or superseded by a newer
// one), or ROLLBACK_IN_PROGRESS and ROLLBACK_SUCCESSFUL / ROLLBACK_FAILED. Same thread contract
// as the rest of the class (loop thread only).
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

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

constexpr int kMaxHistory = 100;
constexpr int kMaxDescribeDeployments = 20;  // As ECS.

using Entry = v1::ServiceDeploymentHistory::Entry;

absl::Status InvalidParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
                         message);
}

// "ecs-svc/123" → "123": ECS's service deployment and revision ids are the same digits.
std::string Digits(const std::string& deployment_id) {
  return deployment_id.substr(deployment_id.rfind('/') + 1);
}

int Threshold(int desired) { return std::max(3, std::min(200, (desired + 1) / 2)); }

Entry* FindEntry(v1::ServiceDeploymentHistory& history, const std::string& deployment_id) {
  for (Entry& e : *history.mutable_entries()) {
    if (e.deployment_id() == deployment_id) return &e;
  }
  return nullptr;
}

v1::Failure Missing(const std::string& arn) {
  v1::Failure f;
  f.set_arn(arn);
  f.set_reason("MISSING");
  return f;
}

}  // namespace

const Entry* ServiceManager::FindHistoryEntry(const std::string& arn, absl::string_view kind,
                                              const ServiceState** owner,
                                              const std::function<bool(const Entry&)>& match) const {
  // Only ARNs of this scope and kind can name one (and a look through every history is skipped).
  if (!absl::StartsWith(arn, absl::StrCat(scope_.Prefix(), kind, "/"))) return nullptr;
  for (const auto& [key, state] : services_) {
    for (const Entry& e : state.record.history.entries()) {
      if (!match(e)) continue;
      *owner = &state;
      return &e;
    }
  }
  return nullptr;
}

void ServiceManager::RecordDeploymentStart(ServiceState& state, const std::string& rollback_of) {
  store::StoredService& r = state.record;
  const v1::Service& s = r.service;
  const v1::Deployment& d = s.deployments(0);
  const std::string path = absl::StrCat(r.cluster, "/", s.service_name(), "/", Digits(d.id()));
  v1::ServiceDeploymentHistory& history = r.history;
  // A newer deployment supersedes those still in progress (a rollback's own entry says so).
  for (Entry& e : *history.mutable_entries()) {
    v1::ServiceDeployment& old = *e.mutable_deployment();
    if (old.status() != "IN_PROGRESS" && old.status() != "PENDING") continue;
    old.set_status("STOPPED");
    old.set_status_reason(absl::StrCat("Superseded by service deployment ", Digits(d.id()), "."));
    old.set_stopped_at(Now());
    old.set_updated_at(Now());
    if (old.deployment_circuit_breaker().status() == "MONITORING") {
      old.mutable_deployment_circuit_breaker()->set_status("MONITORING_COMPLETE");
    }
  }
  Entry entry;
  entry.set_deployment_id(d.id());
  v1::ServiceRevision& revision = *entry.mutable_revision();
  revision.set_service_revision_arn(absl::StrCat(scope_.Prefix(), "service-revision/", path));
  revision.set_service_arn(s.service_arn());
  revision.set_cluster_arn(s.cluster_arn());
  revision.set_task_definition(d.task_definition());
  revision.set_launch_type(d.launch_type().empty() ? "EC2" : d.launch_type());
  revision.set_created_at(d.created_at());
  v1::ServiceDeployment& out = *entry.mutable_deployment();
  out.set_service_deployment_arn(absl::StrCat(scope_.Prefix(), "service-deployment/", path));
  out.set_service_arn(s.service_arn());
  out.set_cluster_arn(s.cluster_arn());
  out.set_created_at(d.created_at());
  out.set_started_at(d.created_at());
  out.set_updated_at(d.created_at());
  out.set_status("IN_PROGRESS");
  *out.mutable_deployment_configuration() = s.deployment_configuration();
  v1::ServiceRevisionSummary& target = *out.mutable_target_service_revision();
  target.set_arn(revision.service_revision_arn());
  target.set_requested_task_count(s.desired_count());
  for (int i = 1; i < s.deployments_size(); ++i) {
    if (const Entry* source = FindEntry(history, s.deployments(i).id()); source != nullptr) {
      v1::ServiceRevisionSummary* from = out.add_source_service_revisions();
      from->set_arn(source->revision().service_revision_arn());
    }
  }
  const bool breaker = s.deployment_configuration().deployment_circuit_breaker().enable();
  out.mutable_deployment_circuit_breaker()->set_status(breaker ? "MONITORING" : "DISABLED");
  out.mutable_deployment_circuit_breaker()->set_failure_count(0);
  out.mutable_deployment_circuit_breaker()->set_threshold(Threshold(s.desired_count()));
  if (!rollback_of.empty()) {
    if (Entry* failed = FindEntry(history, rollback_of); failed != nullptr) {
      failed->mutable_deployment()->mutable_rollback()->set_service_revision_arn(
          revision.service_revision_arn());
    }
  }
  auto* entries = history.mutable_entries();
  entries->Add(std::move(entry));
  for (int i = entries->size() - 1; i > 0; --i) entries->SwapElements(i, i - 1);
  while (entries->size() > kMaxHistory) entries->RemoveLast();
}

bool ServiceManager::RecordContainerImages(ServiceState& state, const store::StoredTask& task) {
  const v1::Task& t = task.task;
  if (t.started_by().empty() || t.containers().empty()) return false;
  Entry* entry = FindEntry(state.record.history, t.started_by());
  if (entry == nullptr || !entry->revision().container_images().empty() ||
      entry->revision().task_definition() != t.task_definition_arn()) {
    return false;
  }
  for (const v1::Container& c : t.containers()) {
    if (c.image_digest().empty()) return false;  // Not created yet, or its image failed.
  }
  for (const v1::Container& c : t.containers()) {
    v1::ContainerImage* image = entry->mutable_revision()->add_container_images();
    image->set_container_name(c.name());
    image->set_image(c.image());
    image->set_image_digest(c.image_digest());
  }
  return true;
}

std::vector<v1::ContainerImage> ServiceManager::EstablishedImages(
    const ServiceState& state, const std::string& deployment_id) const {
  for (const Entry& e : state.record.history.entries()) {
    if (e.deployment_id() != deployment_id) continue;
    return {e.revision().container_images().begin(), e.revision().container_images().end()};
  }
  return {};
}

void ServiceManager::RecordDeploymentCompleted(ServiceState& state,
                                               const std::string& deployment_id) {
  v1::ServiceDeploymentHistory& history = state.record.history;
  Entry* entry = FindEntry(history, deployment_id);
  if (entry == nullptr) return;
  v1::ServiceDeployment& d = *entry->mutable_deployment();
  d.set_status("SUCCESSFUL");
  d.set_status_reason("Service deployment completed.");
  d.set_finished_at(Now());
  d.set_updated_at(Now());
  if (d.deployment_circuit_breaker().status() == "MONITORING") {
    d.mutable_deployment_circuit_breaker()->set_status("MONITORING_COMPLETE");
  }
  // A rollback that completes makes its failed deployment's rollback a success.
  for (Entry& e : *history.mutable_entries()) {
    v1::ServiceDeployment& failed = *e.mutable_deployment();
    if (failed.status() != "ROLLBACK_IN_PROGRESS" ||
        failed.rollback().service_revision_arn() != entry->revision().service_revision_arn()) {
      continue;
    }
    failed.set_status("ROLLBACK_SUCCESSFUL");
    failed.set_finished_at(Now());
    failed.set_updated_at(Now());
  }
}

void ServiceManager::RecordDeploymentFailed(ServiceState& state, const std::string& deployment_id,
                                            const std::string& why, bool rolling_back) {
  Entry* entry = FindEntry(state.record.history, deployment_id);
  if (entry == nullptr) return;
  v1::ServiceDeployment& d = *entry->mutable_deployment();
  const bool breaker = d.deployment_circuit_breaker().status() == "MONITORING";
  if (breaker) d.mutable_deployment_circuit_breaker()->set_status("TRIGGERED");
  for (const v1::Deployment& live : state.record.service.deployments()) {
    if (live.id() == deployment_id) {
      d.mutable_deployment_circuit_breaker()->set_failure_count(live.failed_tasks());
    }
  }
  d.set_status_reason(absl::StrCat("Service deployment failed: ", why));
  d.set_updated_at(Now());
  if (rolling_back) {
    d.set_status("ROLLBACK_IN_PROGRESS");
    d.mutable_rollback()->set_reason(absl::StrCat("Service deployment failed: ", why));
    d.mutable_rollback()->set_started_at(Now());
    return;
  }
  // A failed rollback is the end of the line for its failed deployment too.
  for (Entry& e : *state.record.history.mutable_entries()) {
    v1::ServiceDeployment& earlier = *e.mutable_deployment();
    if (earlier.status() == "ROLLBACK_IN_PROGRESS" &&
        earlier.rollback().service_revision_arn() == entry->revision().service_revision_arn()) {
      earlier.set_status("ROLLBACK_FAILED");
      earlier.set_finished_at(Now());
    }
  }
  d.set_status("STOPPED");
  d.set_stopped_at(Now());
}

v1::ServiceDeployment ServiceManager::Live(const ServiceState& state, const Entry& entry) const {
  v1::ServiceDeployment out = entry.deployment();
  for (const v1::Deployment& d : state.record.service.deployments()) {
    if (d.id() != entry.deployment_id()) continue;
    out.mutable_target_service_revision()->set_running_task_count(d.running_count());
    out.mutable_target_service_revision()->set_pending_task_count(d.pending_count());
    out.mutable_target_service_revision()->set_requested_task_count(d.desired_count());
    if (out.deployment_circuit_breaker().status() == "MONITORING") {
      out.mutable_deployment_circuit_breaker()->set_failure_count(d.failed_tasks());
    }
  }
  return out;
}

absl::StatusOr<v1::ListServiceDeploymentsResponse> ServiceManager::ListServiceDeployments(
    const v1::ListServiceDeploymentsRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), model::kClientException));
  SKIFF_ASSIGN_OR_RETURN(std::string cluster, Cluster(request.cluster()));
  SKIFF_ASSIGN_OR_RETURN(ServiceState * state, FindLive(cluster, request.service(), "service"));
  std::vector<std::string> arns;
  std::map<std::string, const Entry*> by_arn;
  for (const Entry& e : state->record.history.entries()) {
    const v1::ServiceDeployment& d = e.deployment();
    if (!request.status().empty() && !absl::c_linear_search(request.status(), d.status())) {
      continue;
    }
    const v1::CreatedAt& when = request.created_at();
    if (when.has_before() && d.created_at() >= when.before()) continue;
    if (when.has_after() && d.created_at() <= when.after()) continue;
    arns.push_back(d.service_deployment_arn());
    by_arn[d.service_deployment_arn()] = &e;
  }
  absl::StatusOr<model::Page> page = model::Paginate(
      std::move(arns),
      request.has_max_results() ? std::optional<int>(request.max_results()) : std::nullopt,
      request.has_next_token() ? std::optional<std::string>(request.next_token()) : std::nullopt);
  if (!page.ok()) return model::WithEcsException(page.status(), model::kInvalidParameterException);
  v1::ListServiceDeploymentsResponse response;
  for (const std::string& arn : page->items) {
    const v1::ServiceDeployment d = Live(*state, *by_arn.at(arn));
    v1::ServiceDeploymentBrief* brief = response.add_service_deployments();
    brief->set_service_deployment_arn(d.service_deployment_arn());
    brief->set_service_arn(d.service_arn());
    brief->set_cluster_arn(d.cluster_arn());
    brief->set_created_at(d.created_at());
    brief->set_started_at(d.started_at());
    if (d.has_finished_at()) brief->set_finished_at(d.finished_at());
    brief->set_target_service_revision_arn(d.target_service_revision().arn());
    brief->set_status(d.status());
    if (d.has_status_reason()) brief->set_status_reason(d.status_reason());
  }
  if (page->next_token) response.set_next_token(*page->next_token);
  return response;
}

absl::StatusOr<v1::DescribeServiceDeploymentsResponse> ServiceManager::DescribeServiceDeployments(
    const v1::DescribeServiceDeploymentsRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), model::kClientException));
  if (request.service_deployment_arns().empty() ||
      request.service_deployment_arns_size() > kMaxDescribeDeployments) {
    return InvalidParameter(absl::StrCat("serviceDeploymentArns: between 1 and ",
                                         kMaxDescribeDeployments, " ARNs"));
  }
  v1::DescribeServiceDeploymentsResponse response;
  for (const std::string& arn : request.service_deployment_arns()) {
    const ServiceState* owner = nullptr;
    const Entry* found = FindHistoryEntry(arn, "service-deployment", &owner, [&](const Entry& e) {
      return e.deployment().service_deployment_arn() == arn;
    });
    if (found == nullptr) {
      *response.add_failures() = Missing(arn);
      continue;
    }
    *response.add_service_deployments() = Live(*owner, *found);
  }
  return response;
}

absl::StatusOr<v1::DescribeServiceRevisionsResponse> ServiceManager::DescribeServiceRevisions(
    const v1::DescribeServiceRevisionsRequest& request) {
  SKIFF_DCHECK_ON_LOOP(loop_);
  SKIFF_RETURN_IF_ERROR(
      model::WithEcsException(model::CheckShape(request), model::kClientException));
  if (request.service_revision_arns().empty() ||
      request.service_revision_arns_size() > kMaxDescribeDeployments) {
    return InvalidParameter(absl::StrCat("serviceRevisionArns: between 1 and ",
                                         kMaxDescribeDeployments, " ARNs"));
  }
  v1::DescribeServiceRevisionsResponse response;
  for (const std::string& arn : request.service_revision_arns()) {
    const ServiceState* owner = nullptr;
    const Entry* found = FindHistoryEntry(arn, "service-revision", &owner, [&](const Entry& e) {
      return e.revision().service_revision_arn() == arn;
    });
    if (found == nullptr) {
      *response.add_failures() = Missing(arn);
      continue;
    }
    *response.add_service_revisions() = found->revision();
  }
  return response;
}

}  // namespace skiff::scheduler
