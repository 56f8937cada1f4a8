#include "skiff/api/errors.h"

#include <string>
#include <utility>

namespace skiff::api {

grpc::StatusCode ToGrpcCode(absl::StatusCode code) {
  // absl and gRPC share the canonical code numbering.
  return static_cast<grpc::StatusCode>(static_cast<int>(code));
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // The message travels in a header; a huge one would replace the real error with a transport
  // error about metadata size.
  constexpr size_t kMaxMessage = 2048;
  std::string message(status.message().substr(0, kMaxMessage));
  if (status.message().size() > kMaxMessage) message += "...";
  return grpc::Status(ToGrpcCode(status.code()), std::move(message));
}

}  // namespace skiff::api
