#include "absl/strings/string_view.h"
#include "skiff/store/store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "skiff/base/status_macros.h"
#include "skiff/base/crash_point.h"
#include "skiff/model/json_codec.h"
#include "sqlite.h"

namespace skiff::store {
namespace {

// Stored bodies were checked on the way in; this bound only guards against a damaged row.
constexpr model::JsonLimits kStoredLimits{.max_bytes = 4 << 20, .max_depth = 64};

// Migration i takes the schema from version i to i + 1. Append only; never edit a shipped one.
constexpr const char* kMigrations[] = {
    R"sql(
    CREATE TABLE task_definitions (
      family     TEXT    NOT NULL,
      revision   INTEGER NOT NULL,
      status     TEXT    NOT NULL,
      body       TEXT    NOT NULL,  -- ECS JSON of the TaskDefinition
      tags       TEXT    NOT NULL,  -- ECS JSON array of Tag
      PRIMARY KEY (family, revision)
    ) WITHOUT ROWID;
    CREATE INDEX task_definitions_by_status ON task_definitions (status, family, revision);
    )sql",
    R"sql(
    CREATE TABLE tasks (
      id         TEXT    NOT NULL PRIMARY KEY,  -- 32 hex digits, also in the ARN
      cluster    TEXT    NOT NULL,
      service    TEXT    NOT NULL,              -- '' for standalone tasks
      body       TEXT    NOT NULL               -- ECS JSON of the Task
    ) WITHOUT ROWID;
    )sql",
    R"sql(
    CREATE TABLE clusters (
      name       TEXT    NOT NULL PRIMARY KEY,
      body       TEXT    NOT NULL               -- ECS JSON of the Cluster
    ) WITHOUT ROWID;
    CREATE TABLE services (
      cluster         TEXT    NOT NULL,
      name            TEXT    NOT NULL,
      body            TEXT    NOT NULL,         -- ECS JSON of the Service
      launch_failures INTEGER NOT NULL,         -- tasks in a row that failed to start
      next_launch_at  REAL    NOT NULL,         -- no launch before this (epoch seconds)
      PRIMARY KEY (cluster, name)
    ) WITHOUT ROWID;
    )sql",
    R"sql(
    ALTER TABLE clusters ADD COLUMN registered_at REAL NOT NULL DEFAULT 0;  -- epoch seconds
    )sql",
    R"sql(
    -- the task definition of the service's last deployment that completed: a rollback's target
    ALTER TABLE services ADD COLUMN last_completed TEXT NOT NULL DEFAULT '';
    -- the service's deployments with their outcome, newest first (JSON)
    ALTER TABLE services ADD COLUMN history TEXT NOT NULL DEFAULT '{}';
    )sql",
    R"sql(
    -- ELBv2's objects (load balancers, listeners, rules, target groups with their targets),
    -- each the JSON record the elb component writes, keyed by ARN
    CREATE TABLE elb_objects (
      arn        TEXT    NOT NULL PRIMARY KEY,
      kind       TEXT    NOT NULL,  -- loadbalancer, listener, rule, targetgroup
      body       TEXT    NOT NULL
    ) WITHOUT ROWID;
    )sql",
    R"sql(
    -- Application Auto Scaling's objects (scalable targets, scaling policies, scheduled actions,
    -- scaling activities, the engine's state of each target), each the JSON record the
    -- autoscaling component writes, keyed by kind and key, with the target's resource id
    CREATE TABLE autoscaling_objects (
      kind       TEXT    NOT NULL,  -- target, policy, scheduled-action, activity, engine
      key        TEXT    NOT NULL,
      resource   TEXT    NOT NULL,  -- service/CLUSTER/SERVICE
      body       TEXT    NOT NULL,
      PRIMARY KEY (kind, key)
    ) WITHOUT ROWID;
    CREATE INDEX autoscaling_objects_by_resource ON autoscaling_objects (resource);
    -- task scale-in protection: until when (Unix milliseconds), 0 when not protected
    ALTER TABLE tasks ADD COLUMN protected_until_ms INTEGER NOT NULL DEFAULT 0;
    )sql",
    R"sql(
    -- restart policies: each container's restart count and last start (JSON), '{}' for none
    ALTER TABLE tasks ADD COLUMN restarts TEXT NOT NULL DEFAULT '{}';
    )sql",
    R"sql(
    -- DeleteTaskDefinitions: the highest revision of each family whose row was deleted, so that
    -- a family's revision numbers are never reused once its newest rows are gone
    CREATE TABLE deleted_task_definitions (
      family        TEXT    NOT NULL PRIMARY KEY,
      last_revision INTEGER NOT NULL
    ) WITHOUT ROWID;
    )sql",
};
static_assert(std::size(kMigrations) == Store::kSchemaVersion);

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Creates dir 0700 (the store, logs and volumes are the node's secrets). A directory that
// exists is the admin's: its mode is left alone, and a world-writable one is refused, since
// anyone could then swap the database under us.
absl::Status EnsureStateDir(const std::string& dir) {
  std::error_code ec;
  const bool created = std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("create ", dir, ": ", ec.message()));
  if (created) {
    if (chmod(dir.c_str(), 0700) != 0) return ErrnoError("chmod", dir);
    return absl::OkStatus();
  }
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) return ErrnoError("stat", dir);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("state dir ", dir, " is not a directory"));
  }
  if ((st.st_mode & S_IWOTH) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state dir ", dir, " is writable by everyone; use a private directory (skiffd creates "
        "it 0700 when it does not exist)"));
  }
  return absl::OkStatus();
}

