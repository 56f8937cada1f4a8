// Store: Skiff's durable state in SQLite at STATE_DIR/skiff.db (WAL, synchronous=FULL, so a write
// that returned survives a crash or power loss). Open() takes STATE_DIR/skiffd.lock so that one
// skiffd owns a state dir, migrates the schema to the current version and checks integrity.
//
// Records are kept as the ECS JSON of their message next to the columns that queries need, so the
// rows stay readable with the sqlite3 shell and survive field renumbering in ecs.proto.
//
// Thread contract: not thread-safe. One owner (the control loop) calls it.
#ifndef SKIFF_STORE_STORE_H_
#define SKIFF_STORE_STORE_H_

#include <functional>
#include <memory>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "skiff/v1/ecs.pb.h"
#include "skiff/v1/skiff.pb.h"

namespace skiff::store {

class Database;

struct StoredTaskDefinition {
  skiff::v1::TaskDefinition definition;
  std::vector<skiff::v1::Tag> tags;
};

// A task with the columns its queries need; the ECS JSON of the Task is the record.
struct StoredTask {
  std::string id;
  std::string cluster;
  std::string service;  // "" for a standalone task.
  skiff::v1::Task task;
  // Task scale-in protection (UpdateTaskProtection): until when, in Unix milliseconds; 0 when
  // not protected (and in rows older than schema version 7). ECS's Task has no such member.
  int64_t protected_until_ms = 0;
  // The restart counts and last starts of its containers that have a restartPolicy (schema
  // version 8; empty in older rows and for tasks without one).
  skiff::v1::ContainerRestarts restarts;
};

// A service with the scheduler's launch back-off, which must survive a restart of skiffd.
struct StoredService {
  std::string cluster;
  skiff::v1::Service service;  // The ECS view, deployments and events included.
  int launch_failures = 0;     // Tasks in a row that failed to start.
  double next_launch_at = 0;   // No launch before this, in epoch seconds.
  // The task definition ARN of the last deployment that completed ("" before the first, and in
  // rows older than schema version 5): where the circuit breaker rolls back to.
  std::string last_completed_task_definition;
  // Its deployments with their outcome, newest first (schema version 5).
  skiff::v1::ServiceDeploymentHistory history;
};

// A cluster: the ECS record (name, ARN, tags, settings; not the counts, which are live) and
// when the node joined it, which DescribeContainerInstances shows as registeredAt.
struct StoredCluster {
  skiff::v1::Cluster cluster;
  double registered_at = 0;  // Epoch seconds; 0 for a row older than schema version 4.
};

// An ELBv2 object (load balancer, listener, rule or target group) as the elb component records
// it: the store keeps its JSON text and does not read it.
struct StoredElbObject {
  std::string arn;
  std::string kind;  // "loadbalancer", "listener", "rule", "targetgroup".
  std::string body;
};

// An Application Auto Scaling object (scalable target, scaling policy, scheduled action, scaling
// activity, or the engine's state of a target) as the autoscaling component records it: the
// store keeps its JSON text and does not read it. `resource` is the scalable target's resource id
// ("service/CLUSTER/SERVICE"), so that a target goes with everything it has.
struct StoredAutoscalingObject {
  std::string kind;  // "target", "policy", "scheduled-action", "activity", "engine".
  std::string key;   // Unique within its kind.
  std::string resource;
  std::string body;
};

// A revision of a task definition family.
struct TaskDefinitionKey {
  std::string family;
  int revision = 0;
  bool operator==(const TaskDefinitionKey&) const = default;
};

struct TaskDefinitionQuery {
  std::optional<std::string> family;  // Exact family.
  std::string family_prefix;          // Families starting with this ("" for all).
  std::optional<std::string> status;  // ACTIVE, INACTIVE or DELETE_IN_PROGRESS; absent: all.
  bool descending = false;            // By family, then revision.
};

class Store {
 public:
  // The schema version this build writes; Open() migrates older stores up to it and refuses
  // newer ones (a downgrade would lose data).
  static constexpr int kSchemaVersion = 9;

  // Creates state_dir (0700) if needed. FailedPrecondition if another process holds the lock,
  // DataLoss if the integrity check fails.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& state_dir);
  ~Store();

  // Told how long each write (insert, update, delete; its fsync included) took (metrics).
  void SetWriteObserver(std::function<void(absl::Duration)> observer) {
    write_observer_ = std::move(observer);
  }

