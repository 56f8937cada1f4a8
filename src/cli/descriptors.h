// The CLI's own descriptor pool. The generated pool builds a whole .proto file the first time
// one of its messages' descriptors is asked for (all of ecs.proto for `skiff list-clusters`);
// this one builds only what a command's request and response reach, from the split table of
// descriptor_table.h. Its messages are DynamicMessages: the CLI makes its flags, reads and
// writes JSON through them, and crosses to the generated classes, which gRPC sends, as bytes.
// Nothing in the CLI may ask a generated message for its descriptor or reflection (GetTypeName,
// DebugString, json_codec on a generated message): that builds the whole file again.
// Single-threaded, like the rest of the CLI.
#ifndef SKIFF_SRC_CLI_DESCRIPTORS_H_
#define SKIFF_SRC_CLI_DESCRIPTORS_H_

#include <memory>

#include "absl/strings/string_view.h"
#include "cli/type_names.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace skiff::cli {

// The descriptor of the message with this full name ("skiff.v1.ListClustersRequest"); null when
// the API has none.
const google::protobuf::Descriptor* FindMessageType(absl::string_view full_name);

// An empty message of that type; never null for a type the API has (it dies otherwise: the
// names come from the generated TypeName table).
std::unique_ptr<google::protobuf::Message> NewMessage(absl::string_view full_name);

// A generated message as a message of the CLI's pool, for printing.
template <typename T>
std::unique_ptr<google::protobuf::Message> ToDynamic(const T& typed) {
  std::unique_ptr<google::protobuf::Message> out = NewMessage(TypeName<T>::kValue);
  out->ParseFromString(typed.SerializeAsString());
  return out;
}

// A message of the CLI's pool as the generated class T, for gRPC.
template <typename T>
T FromDynamic(const google::protobuf::Message& dynamic) {
  T out;
  out.ParseFromString(dynamic.SerializeAsString());
  return out;
}

}  // namespace skiff::cli

#endif  // SKIFF_SRC_CLI_DESCRIPTORS_H_