// Takes an exclusive, non-blocking flock on STATE_DIR/skiffd.lock and writes our pid into it.
// The kernel drops the lock when the process dies, however it dies.
absl::StatusOr<int> Lock(const std::string& dir) {
  const std::string path = dir + "/skiffd.lock";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("open", path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    std::ifstream in(path);
    std::string pid;
    std::getline(in, pid);
    close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("state dir ", dir, " is in use by another skiffd (pid ",
                       pid.empty() ? "unknown" : pid, "); only one skiffd may use a state dir"));
    }
    errno = err;
    return ErrnoError("lock", path);
  }
  const std::string pid = absl::StrCat(getpid(), "\n");
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    close(fd);
    return ErrnoError("write", path);
  }
  return fd;
}

std::string EncodeTags(const std::vector<skiff::v1::Tag>& tags) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& tag : tags) list.push_back(model::EncodeMessage(tag));
  return list.dump();
}

absl::StatusOr<StoredTaskDefinition> DecodeRow(const Statement& row) {
  StoredTaskDefinition record;
  absl::Status s = model::DecodeMessageText(row.Text(0), &record.definition, kStoredLimits);
  if (!s.ok()) return absl::DataLossError(absl::StrCat("stored task definition: ", s.message()));
  SKIFF_ASSIGN_OR_RETURN(auto tags, model::ParseJsonText(row.Text(1), kStoredLimits));
  if (!tags.is_array()) return absl::DataLossError("stored tags: not an array");
  for (const auto& item : tags) {
    skiff::v1::Tag tag;
    s = model::DecodeMessage(item, &tag);
    if (!s.ok()) return absl::DataLossError(absl::StrCat("stored tag: ", s.message()));
    record.tags.push_back(std::move(tag));
  }
  return record;
}

}  // namespace

Store::Store(std::unique_ptr<Database> db, int lock_fd) : db_(std::move(db)), lock_fd_(lock_fd) {}

