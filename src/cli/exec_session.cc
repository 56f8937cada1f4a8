#include "cli/exec_session.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "skiff/cli/app.h"

namespace skiff::cli {
namespace {

using SessionStream = grpc::ClientReaderWriter<v1::ExecInput, v1::ExecOutput>;

// The signals a session handles: SIGWINCH resizes, the others end it (the command is killed).
constexpr std::array<int, 5> kSignals = {SIGWINCH, SIGINT, SIGTERM, SIGHUP, SIGQUIT};
// Written to the signal pipe by the main thread: the input thread stops.
constexpr char kStopInput = 0;
constexpr size_t kStdinChunk = 32 << 10;

// The write end of the signal pipe, for the handler.
std::atomic<int> signal_pipe{-1};

void OnSignal(int signal_number) {
  const int saved = errno;
  const char byte = static_cast<char>(signal_number);
  [[maybe_unused]] const ssize_t n = write(signal_pipe.load(), &byte, 1);
  errno = saved;
}

// The session's signal handlers, which turn each signal into a byte on a pipe that the input
// thread polls; the previous dispositions come back on destruction. SIGPIPE is ignored meanwhile:
// a closed stdout ends the session through write's error instead.
class SignalPipe {
 public:
  static std::unique_ptr<SignalPipe> Create() {
    std::array<int, 2> fds{};
    if (pipe2(fds.data(), O_NONBLOCK | O_CLOEXEC) != 0) return nullptr;
    return std::unique_ptr<SignalPipe>(new SignalPipe(fds));
  }
  ~SignalPipe() {
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &previous_[i], nullptr);
    sigaction(SIGPIPE, &previous_pipe_, nullptr);
    signal_pipe.store(-1);
    close(fds_[0]);
    close(fds_[1]);
  }
  int read_fd() const { return fds_[0]; }
  void StopInput() const { OnSignal(kStopInput); }

 private:
  explicit SignalPipe(std::array<int, 2> fds) : fds_(fds) {
    signal_pipe.store(fds_[1]);
    struct sigaction action {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    for (size_t i = 0; i < kSignals.size(); ++i) sigaction(kSignals[i], &action, &previous_[i]);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &previous_pipe_);
  }

  std::array<int, 2> fds_;
  std::array<struct sigaction, kSignals.size()> previous_{};
  struct sigaction previous_pipe_ {};
};

// Raw mode on a terminal for as long as it lives: no echo, no line editing, no signals from
// keys (Ctrl-C, Ctrl-Z, Ctrl-\ go to the command as bytes), no output processing (the command's
// terminal already turned "\n" into "\r\n").
class RawTerminal {
 public:
  explicit RawTerminal(int fd) : fd_(fd) {
    if (tcgetattr(fd_, &saved_) != 0) return;
    termios raw = saved_;
    cfmakeraw(&raw);
    active_ = tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  const int fd_;
  termios saved_{};
  bool active_ = false;
};

v1::WindowSize WindowOf(int fd) {
  v1::WindowSize size;
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) == 0) {
    size.set_columns(ws.ws_col);
    size.set_rows(ws.ws_row);
  }
  return size;
}

// All of data to fd (which may be non-blocking, as a terminal shared with another program can
// be); false when fd is closed or broken.
bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return false;
    pollfd p{fd, POLLOUT, 0};
    poll(&p, 1, -1);
  }
  return true;
}

// What the input thread learned: the signal that ended the session, if one did.
struct InputState {
  std::atomic<int> ending_signal{0};
};

// The input thread: stdin and the signals to the session, until told to stop or the call ends.
// A signal other than SIGWINCH cancels the call (skiffd kills the command).
void PumpInput(SessionStream* stream, grpc::ClientContext* context, int signal_fd, bool tty,
               InputState* state) {
  std::string buffer(kStdinChunk, '\0');
  bool stdin_open = true;
  while (true) {
    std::array<pollfd, 2> fds{pollfd{stdin_open ? STDIN_FILENO : -1, POLLIN, 0},
                              pollfd{signal_fd, POLLIN, 0}};
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    char signal_number = 0;
    while (fds[1].revents != 0 && read(signal_fd, &signal_number, 1) == 1) {
      if (signal_number == kStopInput) return;
      if (signal_number != SIGWINCH) {
        state->ending_signal.store(signal_number);
        context->TryCancel();
        return;
      }
      if (!tty) continue;
      v1::ExecInput resize;
      *resize.mutable_resize() = WindowOf(STDIN_FILENO);
      if (!stream->Write(resize)) return;
    }
    if (fds[0].revents == 0) continue;
    const ssize_t n = read(STDIN_FILENO, buffer.data(), buffer.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    v1::ExecInput input;
    if (n > 0) {
      input.set_stdin(buffer.data(), static_cast<size_t>(n));
    } else {
      input.set_stdin_eof(true);  // End of input, or a terminal that hung up.
      stdin_open = false;
    }
    if (!stream->Write(input)) return;
  }
}

struct OutputState {
  std::optional<int> exit_code;  // When it came.
  bool output_closed = false;    // Our stdout or stderr went away.
};

// The command's output to ours until its exit code, or the server says it is closing, or the
// call ends.
OutputState PumpOutput(SessionStream* stream, grpc::ClientContext* context) {
  OutputState state;
  v1::ExecOutput output;
  while (stream->Read(&output)) {
    if (!WriteAll(STDOUT_FILENO, output.stdout()) || !WriteAll(STDERR_FILENO, output.stderr())) {
      context->TryCancel();  // No one reads us any more: the command goes too.
      state.output_closed = true;
      break;
    }
    if (output.has_exit_code()) state.exit_code = output.exit_code();
    if (output.has_exit_code() || output.closing()) break;
  }
  return state;
}

}  // namespace

int RunExecSession(const Connection& connection, const v1::ExecuteCommandRequest& request) {
  const bool tty = isatty(STDIN_FILENO) == 1;
  std::unique_ptr<SignalPipe> signals = SignalPipe::Create();
  if (signals == nullptr) {
    std::cerr << "error: cannot set up the session's signals: " << std::strerror(errno) << "\n";
    return kExitDaemonError;
  }
  v1::Node::Stub stub(connection.channel);
  grpc::ClientContext context;
  std::unique_ptr<SessionStream> stream = stub.ExecuteCommandSession(&context);
  v1::ExecInput first;
  *first.mutable_start()->mutable_request() = request;
  first.mutable_start()->set_tty(tty);
  if (tty) *first.mutable_start()->mutable_window() = WindowOf(STDIN_FILENO);
  stream->Write(first);  // When this fails the call is over: Finish says why.

  InputState input_state;
  OutputState output_state;
  {
    std::optional<RawTerminal> raw;
    if (tty) raw.emplace(STDIN_FILENO);
    std::thread input([&stream, &context, &signals, tty, &input_state] {
      PumpInput(stream.get(), &context, signals->read_fd(), tty, &input_state);
    });
    output_state = PumpOutput(stream.get(), &context);
    signals->StopInput();
    input.join();
  }  // The terminal is itself again before anything more is printed.
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (const int signal_number = input_state.ending_signal.load(); signal_number != 0) {
    return 128 + signal_number;
  }
  if (output_state.output_closed) return 128 + SIGPIPE;  // As the shell reports a broken pipe.
  if (!status.ok()) return ReportError(connection, context, status);
  if (!output_state.exit_code) {
    std::cerr << "error: the session ended without the command's exit status\n";
    return kExitDaemonError;
  }
  return *output_state.exit_code;
}

}  // namespace skiff::cli
