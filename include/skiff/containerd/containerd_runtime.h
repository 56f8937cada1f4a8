// ContainerdRuntime: the ContainerRuntime on containerd's gRPC API (containerd 1.6), confined to
// one containerd namespace. Thread-safe: every method may be called from any thread, and the
// event stream runs on a thread of its own between StartEvents() and StopEvents().
#ifndef SKIFF_CONTAINERD_CONTAINERD_RUNTIME_H_
#define SKIFF_CONTAINERD_CONTAINERD_RUNTIME_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "skiff/base/random.h"
#include "skiff/containerd/containerd_connection.h"
#include "skiff/registry/registry_client.h"
#include "skiff/runtime/container_runtime.h"
#include "skiff/runtime/oci_spec.h"

namespace skiff::runtime {

class ContainerdImages;
class ContainerdEvents;

struct ContainerdRuntimeOptions {
  std::string address;  // containerd's socket path.
  std::string ns;       // The containerd namespace Skiff owns.
  // A private directory for short-lived mounts (reading an image's /etc/passwd) and exec FIFOs.
  std::string work_dir;
  std::string snapshotter = "overlayfs";
  std::string runtime_name = "io.containerd.runc.v2";
  // Passed to runc (options.Root); empty for runc's default.
  std::string runc_root;
  // How registries are reached (insecure ones, timeouts) by PullImage.
  registry::RegistryOptions registry;
  // Lease, exec and mount ids (required, thread-safe, outliving the runtime). containerd keeps
  // leases across skiffd runs, so give it a SystemRandom: a seeded one repeats its ids.
  RandomSource* random = nullptr;
  // Told of every containerd RPC (metrics); may be empty. Any thread.
  RpcObserver rpc_observer;
};

class ContainerdRuntime final : public ContainerRuntime {
 public:
  explicit ContainerdRuntime(ContainerdRuntimeOptions options);
  ~ContainerdRuntime() override;

  absl::StatusOr<RuntimeVersion> Version(absl::Duration timeout) override;

  absl::StatusOr<std::vector<ImageInfo>> ImportImage(const std::string& tarball_path) override;
  absl::StatusOr<ImageInfo> PullImage(const std::string& reference,
                                      const std::optional<registry::Credentials>& credentials,
                                      const PullProgressHandler& progress) override;
  absl::StatusOr<std::vector<ImageInfo>> ListImages() override;
  absl::StatusOr<ImageInfo> GetImage(const std::string& reference) override;
  absl::Status RemoveImage(const std::string& reference) override;

  absl::Status CreateContainer(const ContainerSpec& spec) override;
  absl::StatusOr<uint32_t> StartContainer(const std::string& id) override;
  absl::Status SignalContainer(const std::string& id, int signal) override;
  absl::StatusOr<uint32_t> DeleteTask(const std::string& id) override;
  absl::Status RemoveContainer(const std::string& id) override;
  absl::StatusOr<std::vector<ContainerStatus>> ListContainers() override;
  absl::StatusOr<ExecResult> Exec(const std::string& id, const std::vector<std::string>& argv,
                                  absl::Duration timeout, size_t max_output) override;
  absl::StatusOr<std::unique_ptr<ExecSession>> StartExecSession(
      const std::string& id, const std::vector<std::string>& argv,
      const ExecSessionOptions& options) override;
  absl::StatusOr<std::vector<ContainerStats>> Stats(const std::vector<std::string>& ids) override;

  void StartEvents(EventHandler handler) override;
  void StopEvents() override;

  const ContainerdConnection& connection() const { return connection_; }

  // Not part of ContainerRuntime: deletes the container-creation leases that earlier skiffd
  // processes left in the namespace. One that died between preparing a container's snapshot and
  // creating the container left the snapshot held by such a lease, which containerd's GC would
  // keep until the lease expires (an hour); deleted, the GC takes it now. Leases made since this
  // object was constructed are left alone. Returns how many it deleted.
  absl::StatusOr<int> DropLeasesOfEarlierRuns();
  // Not part of ContainerRuntime: unmounts and removes what a killed skiffd left in work_dir,
  // the read-only image mounts that ReadAccounts makes for milliseconds and exec FIFO
  // directories, whose exec processes it kills and deletes first. Call it at startup, before
  // any container call: one skiffd per state dir, so nothing there is in use yet. Returns how
  // many entries it removed; what it cannot unmount or end stays, and is named in the error.
  absl::StatusOr<int> ClearWorkDir();

 private:
  // The image's /etc/passwd and /etc/group, read through a short read-only mount of the new
  // container's snapshot (before its task mounts it).
  absl::StatusOr<ImageAccounts> ReadAccounts(const std::vector<MountSpec>& mounts);

  // The Tasks.Create request of a container this object just created, serialized, taken by
  // its StartContainer; nullopt when there is none (the container was created by an earlier
  // skiffd, or already started once).
  void KeepTaskRequest(const std::string& id, std::string request);
  std::optional<std::string> TakeTaskRequest(const std::string& id);

  ContainerdRuntimeOptions options_;
  const absl::Time started_ = absl::Now();
  // By container id: what CreateContainer knew (the snapshot's mounts, the log file, runc's
  // options), so that StartContainer, called right after it in a launch, need not read the
  // container and its mounts back from containerd. RemoveContainer drops an entry never taken.
  absl::Mutex task_requests_mu_;
  absl::flat_hash_map<std::string, std::string> task_requests_ ABSL_GUARDED_BY(task_requests_mu_);
  ContainerdConnection connection_;
  std::unique_ptr<ContainerdImages> images_;
  std::unique_ptr<ContainerdEvents> events_;
};

}  // namespace skiff::runtime

#endif  // SKIFF_CONTAINERD_CONTAINERD_RUNTIME_H_
