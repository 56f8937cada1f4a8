// The CLI's descriptors, split by skiff_cli_descriptor_gen (descriptor_gen.cc) at build time: one
// small serialized FileDescriptorProto per top-level message or enum of the API (or per set of
// messages that name each other), sorted by name, and every full name (nested ones too) with the
// index of the file that defines it, sorted by name.
#ifndef SKIFF_SRC_CLI_DESCRIPTOR_TABLE_H_
#define SKIFF_SRC_CLI_DESCRIPTOR_TABLE_H_

namespace skiff::cli {

struct DescriptorTableFile {
  const char* name;
  const char* data;
  int size;
};

struct DescriptorTableSymbol {
  const char* name;
  int file;
};

extern const DescriptorTableFile kDescriptorTableFiles[];
extern const int kDescriptorTableFileCount;
extern const DescriptorTableSymbol kDescriptorTableSymbols[];
extern const int kDescriptorTableSymbolCount;

}  // namespace skiff::cli

#endif  // SKIFF_SRC_CLI_DESCRIPTOR_TABLE_H_
