#include "containerd/containerd_exec_session.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace skiff::runtime {
namespace {

// Output the process (or what it left running) still writes after its exit is shown for this
// long; a background job that keeps the streams open must not hold the session.
constexpr absl::Duration kDrainAfterExit = absl::Seconds(1);
// How long an exec killed with SIGKILL waits to learn whether its container stopped.
constexpr absl::Duration kContainerSettle = absl::Seconds(1);
// How long destruction waits for a killed process's exit before it stops asking containerd.
constexpr absl::Duration kKillGrace = absl::Seconds(10);
// Tasks.Wait of a session: it may last as long as the user works in it.
constexpr absl::Duration kSessionWait = absl::Hours(24 * 365);
// At most this much of each stream per Read.
constexpr size_t kReadChunk = 64 << 10;

void Signal(int event_fd) {
  const uint64_t one = 1;
  // An eventfd's counter only overflows after 2^64 - 2 writes.
  [[maybe_unused]] const ssize_t n = write(event_fd, &one, sizeof(one));
}

int PollMillis(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d) + 1, 60'000));
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExecSession>> ContainerdExecSession::Create(
    const ContainerdConnection* connection, std::unique_ptr<ExecProcess> process,
    const ExecSessionOptions& options) {
  const int input_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const int exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (input_stop_fd < 0 || exit_fd < 0) {
    const absl::Status error = absl::ErrnoToStatus(errno, "eventfd for an exec session");
    if (input_stop_fd >= 0) close(input_stop_fd);
    if (exit_fd >= 0) close(exit_fd);
    // The process runs already: it must be gone before the shim is asked to delete it.
    process->Kill();
    process->Wait(connection->NewContext(kKillGrace).get()).IgnoreError();
    return error;
  }
  std::unique_ptr<ContainerdExecSession> session(new ContainerdExecSession(
      connection, std::move(process), options.tty, input_stop_fd, exit_fd));
  // runc sized the terminal from the spec's consoleSize; saying it again costs one call and
  // covers a runtime that ignores it.
  if (options.tty && options.window.columns > 0 && options.window.rows > 0) {
    session->Resize(options.window).IgnoreError();
  }
  return session;
}

ContainerdExecSession::ContainerdExecSession(const ContainerdConnection* connection,
                                             std::unique_ptr<ExecProcess> process, bool tty,
                                             int input_stop_fd, int exit_fd)
    : process_(std::move(process)),
      tty_(tty),
      input_stop_fd_(input_stop_fd),
      exit_fd_(exit_fd),
      wait_context_(connection->NewContext(kSessionWait)),
      output_fds_{process_->stdout_fd(), process_->stderr_fd()},
      waiter_([this] { AwaitExit(); }) {}

ContainerdExecSession::~ContainerdExecSession() {
  Kill();
  {
    absl::MutexLock lock(&mu_);
    // containerd answers the wait once the kill landed; if it does not, stop asking.
    if (!mu_.AwaitWithTimeout(absl::Condition(&exited_), kKillGrace)) wait_context_->TryCancel();
  }
  waiter_.join();
  close(input_stop_fd_);
  close(exit_fd_);
  // process_ goes next: the process is deleted from containerd and its FIFOs removed.
}

void ContainerdExecSession::AwaitExit() {
  absl::StatusOr<uint32_t> status = process_->Wait(wait_context_.get());
  bool killed = false;
  {
    absl::MutexLock lock(&mu_);
    killed = killed_;
  }
  // A command this session killed did not die of its container.
  const bool stopped =
      status.ok() && !killed && process_->ContainerStopped(*status, kContainerSettle);
  {
    absl::MutexLock lock(&mu_);
    exit_status_ = std::move(status);
    container_stopped_ = stopped;
    exited_ = true;
  }
  Signal(exit_fd_);
  Signal(input_stop_fd_);
}

void ContainerdExecSession::Kill() {
  {
    absl::MutexLock lock(&mu_);
    // After the exit its pid may be another process's.
    if (killed_ || exited_) return;
    killed_ = true;
  }
  Signal(input_stop_fd_);
  process_->Kill();
}

absl::Status ContainerdExecSession::WriteStdin(absl::string_view data) {
  const int fd = process_->stdin_fd();
  if (fd < 0) return absl::FailedPreconditionError("stdin: already closed");
  while (!data.empty()) {
    {
      absl::MutexLock lock(&mu_);
      if (killed_ || exited_) return absl::FailedPreconditionError("the command has ended");
    }
    const ssize_t n = write(fd, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return absl::ErrnoToStatus(errno, "write the command's stdin");
    // The pipe is full: the command does not read now. Wait until it does, or ends.
    std::array<pollfd, 2> fds{pollfd{fd, POLLOUT, 0}, pollfd{input_stop_fd_, POLLIN, 0}};
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
      return absl::ErrnoToStatus(errno, "poll the command's stdin");
    }
  }
  return absl::OkStatus();
}

absl::Status ContainerdExecSession::CloseStdin() { return process_->CloseStdin(); }

absl::Status ContainerdExecSession::Resize(WindowSize window) {
  if (!tty_) return absl::FailedPreconditionError("resize: the session has no terminal");
  return process_->ResizePty(window.columns, window.rows);
}

absl::StatusOr<ExecSessionOutput> ContainerdExecSession::Read(absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  ExecSessionOutput out;
  while (true) {
    bool exited = false;
    {
      absl::MutexLock lock(&mu_);
      exited = exited_;
    }
    const absl::Time now = absl::Now();
    if (exited && !drain_until_) drain_until_ = now + kDrainAfterExit;
    const bool streams_open = output_fds_[0] >= 0 || output_fds_[1] >= 0;
    if (exited && (!streams_open || now >= *drain_until_)) return ExitOutput();
    const absl::Time until = exited ? std::min(deadline, *drain_until_) : deadline;
    std::array<pollfd, 3> fds{pollfd{output_fds_[0], POLLIN, 0},
                              pollfd{output_fds_[1], POLLIN, 0},
                              pollfd{exited ? -1 : exit_fd_, POLLIN, 0}};
    if (poll(fds.data(), fds.size(), PollMillis(until - now)) < 0 && errno != EINTR) {
      return absl::ErrnoToStatus(errno, "poll the command's output");
    }
    ReadStreams({fds[0].revents, fds[1].revents}, &out);
    if (!out.stdout_data.empty() || !out.stderr_data.empty()) return out;
    if (absl::Now() >= deadline) return out;
  }
}

void ContainerdExecSession::ReadStreams(const std::array<short, 2>& revents,
                                        ExecSessionOutput* out) {
  std::array<std::string*, 2> sinks{&out->stdout_data, &out->stderr_data};
  std::string buffer(kReadChunk, '\0');
  for (size_t i = 0; i < output_fds_.size(); ++i) {
    if (output_fds_[i] < 0 || revents[i] == 0) continue;
    while (sinks[i]->size() < kReadChunk) {
      const ssize_t n = read(output_fds_[i], buffer.data(), kReadChunk - sinks[i]->size());
      if (n > 0) {
        sinks[i]->append(buffer.data(), static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      output_fds_[i] = -1;  // EOF: the shim closed its end (or the read failed for good).
      break;
    }
  }
}

absl::StatusOr<ExecSessionOutput> ContainerdExecSession::ExitOutput() {
  absl::MutexLock lock(&mu_);
  if (!exit_status_->ok()) return exit_status_->status();
  ExecSessionOutput out;
  out.exit = ExecExit{.exit_code = static_cast<int>(**exit_status_),
                      .container_stopped = container_stopped_};
  return out;
}

}  // namespace skiff::runtime
