#include "absl/strings/string_view.h"
#include "skiff/scheduler/task_definition_registry.h"

#include <utility>

#include "absl/algorithm/container.h"

#include "absl/strings/str_cat.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/pagination.h"
#include "skiff/model/task_definition.h"

namespace skiff::scheduler {
namespace {

using model::kClientException;

// Bad input is a ClientException on ECS, with INVALID_ARGUMENT on the wire.
absl::Status ClientError(const absl::Status& status) {
  return model::WithEcsException(status, kClientException);
}

}  // namespace

TaskDefinitionRegistry::TaskDefinitionRegistry(store::Store* store, const Clock* clock,
                                               model::ArnScope scope, const EventLoop* loop)
    : store_(store), clock_(clock), scope_(std::move(scope)), loop_(loop) {}

absl::StatusOr<v1::RegisterTaskDefinitionResponse> TaskDefinitionRegistry::Register(
    const v1::RegisterTaskDefinitionRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  absl::Status valid = model::ValidateRegisterTaskDefinition(request);
  if (!valid.ok()) return ClientError(valid);
  // ECS's 64 KiB cap applies to the document as submitted.
  const size_t size = model::EncodeMessageCompact(request).size();
  const size_t limit = model::JsonLimits{}.max_bytes;
  if (size > limit) {
    return ClientError(absl::InvalidArgumentError(
        absl::StrCat("input: task definition is ", size, " bytes; the limit is ", limit)));
  }
  SKIFF_ASSIGN_OR_RETURN(const int last, store_->LastRevision(request.family()));
  store::StoredTaskDefinition record;
  record.definition =
      model::BuildTaskDefinition(request, scope_, last + 1, clock_->Now());
  record.tags.assign(request.tags().begin(), request.tags().end());
  SKIFF_RETURN_IF_ERROR(store_->InsertTaskDefinition(record));

  v1::RegisterTaskDefinitionResponse response;
  *response.mutable_task_definition() = std::move(record.definition);
  *response.mutable_tags() = request.tags();
  return response;
}

absl::StatusOr<store::StoredTaskDefinition> TaskDefinitionRegistry::Resolve(
    absl::string_view reference, absl::string_view field) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  absl::StatusOr<model::TaskDefinitionRef> ref =
      model::ParseTaskDefinitionRef(scope_, reference, field);
  if (!ref.ok()) return ClientError(ref.status());
  std::optional<store::StoredTaskDefinition> found;
  if (ref->revision) {
    SKIFF_ASSIGN_OR_RETURN(found, store_->GetTaskDefinition(ref->family, *ref->revision));
  } else {
    SKIFF_ASSIGN_OR_RETURN(found, store_->LatestActiveTaskDefinition(ref->family));
  }
  if (!found) {
    return model::EcsError(
        absl::StatusCode::kNotFound, kClientException,
        absl::StrCat("Unable to describe task definition: ", reference,
                     ref->revision ? " does not exist" : " has no ACTIVE revision"));
  }
  return *std::move(found);
}

absl::StatusOr<v1::DescribeTaskDefinitionResponse> TaskDefinitionRegistry::Describe(
    const v1::DescribeTaskDefinitionRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(ClientError(model::CheckShape(request)));
  SKIFF_ASSIGN_OR_RETURN(auto record, Resolve(request.task_definition(), "taskDefinition"));
  v1::DescribeTaskDefinitionResponse response;
  *response.mutable_task_definition() = std::move(record.definition);
  if (absl::c_linear_search(request.include(), "TAGS")) {
    for (auto& tag : record.tags) *response.add_tags() = std::move(tag);
  }
  return response;
}

