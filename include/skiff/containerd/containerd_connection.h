// ContainerdConnection: one gRPC channel to containerd's Unix socket, and the per-call context
// every containerd request needs (the `containerd-namespace` header, a deadline). Shared by the
// adapter's services; thread-safe (gRPC channels are).
#ifndef SKIFF_CONTAINERD_CONTAINERD_CONNECTION_H_
#define SKIFF_CONTAINERD_CONTAINERD_CONNECTION_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"

namespace skiff::runtime {

// Told of every RPC on the channel when its status comes: the method ("Tasks.Start"), the gRPC
// code's name ("OK", "NOT_FOUND") and how long it took. Called on gRPC's threads.
using RpcObserver =
    std::function<void(absl::string_view method, absl::string_view code, absl::Duration)>;

class ContainerdConnection {
 public:
  // `observer` (may be empty) watches every call, through a gRPC client interceptor.
  ContainerdConnection(std::string address, std::string ns, RpcObserver observer = {});

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const std::string& address() const { return address_; }
  const std::string& ns() const { return namespace_; }

  // A context for one call in our namespace, failing after timeout.
  std::unique_ptr<grpc::ClientContext> NewContext(absl::Duration timeout) const;

  // The absl::Status for a failed containerd call; `what` says which call.
  absl::Status ToStatus(const grpc::Status& status, absl::string_view what) const;

 private:
  std::string address_;
  std::string namespace_;
  // Where the channel's interceptors find it: it must not move while the channel lives.
  std::unique_ptr<RpcObserver> observer_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace skiff::runtime

#endif  // SKIFF_CONTAINERD_CONTAINERD_CONNECTION_H_
