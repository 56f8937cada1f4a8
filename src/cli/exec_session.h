// `skiff execute-command --interactive`: a session with a command in a task's container over
// Node.ExecuteCommandSession (ADR 0019). When stdin is a terminal it is put in raw mode for the
// session (restored on every way out, signals included) and the command gets a terminal of its
// size, told again on each SIGWINCH; Ctrl-C and Ctrl-D are bytes for the command then. When
// stdin is not a terminal, it is streamed as it comes and its end becomes the command's EOF.
//
// Called once per process from the CLI's main thread, which reads the command's output; a
// second thread reads stdin and the signals. Process-wide signal handlers are installed for
// the session and the previous ones put back after it.
#ifndef SKIFF_SRC_CLI_EXEC_SESSION_H_
#define SKIFF_SRC_CLI_EXEC_SESSION_H_

#include "cli/streams.h"
#include "skiff/v1/skiff.grpc.pb.h"

namespace skiff::cli {

// The command's exit status; 1 (and the error on stderr) when the daemon refused or ended the
// session with an error, 3 when it cannot be reached, 128 + N when signal N ended the session.
int RunExecSession(const Connection& connection, const v1::ExecuteCommandRequest& request);

}  // namespace skiff::cli

#endif  // SKIFF_SRC_CLI_EXEC_SESSION_H_
