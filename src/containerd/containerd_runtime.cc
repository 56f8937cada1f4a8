#include "skiff/containerd/containerd_runtime.h"

#include "containerd/containerd_client.h"
#include "containerd/containerd_containers.h"
#include "containerd/containerd_events.h"
#include "containerd/containerd_images.h"
#include "containerd/exec_process.h"

#include <sys/mount.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "skiff/base/check.h"
#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "github.com/containerd/containerd/api/services/containers/v1/containers.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/leases/v1/leases.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/snapshots/v1/snapshots.grpc.pb.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "github.com/containerd/containerd/api/types/task/task.pb.h"
#include "github.com/containerd/containerd/runtime/v2/runc/options/oci.pb.h"
#include "skiff/base/status_macros.h"
#include "github.com/containerd/containerd/api/services/version/v1/version.grpc.pb.h"
#include "google/protobuf/empty.pb.h"

namespace skiff::runtime {

namespace version_api = containerd::services::version::v1;

ContainerdRuntime::ContainerdRuntime(ContainerdRuntimeOptions options)
    : options_(std::move(options)),
      connection_(options_.address, options_.ns, options_.rpc_observer),
      images_(std::make_unique<ContainerdImages>(&connection_, options_.snapshotter,
                                                 options_.registry, options_.random)) {
  SKIFF_DCHECK(options_.random != nullptr);
}

ContainerdRuntime::~ContainerdRuntime() { StopEvents(); }

absl::StatusOr<RuntimeVersion> ContainerdRuntime::Version(absl::Duration timeout) {
  // gRPC would wait out the deadline and say only "Deadline Exceeded"; say what is wrong.
  std::error_code ec;
  if (!std::filesystem::exists(connection_.address(), ec)) {
    return absl::UnavailableError(absl::StrCat("containerd socket ", connection_.address(),
                                               " does not exist"));
  }
  auto stub = version_api::Version::NewStub(connection_.channel());
  auto context = connection_.NewContext(timeout);
  // containerd may be starting alongside skiffd: wait for it up to the deadline instead of
  // failing at the first refused connection.
  context->set_wait_for_ready(true);
  google::protobuf::Empty request;
  version_api::VersionResponse response;
  grpc::Status status = stub->Version(context.get(), request, &response);
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(absl::StrCat("containerd at ", connection_.address(),
                                               " did not answer within ",
                                               absl::FormatDuration(timeout)));
  }
  if (!status.ok()) return connection_.ToStatus(status, "Version");
  return RuntimeVersion{response.version(), response.revision()};
}

}  // namespace skiff::runtime

namespace skiff::runtime {

absl::StatusOr<std::vector<ImageInfo>> ContainerdRuntime::ImportImage(
    const std::string& tarball_path) {
  return images_->Import(tarball_path);
}
absl::StatusOr<ImageInfo> ContainerdRuntime::PullImage(
    const std::string& reference, const std::optional<registry::Credentials>& credentials,
    const PullProgressHandler& progress) {
  return images_->Pull(reference, credentials, progress);
}

absl::StatusOr<std::vector<ImageInfo>> ContainerdRuntime::ListImages() { return images_->List(); }
absl::StatusOr<ImageInfo> ContainerdRuntime::GetImage(const std::string& reference) {
  return images_->Get(reference);
}
absl::Status ContainerdRuntime::RemoveImage(const std::string& reference) {
  return images_->Remove(reference);
}

namespace {

namespace containers_api = containerd::services::containers::v1;
namespace tasks_api = containerd::services::tasks::v1;
namespace snapshots_api = containerd::services::snapshots::v1;
namespace leases_api = containerd::services::leases::v1;

constexpr absl::Duration kCallTimeout = absl::Seconds(30);
constexpr char kSpecTypeUrl[] = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
constexpr char kRuncOptionsTypeUrl[] = "containerd.runc.v1.Options";
// Where the container's log file is recorded, so a later Start (or a later skiffd) finds it.
constexpr char kLogPathLabel[] = "skiff.log-path";
// The lease that holds a new container's snapshot until the container record references it.
constexpr char kCreateLeasePrefix[] = "skiff-create-";

// This process's effective capabilities (CapEff in /proc/self/status), what privileged containers
// may get (oci_spec.h); every capability if that cannot be read.
uint64_t CurrentCapabilities() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "CapEff:")) continue;
    uint64_t mask = 0;
    if (absl::SimpleHexAtoi(absl::StripAsciiWhitespace(rest), &mask)) return mask;
  }
  return ~uint64_t{0};
}

