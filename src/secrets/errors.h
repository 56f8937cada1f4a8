// The errors of the node's Secrets Manager and Parameter Store, with the exception names of
// botocore's models riding on model's error payload. Private to secrets.
#ifndef SKIFF_SRC_SECRETS_ERRORS_H_
#define SKIFF_SRC_SECRETS_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "skiff/model/errors.h"

namespace skiff::secrets {

inline absl::Status Error(absl::StatusCode code, absl::string_view exception,
                          absl::string_view message) {
  return model::EcsError(code, exception, message);
}

inline absl::Status InvalidParameter(absl::string_view exception, absl::string_view message) {
  return Error(absl::StatusCode::kInvalidArgument, exception, message);
}

}  // namespace skiff::secrets

#endif  // SKIFF_SRC_SECRETS_ERRORS_H_