absl::StatusOr<v1::ListTaskDefinitionsResponse> TaskDefinitionRegistry::List(
    const v1::ListTaskDefinitionsRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(ClientError(model::CheckShape(request)));
  store::TaskDefinitionQuery query;
  // ECS's ListTaskDefinitions takes the whole family name in familyPrefix.
  if (request.has_family_prefix()) query.family = request.family_prefix();
  query.status = request.has_status() ? request.status() : "ACTIVE";
  query.descending = request.sort() == "DESC";
  SKIFF_ASSIGN_OR_RETURN(auto arns, store_->ListTaskDefinitionArns(query));
  absl::StatusOr<model::Page> page =
      model::Paginate(std::move(arns),
                      request.has_max_results() ? std::optional(request.max_results())
                                                : std::nullopt,
                      request.has_next_token() ? std::optional(request.next_token())
                                               : std::nullopt);
  if (!page.ok()) return ClientError(page.status());
  v1::ListTaskDefinitionsResponse response;
  for (auto& arn : page->items) response.add_task_definition_arns(std::move(arn));
  if (page->next_token) response.set_next_token(*page->next_token);
  return response;
}

absl::StatusOr<v1::ListTaskDefinitionFamiliesResponse> TaskDefinitionRegistry::ListFamilies(
    const v1::ListTaskDefinitionFamiliesRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(ClientError(model::CheckShape(request)));
  SKIFF_ASSIGN_OR_RETURN(
      auto families,
      store_->ListFamilies(request.family_prefix(),
                           request.has_status() ? request.status() : "ALL"));
  absl::StatusOr<model::Page> page =
      model::Paginate(std::move(families),
                      request.has_max_results() ? std::optional(request.max_results())
                                                : std::nullopt,
                      request.has_next_token() ? std::optional(request.next_token())
                                               : std::nullopt);
  if (!page.ok()) return ClientError(page.status());
  v1::ListTaskDefinitionFamiliesResponse response;
  for (auto& family : page->items) response.add_families(std::move(family));
  if (page->next_token) response.set_next_token(*page->next_token);
  return response;
}

absl::StatusOr<v1::DeregisterTaskDefinitionResponse> TaskDefinitionRegistry::Deregister(
    const v1::DeregisterTaskDefinitionRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(ClientError(model::CheckShape(request)));
  absl::StatusOr<model::TaskDefinitionRef> ref =
      model::ParseTaskDefinitionRef(scope_, request.task_definition(), "taskDefinition");
  if (!ref.ok()) return ClientError(ref.status());
  if (!ref->revision) {
    return model::EcsError(absl::StatusCode::kInvalidArgument, kClientException,
                           "taskDefinition: name a revision (family:revision or the full ARN)");
  }
  absl::StatusOr<store::StoredTaskDefinition> record =
      Resolve(request.task_definition(), "taskDefinition");
  if (absl::IsNotFound(record.status())) {
    return model::EcsError(absl::StatusCode::kNotFound, kClientException,
                           absl::StrCat("The specified task definition does not exist: ",
                                        request.task_definition()));
  }
  if (!record.ok()) return record.status();
  v1::TaskDefinition& td = record->definition;
  // Deregistering twice is harmless: the first deregisteredAt stands.
  if (td.status() == "ACTIVE") {
    td.set_status("INACTIVE");
    td.set_deregistered_at(model::ToEpochSeconds(clock_->Now()));
    SKIFF_RETURN_IF_ERROR(store_->UpdateTaskDefinition(td));
  }
  v1::DeregisterTaskDefinitionResponse response;
  *response.mutable_task_definition() = std::move(td);
  return response;
}

absl::StatusOr<std::vector<v1::Tag>> TaskDefinitionRegistry::Tags(const std::string& family,
                                                                  int revision) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_ASSIGN_OR_RETURN(auto record, store_->GetTaskDefinition(family, revision));
  if (!record) {
    return absl::NotFoundError(absl::StrCat("no task definition ", family, ":", revision));
  }
  return std::move(record->tags);
}

absl::Status TaskDefinitionRegistry::SetTags(const std::string& family, int revision,
                                             const std::vector<v1::Tag>& tags) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  return store_->UpdateTaskDefinitionTags(family, revision, tags);
}

}  // namespace skiff::scheduler
