// FakeExecCommand: a command "running" in a fake container, for unit tests of exec sessions.
// The test owns it, scripts what the command writes and how it ends, and sees what reached it
// (stdin, end of input, resizes, a kill); NewSession() hands out the runtime::ExecSession that
// the code under test drives, which forwards here and must not outlive it.
//
// Thread-safe. The Await* methods block the test until the code under test, on its own
// threads, has done what they name: tests wait on events, never on time.
#ifndef SKIFF_TESTS_FAKES_FAKE_EXEC_SESSION_H_
#define SKIFF_TESTS_FAKES_FAKE_EXEC_SESSION_H_

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "skiff/runtime/exec_session.h"

namespace skiff::fakes {

class FakeExecCommand {
 public:
  std::unique_ptr<runtime::ExecSession> NewSession();

  // --- What the command does ---
  void Output(std::string stdout_data, std::string stderr_data = "") {
    absl::MutexLock lock(&mu_);
    reads_.push_back(runtime::ExecSessionOutput{.stdout_data = std::move(stdout_data),
                                                .stderr_data = std::move(stderr_data)});
  }
  void Exit(int exit_code, bool container_stopped = false) {
    absl::MutexLock lock(&mu_);
    ExitLocked(exit_code, container_stopped);
  }
  // The next Read fails with `status` (the runtime lost track of the command).
  void FailRead(absl::Status status) {
    absl::MutexLock lock(&mu_);
    reads_.push_back(std::move(status));
  }
  // While held, WriteStdin blocks (as on a full pipe) until released, killed or exited.
  void HoldStdin(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_stdin_ = hold;
  }

  // --- What reached it ---
  std::string stdin_data() const {
    absl::MutexLock lock(&mu_);
    return stdin_;
  }
  bool stdin_closed() const {
    absl::MutexLock lock(&mu_);
    return stdin_closed_;
  }
  std::vector<runtime::WindowSize> resizes() const {
    absl::MutexLock lock(&mu_);
    return resizes_;
  }
  bool killed() const {
    absl::MutexLock lock(&mu_);
    return killed_;
  }
  bool session_destroyed() const {
    absl::MutexLock lock(&mu_);
    return destroyed_;
  }
  void AwaitStdin(const std::string& data) const {
    Await([&] { return stdin_ == data; });
  }
  void AwaitStdinClosed() const {
    Await([&] { return stdin_closed_; });
  }
  void AwaitResizes(size_t n) const {
    Await([&] { return resizes_.size() >= n; });
  }
  void AwaitStdinHeld() const {
    Await([&] { return stdin_waiting_; });
  }

  // --- The session's side (through the session NewSession made) ---
  absl::Status WriteStdin(absl::string_view data) {
    absl::MutexLock lock(&mu_);
    if (stdin_closed_) return absl::FailedPreconditionError("stdin: already closed");
    stdin_waiting_ = true;
    mu_.Await(absl::Condition(
        +[](FakeExecCommand* c) { return !c->hold_stdin_ || c->killed_ || c->exited_; }, this));
    stdin_waiting_ = false;
    if (killed_ || exited_) return absl::FailedPreconditionError("the command has ended");
    stdin_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status CloseStdin() {
    absl::MutexLock lock(&mu_);
    stdin_closed_ = true;
    return absl::OkStatus();
  }
  absl::Status Resize(runtime::WindowSize window) {
    absl::MutexLock lock(&mu_);
    resizes_.push_back(window);
    return absl::OkStatus();
  }
  absl::StatusOr<runtime::ExecSessionOutput> Read(absl::Duration wait) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(
        +[](std::deque<absl::StatusOr<runtime::ExecSessionOutput>>* q) { return !q->empty(); },
        &reads_), wait);
    if (reads_.empty()) return runtime::ExecSessionOutput{};
    absl::StatusOr<runtime::ExecSessionOutput> next = std::move(reads_.front());
    reads_.pop_front();
    return next;
  }
  // As the real runtime: a killed command exits with 128 + SIGKILL.
  void Kill() {
    absl::MutexLock lock(&mu_);
    killed_ = true;
    if (!exited_) ExitLocked(137, false);
  }
  void SessionDestroyed() {
    absl::MutexLock lock(&mu_);
    destroyed_ = true;
  }

 private:
  void ExitLocked(int exit_code, bool container_stopped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    exited_ = true;
    reads_.push_back(runtime::ExecSessionOutput{
        .exit = runtime::ExecExit{.exit_code = exit_code, .container_stopped = container_stopped}});
  }
  template <typename Fn>
  void Await(Fn fn) const {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&fn));
  }

  mutable absl::Mutex mu_;
  std::deque<absl::StatusOr<runtime::ExecSessionOutput>> reads_ ABSL_GUARDED_BY(mu_);
  std::string stdin_ ABSL_GUARDED_BY(mu_);
  bool stdin_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool hold_stdin_ ABSL_GUARDED_BY(mu_) = false;
  bool stdin_waiting_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<runtime::WindowSize> resizes_ ABSL_GUARDED_BY(mu_);
  bool killed_ ABSL_GUARDED_BY(mu_) = false;
  bool exited_ ABSL_GUARDED_BY(mu_) = false;
  bool destroyed_ ABSL_GUARDED_BY(mu_) = false;
};

// The session of a FakeExecCommand.
class FakeExecSession final : public runtime::ExecSession {
 public:
  explicit FakeExecSession(FakeExecCommand* command) : command_(command) {}
  ~FakeExecSession() override { command_->SessionDestroyed(); }

  absl::Status WriteStdin(absl::string_view data) override { return command_->WriteStdin(data); }
  absl::Status CloseStdin() override { return command_->CloseStdin(); }
  absl::Status Resize(runtime::WindowSize window) override { return command_->Resize(window); }
  absl::StatusOr<runtime::ExecSessionOutput> Read(absl::Duration wait) override {
    return command_->Read(wait);
  }
  void Kill() override { command_->Kill(); }

 private:
  FakeExecCommand* const command_;
};

inline std::unique_ptr<runtime::ExecSession> FakeExecCommand::NewSession() {
  return std::make_unique<FakeExecSession>(this);
}

}  // namespace skiff::fakes

#endif  // SKIFF_TESTS_FAKES_FAKE_EXEC_SESSION_H_
