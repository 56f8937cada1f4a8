// ServeExecSession: the stream logic of Node.ExecuteCommandSession, apart from gRPC's server
// classes (ExecCall stands for the call) so that unit tests drive it with a fake call and a
// fake runtime::ExecSession.
//
// It runs on the call's gRPC thread and blocks it for the whole session: that thread pumps the
// command's output to the client, and a thread of its own pumps the client's messages (stdin,
// resizes, end of input) to the session. Both are joined before it returns.
#ifndef SKIFF_SRC_API_EXEC_SESSION_CALL_H_
#define SKIFF_SRC_API_EXEC_SESSION_CALL_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "skiff/runtime/exec_session.h"
#include "skiff/v1/skiff.pb.h"

namespace skiff::api {

// What ServeExecSession uses of one gRPC call. Read is called from one thread and Write from
// another, as gRPC's synchronous streams allow; IsCancelled and Cancel from either.
class ExecCall {
 public:
  virtual ~ExecCall() = default;
  // Blocks for the client's next message; false once the client closed its side or the call
  // ended.
  virtual bool Read(v1::ExecInput* input) = 0;
  // False when the call is over (the client is gone).
  virtual bool Write(const v1::ExecOutput& output) = 0;
  virtual bool IsCancelled() const = 0;
  // Ends the call at once: a blocked Read returns false.
  virtual void Cancel() = 0;
};

// A started session and how messages name its container ("container app of task 0123...").
struct OpenedExecSession {
  std::unique_ptr<runtime::ExecSession> session;
  std::string container;
};

// Checks the first message and starts the session, or says why not.
using OpenExecSession = std::function<absl::StatusOr<OpenedExecSession>(const v1::ExecStart&)>;

struct ExecSessionTiming {
  // How long one wait for output lasts before the call is checked for a cancellation.
  absl::Duration poll = absl::Milliseconds(200);
  // After the exit code went out, how long the client has to close its side of the stream
  // before the call is cancelled (which would lose nothing it still needs).
  absl::Duration client_close = absl::Seconds(5);
};

// A terminal size of the API; sizes past 65535 cells are cut to it.
runtime::WindowSize ToWindowSize(const v1::WindowSize& size);

// Serves one session: the first message must hold `start`, which `open` turns into a session;
// then output flows to the client until the command exits (its exit code in the last message),
// and the client's stdin, resizes and end of input flow to the session. OK after the exit;
// the error otherwise: open's; FailedPrecondition when the container stopped under the
// command; Cancelled when the client cancelled or went away, after the command was killed.
// After an error past the start the last message says `closing`: gRPC sends the status only
// once this returns, and this waits for the client to close its side first.
absl::Status ServeExecSession(ExecCall* call, const OpenExecSession& open,
                              const ExecSessionTiming& timing = {});

}  // namespace skiff::api

#endif  // SKIFF_SRC_API_EXEC_SESSION_CALL_H_