bool IsNotFound(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::NOT_FOUND;
}

}  // namespace

absl::StatusOr<containers_api::Container> GetContainer(const ContainerdConnection& connection,
                                                      const std::string& id,
                                                      absl::Duration timeout) {
  auto containers = containers_api::Containers::NewStub(connection.channel());
  containers_api::GetContainerRequest get;
  get.set_id(id);
  containers_api::GetContainerResponse got;
  grpc::Status status = containers->Get(connection.NewContext(timeout).get(), get, &got);
  if (!status.ok()) return connection.ToStatus(status, "Containers.Get " + id);
  return std::move(*got.mutable_container());
}

// What Tasks.Create needs to start `container` with its snapshot's `rootfs`. Makes the
// directory of the container's log file, which the shim appends to.
tasks_api::CreateTaskRequest TaskRequestOf(const containers_api::Container& container,
                                           const Mounts& rootfs) {
  tasks_api::CreateTaskRequest create;
  create.set_container_id(container.id());
  *create.mutable_rootfs() = rootfs;
  auto log = container.labels().find(kLogPathLabel);
  if (log != container.labels().end() && !log->second.empty()) {
    // The shim appends stdout and stderr to this file itself: logs never pass through skiffd,
    // and the container never blocks on a reader while skiffd is down.
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(log->second).parent_path(), ec);
    const std::string uri = absl::StrCat("file://", log->second);
    create.set_stdout(uri);
    create.set_stderr(uri);
  }
  if (container.runtime().has_options()) *create.mutable_options() = container.runtime().options();
  return create;
}

void ContainerdRuntime::KeepTaskRequest(const std::string& id, std::string request) {
  absl::MutexLock lock(&task_requests_mu_);
  task_requests_.insert_or_assign(id, std::move(request));
}

std::optional<std::string> ContainerdRuntime::TakeTaskRequest(const std::string& id) {
  absl::MutexLock lock(&task_requests_mu_);
  auto it = task_requests_.find(id);
  if (it == task_requests_.end()) return std::nullopt;
  std::string request = std::move(it->second);
  task_requests_.erase(it);
  return request;
}