Store::~Store() {
  db_.reset();
  close(lock_fd_);  // Releases the flock.
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& state_dir) {
  SKIFF_RETURN_IF_ERROR(EnsureStateDir(state_dir));
  SKIFF_ASSIGN_OR_RETURN(const int lock_fd, Lock(state_dir));
  absl::StatusOr<std::unique_ptr<Database>> db = Database::Open(state_dir + "/skiff.db");
  if (!db.ok()) {
    close(lock_fd);
    return db.status();
  }
  std::unique_ptr<Store> store(new Store(std::move(*db), lock_fd));
  // journal_mode answers with the mode in force; SQLite keeps the old one if it cannot switch
  // (e.g. a file system without shared memory), and we rely on WAL's crash behaviour.
  absl::StatusOr<std::unique_ptr<Statement>> wal_or = store->db_->Prepare("PRAGMA journal_mode=WAL");
  if (!wal_or.ok()) {
    return absl::Status(wal_or.status().code(), absl::StrCat(state_dir, "/skiff.db: ",
                                                             wal_or.status().message()));
  }
  std::unique_ptr<Statement> wal = *std::move(wal_or);
  SKIFF_ASSIGN_OR_RETURN(bool has_mode, wal->Step());
  if (!has_mode || wal->Text(0) != "wal") {
    return absl::FailedPreconditionError(absl::StrCat(
        "store ", state_dir, "/skiff.db cannot use write-ahead logging (journal mode ",
        has_mode ? wal->Text(0) : "unknown", "); put the state dir on a local file system"));
  }
  wal.reset();
  SKIFF_RETURN_IF_ERROR(store->db_->Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
  SKIFF_ASSIGN_OR_RETURN(auto check, store->db_->Prepare("PRAGMA quick_check"));
  SKIFF_ASSIGN_OR_RETURN(bool has_row, check->Step());
  if (!has_row || check->Text(0) != "ok") {
    return absl::DataLossError(
        absl::StrCat("store ", state_dir, "/skiff.db failed its integrity check: ",
                     has_row ? check->Text(0) : "no answer"));
  }
  check.reset();
  SKIFF_RETURN_IF_ERROR(store->Migrate());
  return store;
}

absl::Status Store::Migrate() {
  SKIFF_ASSIGN_OR_RETURN(auto version_stmt, db_->Prepare("PRAGMA user_version"));
  SKIFF_ASSIGN_OR_RETURN(bool has_row, version_stmt->Step());
  int version = has_row ? static_cast<int>(version_stmt->Int(0)) : 0;
  version_stmt.reset();
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("store schema version ", version, " is newer than this skiffd's (",
                     kSchemaVersion, "); run a newer skiffd"));
  }
  for (; version < kSchemaVersion; ++version) {
    // One transaction per step: a crash mid-migration leaves the previous version intact.
    SKIFF_RETURN_IF_ERROR(InTransaction([this, version] {
      absl::Status s = db_->Exec(kMigrations[version]);
      if (s.ok()) s = db_->Exec(absl::StrCat("PRAGMA user_version = ", version + 1));
      CrashPoint("store-transaction");  // Uncommitted: the next open must find the old version.
      return s;
    }));
  }
  schema_version_ = version;
  return absl::OkStatus();
}

absl::Status Store::InTransaction(const std::function<absl::Status()>& body) {
  SKIFF_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status s = body();
  if (s.ok()) s = db_->Exec("COMMIT");
  if (!s.ok()) db_->Exec("ROLLBACK").IgnoreError();
  return s;
}

absl::Status Store::Write(absl::string_view sql, const std::vector<SqlValue>& params) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status written = db_->Run(sql, params);
  if (write_observer_) {
    write_observer_(absl::FromChrono(std::chrono::steady_clock::now() - start));
  }
  return written;
}

absl::StatusOr<int> Store::LastRevision(const std::string& family) {
  SKIFF_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("SELECT MAX(COALESCE((SELECT MAX(revision) FROM task_definitions "
                   "WHERE family = ?1), 0), COALESCE((SELECT last_revision FROM "
                   "deleted_task_definitions WHERE family = ?1), 0))",
                   {family}));
  SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
  return has_row && !stmt->IsNull(0) ? static_cast<int>(stmt->Int(0)) : 0;
}

