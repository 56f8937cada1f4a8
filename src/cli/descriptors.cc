#include "cli/descriptors.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "cli/descriptor_table.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"

namespace skiff::cli {
namespace {

using google::protobuf::FileDescriptorProto;

// The split table as a database the pool falls back on: it asks for a file by name (an import)
// or for the file of a symbol (the first lookup of a type).
class SplitDatabase : public google::protobuf::DescriptorDatabase {
 public:
  bool FindFileByName(const std::string& filename, FileDescriptorProto* output) override {
    const DescriptorTableFile* begin = kDescriptorTableFiles;
    const DescriptorTableFile* end = begin + kDescriptorTableFileCount;
    const DescriptorTableFile* it =
        std::lower_bound(begin, end, filename, [](const DescriptorTableFile& f, const auto& n) {
          return std::strcmp(f.name, n.c_str()) < 0;
        });
    if (it == end || filename != it->name) return false;
    return output->ParseFromArray(it->data, it->size);
  }

  bool FindFileContainingSymbol(const std::string& symbol_name,
                                FileDescriptorProto* output) override {
    // A field or enum value ("skiff.v1.Task.lastStatus") is in its parent's file.
    for (std::string name = symbol_name; !name.empty();) {
      const DescriptorTableSymbol* begin = kDescriptorTableSymbols;
      const DescriptorTableSymbol* end = begin + kDescriptorTableSymbolCount;
      const DescriptorTableSymbol* it =
          std::lower_bound(begin, end, name, [](const DescriptorTableSymbol& s, const auto& n) {
            return std::strcmp(s.name, n.c_str()) < 0;
          });
      if (it != end && name == it->name) {
        const DescriptorTableFile& file = kDescriptorTableFiles[it->file];
        return output->ParseFromArray(file.data, file.size);
      }
      const size_t dot = name.rfind('.');
      name.resize(dot == std::string::npos ? 0 : dot);
    }
    return false;
  }

  bool FindFileContainingExtension(const std::string&, int, FileDescriptorProto*) override {
    return false;  // The API's extensions (options.proto) are the generated pool's.
  }
};

google::protobuf::DescriptorPool& Pool() {
  static SplitDatabase* database = new SplitDatabase();
  static google::protobuf::DescriptorPool* pool = new google::protobuf::DescriptorPool(database);
  return *pool;
}

}  // namespace

const google::protobuf::Descriptor* FindMessageType(absl::string_view full_name) {
  return Pool().FindMessageTypeByName(std::string(full_name));
}

std::unique_ptr<google::protobuf::Message> NewMessage(absl::string_view full_name) {
  static google::protobuf::DynamicMessageFactory* factory =
      new google::protobuf::DynamicMessageFactory();
  const google::protobuf::Descriptor* descriptor = FindMessageType(full_name);
  if (descriptor == nullptr) {
    std::cerr << "skiff: internal error: no message type " << full_name << "\n";
    std::abort();
  }
  return std::unique_ptr<google::protobuf::Message>(factory->GetPrototype(descriptor)->New());
}

}  // namespace skiff::cli
