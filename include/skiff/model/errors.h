// ECS errors as absl::Status values. The status code says what the caller should do next (the
// gRPC code on the wire); the ECS exception name (ClientException, InvalidParameterException,
// ...) rides along as a payload so the API edge can hand it to ECS clients. Safe from any thread.
#ifndef SKIFF_MODEL_ERRORS_H_
#define SKIFF_MODEL_ERRORS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"

namespace skiff::model {

inline constexpr absl::string_view kClientException = "ClientException";
inline constexpr absl::string_view kInvalidParameterException = "InvalidParameterException";
inline constexpr absl::string_view kServerException = "ServerException";
// Clusters and tags (DeleteCluster, TagResource, ...).
inline constexpr absl::string_view kClusterNotFoundException = "ClusterNotFoundException";
inline constexpr absl::string_view kClusterContainsServicesException =
    "ClusterContainsServicesException";
inline constexpr absl::string_view kClusterContainsTasksException = "ClusterContainsTasksException";
inline constexpr absl::string_view kResourceNotFoundException = "ResourceNotFoundException";

// The gRPC trailing-metadata key that carries the ECS exception name of a failed call.
inline constexpr char kExceptionMetadataKey[] = "skiff-exception";

// A user-supplied value for an error message: quoted, non-printable bytes escaped, and cut to
// 64 characters, so that a hostile value cannot bloat or garble the message.
std::string QuoteValue(absl::string_view value);

// A status with code and message that carries the ECS exception name.
absl::Status EcsError(absl::StatusCode code, absl::string_view exception, absl::string_view message);

// Tags an existing error with an ECS exception name (OK stays OK).
absl::Status WithEcsException(absl::Status status, absl::string_view exception);

// The ECS exception name of status: its payload, or the name ECS uses for that kind of error.
std::string EcsExceptionName(const absl::Status& status);

}  // namespace skiff::model

#endif  // SKIFF_MODEL_ERRORS_H_
