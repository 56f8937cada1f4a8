// The skiff subcommands: where each one lives, its request message and how it calls skiffd.
// ECS's operations are the default group (`skiff run-task`, also `skiff ecs run-task`), skiff's
// own node commands (images, logs) are top-level only, ELBv2's live under `skiff elbv2` and
// Application Auto Scaling's under `skiff application-autoscaling`, Secrets Manager's under
// `skiff secretsmanager` and SSM Parameter Store's under `skiff ssm`. The
// flags of a subcommand come from its request (command_line.h). Built and used on the CLI's main
// thread.
#ifndef SKIFF_SRC_CLI_COMMANDS_H_
#define SKIFF_SRC_CLI_COMMANDS_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "cli/streams.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/status.h"

namespace skiff::cli {

enum class Group {
  kEcs,    // `skiff <op>` and `skiff ecs <op>`, as `aws ecs <op>`.
  kNode,   // `skiff <op>`: skiff's own (images, logs, container health).
  kElbv2,  // `skiff elbv2 <op>`, as `aws elbv2 <op>`.
  kAutoScaling,  // `skiff application-autoscaling <op>`, as `aws application-autoscaling <op>`.
  kSecretsManager,  // `skiff secretsmanager <op>`, as `aws secretsmanager <op>`.
  kSsm,             // `skiff ssm <op>`, as `aws ssm <op>`.
};

// One subcommand. Unary calls use `call` and print the response; streams and waiters use `run`,
// which prints and returns the exit status.
struct Command {
  Group group = Group::kEcs;
  std::string parent;  // "wait" for `skiff wait tasks-running`; "" for the others.
  std::string name;
  std::string help;
  // The request's full name: its descriptor is built only when the command is chosen, in the
  // CLI's own pool (cli/descriptors.h), and the request is a message of that pool.
  const char* request_type = nullptr;
  // Sends the request (as its generated class) and gives the answer as a message of the CLI's
  // pool, which is what prints it.
  std::function<grpc::Status(const Connection&, grpc::ClientContext*,
                             const google::protobuf::Message&,
                             std::unique_ptr<google::protobuf::Message>*)>
      call;
  std::function<int(const Connection&, const google::protobuf::Message&)> run;
  // With `call`: the exit status of a response that was printed (kExitOk when null). run-task
  // says its failures on stderr and fails when no task started.
  std::function<int(const google::protobuf::Message&, std::ostream& err)> judge;
};

// Every subcommand, in the order `skiff --help` lists them.
std::vector<Command> Commands();

}  // namespace skiff::cli

#endif  // SKIFF_SRC_CLI_COMMANDS_H_
