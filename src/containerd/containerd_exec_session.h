// ContainerdExecSession: the ExecSession of the containerd adapter, an ExecProcess with stdin
// and a thread that waits for its exit (Tasks.Wait blocks until then, however long the session
// lasts). Threads as ExecSession says: one input thread, one output thread, Kill from any.
#ifndef SKIFF_SRC_CONTAINERD_CONTAINERD_EXEC_SESSION_H_
#define SKIFF_SRC_CONTAINERD_CONTAINERD_EXEC_SESSION_H_

#include <array>
#include <memory>
#include <optional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "containerd/exec_process.h"
#include "grpcpp/client_context.h"
#include "skiff/containerd/containerd_connection.h"
#include "skiff/runtime/exec_session.h"

namespace skiff::runtime {

class ContainerdExecSession final : public ExecSession {
 public:
  // Takes a started process (with stdin) and starts waiting for its exit.
  static absl::StatusOr<std::unique_ptr<ExecSession>> Create(
      const ContainerdConnection* connection, std::unique_ptr<ExecProcess> process,
      const ExecSessionOptions& options);
  ~ContainerdExecSession() override;

  absl::Status WriteStdin(absl::string_view data) override;
  absl::Status CloseStdin() override;
  absl::Status Resize(WindowSize window) override;
  absl::StatusOr<ExecSessionOutput> Read(absl::Duration wait) override;
  void Kill() override;

 private:
  ContainerdExecSession(const ContainerdConnection* connection,
                        std::unique_ptr<ExecProcess> process, bool tty, int input_stop_fd,
                        int exit_fd);
  // The waiter thread: Tasks.Wait, then whether the container stopped too.
  void AwaitExit();
  // Output side: reads what the ready streams hold into out; a stream at EOF is marked closed.
  void ReadStreams(const std::array<short, 2>& revents, ExecSessionOutput* out);
  // Output side: the exit (or the error of the wait) to return now.
  absl::StatusOr<ExecSessionOutput> ExitOutput();

  const std::unique_ptr<ExecProcess> process_;
  const bool tty_;
  // eventfds: input_stop_fd_ is readable once input must stop (killed, or exited), exit_fd_
  // once the exit is known.
  const int input_stop_fd_;
  const int exit_fd_;
  const std::unique_ptr<grpc::ClientContext> wait_context_;

  absl::Mutex mu_;
  std::optional<absl::StatusOr<uint32_t>> exit_status_ ABSL_GUARDED_BY(mu_);
  bool container_stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool exited_ ABSL_GUARDED_BY(mu_) = false;  // exit_status_ is set.
  bool killed_ ABSL_GUARDED_BY(mu_) = false;

  // Output side only: stdout and stderr, -1 once at EOF (the fds stay the process's), and the
  // time after the exit until which output that is still coming is waited for.
  std::array<int, 2> output_fds_;
  std::optional<absl::Time> drain_until_;

  std::thread waiter_;  // Last: started once everything above is set.
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_CONTAINERD_EXEC_SESSION_H_
