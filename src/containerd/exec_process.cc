#include "containerd/exec_process.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "google/protobuf/empty.pb.h"
#include "skiff/base/status_macros.h"

namespace skiff::runtime {
namespace {

namespace tasks_api = containerd::services::tasks::v1;

constexpr absl::Duration kCallTimeout = absl::Seconds(30);
constexpr char kProcessTypeUrl[] = "types.containerd.io/opencontainers/runtime-spec/1/Process";
constexpr char kContainerFile[] = "container";  // In an exec's directory: its container's id.

// The parent of each process on the host, from /proc/<pid>/stat (fields after the command name,
// which may itself hold spaces and parentheses).
std::map<pid_t, std::vector<pid_t>> ChildrenOnHost() {
  std::map<pid_t, std::vector<pid_t>> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    if (!absl::SimpleAtoi(name, &pid)) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(absl::string_view(stat).substr(close_paren + 1), ' ', absl::SkipEmpty());
    pid_t ppid = 0;
    if (fields.size() > 1 && absl::SimpleAtoi(fields[1], &ppid)) children[ppid].push_back(pid);
  }
  return children;
}

// The state letter of a process ('R', 'S', 'T', 'Z', ...), 0 when it is gone.
char StateOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close_paren = stat.rfind(')');
  return close_paren == std::string::npos || close_paren + 2 >= stat.size()
             ? 0
             : stat[close_paren + 2];
}

// Waits (at most 100 ms) until a signalled SIGSTOP has landed: stopped, dead or gone.
void AwaitStopped(pid_t pid) {
  for (int i = 0; i < 100; ++i) {
    const char state = StateOf(pid);
    if (state == 0 || state == 'T' || state == 't' || state == 'Z' || state == 'X') return;
    absl::SleepFor(absl::Milliseconds(1));
  }
}

// SIGKILLs pid and everything it started. An exec'd command may have forked (`sh -c "a | b"`, a
// daemonizing check, an interactive shell's jobs); killing only its pid would leave the rest
// running inside the container. Each process found is stopped first, and children are looked
// for again once the stops have landed, until none is new: a stopped process can neither fork
// nor be reparented away by its parent's death, so the last look sees the whole tree.
void KillProcessTree(pid_t root) {
  std::set<pid_t> tree{root};
  std::vector<pid_t> found{root};
  for (int round = 0; round < 100 && !found.empty(); ++round) {
    for (pid_t pid : found) kill(pid, SIGSTOP);
    for (pid_t pid : found) AwaitStopped(pid);
    found.clear();
    const std::map<pid_t, std::vector<pid_t>> children = ChildrenOnHost();
    for (pid_t pid : std::vector<pid_t>(tree.begin(), tree.end())) {
      auto it = children.find(pid);
      if (it == children.end()) continue;
      for (pid_t child : it->second) {
        if (tree.insert(child).second) found.push_back(child);
      }
    }
  }
  for (pid_t pid : tree) kill(pid, SIGKILL);
}

// runc's words when the command cannot start ("exec: \"nope\": executable file not found in
// $PATH"): the user's input is wrong, not the node.
bool IsBadCommand(const grpc::Status& status) {
  const std::string& m = status.error_message();
  return absl::StrContains(m, "executable file not found") ||
         absl::StrContains(m, "no such file or directory");
}

// A request of the Tasks service about one exec process.
template <typename Request>
Request About(const std::string& container_id, const std::string& exec_id) {
  Request request;
  request.set_container_id(container_id);
  request.set_exec_id(exec_id);
  return request;
}

// Deletes the exec process from its task, which the shim refuses while it runs.
grpc::Status DeleteExec(tasks_api::Tasks::Stub& tasks, const ContainerdConnection& connection,
                        const std::string& container_id, const std::string& exec_id) {
  const auto remove = About<tasks_api::DeleteProcessRequest>(container_id, exec_id);
  tasks_api::DeleteResponse removed;
  return tasks.DeleteProcess(connection.NewContext(kCallTimeout).get(), remove, &removed);
}

}  // namespace

