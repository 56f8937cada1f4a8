// The command line of `skiff`, parsed against the table of subcommands (commands.h): the global
// flags, the chosen subcommand and the request that its flags make. A subcommand has one flag per
// member of its request, named as aws names it, and --cli-input-json for the whole request; the
// flags of a subcommand are made only when it is chosen, so that a start does not build every
// request's flags. Single-threaded: called once per process from main.
#ifndef SKIFF_SRC_CLI_COMMAND_LINE_H_
#define SKIFF_SRC_CLI_COMMAND_LINE_H_

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "cli/commands.h"
#include "google/protobuf/message.h"
#include "skiff/cli/app.h"

namespace skiff::cli {

struct Invocation {
  // The chosen subcommand, or null when parsing alone ends the run (help or version printed, or
  // a usage error): the process then exits with exit_code.
  const Command* command = nullptr;
  int exit_code = kExitOk;
  std::unique_ptr<google::protobuf::Message> request;
  std::string socket;  // --socket, else SKIFF_SOCKET, else the default.
  std::string output;  // "json" or "table".
  bool output_chosen = false;  // --output was given (commands whose own default is a table).
};

// `commands` outlive the result. Help and the version go to `out`; usage errors to `err`.
Invocation ParseCommandLine(const std::vector<Command>& commands, int argc,
                            const char* const* argv, std::ostream& out, std::ostream& err);

// The flag of a request member, as aws names it (botocore's xform_name, a run of capitals being
// one word): "containerDefinitions" -> "container-definitions", "TargetGroupArn" ->
// "target-group-arn", "enableECSManagedTags" -> "enable-ecs-managed-tags".
std::string FlagName(absl::string_view json_name);

}  // namespace skiff::cli

#endif  // SKIFF_SRC_CLI_COMMAND_LINE_H_
