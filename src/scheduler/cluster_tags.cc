// TagResource, UntagResource and ListTagsForResource of ClusterRegistry. Each resource keeps its
// tags where it lives: clusters here, services in the ServiceManager, task definitions in the
// store's task_definitions.tags. Loop thread only (see the header).
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/json_codec.h"
#include "skiff/model/tags.h"
#include "skiff/scheduler/cluster_registry.h"

namespace skiff::scheduler {
namespace {

using model::kClientException;
using model::kInvalidParameterException;

absl::Status InvalidParameter(absl::string_view message) {
  return model::EcsError(absl::StatusCode::kInvalidArgument, kInvalidParameterException, message);
}

absl::Status Invalid(const absl::Status& status) {
  return model::WithEcsException(status, kInvalidParameterException);
}

}  // namespace

absl::StatusOr<ClusterRegistry::TaggedResource> ClusterRegistry::ParseResource(
    const std::string& arn) const {
  const std::string prefix = scope_.Prefix();
  auto unsupported = [&] {
    return InvalidParameter(absl::StrCat(
        "resourceArn: must be the ARN of a cluster, service or task definition (", prefix,
        "cluster/NAME, ...service/CLUSTER/NAME, ...task-definition/FAMILY:REVISION); got ",
        model::QuoteValue(arn)));
  };
  absl::string_view rest = arn;
  if (!absl::ConsumePrefix(&rest, prefix)) return unsupported();
  auto bad_name = [&](absl::string_view what) {
    return InvalidParameter(absl::StrCat("resourceArn: the ", what,
                                         " must be 1-255 letters, digits, hyphens or "
                                         "underscores; got ",
                                         model::QuoteValue(arn)));
  };
  TaggedResource resource;
  if (absl::ConsumePrefix(&rest, "cluster/")) {
    if (!model::IsValidName(rest)) return bad_name("cluster name");
    resource.kind = TaggedResource::Kind::kCluster;
    SKIFF_ASSIGN_OR_RETURN(resource.cluster, clusters_->Resolve(std::string(rest)));
    return resource;
  }
  if (absl::ConsumePrefix(&rest, "service/")) {
    // service/CLUSTER/NAME, or the older service/NAME of the default cluster.
    const size_t slash = rest.find('/');
    const absl::string_view cluster =
        slash == absl::string_view::npos ? absl::string_view() : rest.substr(0, slash);
    const absl::string_view name =
        slash == absl::string_view::npos ? rest : rest.substr(slash + 1);
    if (slash != absl::string_view::npos && !model::IsValidName(cluster)) {
      return bad_name("cluster name");
    }
    if (!model::IsValidName(name)) return bad_name("service name");
    resource.kind = TaggedResource::Kind::kService;
    SKIFF_ASSIGN_OR_RETURN(resource.cluster, clusters_->Resolve(std::string(cluster)));
    absl::StatusOr<std::string> service = model::ParseServiceRef(scope_, arn, "resourceArn");
    if (!service.ok()) return Invalid(service.status());
    resource.name = *std::move(service);
    return resource;
  }
  if (absl::StartsWith(rest, "task-definition/")) {
    resource.kind = TaggedResource::Kind::kTaskDefinition;
    absl::StatusOr<model::TaskDefinitionRef> ref =
        model::ParseTaskDefinitionRef(scope_, arn, "resourceArn");
    if (!ref.ok()) return Invalid(ref.status());
    resource.name = ref->family;
    resource.revision = *ref->revision;  // An ARN always has one.
    return resource;
  }
  return unsupported();
}

absl::StatusOr<std::vector<v1::Tag>> ClusterRegistry::GetTags(const TaggedResource& resource,
                                                              const std::string& arn,
                                                              absl::string_view missing) const {
  absl::StatusOr<std::vector<v1::Tag>> tags;
  switch (resource.kind) {
    case TaggedResource::Kind::kCluster: {
      const v1::Cluster& cluster = clusters_->Find(resource.cluster)->cluster;
      return std::vector<v1::Tag>(cluster.tags().begin(), cluster.tags().end());
    }
    case TaggedResource::Kind::kService:
      tags = services_->Tags(resource.cluster, resource.name);
      break;
    case TaggedResource::Kind::kTaskDefinition:
      tags = task_definitions_->Tags(resource.name, resource.revision);
      break;
  }
  if (absl::IsNotFound(tags.status())) {
    return model::EcsError(absl::StatusCode::kNotFound, missing,
                           absl::StrCat("The specified resource wasn't found: ", arn));
  }
  return tags;
}

absl::Status ClusterRegistry::SetTags(const TaggedResource& resource, std::vector<v1::Tag> tags) {
  switch (resource.kind) {
    case TaggedResource::Kind::kCluster: {
      store::StoredCluster record = *clusters_->Find(resource.cluster);
      record.cluster.mutable_tags()->Assign(tags.begin(), tags.end());
      return clusters_->Put(std::move(record)).status();
    }
    case TaggedResource::Kind::kService:
      return services_->SetTags(resource.cluster, resource.name, std::move(tags));
    case TaggedResource::Kind::kTaskDefinition:
      return task_definitions_->SetTags(resource.name, resource.revision, tags);
  }
  return absl::InternalError("unknown resource kind");
}

absl::StatusOr<v1::TagResourceResponse> ClusterRegistry::TagResource(
    const v1::TagResourceRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_RETURN_IF_ERROR(Invalid(model::ValidateTags(request.tags(), "tags")));
  SKIFF_ASSIGN_OR_RETURN(const TaggedResource resource, ParseResource(request.resource_arn()));
  SKIFF_ASSIGN_OR_RETURN(
      std::vector<v1::Tag> existing,
      GetTags(resource, request.resource_arn(), model::kResourceNotFoundException));
  std::vector<v1::Tag> merged = model::MergeTags(std::move(existing), request.tags());
  if (merged.size() > static_cast<size_t>(model::kMaxTagsPerResource)) {
    return InvalidParameter(absl::StrCat("tags: the resource would have ", merged.size(),
                                         " tags; the limit is ", model::kMaxTagsPerResource));
  }
  SKIFF_RETURN_IF_ERROR(SetTags(resource, std::move(merged)));
  return v1::TagResourceResponse();
}

absl::StatusOr<v1::UntagResourceResponse> ClusterRegistry::UntagResource(
    const v1::UntagResourceRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  for (int i = 0; i < request.tag_keys_size(); ++i) {
    SKIFF_RETURN_IF_ERROR(Invalid(
        model::ValidateTagKey(request.tag_keys(i), absl::StrCat("tagKeys[", i, "]"))));
  }
  SKIFF_ASSIGN_OR_RETURN(const TaggedResource resource, ParseResource(request.resource_arn()));
  SKIFF_ASSIGN_OR_RETURN(
      std::vector<v1::Tag> existing,
      GetTags(resource, request.resource_arn(), model::kResourceNotFoundException));
  SKIFF_RETURN_IF_ERROR(
      SetTags(resource, model::RemoveTags(std::move(existing), request.tag_keys())));
  return v1::UntagResourceResponse();
}

absl::StatusOr<v1::ListTagsForResourceResponse> ClusterRegistry::ListTagsForResource(
    const v1::ListTagsForResourceRequest& request) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(model::WithEcsException(model::CheckShape(request), kClientException));
  SKIFF_ASSIGN_OR_RETURN(const TaggedResource resource, ParseResource(request.resource_arn()));
  // ECS's model lists no ResourceNotFoundException for this operation.
  SKIFF_ASSIGN_OR_RETURN(
      std::vector<v1::Tag> tags,
      GetTags(resource, request.resource_arn(), kInvalidParameterException));
  v1::ListTagsForResourceResponse response;
  for (v1::Tag& tag : tags) *response.add_tags() = std::move(tag);
  return response;
}

}  // namespace skiff::scheduler