ExecProcess::ExecProcess(const ContainerdConnection* connection, std::string container_id,
                         std::string exec_id, std::string dir)
    : connection_(connection),
      tasks_(tasks_api::Tasks::NewStub(connection->channel())),
      container_id_(std::move(container_id)),
      exec_id_(std::move(exec_id)),
      dir_(std::move(dir)) {}

absl::StatusOr<std::unique_ptr<ExecProcess>> ExecProcess::Start(
    const ContainerdConnection* connection, const std::string& work_dir, RandomSource& random,
    const ExecProcessOptions& options) {
  std::string exec_id = absl::StrCat("exec-", RandomHex(random, 16));
  std::string dir = absl::StrCat(work_dir, "/", exec_id);
  std::unique_ptr<ExecProcess> process(
      new ExecProcess(connection, options.container_id, std::move(exec_id), std::move(dir)));
  SKIFF_RETURN_IF_ERROR(process->MakeFifos(options));
  SKIFF_RETURN_IF_ERROR(process->CreateAndStart(options));
  return process;
}

absl::Status ExecProcess::MakeFifos(const ExecProcessOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("create ", dir_, ": ", ec.message()));
  // Whose exec this is, for ReapOrphan if this skiffd is killed before it deletes the exec.
  std::ofstream(absl::StrCat(dir_, "/", kContainerFile)) << container_id_ << "\n";
  auto make = [&](const char* name, int flags, int* fd) -> absl::Status {
    const std::string path = absl::StrCat(dir_, "/", name);
    if (mkfifo(path.c_str(), 0600) != 0) return absl::ErrnoToStatus(errno, "mkfifo " + path);
    *fd = open(path.c_str(), flags | O_NONBLOCK | O_CLOEXEC);
    if (*fd < 0) return absl::ErrnoToStatus(errno, "open " + path);
    return absl::OkStatus();
  };
  // Readers first, so the shim's blocking opens for writing find them. stdin is opened for
  // reading and writing: that never blocks and never fails for want of a reader, and the shim
  // holds a writer of its own until CloseIO anyway.
  SKIFF_RETURN_IF_ERROR(make("stdout", O_RDONLY, &stdout_fd_));
  if (!options.tty) SKIFF_RETURN_IF_ERROR(make("stderr", O_RDONLY, &stderr_fd_));
  if (options.with_stdin) SKIFF_RETURN_IF_ERROR(make("stdin", O_RDWR, &stdin_fd_));
  return absl::OkStatus();
}

absl::Status ExecProcess::CreateAndStart(const ExecProcessOptions& options) {
  auto exec = About<tasks_api::ExecProcessRequest>(container_id_, exec_id_);
  exec.set_terminal(options.tty);
  if (options.with_stdin) exec.set_stdin(dir_ + "/stdin");
  exec.set_stdout(dir_ + "/stdout");
  if (!options.tty) exec.set_stderr(dir_ + "/stderr");
  exec.mutable_spec()->set_type_url(kProcessTypeUrl);
  exec.mutable_spec()->set_value(options.process_spec);
  google::protobuf::Empty empty;
  grpc::Status status = tasks_->Exec(connection_->NewContext(kCallTimeout).get(), exec, &empty);
  if (!status.ok()) return connection_->ToStatus(status, "Tasks.Exec " + container_id_);
  created_ = true;
  const auto start = About<tasks_api::StartRequest>(container_id_, exec_id_);
  tasks_api::StartResponse started;
  status = tasks_->Start(connection_->NewContext(kCallTimeout).get(), start, &started);
  if (!status.ok() && IsBadCommand(status)) {
    return absl::InvalidArgumentError(
        absl::StrCat("command: cannot run in ", container_id_, ": ", status.error_message()));
  }
  if (!status.ok()) return connection_->ToStatus(status, "Tasks.Start (exec) " + container_id_);
  pid_ = static_cast<pid_t>(started.pid());
  return absl::OkStatus();
}