absl::Status Store::InsertTaskDefinition(const StoredTaskDefinition& record) {
  const auto& td = record.definition;
  return Write(
      "INSERT INTO task_definitions (family, revision, status, body, tags) VALUES (?, ?, ?, ?, ?)",
      {td.family(), int64_t{td.revision()}, td.status(), model::EncodeMessageCompact(td),
       EncodeTags(record.tags)});
}

absl::Status Store::UpdateTaskDefinition(const skiff::v1::TaskDefinition& td) {
  SKIFF_RETURN_IF_ERROR(Write(
      "UPDATE task_definitions SET status = ?, body = ? WHERE family = ? AND revision = ?",
      {td.status(), model::EncodeMessageCompact(td), td.family(), int64_t{td.revision()}}));
  if (db_->changes() == 0) {
    return absl::NotFoundError(
        absl::StrCat("store: no task definition ", td.family(), ":", td.revision()));
  }
  return absl::OkStatus();
}

absl::Status Store::DeleteTaskDefinition(const std::string& family, int revision) {
  // One transaction: the row never goes without its revision being remembered.
  return InTransaction([&]() -> absl::Status {
    SKIFF_RETURN_IF_ERROR(Write(
        "INSERT INTO deleted_task_definitions (family, last_revision) VALUES (?1, ?2) "
        "ON CONFLICT (family) DO UPDATE SET last_revision = MAX(last_revision, ?2)",
        {family, int64_t{revision}}));
    SKIFF_RETURN_IF_ERROR(Write("DELETE FROM task_definitions WHERE family = ? AND revision = ?",
                                {family, int64_t{revision}}));
    if (db_->changes() == 0) {
      return absl::NotFoundError(
          absl::StrCat("store: no task definition ", family, ":", revision));
    }
    return absl::OkStatus();
  });
}

absl::Status Store::UpdateTaskDefinitionTags(const std::string& family, int revision,
                                             const std::vector<skiff::v1::Tag>& tags) {
  SKIFF_RETURN_IF_ERROR(
      Write("UPDATE task_definitions SET tags = ? WHERE family = ? AND revision = ?",
               {EncodeTags(tags), family, int64_t{revision}}));
  if (db_->changes() == 0) {
    return absl::NotFoundError(absl::StrCat("store: no task definition ", family, ":", revision));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<StoredTaskDefinition>> Store::QueryOne(
    const std::string& sql, const std::vector<SqlValue>& params) {
  SKIFF_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql, params));
  SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
  if (!has_row) return std::nullopt;
  SKIFF_ASSIGN_OR_RETURN(auto record, DecodeRow(*stmt));
  return record;
}

absl::StatusOr<std::optional<StoredTaskDefinition>> Store::GetTaskDefinition(
    const std::string& family, int revision) {
  return QueryOne("SELECT body, tags FROM task_definitions WHERE family = ? AND revision = ?",
                  {family, int64_t{revision}});
}

absl::StatusOr<std::optional<StoredTaskDefinition>> Store::LatestActiveTaskDefinition(
    const std::string& family) {
  return QueryOne(
      "SELECT body, tags FROM task_definitions WHERE family = ? AND status = 'ACTIVE' "
      "ORDER BY revision DESC LIMIT 1",
      {family});
}

absl::StatusOr<std::vector<std::string>> Store::ListTaskDefinitionArns(
    const TaskDefinitionQuery& q) {
  // A NULL parameter means "any".
  std::string sql =
      "SELECT json_extract(body, '$.taskDefinitionArn') FROM task_definitions "
      "WHERE substr(family, 1, length(?1)) = ?1 AND (?2 IS NULL OR family = ?2) "
      "AND (?3 IS NULL OR status = ?3)";
  sql += q.descending ? " ORDER BY family DESC, revision DESC" : " ORDER BY family, revision";
  SKIFF_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare(sql, {q.family_prefix, q.family ? SqlValue(*q.family) : nullptr,
                         q.status ? SqlValue(*q.status) : nullptr}));
  std::vector<std::string> arns;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
    if (!has_row) break;
    arns.push_back(stmt->Text(0));
  }
  return arns;
}

