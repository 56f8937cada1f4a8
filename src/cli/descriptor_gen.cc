// Build tool: splits the API's descriptors into one small file per top-level message or enum, for
// the CLI's descriptor pool (cli/descriptors.h).
//
// A generated pool builds a whole .proto file when one of its messages is first asked for:
// `skiff list-clusters` built all ~300 messages of ecs.proto to read the flags of one request,
// ~40% of the process's instructions. Split, a command builds only the messages its request and
// response reach. Each split file keeps its message whole (nested types, options, proto3
// optional) under its own name and package, and imports the split files of the types its fields
// name; the options (skiff.v1.required, allowed, timestamp) stay in each field's FieldOptions,
// as protoc interpreted them, so no file imports options.proto or descriptor.proto.
//
// It also writes the API as a LITE_RUNTIME descriptor set, from which protoc generates the
// CLI's own message classes and stubs. The CLI needs them only to carry bytes over gRPC (its
// requests and output are DynamicMessages of the split pool), and a lite class registers
// nothing: the full generated files' registration at start-up was 70% of what `skiff
// list-clusters` did besides its RPC.
//
//   skiff_cli_descriptor_gen DESCRIPTOR_SET OUT.cc OUT_TYPE_NAMES.h OUT_LITE.desc
//
// DESCRIPTOR_SET is protoc's --descriptor_set_out with --include_imports. OUT.cc defines the
// table cli/descriptors.cc reads; OUT_TYPE_NAMES.h maps each top-level message's C++ class to
// its full name (TypeName<T>::kValue), which a generated class gives only through its
// descriptor. OUT_LITE.desc is the API's files (not protobuf's, not options.proto) for protoc's
// --descriptor_set_in: optimize_for LITE_RUNTIME, with the custom options and the import of the
// file that defines them dropped (a lite file may not extend descriptor.proto's options, and
// lite code has no use for them). Packages, names and fields are untouched, so the messages are
// the same on the wire and the methods have the same gRPC paths.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/message.h"