  // The highest revision ever registered for family (ACTIVE or not, deleted or not), 0 when
  // none.
  absl::StatusOr<int> LastRevision(const std::string& family);
  // Fails with AlreadyExists if (family, revision) exists.
  absl::Status InsertTaskDefinition(const StoredTaskDefinition& record);
  // Replaces the definition of an existing (family, revision), e.g. on deregistration.
  absl::Status UpdateTaskDefinition(const skiff::v1::TaskDefinition& definition);
  // Deletes the row of (family, revision) for good, remembering its revision for LastRevision;
  // NotFound when there is none.
  absl::Status DeleteTaskDefinition(const std::string& family, int revision);
  // Replaces the tags of an existing (family, revision); NotFound when there is none.
  absl::Status UpdateTaskDefinitionTags(const std::string& family, int revision,
                                        const std::vector<skiff::v1::Tag>& tags);
  absl::StatusOr<std::optional<StoredTaskDefinition>> GetTaskDefinition(const std::string& family,
                                                                        int revision);
  absl::StatusOr<std::optional<StoredTaskDefinition>> LatestActiveTaskDefinition(
      const std::string& family);
  absl::StatusOr<std::vector<std::string>> ListTaskDefinitionArns(const TaskDefinitionQuery& q);
  // The revisions in `status`, by family and revision; from the status index alone.
  absl::StatusOr<std::vector<TaskDefinitionKey>> TaskDefinitionsWithStatus(
      const std::string& status);
  // Families starting with prefix; status ACTIVE (some revision active), INACTIVE (none) or ALL.
  absl::StatusOr<std::vector<std::string>> ListFamilies(const std::string& prefix,
                                                        const std::string& status);

  // Inserts or replaces the task with this id (every state change writes the whole task).
  absl::Status PutTask(const StoredTask& record);
  absl::Status DeleteTask(const std::string& id);
  // Every task, by id. The control loop keeps them in memory; this is for startup.
  absl::StatusOr<std::vector<StoredTask>> LoadTasks();

  // Inserts or replaces the service (cluster, service.serviceName).
  absl::Status PutService(const StoredService& record);
  absl::Status DeleteService(const std::string& cluster, const std::string& name);
  absl::StatusOr<std::vector<StoredService>> LoadServices();

  // Inserts or replaces the cluster named record.cluster.clusterName.
  absl::Status PutCluster(const StoredCluster& record);
  absl::Status DeleteCluster(const std::string& name);
  // Every cluster, by name.
  absl::StatusOr<std::vector<StoredCluster>> LoadClusters();

  // Inserts or replaces the ELBv2 object with record.arn.
  absl::Status PutElbObject(const StoredElbObject& record);
  absl::Status DeleteElbObject(const std::string& arn);
  // Every ELBv2 object, by ARN.
  absl::StatusOr<std::vector<StoredElbObject>> LoadElbObjects();

  // Inserts or replaces the Application Auto Scaling object (record.kind, record.key).
  absl::Status PutAutoscalingObject(const StoredAutoscalingObject& record);
  absl::Status DeleteAutoscalingObject(const std::string& kind, const std::string& key);
  // Deletes every object of a scalable target (its resource id), whatever its kind.
  absl::Status DeleteAutoscalingObjectsOf(const std::string& resource);
  // Every Application Auto Scaling object, by kind, then key.
  absl::StatusOr<std::vector<StoredAutoscalingObject>> LoadAutoscalingObjects();

  int schema_version() const { return schema_version_; }

 private:
  Store(std::unique_ptr<Database> db, int lock_fd);
  absl::Status Migrate();
  // Runs `body` in one BEGIN IMMEDIATE ... COMMIT; rolls back when it fails.
  absl::Status InTransaction(const std::function<absl::Status()>& body);
  // The first row of `SELECT body, tags ...`, decoded.
  absl::StatusOr<std::optional<StoredTaskDefinition>> QueryOne(
      const std::string& sql, const std::vector<std::variant<std::nullptr_t, int64_t, double,
                                                             std::string>>& params);

  // Database::Run, timed for the write observer.
  absl::Status Write(absl::string_view sql,
                     const std::vector<std::variant<std::nullptr_t, int64_t, double, std::string>>&
                         params);

  std::unique_ptr<Database> db_;
  std::function<void(absl::Duration)> write_observer_;
  int lock_fd_;
  int schema_version_ = 0;
};

}  // namespace skiff::store

#endif  // SKIFF_STORE_STORE_H_
