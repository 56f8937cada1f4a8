#include "absl/strings/string_view.h"
#include "skiff/model/errors.h"

#include "absl/strings/cord.h"

namespace skiff::model {
namespace {
constexpr absl::string_view kPayloadUrl = "type.skiff.dev/ecs-exception";
}  // namespace

absl::Status EcsError(absl::StatusCode code, absl::string_view exception, absl::string_view message) {
  return WithEcsException(absl::Status(code, message), exception);
}

absl::Status WithEcsException(absl::Status status, absl::string_view exception) {
  if (!status.ok()) status.SetPayload(kPayloadUrl, absl::Cord(exception));
  return status;
}

std::string EcsExceptionName(const absl::Status& status) {
  if (auto payload = status.GetPayload(kPayloadUrl)) return std::string(*payload);
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return std::string(kInvalidParameterException);
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
      return std::string(kClientException);
    default:
      return std::string(kServerException);
  }
}

}  // namespace skiff::model
