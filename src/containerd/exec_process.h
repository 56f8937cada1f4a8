// ExecProcess: one exec process in a containerd task and the FIFOs of its standard streams, made
// in a directory of its own under the adapter's work dir (`exec-<16 hex>`, which also holds the
// container's id). Used by ContainerdRuntime::Exec (collect the output) and
// ContainerdExecSession (a live session).
//
// Owned by one caller. Its fds are non-blocking; Kill and the accessors may be called from any
// thread; destruction (the process deleted from containerd, fds closed, directory removed) must
// come after the process has exited or been killed and waited for, or the shim keeps it.
#ifndef SKIFF_SRC_CONTAINERD_EXEC_PROCESS_H_
#define SKIFF_SRC_CONTAINERD_EXEC_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "github.com/containerd/containerd/api/services/tasks/v1/tasks.grpc.pb.h"
#include "skiff/base/random.h"
#include "skiff/containerd/containerd_connection.h"

namespace skiff::runtime {

struct ExecProcessOptions {
  std::string container_id;
  std::string process_spec;  // The OCI process (JSON), from BuildExecProcessSpec.
  bool with_stdin = false;   // A stdin FIFO the caller writes; none: the process reads EOF.
  bool tty = false;          // The spec asks for a terminal: one output stream, no stderr.
};

class ExecProcess {
 public:
  // Makes the FIFOs, opens the caller's ends (readers before the shim's writers, so neither
  // side blocks) and creates and starts the process. InvalidArgument when runc cannot start
  // argv in the container (the executable is missing): "command: ..." with runc's words.
  static absl::StatusOr<std::unique_ptr<ExecProcess>> Start(
      const ContainerdConnection* connection, const std::string& work_dir, RandomSource& random,
      const ExecProcessOptions& options);
  ~ExecProcess();
  // An exec that an earlier skiffd started and was killed before it could end and delete it (a
  // session's shell, a health check's command): SIGKILLs it and what it started, and deletes it
  // from containerd, as its caller would have. `dir` is its FIFO directory, whose `container`
  // file names the container. OK when it is gone already; the directory is the caller's.
  static absl::Status ReapOrphan(const ContainerdConnection* connection, const std::string& dir);

  ExecProcess(const ExecProcess&) = delete;
  ExecProcess& operator=(const ExecProcess&) = delete;

  const std::string& container_id() const { return container_id_; }
  const std::string& exec_id() const { return exec_id_; }
  pid_t pid() const { return pid_; }
  int stdin_fd() const { return stdin_fd_; }  // -1 without stdin or once closed.
  int stdout_fd() const { return stdout_fd_; }
  int stderr_fd() const { return stderr_fd_; }  // -1 with a terminal.

  // Closes the caller's end of stdin and asks the shim to close its own, so that the process
  // reads EOF after what is buffered. Input-side thread only.
  absl::Status CloseStdin();
  // The terminal's size, in cells.
  absl::Status ResizePty(uint32_t columns, uint32_t rows) const;
  // SIGKILLs the process and everything it started (a shell's children would survive it and
  // hold the FIFOs open). Errors are ignored: the process may be gone already.
  void Kill() const;
  // Blocks until the process exits, or `context` (made by connection->NewContext, cancellable
  // from another thread) ends; its exit status.
  absl::StatusOr<uint32_t> Wait(grpc::ClientContext* context) const;
  // Whether the container's own task has stopped (or is gone). When the exec was killed with
  // SIGKILL and the task still runs, waits up to `settle` for it to stop: a stopping container
  // takes its execs with it, and containerd may learn of their exits first.
  bool ContainerStopped(uint32_t exit_status, absl::Duration settle) const;

 private:
  ExecProcess(const ContainerdConnection* connection, std::string container_id,
              std::string exec_id, std::string dir);
  absl::Status MakeFifos(const ExecProcessOptions& options);
  absl::Status CreateAndStart(const ExecProcessOptions& options);

  const ContainerdConnection* const connection_;
  const std::unique_ptr<containerd::services::tasks::v1::Tasks::Stub> tasks_;
  const std::string container_id_;
  const std::string exec_id_;
  const std::string dir_;
  bool created_ = false;  // Tasks.Exec succeeded: DeleteProcess when done.
  pid_t pid_ = 0;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
};

}  // namespace skiff::runtime

#endif  // SKIFF_SRC_CONTAINERD_EXEC_PROCESS_H_