absl::StatusOr<std::vector<TaskDefinitionKey>> Store::TaskDefinitionsWithStatus(
    const std::string& status) {
  SKIFF_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT family, revision FROM task_definitions "
                                                 "WHERE status = ? ORDER BY family, revision",
                                                 {status}));
  std::vector<TaskDefinitionKey> keys;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
    if (!has_row) break;
    keys.push_back({stmt->Text(0), static_cast<int>(stmt->Int(1))});
  }
  return keys;
}

absl::StatusOr<std::vector<std::string>> Store::ListFamilies(const std::string& prefix,
                                                             const std::string& status) {
  std::string sql =
      "SELECT family FROM task_definitions WHERE substr(family, 1, length(?1)) = ?1 "
      "GROUP BY family";
  if (status == "ACTIVE") sql += " HAVING SUM(status = 'ACTIVE') > 0";
  if (status == "INACTIVE") sql += " HAVING SUM(status = 'ACTIVE') = 0";
  sql += " ORDER BY family";
  SKIFF_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql, {prefix}));
  std::vector<std::string> families;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
    if (!has_row) break;
    families.push_back(stmt->Text(0));
  }
  return families;
}

absl::Status Store::PutTask(const StoredTask& record) {
  return Write(
      "INSERT OR REPLACE INTO tasks (id, cluster, service, body, protected_until_ms, restarts) "
      "VALUES (?, ?, ?, ?, ?, ?)",
      {record.id, record.cluster, record.service, model::EncodeMessageCompact(record.task),
       record.protected_until_ms, model::EncodeMessageCompact(record.restarts)});
}

absl::Status Store::DeleteTask(const std::string& id) {
  return Write("DELETE FROM tasks WHERE id = ?", {id});
}

absl::Status Store::PutService(const StoredService& record) {
  return Write(
      "INSERT OR REPLACE INTO services (cluster, name, body, launch_failures, next_launch_at, "
      "last_completed, history) VALUES (?, ?, ?, ?, ?, ?, ?)",
      {record.cluster, record.service.service_name(), model::EncodeMessageCompact(record.service),
       static_cast<int64_t>(record.launch_failures), record.next_launch_at,
       record.last_completed_task_definition, model::EncodeMessageCompact(record.history)});
}

absl::Status Store::DeleteService(const std::string& cluster, const std::string& name) {
  return Write("DELETE FROM services WHERE cluster = ? AND name = ?", {cluster, name});
}

absl::StatusOr<std::vector<StoredService>> Store::LoadServices() {
  SKIFF_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare("SELECT cluster, name, body, launch_failures, next_launch_at, "
                              "last_completed, history FROM services ORDER BY cluster, name"));
  std::vector<StoredService> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
    if (!has_row) break;
    StoredService& record = out.emplace_back();
    record.cluster = stmt->Text(0);
    absl::Status s = model::DecodeMessageText(stmt->Text(2), &record.service, kStoredLimits);
    if (!s.ok()) {
      return absl::DataLossError(
          absl::StrCat("stored service ", record.cluster, "/", stmt->Text(1), ": ", s.message()));
    }
    record.launch_failures = static_cast<int>(stmt->Int(3));
    record.next_launch_at = stmt->Double(4);
    record.last_completed_task_definition = stmt->Text(5);
    s = model::DecodeMessageText(stmt->Text(6), &record.history, kStoredLimits);
    if (!s.ok()) {
      return absl::DataLossError(absl::StrCat("stored deployments of service ", record.cluster,
                                              "/", stmt->Text(1), ": ", s.message()));
    }
  }
  return out;
}

absl::Status Store::PutCluster(const StoredCluster& record) {
  return Write(
      "INSERT OR REPLACE INTO clusters (name, body, registered_at) VALUES (?, ?, ?)",
      {record.cluster.cluster_name(), model::EncodeMessageCompact(record.cluster),
       record.registered_at});
}

absl::Status Store::DeleteCluster(const std::string& name) {
  return Write("DELETE FROM clusters WHERE name = ?", {name});
}

