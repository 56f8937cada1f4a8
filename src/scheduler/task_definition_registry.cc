#include "absl/strings/string_view.h"
#include "skiff/scheduler/task_definition_registry.h"

#include <functional>
#include <optional>
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

constexpr absl::string_view kDeleteInProgress = "DELETE_IN_PROGRESS";
// ECS takes at most this many task definitions per DeleteTaskDefinitions.
constexpr int kMaxDeletes = 10;

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

absl::StatusOr<store::StoredTaskDefinition> TaskDefinitionRegistry::ResolveForNewUse(
    absl::string_view reference, absl::string_view field) {
  SKIFF_ASSIGN_OR_RETURN(store::StoredTaskDefinition found, Resolve(reference, field));
  SKIFF_RETURN_IF_ERROR(CheckNewUse(found.definition, field));
  return found;
}

absl::Status TaskDefinitionRegistry::CheckNewUse(const v1::TaskDefinition& definition,
                                                 absl::string_view field) {
  if (definition.status() != kDeleteInProgress) return absl::OkStatus();
  return model::EcsError(
      absl::StatusCode::kFailedPrecondition, kClientException,
      absl::StrCat(std::string(field), ": ", definition.task_definition_arn(),
                   " is DELETE_IN_PROGRESS; it runs no new task or service (register a new "
                   "revision instead)"));
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

absl::StatusOr<v1::DeleteTaskDefinitionsResponse> TaskDefinitionRegistry::Delete(
    const v1::DeleteTaskDefinitionsRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(ClientError(model::CheckShape(request)));
  if (request.task_definitions_size() > kMaxDeletes) {
    return model::EcsError(absl::StatusCode::kInvalidArgument, kClientException,
                           absl::StrCat("taskDefinitions: at most ", kMaxDeletes,
                                        " task definitions at a time; got ",
                                        request.task_definitions_size()));
  }
  v1::DeleteTaskDefinitionsResponse response;
  absl::Status stored;
  for (const std::string& reference : request.task_definitions()) {
    stored = DeleteOne(reference, &response);
    if (!stored.ok()) break;
  }
  // Even after a store error: the revisions marked before it are DELETE_IN_PROGRESS.
  if (response.task_definitions_size() > 0) {
    for (const std::function<void()>& listener : deletion_listeners_) listener();
  }
  if (!stored.ok()) return stored;
  return response;
}

absl::Status TaskDefinitionRegistry::DeleteOne(const std::string& reference,
                                               v1::DeleteTaskDefinitionsResponse* out) {
  std::string arn = reference;
  auto fail = [out, &arn](absl::string_view reason, const std::string& detail) {
    v1::Failure* failure = out->add_failures();
    failure->set_arn(arn);
    failure->set_reason(std::string(reason));
    failure->set_detail(detail);
    return absl::OkStatus();
  };
  absl::StatusOr<model::TaskDefinitionRef> ref =
      model::ParseTaskDefinitionRef(scope_, reference, "taskDefinitions");
  if (!ref.ok()) return fail("INVALID_REFERENCE", std::string(ref.status().message()));
  if (!ref->revision) {
    return fail("MISSING_REVISION",
                "Name a revision to delete: family:revision or the full task definition ARN");
  }
  arn = model::TaskDefinitionArn(scope_, ref->family, *ref->revision);
  SKIFF_ASSIGN_OR_RETURN(std::optional<store::StoredTaskDefinition> found,
                         store_->GetTaskDefinition(ref->family, *ref->revision));
  if (!found) return fail("MISSING", "The specified task definition does not exist");
  v1::TaskDefinition& td = found->definition;
  if (td.status() == "ACTIVE") {
    return fail("ACTIVE",
                "The task definition is ACTIVE: deregister it (deregister-task-definition) "
                "before deleting it");
  }
  for (const v1::TaskDefinition& listed : out->task_definitions()) {
    if (listed.task_definition_arn() == arn) return absl::OkStatus();  // Named twice.
  }
  // Deleting twice is harmless: it stays DELETE_IN_PROGRESS until nothing uses it.
  if (td.status() != kDeleteInProgress) {
    td.set_status(std::string(kDeleteInProgress));
    SKIFF_RETURN_IF_ERROR(store_->UpdateTaskDefinition(td));
  }
  *out->add_task_definitions() = std::move(td);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> TaskDefinitionRegistry::DeleteInProgress() {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::TaskDefinitionKey> keys,
                         store_->TaskDefinitionsWithStatus(std::string(kDeleteInProgress)));
  std::vector<std::string> arns;
  arns.reserve(keys.size());
  for (const store::TaskDefinitionKey& key : keys) {
    arns.push_back(model::TaskDefinitionArn(scope_, key.family, key.revision));
  }
  return arns;
}

absl::Status TaskDefinitionRegistry::Purge(const std::string& arn) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_ASSIGN_OR_RETURN(model::TaskDefinitionRef ref,
                         model::ParseTaskDefinitionRef(scope_, arn, "taskDefinitionArn"));
  if (!ref.revision) return absl::InvalidArgumentError(absl::StrCat(arn, ": no revision"));
  SKIFF_ASSIGN_OR_RETURN(std::optional<store::StoredTaskDefinition> found,
                         store_->GetTaskDefinition(ref.family, *ref.revision));
  if (!found) return absl::NotFoundError(absl::StrCat("no task definition ", arn));
  if (found->definition.status() != kDeleteInProgress) {
    return absl::FailedPreconditionError(absl::StrCat(
        arn, " is ", found->definition.status(), ", not DELETE_IN_PROGRESS"));
  }
  return store_->DeleteTaskDefinition(ref.family, *ref.revision);
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