namespace {

using google::protobuf::DescriptorProto;
using google::protobuf::FileDescriptorProto;
using google::protobuf::FileDescriptorSet;

// Full names ("skiff.v1.Task.Attachment") of a message and its nested types, mapped to the
// top-level message (the unit) that holds them.
void IndexMessage(const std::string& scope, const DescriptorProto& m, const std::string& unit,
                  std::map<std::string, std::string>* owner) {
  const std::string name = absl::StrCat(scope, ".", m.name());
  (*owner)[name] = unit;
  for (const DescriptorProto& nested : m.nested_type()) IndexMessage(name, nested, unit, owner);
  for (const auto& e : m.enum_type()) (*owner)[absl::StrCat(name, ".", e.name())] = unit;
}

// The type names (without the leading dot) that a message's fields name, nested types included.
void Referenced(const DescriptorProto& m, std::set<std::string>* out) {
  for (const auto& f : m.field()) {
    if (!f.type_name().empty()) out->insert(f.type_name().substr(1));
  }
  for (const DescriptorProto& nested : m.nested_type()) Referenced(nested, out);
}

// A top-level message or enum of the API, named by its full name.
struct Unit {
  const FileDescriptorProto* file = nullptr;
  const DescriptorProto* message = nullptr;
  const google::protobuf::EnumDescriptorProto* enumeration = nullptr;
  std::set<std::string> uses;  // The units its fields name.
};

struct Api {
  std::map<std::string, Unit> units;
  std::map<std::string, std::string> owner;  // Full name (nested too) -> its unit.
  std::vector<std::pair<std::string, std::string>> classes;  // C++ class, full name.
  std::set<std::string> headers;                                // Generated .pb.h files.
};

// Each unit's strongly connected component (Tarjan), named by its least member.
std::map<std::string, std::string> Components(const std::map<std::string, Unit>& units) {
  std::map<std::string, int> order, low;
  std::vector<std::string> stack;
  std::set<std::string> on_stack;
  std::map<std::string, std::string> out;
  int next = 0;
  std::function<void(const std::string&)> visit = [&](const std::string& v) {
    order[v] = low[v] = next++;
    stack.push_back(v);
    on_stack.insert(v);
    for (const std::string& w : units.at(v).uses) {
      if (!order.contains(w)) {
        visit(w);
        low[v] = std::min(low[v], low[w]);
      } else if (on_stack.contains(w)) {
        low[v] = std::min(low[v], order[w]);
      }
    }
    if (low[v] != order[v]) return;
    std::vector<std::string> members;
    std::string w;
    do {
      w = stack.back();
      stack.pop_back();
      on_stack.erase(w);
      members.push_back(w);
    } while (w != v);
    const std::string name = *std::min_element(members.begin(), members.end());
    for (const std::string& m : members) out[m] = name;
  };
  for (const auto& [name, unit] : units) {
    if (!order.contains(name)) visit(name);
  }
  return out;
}

std::string Escaped(const std::string& bytes) {
  std::string out;
  char buffer[8];
  for (unsigned char c : bytes) {
    std::snprintf(buffer, sizeof buffer, "\\%03o", c);
    out += buffer;
  }
  return out;
}

std::string CppClass(const std::string& package, const std::string& name) {
  return absl::StrCat("::", absl::StrReplaceAll(package, {{".", "::"}}), "::", name);
}

// Whether the file is one of protobuf's own (descriptor.proto, which options.proto imports).
bool IsProtobufOwn(const FileDescriptorProto& file) {
  return file.package().rfind("google.protobuf", 0) == 0;
}

// The units of every file of the set but protobuf's own (options.proto's import), and what
// each uses; false when a field names a type that no file defines.
bool LoadApi(const google::protobuf::FileDescriptorSet& set, Api* api) {
  for (const FileDescriptorProto& file : set.file()) {
    if (IsProtobufOwn(file)) continue;
    api->headers.insert(absl::StrReplaceAll(file.name(), {{".proto", ".pb.h"}}));
    for (const DescriptorProto& m : file.message_type()) {
      const std::string name = absl::StrCat(file.package(), ".", m.name());
      api->units[name] = Unit{.file = &file, .message = &m};
      IndexMessage(file.package(), m, name, &api->owner);
      api->classes.emplace_back(CppClass(file.package(), m.name()), name);
    }
    for (const auto& e : file.enum_type()) {
      const std::string name = absl::StrCat(file.package(), ".", e.name());
      api->units[name] = Unit{.file = &file, .enumeration = &e};
      api->owner[name] = name;
    }
  }
  for (auto& [name, unit] : api->units) {
    if (unit.message == nullptr) continue;
    std::set<std::string> types;
    Referenced(*unit.message, &types);
    for (const std::string& type : types) {
      auto it = api->owner.find(type);
      if (it == api->owner.end()) {
        std::cerr << name << ": type " << type << " is defined nowhere\n";
        return false;
      }
      if (it->second != name) unit.uses.insert(it->second);
    }
  }
  return true;
}

// The split files, by name: one per strongly connected set of units (messages that name each
// other stay together, as imports may not form a cycle), importing the files of what they use.
std::map<std::string, FileDescriptorProto> Split(const Api& api,
                                                 const std::map<std::string, std::string>& of) {
  std::map<std::string, FileDescriptorProto> files;
  for (const auto& [name, unit] : api.units) {
    FileDescriptorProto& out = files[of.at(name) + ".proto"];
    out.set_name(of.at(name) + ".proto");
    out.set_package(unit.file->package());
    if (unit.file->has_syntax()) out.set_syntax(unit.file->syntax());
    if (unit.message != nullptr) *out.add_message_type() = *unit.message;
    if (unit.enumeration != nullptr) *out.add_enum_type() = *unit.enumeration;
  }
  for (const auto& [name, unit] : api.units) {
    FileDescriptorProto& out = files[of.at(name) + ".proto"];
    for (const std::string& used : unit.uses) {
      const std::string dependency = of.at(used) + ".proto";
      const auto& deps = out.dependency();
      if (dependency != out.name() &&
          std::find(deps.begin(), deps.end(), dependency) == deps.end()) {
        out.add_dependency(dependency);
      }
    }
  }
  return files;
}

std::string TableSource(const std::map<std::string, FileDescriptorProto>& files,
                        const std::map<std::string, std::string>& symbols) {
  std::ostringstream cc;
  cc << "// Generated by skiff_cli_descriptor_gen from the API's protos. Do not edit.\n"
     << "#include \"cli/descriptor_table.h\"\n\nnamespace skiff::cli {\n\n";
  std::map<std::string, int> index;
  cc << "const DescriptorTableFile kDescriptorTableFiles[] = {\n";
  for (const auto& [name, file] : files) {
    const std::string bytes = file.SerializeAsString();
    index[name] = static_cast<int>(index.size());
    cc << "    {\"" << name << "\", \"" << Escaped(bytes) << "\", " << bytes.size() << "},\n";
  }
  cc << "};\nconst int kDescriptorTableFileCount = " << files.size() << ";\n\n";
  cc << "const DescriptorTableSymbol kDescriptorTableSymbols[] = {\n";
  for (const auto& [symbol, file] : symbols) {
    cc << "    {\"" << symbol << "\", " << index.at(file) << "},\n";
  }
  cc << "};\nconst int kDescriptorTableSymbolCount = " << symbols.size() << ";\n\n"
     << "}  // namespace skiff::cli\n";
  return cc.str();
}

std::string TypeNamesHeader(const Api& api) {
  std::ostringstream h;
  h << "// Generated by skiff_cli_descriptor_gen from the API's protos. Do not edit.\n"
    << "// TypeName<T>::kValue: the full name of a top-level message class of the API.\n"
    << "#ifndef SKIFF_CLI_TYPE_NAMES_H_\n#define SKIFF_CLI_TYPE_NAMES_H_\n\n";
  for (const std::string& header : api.headers) h << "#include \"" << header << "\"\n";
  h << "\nnamespace skiff::cli {\n\ntemplate <typename T>\nstruct TypeName;\n\n";
  for (const auto& [cpp, full] : api.classes) {
    h << "template <>\nstruct TypeName<" << cpp << "> {\n"
      << "  static constexpr const char* kValue = \"" << full << "\";\n};\n";
  }
  h << "\n}  // namespace skiff::cli\n\n#endif  // SKIFF_CLI_TYPE_NAMES_H_\n";
  return h.str();
}

// Drops the unknown fields of `m` and of every message in it: here, the custom options, which
// this tool reads without options.proto.
void ClearUnknownFields(google::protobuf::Message* m) {
  const google::protobuf::Reflection* reflection = m->GetReflection();
  reflection->MutableUnknownFields(m)->Clear();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(*m, &fields);
  for (const google::protobuf::FieldDescriptor* f : fields) {
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (!f->is_repeated()) {
      ClearUnknownFields(reflection->MutableMessage(m, f));
      continue;
    }
    for (int i = 0; i < reflection->FieldSize(*m, f); ++i) {
      ClearUnknownFields(reflection->MutableRepeatedMessage(m, f, i));
    }
  }
}

// The API's files for the lite classes (the comment at the top); false when a file imports one
// that is left out publicly or weakly, which the dropped import's index would break.
bool LiteSet(const FileDescriptorSet& set, FileDescriptorSet* lite) {
  std::set<std::string> left_out;  // protobuf's files, and those that extend them (options).
  for (const FileDescriptorProto& file : set.file()) {
    const auto& deps = file.dependency();
    if (IsProtobufOwn(file) ||
        std::find(deps.begin(), deps.end(), "google/protobuf/descriptor.proto") != deps.end()) {
      left_out.insert(file.name());
    }
  }
  for (const FileDescriptorProto& file : set.file()) {
    if (left_out.count(file.name()) > 0) continue;
    if (file.public_dependency_size() > 0 || file.weak_dependency_size() > 0) {
      std::cerr << file.name() << ": public or weak imports are not handled\n";
      return false;
    }
    FileDescriptorProto& out = *lite->add_file();
    out = file;
    out.clear_dependency();
    for (const std::string& dep : file.dependency()) {
      if (left_out.count(dep) == 0) out.add_dependency(dep);
    }
    ClearUnknownFields(&out);
    out.mutable_options()->set_optimize_for(google::protobuf::FileOptions::LITE_RUNTIME);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: " << argv[0]
              << " DESCRIPTOR_SET OUT.cc OUT_TYPE_NAMES.h OUT_LITE.desc\n";
    return 2;
  }
  FileDescriptorSet set;
  std::ifstream in(argv[1], std::ios::binary);
  if (!set.ParseFromIstream(&in)) {
    std::cerr << argv[1] << ": not a FileDescriptorSet\n";
    return 1;
  }
  Api api;
  if (!LoadApi(set, &api)) return 1;
  const std::map<std::string, std::string> component = Components(api.units);
  const std::map<std::string, FileDescriptorProto> files = Split(api, component);
  std::map<std::string, std::string> symbols;  // Full name -> split file name.
  for (const auto& [name, unit] : api.owner) symbols[name] = component.at(unit) + ".proto";
  FileDescriptorSet lite;
  if (!LiteSet(set, &lite)) return 1;
  std::ofstream out_cc(argv[2]), out_h(argv[3]), out_lite(argv[4], std::ios::binary);
  out_cc << TableSource(files, symbols);
  out_h << TypeNamesHeader(api);
  lite.SerializeToOstream(&out_lite);
  if (!out_cc || !out_h || !out_lite) {
    std::cerr << "cannot write " << argv[2] << ", " << argv[3] << " or " << argv[4] << "\n";
    return 1;
  }
  return 0;
}
