// codec_fuzz: the ECS JSON codec on arbitrary bytes. The first byte picks one request shape of
// the ECS operation table, the rest is the JSON text. The text goes through ParseJsonText and
// DecodeMessage into that shape; what decodes must encode (EncodeMessage), and its encoding
// must decode again into the same message. Errors are fine; a crash, a sanitizer report, an
// uncaught exception, a hang or a round trip that changes the message are findings.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/ecs_operations.h"
#include "api/operation_table.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"
#include "skiff/model/json_codec.h"

namespace {

using google::protobuf::Message;

// The request shapes of every ECS operation, in the table's order. The rows only keep the
// backend pointers, so a table over null backends is enough to read their shapes.
const std::vector<const Message*>& RequestShapes() {
  static const std::vector<const Message*> shapes = [] {
    const skiff::api::OperationTable table = skiff::api::EcsOperations({});
    std::vector<const Message*> out;
    for (const skiff::api::Operation& row : table.rows()) out.push_back(row.request);
    return out;
  }();
  return shapes;
}

[[noreturn]] void Finding(const std::string& what) {
  std::fprintf(stderr, "codec_fuzz: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::vector<const Message*>& shapes = RequestShapes();
  const Message& shape = *shapes[data[0] % shapes.size()];
  const absl::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  absl::StatusOr<nlohmann::ordered_json> json = skiff::model::ParseJsonText(text);
  if (!json.ok()) return 0;
  std::unique_ptr<Message> message(shape.New());
  if (!skiff::model::DecodeMessage(*json, message.get()).ok()) return 0;

  const std::string encoded = skiff::model::EncodeMessage(*message).dump();
  std::unique_ptr<Message> again(shape.New());
  // An encoding may be a little longer than its input (1e3 becomes 1000): no size cap here.
  const skiff::model::JsonLimits no_cap{.max_bytes = encoded.size()};
  if (absl::Status s = skiff::model::DecodeMessageText(encoded, again.get(), no_cap); !s.ok()) {
    Finding(shape.GetDescriptor()->full_name() + ": its own encoding does not decode: " +
            std::string(s.message()) + "\n" + encoded);
  }
  if (skiff::model::EncodeMessage(*again).dump() != encoded) {
    Finding(shape.GetDescriptor()->full_name() + ": the round trip changed the message:\n" +
            encoded);
  }
  return 0;
}
