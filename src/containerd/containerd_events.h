// ContainerdEvents: the subscription to containerd's /tasks/exit and /tasks/oom events of one
// namespace, on a thread of its own, resubscribing with backoff when the stream breaks (and then
// saying so: kStreamLost, later kStreamUp, so the caller resyncs from a full listing).
#ifndef SKIFF_SRC_CONTAINERD_CONTAINERD_EVENTS_H_
#define SKIFF_SRC_CONTAINERD_CONTAINERD_EVENTS_H_

#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "skiff/containerd/containerd_connection.h"
#include "skiff/runtime/container_runtime.h"

namespace skiff::runtime {

class ContainerdEvents {
 public:
  ContainerdEvents(const ContainerdConnection* connection, ContainerRuntime::EventHandler handler);
  ~ContainerdEvents();  // Stops.

  // Returns once the first subscription is up or failed (then it keeps retrying).
  void Start();
  void Stop();

 private:
  void Run();
  // One subscription until it breaks or Stop(); true when it was up at some point.
  bool SubscribeOnce();

  const ContainerdConnection* connection_;
  ContainerRuntime::EventHandler handler_;
  std::thread thread_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool first_attempt_done_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* active_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_CONTAINERD_EVENTS_H_