ExecProcess::~ExecProcess() {
  for (int fd : {stdin_fd_, stdout_fd_, stderr_fd_}) {
    if (fd >= 0) close(fd);
  }
  if (created_) DeleteExec(*tasks_, *connection_, container_id_, exec_id_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

absl::Status ExecProcess::ReapOrphan(const ContainerdConnection* connection,
                                     const std::string& dir) {
  std::ifstream in(absl::StrCat(dir, "/", kContainerFile));
  std::string container_id;
  if (!std::getline(in, container_id) || container_id.empty()) return absl::OkStatus();
  const std::string exec_id = std::filesystem::path(dir).filename().string();
  const std::unique_ptr<tasks_api::Tasks::Stub> tasks =
      tasks_api::Tasks::NewStub(connection->channel());
  const auto get = About<tasks_api::GetRequest>(container_id, exec_id);
  tasks_api::GetResponse got;
  grpc::Status status = tasks->Get(connection->NewContext(kCallTimeout).get(), get, &got);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return absl::OkStatus();
  if (!status.ok()) return connection->ToStatus(status, "Tasks.Get (exec) " + exec_id);
  if (got.process().status() != containerd::v1::types::STOPPED &&
      got.process().pid() > 0) {
    KillProcessTree(static_cast<pid_t>(got.process().pid()));
    // Until the shim has seen the exit: it refuses to delete a running process.
    const auto wait = About<tasks_api::WaitRequest>(container_id, exec_id);
    tasks_api::WaitResponse waited;
    tasks->Wait(connection->NewContext(absl::Seconds(5)).get(), wait, &waited);
  }
  status = DeleteExec(*tasks, *connection, container_id, exec_id);
  if (status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND) return absl::OkStatus();
  return connection->ToStatus(status, "Tasks.DeleteProcess " + exec_id);
}

absl::Status ExecProcess::CloseStdin() {
  if (stdin_fd_ < 0) return absl::OkStatus();
  close(stdin_fd_);
  stdin_fd_ = -1;
  auto request = About<tasks_api::CloseIORequest>(container_id_, exec_id_);
  request.set_stdin(true);
  google::protobuf::Empty empty;
  grpc::Status status =
      tasks_->CloseIO(connection_->NewContext(kCallTimeout).get(), request, &empty);
  return connection_->ToStatus(status, "Tasks.CloseIO " + container_id_);
}

absl::Status ExecProcess::ResizePty(uint32_t columns, uint32_t rows) const {
  auto request = About<tasks_api::ResizePtyRequest>(container_id_, exec_id_);
  request.set_width(columns);
  request.set_height(rows);
  google::protobuf::Empty empty;
  grpc::Status status =
      tasks_->ResizePty(connection_->NewContext(kCallTimeout).get(), request, &empty);
  return connection_->ToStatus(status, "Tasks.ResizePty " + container_id_);
}

void ExecProcess::Kill() const {
  if (pid_ > 0) KillProcessTree(pid_);
  auto request = About<tasks_api::KillRequest>(container_id_, exec_id_);
  request.set_signal(SIGKILL);
  google::protobuf::Empty empty;
  tasks_->Kill(connection_->NewContext(kCallTimeout).get(), request, &empty);
}

absl::StatusOr<uint32_t> ExecProcess::Wait(grpc::ClientContext* context) const {
  const auto request = About<tasks_api::WaitRequest>(container_id_, exec_id_);
  tasks_api::WaitResponse response;
  grpc::Status status = tasks_->Wait(context, request, &response);
  if (!status.ok()) return connection_->ToStatus(status, "Tasks.Wait (exec) " + container_id_);
  return response.exit_status();
}

bool ExecProcess::ContainerStopped(uint32_t exit_status, absl::Duration settle) const {
  tasks_api::GetRequest get;
  get.set_container_id(container_id_);
  tasks_api::GetResponse task;
  grpc::Status status = tasks_->Get(connection_->NewContext(kCallTimeout).get(), get, &task);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return true;
  if (!status.ok()) return false;  // Unknown: say what the command said.
  if (task.process().status() == containerd::v1::types::STOPPED) return true;
  if (exit_status != 128 + SIGKILL) return false;
  // Waiting on the task's own process answers the moment it stops, or not within `settle`.
  tasks_api::WaitRequest wait;
  wait.set_container_id(container_id_);
  tasks_api::WaitResponse waited;
  status = tasks_->Wait(connection_->NewContext(settle).get(), wait, &waited);
  return status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND;
}

}  // namespace skiff::runtime
