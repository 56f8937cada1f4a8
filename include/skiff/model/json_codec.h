// The ECS JSON of the API messages, in both directions.
//
// The messages of proto/skiff/v1/ecs.proto mirror the ECS shapes field for field (json_name is the
// ECS member name), so one descriptor-driven codec serves every shape: decoding is strict (unknown
// members, wrong types, values outside a string enum and missing required members are errors that
// name the JSON path, as in `containerDefinitions[1].healthCheck.interval: must be an integer`),
// and encoding writes what ECS returns (present fields only, numbers as JSON numbers).
//
// Pure functions; safe from any thread.
#ifndef SKIFF_MODEL_JSON_CODEC_H_
#define SKIFF_MODEL_JSON_CODEC_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"

namespace skiff::model {

struct JsonLimits {
  // ECS caps a task definition at 64 KiB; the same cap keeps any request small.
  size_t max_bytes = 64 * 1024;
  // Real ECS documents nest about 6 deep; anything far deeper is an attack or a mistake.
  int max_depth = 32;
};

// Parses text as JSON (size, depth and UTF-8 checked). Errors are InvalidArgument.
absl::StatusOr<nlohmann::ordered_json> ParseJsonText(absl::string_view text, const JsonLimits& limits = {});

// Decodes an ECS JSON object into message, which must be empty. `path` prefixes error paths
// (empty at the top level).
absl::Status DecodeMessage(const nlohmann::ordered_json& json, google::protobuf::Message* message,
                           const std::string& path = "");

// ParseJsonText followed by DecodeMessage.
absl::Status DecodeMessageText(absl::string_view text, google::protobuf::Message* message,
                               const JsonLimits& limits = {});

// Checks a message that did not come through DecodeMessage (a gRPC request) the same way: required
// members present (required lists non-empty) and string enums within their values.
absl::Status CheckShape(const google::protobuf::Message& message);

// The ECS JSON of message: present members, plus the lists AWS returns even when empty (every
// list of a *Response message, and a few inside shapes).
nlohmann::ordered_json EncodeMessage(const google::protobuf::Message& message);

// EncodeMessage, pretty-printed as the aws CLI prints (4-space indent) and newline-terminated.
std::string EncodeMessagePretty(const google::protobuf::Message& message);

// EncodeMessage on one line: the form kept in the store.
std::string EncodeMessageCompact(const google::protobuf::Message& message);

// The same text as EncodeMessageCompact, written directly (no tree of json values: about 3x
// faster): the AWS API's answers.
std::string EncodeMessageText(const google::protobuf::Message& message);

}  // namespace skiff::model

#endif  // SKIFF_MODEL_JSON_CODEC_H_