absl::Status ContainerdRuntime::CreateContainer(const ContainerSpec& requested) {
  // runc would say only "stat ... no such file" from deep inside container init.
  if (requested.init && !std::filesystem::exists("/usr/bin/tini-static")) {
    return absl::FailedPreconditionError(
        "linuxParameters.initProcessEnabled: this host has no /usr/bin/tini-static; install "
        "Debian's tini package");
  }
  SKIFF_ASSIGN_OR_RETURN(ImageInfo image, images_->Get(requested.image));
  ContainerSpec spec = requested;
  if (spec.cgroups_path.empty()) spec.cgroups_path = absl::StrCat("/", options_.ns, "/", spec.id);
  // Until the container record references the snapshot, only a lease keeps containerd's GC
  // from taking it; the lease expires by itself should skiffd die in between.
  ContainerdClient client(&connection_,
                          absl::StrCat(kCreateLeasePrefix, spec.id, "-", absl::ToUnixNanos(absl::Now())));
  SKIFF_RETURN_IF_ERROR(client.CreateLease(absl::Hours(1)));
  absl::Cleanup drop_lease = [&client] { client.DeleteLease(/*sync=*/false).IgnoreError(); };
  SKIFF_ASSIGN_OR_RETURN(const Mounts prepared,
                         client.PrepareSnapshot(options_.snapshotter, spec.id, image.chain_id));
  // From here on a failure removes the snapshot again; the container record is the last step.
  bool created = false;
  absl::Cleanup remove_snapshot = [&] {
    if (!created) client.RemoveSnapshot(options_.snapshotter, spec.id).IgnoreError();
  };

  const std::string& user = spec.user.empty() ? image.config.user : spec.user;
  ImageAccounts accounts;
  if (UserNeedsAccounts(user)) {
    std::vector<MountSpec> mounts;
    for (const auto& m : prepared) {
      mounts.push_back({m.type(), m.source(), "", {m.options().begin(), m.options().end()}});
    }
    SKIFF_ASSIGN_OR_RETURN(accounts, ReadAccounts(mounts));
  }
  absl::StatusOr<ResolvedUser> resolved = ResolveUser(user, accounts);
  if (!resolved.ok()) return resolved.status();
  // A process's capabilities do not change: read them once.
  static const uint64_t kOwnCapabilities = CurrentCapabilities();
  SKIFF_ASSIGN_OR_RETURN(std::string oci_spec,
                         BuildOciSpec(spec, image.config, *resolved, kOwnCapabilities));

  containers_api::CreateContainerRequest create;
  containers_api::Container* container = create.mutable_container();
  container->set_id(spec.id);
  container->set_image(image.name);
  for (const auto& [key, value] : spec.labels) (*container->mutable_labels())[key] = value;
  (*container->mutable_labels())[kLogPathLabel] = spec.log_path;
  container->mutable_runtime()->set_name(options_.runtime_name);
  if (!options_.runc_root.empty()) {
    containerd::runc::v1::Options runc;
    runc.set_root(options_.runc_root);
    container->mutable_runtime()->mutable_options()->set_type_url(kRuncOptionsTypeUrl);
    container->mutable_runtime()->mutable_options()->set_value(runc.SerializeAsString());
  }
  container->mutable_spec()->set_type_url(kSpecTypeUrl);
  container->mutable_spec()->set_value(oci_spec);
  container->set_snapshotter(options_.snapshotter);
  container->set_snapshot_key(spec.id);
  auto containers = containers_api::Containers::NewStub(connection_.channel());
  containers_api::CreateContainerResponse response;
  grpc::Status status =
      containers->Create(connection_.NewContext(kCallTimeout).get(), create, &response);
  if (!status.ok()) return connection_.ToStatus(status, "Containers.Create " + spec.id);
  created = true;
  KeepTaskRequest(spec.id, TaskRequestOf(*container, prepared).SerializeAsString());
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ContainerdRuntime::StartContainer(const std::string& id) {
  tasks_api::CreateTaskRequest create;
  if (std::optional<std::string> kept = TakeTaskRequest(id);
      !kept.has_value() || !create.ParseFromString(*kept)) {
    SKIFF_ASSIGN_OR_RETURN(const containers_api::Container container,
                           GetContainer(connection_, id, kCallTimeout));
    auto snapshots = snapshots_api::Snapshots::NewStub(connection_.channel());
    snapshots_api::MountsRequest mounts_request;
    mounts_request.set_snapshotter(container.snapshotter());
    mounts_request.set_key(container.snapshot_key());
    snapshots_api::MountsResponse mounts;
    grpc::Status status =
        snapshots->Mounts(connection_.NewContext(kCallTimeout).get(), mounts_request, &mounts);
    if (!status.ok()) return connection_.ToStatus(status, "Snapshots.Mounts " + id);
    create = TaskRequestOf(container, mounts.mounts());
  }
  auto tasks = tasks_api::Tasks::NewStub(connection_.channel());
  tasks_api::CreateTaskResponse created;
  grpc::Status status =
      tasks->Create(connection_.NewContext(kCallTimeout).get(), create, &created);
  if (!status.ok()) return connection_.ToStatus(status, "Tasks.Create " + id);

  tasks_api::StartRequest start;
  start.set_container_id(id);
  tasks_api::StartResponse started;
  status = tasks->Start(connection_.NewContext(kCallTimeout).get(), start, &started);
  if (!status.ok()) {
    absl::Status error = connection_.ToStatus(status, "Tasks.Start " + id);
    // Leave no half-started task behind: the caller sees a container that never ran.
    tasks_api::DeleteTaskRequest remove;
    remove.set_container_id(id);
    tasks_api::DeleteResponse removed;
    tasks->Delete(connection_.NewContext(kCallTimeout).get(), remove, &removed);
    return error;
  }
  return started.pid();
}

absl::Status ContainerdRuntime::SignalContainer(const std::string& id, int signal) {
  auto tasks = tasks_api::Tasks::NewStub(connection_.channel());
  tasks_api::KillRequest kill;
  kill.set_container_id(id);
  kill.set_signal(static_cast<uint32_t>(signal));
  google::protobuf::Empty empty;
  grpc::Status status = tasks->Kill(connection_.NewContext(kCallTimeout).get(), kill, &empty);
  if (!status.ok()) return connection_.ToStatus(status, absl::StrCat("Tasks.Kill ", id));
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ContainerdRuntime::DeleteTask(const std::string& id) {
  auto tasks = tasks_api::Tasks::NewStub(connection_.channel());
  tasks_api::DeleteTaskRequest remove;
  remove.set_container_id(id);
  tasks_api::DeleteResponse removed;
  grpc::Status status = tasks->Delete(connection_.NewContext(kCallTimeout).get(), remove, &removed);
  if (!status.ok()) return connection_.ToStatus(status, "Tasks.Delete " + id);
  return removed.exit_status();
}

absl::Status ContainerdRuntime::RemoveContainer(const std::string& id) {
  TakeTaskRequest(id);  // Created, never started.
  auto tasks = tasks_api::Tasks::NewStub(connection_.channel());
  // A task that still runs is killed and reaped first; Tasks.Delete refuses a live process.
  tasks_api::KillRequest kill;
  kill.set_container_id(id);
  kill.set_signal(SIGKILL);
  kill.set_all(true);
  google::protobuf::Empty empty;
  grpc::Status status = tasks->Kill(connection_.NewContext(kCallTimeout).get(), kill, &empty);
  if (status.ok()) {
    tasks_api::WaitRequest wait;
    wait.set_container_id(id);
    tasks_api::WaitResponse waited;
    tasks->Wait(connection_.NewContext(kCallTimeout).get(), wait, &waited);
  }
  tasks_api::DeleteTaskRequest remove_task;
  remove_task.set_container_id(id);
  tasks_api::DeleteResponse removed;
  status = tasks->Delete(connection_.NewContext(kCallTimeout).get(), remove_task, &removed);
  if (!status.ok() && !IsNotFound(status)) return connection_.ToStatus(status, "Tasks.Delete " + id);

  absl::StatusOr<containers_api::Container> container = GetContainer(connection_, id, kCallTimeout);
  if (absl::IsNotFound(container.status())) return absl::OkStatus();
  if (!container.ok()) return container.status();
  auto containers = containers_api::Containers::NewStub(connection_.channel());
  containers_api::DeleteContainerRequest remove_container;
  remove_container.set_id(id);
  status = containers->Delete(connection_.NewContext(kCallTimeout).get(), remove_container, &empty);
  if (!status.ok() && !IsNotFound(status)) {
    return connection_.ToStatus(status, "Containers.Delete " + id);
  }
  auto snapshots = snapshots_api::Snapshots::NewStub(connection_.channel());
  snapshots_api::RemoveSnapshotRequest remove_snapshot;
  remove_snapshot.set_snapshotter(container->snapshotter());
  remove_snapshot.set_key(container->snapshot_key());
  status = snapshots->Remove(connection_.NewContext(kCallTimeout).get(), remove_snapshot, &empty);
  if (!status.ok() && !IsNotFound(status)) {
    return connection_.ToStatus(status, "Snapshots.Remove " + id);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ContainerStatus>> ContainerdRuntime::ListContainers() {
  auto containers = containers_api::Containers::NewStub(connection_.channel());
  containers_api::ListContainersRequest list;
  containers_api::ListContainersResponse listed;
  grpc::Status status = containers->List(connection_.NewContext(kCallTimeout).get(), list, &listed);
  if (!status.ok()) return connection_.ToStatus(status, "Containers.List");
  auto tasks = tasks_api::Tasks::NewStub(connection_.channel());
  tasks_api::ListTasksRequest list_tasks;
  tasks_api::ListTasksResponse task_list;
  status = tasks->List(connection_.NewContext(kCallTimeout).get(), list_tasks, &task_list);
  if (!status.ok()) return connection_.ToStatus(status, "Tasks.List");
  std::map<std::string, const containerd::v1::types::Process*> by_id;
  for (const auto& process : task_list.tasks()) by_id[process.id()] = &process;

  std::vector<ContainerStatus> out;
  for (const auto& container : listed.containers()) {
    ContainerStatus& c = out.emplace_back();
    c.id = container.id();
    c.labels = {container.labels().begin(), container.labels().end()};
    auto it = by_id.find(container.id());
    if (it == by_id.end()) {
      c.state = ContainerStatus::State::kCreated;
      continue;
    }
    const containerd::v1::types::Process& p = *it->second;
    c.pid = p.pid();
    c.exit_status = p.exit_status();
    c.exited_at = absl::FromUnixSeconds(p.exited_at().seconds()) +
                  absl::Nanoseconds(p.exited_at().nanos());
    switch (p.status()) {
      case containerd::v1::types::CREATED: c.state = ContainerStatus::State::kCreated; break;
      case containerd::v1::types::RUNNING:
      case containerd::v1::types::PAUSED:
      case containerd::v1::types::PAUSING: c.state = ContainerStatus::State::kRunning; break;
      case containerd::v1::types::STOPPED: c.state = ContainerStatus::State::kStopped; break;
      default: c.state = ContainerStatus::State::kUnknown; break;
    }
  }
  return out;
}

absl::StatusOr<int> ContainerdRuntime::DropLeasesOfEarlierRuns() {
  auto leases = leases_api::Leases::NewStub(connection_.channel());
  leases_api::ListRequest list;
  leases_api::ListResponse listed;
  grpc::Status status = leases->List(connection_.NewContext(kCallTimeout).get(), list, &listed);
  if (!status.ok()) return connection_.ToStatus(status, "Leases.List");
  std::vector<std::string> stale;
  for (const leases_api::Lease& lease : listed.leases()) {
    const absl::Time created = absl::FromUnixSeconds(lease.created_at().seconds()) +
                               absl::Nanoseconds(lease.created_at().nanos());
    if (absl::StartsWith(lease.id(), kCreateLeasePrefix) && created < started_) {
      stale.push_back(lease.id());
    }
  }
  for (size_t i = 0; i < stale.size(); ++i) {
    leases_api::DeleteRequest remove;
    remove.set_id(stale[i]);
    remove.set_sync(i + 1 == stale.size());  // One garbage collection, after the last.
    google::protobuf::Empty empty;
    status = leases->Delete(connection_.NewContext(kCallTimeout).get(), remove, &empty);
    if (!status.ok() && !IsNotFound(status)) {
      return connection_.ToStatus(status, "Leases.Delete " + stale[i]);
    }
  }
  return static_cast<int>(stale.size());
}

absl::StatusOr<int> ContainerdRuntime::ClearWorkDir() {
  std::error_code ec;
  const std::string prefix = std::filesystem::absolute(options_.work_dir, ec).string() + "/";
  // Mount points are field 5 of mountinfo, absolute; work_dir has no characters it escapes.
  std::vector<std::string> mounted;
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    if (fields >> id >> parent >> device >> root >> point && absl::StartsWith(point, prefix)) {
      mounted.push_back(point);
    }
  }
  // Deepest first, so that nested mounts come off before their parents.
  std::sort(mounted.rbegin(), mounted.rend());
  std::vector<std::string> stuck;   // Mount points that stayed.
  std::vector<std::string> errors;  // Why, for the message.
  for (const std::string& point : mounted) {
    if (umount2(point.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
      stuck.push_back(point);
      errors.push_back(absl::StrCat("cannot unmount ", point, ": ", strerror(errno)));
    }
  }
  int removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(options_.work_dir, ec)) {
    const std::string name = entry.path().filename().string();
    // "pulls": where earlier versions of skiff kept layer downloads.
    if (!absl::StartsWith(name, "accounts-") && !absl::StartsWith(name, "exec-") &&
        name != "pulls") {
      continue;
    }
    // Never through a mount that stayed: remove_all would delete inside the image.
    const std::string path = entry.path().string();
    auto under = [&path](const std::string& point) { return absl::StartsWith(point, path); };
    if (absl::c_any_of(stuck, under)) continue;
    // An exec whose skiffd died before it ended it still runs in its container: end it first,
    // or keep its directory (its only record) for the next start to try again.
    if (absl::StartsWith(name, "exec-")) {
      if (absl::Status reaped = ExecProcess::ReapOrphan(&connection_, path); !reaped.ok()) {
        errors.push_back(reaped.ToString());
        continue;
      }
    }
    std::error_code remove_ec;
    std::filesystem::remove_all(entry.path(), remove_ec);
    if (!remove_ec) ++removed;
  }
  if (!errors.empty()) {
    return absl::InternalError(absl::StrCat("left behind: ", absl::StrJoin(errors, "; ")));
  }
  return removed;
}

void ContainerdRuntime::StartEvents(EventHandler handler) {
  if (events_ != nullptr) return;
  events_ = std::make_unique<ContainerdEvents>(&connection_, std::move(handler));
  events_->Start();
}

void ContainerdRuntime::StopEvents() {
  if (events_ == nullptr) return;
  events_->Stop();
  events_.reset();
}

}  // namespace skiff::runtime
