// The one place where an absl::Status becomes a gRPC status for API clients. The ECS exception name travels in the trailing metadata key
// model::kExceptionMetadataKey. Pure functions; safe from any thread.
#ifndef SKIFF_API_ERRORS_H_
#define SKIFF_API_ERRORS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace skiff::api {

grpc::StatusCode ToGrpcCode(absl::StatusCode code);
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace skiff::api

#endif  // SKIFF_API_ERRORS_H_
