// The ACTIVE clusters (see the header). Loop thread only.
#include "skiff/scheduler/cluster_directory.h"

#include <utility>

#include "skiff/base/status_macros.h"
#include "skiff/model/errors.h"
#include "skiff/model/task_definition.h"

namespace skiff::scheduler {

ClusterDirectory::ClusterDirectory(store::Store* store, const Clock* clock, model::ArnScope scope,
                                   const EventLoop* loop)
    : store_(store), clock_(clock), scope_(std::move(scope)), loop_(loop) {}

store::StoredCluster ClusterDirectory::NewCluster(const std::string& name) const {
  store::StoredCluster record;
  v1::Cluster& c = record.cluster;
  c.set_cluster_arn(model::ClusterArn(scope_, name));
  c.set_cluster_name(name);
  c.set_status("ACTIVE");
  // ECS writes the account's default when the request has no settings.
  v1::ClusterSetting* insights = c.add_settings();
  insights->set_name("containerInsights");
  insights->set_value("disabled");
  record.registered_at = model::ToEpochSeconds(clock_->Now());
  return record;
}

absl::Status ClusterDirectory::Load() {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_ASSIGN_OR_RETURN(std::vector<store::StoredCluster> stored, store_->LoadClusters());
  for (store::StoredCluster& record : stored) {
    if (record.registered_at == 0) {  // Written before schema version 4.
      record.registered_at = model::ToEpochSeconds(clock_->Now());
      SKIFF_RETURN_IF_ERROR(store_->PutCluster(record));
    }
    std::string name = record.cluster.cluster_name();
    clusters_.insert_or_assign(std::move(name), std::move(record));
  }
  if (!clusters_.contains(kDefaultCluster)) {
    SKIFF_RETURN_IF_ERROR(Put(NewCluster(kDefaultCluster)).status());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ClusterDirectory::Resolve(const std::string& reference) const {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  absl::StatusOr<std::string> name = model::ParseClusterRef(scope_, reference);
  if (!name.ok()) {
    return model::WithEcsException(name.status(), model::kInvalidParameterException);
  }
  if (!clusters_.contains(*name)) {
    return model::EcsError(absl::StatusCode::kNotFound, model::kClusterNotFoundException,
                           "Cluster not found.");
  }
  return name;
}

const store::StoredCluster* ClusterDirectory::Find(const std::string& name) const {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  const auto it = clusters_.find(name);
  return it == clusters_.end() ? nullptr : &it->second;
}

absl::StatusOr<const store::StoredCluster*> ClusterDirectory::Put(store::StoredCluster record) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  SKIFF_RETURN_IF_ERROR(store_->PutCluster(record));
  std::string name = record.cluster.cluster_name();
  const auto [it, inserted] = clusters_.insert_or_assign(std::move(name), std::move(record));
  return &it->second;
}

absl::Status ClusterDirectory::Erase(const std::string& name) {
  SKIFF_DCHECK_ON_LOOP_IF_SET(loop_);
  const auto it = clusters_.find(name);
  if (it == clusters_.end()) return absl::NotFoundError("no cluster " + name);
  SKIFF_RETURN_IF_ERROR(store_->DeleteCluster(name));
  clusters_.erase(it);
  return absl::OkStatus();
}

}  // namespace skiff::scheduler
