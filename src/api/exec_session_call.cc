#include "api/exec_session_call.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "skiff/model/errors.h"
#include "spdlog/spdlog.h"

namespace skiff::api {
namespace {

// The client's messages to the session, until the client closes its side or the call ends. A
// client that closes its side has said "end of input"; one that cancels has the command killed.
void PumpInput(ExecCall* call, runtime::ExecSession* session, const std::string& container) {
  v1::ExecInput input;
  bool stdin_open = true;
  while (call->Read(&input)) {
    if (stdin_open && !input.stdin().empty()) {
      // Once the command has ended, the rest of its input has nowhere to go: read and drop it.
      stdin_open = session->WriteStdin(input.stdin()).ok();
    }
    if (input.has_resize()) {
      if (absl::Status s = session->Resize(ToWindowSize(input.resize())); !s.ok()) {
        spdlog::debug("exec session in {}: resize: {}", container, s.ToString());
      }
    }
    if (stdin_open && input.stdin_eof()) {
      session->CloseStdin().IgnoreError();  // The command may be gone already.
      stdin_open = false;
    }
  }
  if (call->IsCancelled()) {
    session->Kill();
  } else if (stdin_open) {
    session->CloseStdin().IgnoreError();
  }
}

// The session's output to the client, then its exit code; see ServeExecSession.
absl::Status PumpOutput(ExecCall* call, runtime::ExecSession* session,
                        const std::string& container, absl::Duration poll) {
  while (true) {
    if (call->IsCancelled()) return absl::CancelledError("the client cancelled the session");
    absl::StatusOr<runtime::ExecSessionOutput> out = session->Read(poll);
    if (!out.ok()) return out.status();
    if (!out->stdout_data.empty() || !out->stderr_data.empty()) {
      v1::ExecOutput message;
      message.set_stdout(std::move(out->stdout_data));
      message.set_stderr(std::move(out->stderr_data));
      if (!call->Write(message)) return absl::CancelledError("the client went away");
    }
    if (!out->exit) continue;
    if (out->exit->container_stopped) {
      return model::EcsError(
          absl::StatusCode::kFailedPrecondition, model::kClientException,
          absl::StrCat(container, " stopped during the session; the command ended with exit ",
                       out->exit->exit_code));
    }
    v1::ExecOutput last;
    last.set_exit_code(out->exit->exit_code);
    // A client that cancelled had the command killed: that exit is not news to anyone.
    if (!call->Write(last)) return absl::CancelledError("the client went away");
    return absl::OkStatus();
  }
}

}  // namespace

runtime::WindowSize ToWindowSize(const v1::WindowSize& size) {
  auto cells = [](uint32_t n) { return static_cast<uint16_t>(std::min<uint32_t>(n, 65535)); };
  return {.columns = cells(size.columns()), .rows = cells(size.rows())};
}

absl::Status ServeExecSession(ExecCall* call, const OpenExecSession& open,
                              const ExecSessionTiming& timing) {
  v1::ExecInput first;
  if (!call->Read(&first) || !first.has_start()) {
    return model::EcsError(absl::StatusCode::kInvalidArgument, model::kInvalidParameterException,
                           "start: the first message of a session must start it");
  }
  absl::StatusOr<OpenedExecSession> opened = open(first.start());
  if (!opened.ok()) return opened.status();
  runtime::ExecSession* session = opened->session.get();
  const std::string& container = opened->container;
  spdlog::info("exec session in {}: started", container);

  absl::Notification input_done;
  std::thread input([call, session, &container, &input_done] {
    PumpInput(call, session, container);
    input_done.Notify();
  });
  absl::Status status = PumpOutput(call, session, container, timing.poll);
  if (!status.ok()) {
    // Nothing of the command stays running once no one can talk to it.
    session->Kill();
    // The status reaches the client only after this thread returns, and that waits for the
    // client to close its side: say it is time to.
    v1::ExecOutput closing;
    closing.set_closing(true);
    if (!call->IsCancelled()) call->Write(closing);
  }
  // The client closes its side once it has the exit code; a client that does not is cut off.
  if (!input_done.WaitForNotificationWithTimeout(timing.client_close)) call->Cancel();
  input.join();
  spdlog::info("exec session in {}: {}", container,
               status.ok() ? "the command exited" : status.ToString());
  return status;
}

}  // namespace skiff::api
