#include "absl/strings/string_view.h"
#include "skiff/containerd/containerd_connection.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace skiff::runtime {

ContainerdConnection::ContainerdConnection(std::string address, std::string ns)
    : address_(std::move(address)), namespace_(std::move(ns)) {
  grpc::ChannelArguments args;
  // Images and snapshots travel in large messages; containerd itself allows 16 MiB.
  args.SetMaxReceiveMessageSize(16 << 20);
  args.SetMaxSendMessageSize(16 << 20);
  // A local socket costs nothing to redial. gRPC's default reconnect backoff (1 s growing to
  // 120 s) would leave a restarted containerd unseen for seconds to minutes: every call, the
  // RuntimeMonitor's probe and the event stream's resubscription included, fails or waits until
  // the channel's next attempt. Redial at most half a second apart instead.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  channel_ = grpc::CreateCustomChannel(absl::StrCat("unix:", address_),
                                       grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> ContainerdConnection::NewContext(
    absl::Duration timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("containerd-namespace", namespace_);
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

absl::Status ContainerdConnection::ToStatus(const grpc::Status& status,
                                            absl::string_view what) const {
  const std::string message =
      absl::StrCat("containerd ", what, " (", address_, "): ", status.error_message());
  switch (status.error_code()) {
    case grpc::StatusCode::OK: return absl::OkStatus();
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::UnavailableError(message);
    case grpc::StatusCode::NOT_FOUND: return absl::NotFoundError(message);
    case grpc::StatusCode::ALREADY_EXISTS: return absl::AlreadyExistsError(message);
    case grpc::StatusCode::INVALID_ARGUMENT: return absl::InvalidArgumentError(message);
    case grpc::StatusCode::FAILED_PRECONDITION: return absl::FailedPreconditionError(message);
    default: return absl::InternalError(message);
  }
}

}  // namespace skiff::runtime
