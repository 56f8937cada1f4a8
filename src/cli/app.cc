#include "skiff/cli/app.h"

#include <iostream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/streams.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace skiff::cli {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(60);

// Sends the request and prints the answer, or the error as `error: (Exception) message`.
int Execute(const Invocation& invocation) {
  const Command& command = *invocation.command;
  const Connection connection{
      grpc::CreateChannel(absl::StrCat("unix:", invocation.socket),
                          grpc::InsecureChannelCredentials()),
      invocation.socket, invocation.output, invocation.output_chosen};
  if (command.run) return command.run(connection, *invocation.request);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + kCallTimeout));
  std::unique_ptr<google::protobuf::Message> response;
  grpc::Status status = command.call(connection, &context, *invocation.request, &response);
  if (!status.ok()) return ReportError(connection, context, status);
  PrintResponse(connection, *response);
  return command.judge ? command.judge(*response, std::cerr) : kExitOk;
}

}  // namespace

int Main(int argc, char** argv) {
  const std::vector<Command> commands = Commands();
  const Invocation invocation = ParseCommandLine(commands, argc, argv, std::cout, std::cerr);
  if (invocation.command == nullptr) return invocation.exit_code;
  return Execute(invocation);
}

}  // namespace skiff::cli
