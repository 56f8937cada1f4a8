#include "skiff/cli/app.h"

#include <cstdlib>
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
int Execute(const Invocation& invocation, const Connection& connection) {
  const Command& command = *invocation.command;
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
  const Connection connection{
      grpc::CreateChannel(absl::StrCat("unix:", invocation.socket),
                          grpc::InsecureChannelCredentials()),
      invocation.socket, invocation.output, invocation.output_chosen};
  const int code = Execute(invocation, connection);
  // A skiff process makes its call and is done. Destroying the channel would start gRPC's
  // shutdown, which joins the threads grpc_init started, and the static destructors would run
  // after it: about a millisecond spent on memory the kernel frees at exit anyway. So the
  // output is flushed and the process ends here, the channel still open.
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(code);
}

}  // namespace skiff::cli
