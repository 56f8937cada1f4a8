// The skiff commands that are not one request and one response: image upload, logs, exec and
// the waiters, which read the daemon's streams. Each prints its result and returns the exit
// status (skiff/cli/app.h). Called once per process from the CLI's main thread.
#ifndef SKIFF_SRC_CLI_STREAMS_H_
#define SKIFF_SRC_CLI_STREAMS_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::cli {

struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  std::string socket;  // For messages.
  std::string output;  // "json" or "table".
  bool output_chosen = false;  // --output was given, rather than its default.
};

// Prints a response as --output asks.
void PrintResponse(const Connection& connection, const google::protobuf::Message& response);

// Prints a failed call as `error: (Exception) message` and returns 1, or 3 when the daemon never
// answered.
int ReportError(const Connection& connection, const grpc::ClientContext& context,
                const grpc::Status& status);

int RunLoadImage(const Connection& connection, const v1::LoadImageRequest& request);
// Per-blob progress on stderr when it is a terminal; the image's JSON on stdout at the end.
int RunPullImage(const Connection& connection, const v1::PullImageRequest& request);
int RunLogs(const Connection& connection, const v1::GetLogsRequest& request);
// Exits with the command's own exit code, as `docker exec` and `kubectl exec` do. With
// --interactive, a session (cli/exec_session.h).
int RunExecuteCommand(const Connection& connection, const v1::ExecuteCommandRequest& request);
int RunWaitTasksRunning(const Connection& connection, const v1::WaitTasksRequest& request);
int RunWaitTasksStopped(const Connection& connection, const v1::WaitTasksRequest& request);
int RunWaitServicesStable(const Connection& connection, const v1::WaitServicesRequest& request);

}  // namespace skiff::cli

#endif  // SKIFF_SRC_CLI_STREAMS_H_
