#include "absl/strings/string_view.h"
#include "skiff/model/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace skiff::model {
namespace {
constexpr absl::string_view kPayloadUrl = "type.skiff.dev/ecs-exception";
}  // namespace

std::string QuoteValue(absl::string_view value) {
  constexpr size_t kMax = 64;
  std::string out = "\"";
  for (size_t i = 0; i < value.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out += static_cast<char>(c);
    }
  }
  out += value.size() > kMax ? "\"..." : "\"";
  return out;
}

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