absl::StatusOr<std::vector<StoredCluster>> Store::LoadClusters() {
  SKIFF_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare("SELECT name, body, registered_at FROM clusters ORDER BY name"));
  std::vector<StoredCluster> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
    if (!has_row) break;
    StoredCluster& record = out.emplace_back();
    absl::Status s = model::DecodeMessageText(stmt->Text(1), &record.cluster, kStoredLimits);
    if (!s.ok()) {
      return absl::DataLossError(absl::StrCat("stored cluster ", stmt->Text(0), ": ", s.message()));
    }
    record.registered_at = stmt->Double(2);
  }
  return out;
}

absl::Status Store::PutElbObject(const StoredElbObject& record) {
  return Write("INSERT OR REPLACE INTO elb_objects (arn, kind, body) VALUES (?, ?, ?)",
               {record.arn, record.kind, record.body});
}

absl::Status Store::DeleteElbObject(const std::string& arn) {
  return Write("DELETE FROM elb_objects WHERE arn = ?", {arn});
}

absl::StatusOr<std::vector<StoredElbObject>> Store::LoadElbObjects() {
  SKIFF_ASSIGN_OR_RETURN(auto stmt,
                         db_->Prepare("SELECT arn, kind, body FROM elb_objects ORDER BY arn"));
  std::vector<StoredElbObject> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
    if (!has_row) break;
    out.push_back({.arn = stmt->Text(0), .kind = stmt->Text(1), .body = stmt->Text(2)});
  }
  return out;
}

absl::Status Store::PutAutoscalingObject(const StoredAutoscalingObject& record) {
  return Write(
      "INSERT OR REPLACE INTO autoscaling_objects (kind, key, resource, body) VALUES (?, ?, ?, ?)",
      {record.kind, record.key, record.resource, record.body});
}

absl::Status Store::DeleteAutoscalingObject(const std::string& kind, const std::string& key) {
  return Write("DELETE FROM autoscaling_objects WHERE kind = ? AND key = ?", {kind, key});
}

absl::Status Store::DeleteAutoscalingObjectsOf(const std::string& resource) {
  return Write("DELETE FROM autoscaling_objects WHERE resource = ?", {resource});
}

absl::StatusOr<std::vector<StoredAutoscalingObject>> Store::LoadAutoscalingObjects() {
  SKIFF_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare("SELECT kind, key, resource, body FROM autoscaling_objects "
                              "ORDER BY kind, key"));
  std::vector<StoredAutoscalingObject> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
    if (!has_row) break;
    out.push_back({.kind = stmt->Text(0),
                   .key = stmt->Text(1),
                   .resource = stmt->Text(2),
                   .body = stmt->Text(3)});
  }
  return out;
}

absl::StatusOr<std::vector<StoredTask>> Store::LoadTasks() {
  SKIFF_ASSIGN_OR_RETURN(auto stmt,
                         db_->Prepare("SELECT id, cluster, service, body, protected_until_ms, "
                                      "restarts FROM tasks ORDER BY id"));
  std::vector<StoredTask> out;
  while (true) {
    SKIFF_ASSIGN_OR_RETURN(bool has_row, stmt->Step());
    if (!has_row) break;
    StoredTask& record = out.emplace_back();
    record.id = stmt->Text(0);
    record.cluster = stmt->Text(1);
    record.service = stmt->Text(2);
    absl::Status s = model::DecodeMessageText(stmt->Text(3), &record.task, kStoredLimits);
    if (!s.ok()) {
      return absl::DataLossError(absl::StrCat("stored task ", record.id, ": ", s.message()));
    }
    record.protected_until_ms = stmt->Int(4);
    s = model::DecodeMessageText(stmt->Text(5), &record.restarts, kStoredLimits);
    if (!s.ok()) {
      return absl::DataLossError(
          absl::StrCat("stored restarts of task ", record.id, ": ", s.message()));
    }
  }
  return out;
}

}  // namespace skiff::store
