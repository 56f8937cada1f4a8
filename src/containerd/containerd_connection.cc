#include "absl/strings/string_view.h"
#include "skiff/containerd/containerd_connection.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpc/grpc.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/client_interceptor.h"

namespace skiff::runtime {
namespace {

using grpc::experimental::InterceptionHookPoints;

// "/containerd.services.tasks.v1.Tasks/Start" -> "Tasks.Start".
std::string ShortMethod(absl::string_view method) {
  const size_t slash = method.rfind('/');
  if (slash == absl::string_view::npos) return std::string(method);
  absl::string_view service = method.substr(0, slash);
  service.remove_prefix(std::min(service.size(), service.rfind('.') + 1));
  return absl::StrCat(service, ".", method.substr(slash + 1));
}

// "NOT_FOUND": gRPC and absl share the canonical codes and their numbering.
std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Times one call from sending its metadata to receiving its status.
class ObservingInterceptor final : public grpc::experimental::Interceptor {
 public:
  ObservingInterceptor(const RpcObserver* observer, std::string method)
      : observer_(observer), method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      start_ = absl::Now();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_STATUS)) {
      (*observer_)(method_, CodeName(methods->GetRecvStatus()->error_code()),
                   absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  const RpcObserver* observer_;
  std::string method_;
  absl::Time start_ = absl::Now();
};

class ObservingFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ObservingFactory(const RpcObserver* observer) : observer_(observer) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new ObservingInterceptor(observer_, ShortMethod(info->method()));
  }

 private:
  const RpcObserver* observer_;
};

}  // namespace

ContainerdConnection::ContainerdConnection(std::string address, std::string ns,
                                           RpcObserver observer)
    : address_(std::move(address)),
      namespace_(std::move(ns)),
      observer_(std::make_unique<RpcObserver>(std::move(observer))) {
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
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> observing;
  if (*observer_) observing.push_back(std::make_unique<ObservingFactory>(observer_.get()));
  channel_ = grpc::experimental::CreateCustomChannelWithInterceptors(
      absl::StrCat("unix:", address_), grpc::InsecureChannelCredentials(), args,
      std::move(observing));
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
