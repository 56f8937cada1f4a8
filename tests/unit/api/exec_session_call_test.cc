// ServeExecSession, the stream logic of Node.ExecuteCommandSession: a fake call plays the client
// (what it sends, when it closes its side or cancels) and a FakeExecCommand the command. The
// session runs on a thread of the test, as on a gRPC thread; the test waits for events, never
// for time.
#include "api/exec_session_call.h"

#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "fakes/fake_exec_session.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/errors.h"

namespace skiff::api {
namespace {

using ::testing::HasSubstr;

// The client's side of one call: messages the test sends, and what the server wrote.
class FakeCall final : public ExecCall {
 public:
  // --- The client (the test) ---
  void Send(v1::ExecInput input) {
    absl::MutexLock lock(&mu_);
    inputs_.push_back(std::move(input));
  }
  void CloseClientSide() {
    absl::MutexLock lock(&mu_);
    client_closed_ = true;
  }
  // The client cancels, or its connection drops.
  void ClientCancels() { Cancel(); }
  // Blocks until the server wrote n messages; they.
  std::vector<v1::ExecOutput> AwaitWrites(size_t n) const {
    absl::MutexLock lock(&mu_);
    std::pair<const std::vector<v1::ExecOutput>*, size_t> arg(&writes_, n);
    mu_.Await(absl::Condition(
        +[](std::pair<const std::vector<v1::ExecOutput>*, size_t>* a) {
          return a->first->size() >= a->second;
        },
        &arg));
    return writes_;
  }
  std::vector<v1::ExecOutput> writes() const {
    absl::MutexLock lock(&mu_);
    return writes_;
  }
  bool server_cancelled() const {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }

  // --- ExecCall ---
  bool Read(v1::ExecInput* input) override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](FakeCall* c) { return !c->inputs_.empty() || c->client_closed_ || c->cancelled_; },
        this));
    if (cancelled_ || inputs_.empty()) return false;
    *input = std::move(inputs_.front());
    inputs_.pop_front();
    return true;
  }
  bool Write(const v1::ExecOutput& output) override {
    absl::MutexLock lock(&mu_);
    if (cancelled_) return false;
    writes_.push_back(output);
    return true;
  }
  bool IsCancelled() const override {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  void Cancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

 private:
  mutable absl::Mutex mu_;
  std::deque<v1::ExecInput> inputs_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ExecOutput> writes_ ABSL_GUARDED_BY(mu_);
  bool client_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

v1::ExecInput Start(bool tty, uint32_t columns = 0, uint32_t rows = 0) {
  v1::ExecInput input;
  v1::ExecStart* start = input.mutable_start();
  start->mutable_request()->set_task("t1");
  start->mutable_request()->set_command("/bin/sh");
  start->mutable_request()->set_interactive(true);
  start->set_tty(tty);
  start->mutable_window()->set_columns(columns);
  start->mutable_window()->set_rows(rows);
  return input;
}

v1::ExecInput Stdin(const std::string& data, bool eof = false) {
  v1::ExecInput input;
  input.set_stdin(data);
  input.set_stdin_eof(eof);
  return input;
}

v1::ExecInput Resize(uint32_t columns, uint32_t rows) {
  v1::ExecInput input;
  input.mutable_resize()->set_columns(columns);
  input.mutable_resize()->set_rows(rows);
  return input;
}

class ExecSessionCallTest : public ::testing::Test {
 protected:
  // A test that failed half-way still ends its session: the client goes.
  ~ExecSessionCallTest() override {
    if (!server_.joinable()) return;
    call_.ClientCancels();
    server_.join();
  }

  // Serves the call on a thread of its own, as gRPC would; `open` records the start.
  void Serve(ExecSessionTiming timing = {}) {
    server_ = std::thread([this, timing] {
      result_ = ServeExecSession(
          &call_,
          [this](const v1::ExecStart& start) -> absl::StatusOr<OpenedExecSession> {
            started_ = start;
            if (!open_error_.ok()) return open_error_;
            return OpenedExecSession{.session = command_.NewSession(),
                                     .container = "container app of task t1"};
          },
          timing);
    });
  }
  absl::Status Finish() {
    server_.join();
    return result_;
  }

  FakeCall call_;
  fakes::FakeExecCommand command_;
  absl::Status open_error_;
  std::optional<v1::ExecStart> started_;
  std::thread server_;
  absl::Status result_;
};

TEST_F(ExecSessionCallTest, ATerminalSessionCarriesInputResizesOutputAndTheExitCode) {
  call_.Send(Start(/*tty=*/true, 100, 30));
  Serve();
  call_.Send(Stdin("ls\r"));
  command_.AwaitStdin("ls\r");
  call_.Send(Resize(120, 40));
  command_.AwaitResizes(1);
  EXPECT_EQ(command_.resizes()[0].columns, 120);
  EXPECT_EQ(command_.resizes()[0].rows, 40);

  command_.Output("bin  etc\r\n");
  std::vector<v1::ExecOutput> writes = call_.AwaitWrites(1);
  EXPECT_EQ(writes[0].stdout(), "bin  etc\r\n");
  EXPECT_FALSE(writes[0].has_exit_code());

  command_.Exit(3);
  writes = call_.AwaitWrites(2);
  EXPECT_EQ(writes[1].exit_code(), 3);
  EXPECT_FALSE(writes[1].closing());
  call_.CloseClientSide();  // As the CLI does once it has the exit code.
  EXPECT_TRUE(Finish().ok());

  ASSERT_TRUE(started_.has_value());
  EXPECT_TRUE(started_->tty());
  EXPECT_EQ(started_->window().columns(), 100u);
  EXPECT_FALSE(command_.killed());
  EXPECT_FALSE(call_.server_cancelled());
  EXPECT_TRUE(command_.session_destroyed());
}

TEST_F(ExecSessionCallTest, WithoutATerminalStdinEndsAndBothStreamsStayApart) {
  call_.Send(Start(/*tty=*/false));
  Serve();
  call_.Send(Stdin("echo hello; exit 3\n", /*eof=*/true));
  command_.AwaitStdinClosed();
  EXPECT_EQ(command_.stdin_data(), "echo hello; exit 3\n");

  command_.Output("hello\n", "warning\n");
  command_.Exit(3);
  std::vector<v1::ExecOutput> writes = call_.AwaitWrites(2);
  EXPECT_EQ(writes[0].stdout(), "hello\n");
  EXPECT_EQ(writes[0].stderr(), "warning\n");
  EXPECT_EQ(writes[1].exit_code(), 3);
  call_.CloseClientSide();
  EXPECT_TRUE(Finish().ok());
}

TEST_F(ExecSessionCallTest, AClientThatClosesItsSideEndsTheInput) {
  call_.Send(Start(/*tty=*/false));
  Serve();
  call_.Send(Stdin("data"));
  call_.CloseClientSide();
  command_.AwaitStdinClosed();
  EXPECT_EQ(command_.stdin_data(), "data");
  command_.Exit(0);
  EXPECT_TRUE(Finish().ok());
  EXPECT_EQ(call_.writes().back().exit_code(), 0);
  EXPECT_FALSE(command_.killed());
}

TEST_F(ExecSessionCallTest, TheFirstMessageMustStartTheSession) {
  call_.Send(Stdin("ls\n"));
  Serve();
  absl::Status status = Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("start: the first message"));
  EXPECT_EQ(model::EcsExceptionName(status), model::kInvalidParameterException);
  EXPECT_FALSE(started_.has_value());
  EXPECT_TRUE(call_.writes().empty());
}

TEST_F(ExecSessionCallTest, AnErrorOfTheStartIsTheCallsAndNothingRuns) {
  open_error_ = model::EcsError(absl::StatusCode::kInvalidArgument,
                                model::kInvalidParameterException,
                                "container: the task has 2 containers; name one with --container");
  call_.Send(Start(/*tty=*/false));
  Serve();
  absl::Status status = Finish();
  EXPECT_EQ(status, open_error_);
  EXPECT_TRUE(call_.writes().empty());
  EXPECT_FALSE(command_.session_destroyed());  // Never made.
}

TEST_F(ExecSessionCallTest, ACancelledCallKillsTheCommand) {
  call_.Send(Start(/*tty=*/true));
  Serve();
  command_.Output("$ ");
  call_.AwaitWrites(1);
  call_.ClientCancels();
  absl::Status status = Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(command_.killed());
  EXPECT_TRUE(command_.session_destroyed());
}

TEST_F(ExecSessionCallTest, ACancelReachesAWriteBlockedOnAFullStdin) {
  command_.HoldStdin(true);
  call_.Send(Start(/*tty=*/false));
  Serve();
  call_.Send(Stdin("more than the pipe holds"));
  command_.AwaitStdinHeld();
  call_.ClientCancels();
  EXPECT_EQ(Finish().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(command_.killed());
  EXPECT_EQ(command_.stdin_data(), "");
}

TEST_F(ExecSessionCallTest, AStoppedContainerEndsTheSessionWithAClearError) {
  call_.Send(Start(/*tty=*/true));
  Serve();
  command_.Output("$ ");
  command_.Exit(137, /*container_stopped=*/true);
  std::vector<v1::ExecOutput> writes = call_.AwaitWrites(2);
  EXPECT_EQ(writes[0].stdout(), "$ ");
  EXPECT_TRUE(writes[1].closing());
  EXPECT_FALSE(writes[1].has_exit_code());
  call_.CloseClientSide();
  absl::Status status = Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "container app of task t1 stopped during the session; the command ended with exit "
            "137");
}

TEST_F(ExecSessionCallTest, ARuntimeErrorKillsTheCommandAndSaysSo) {
  call_.Send(Start(/*tty=*/false));
  Serve();
  command_.FailRead(absl::UnavailableError("containerd Tasks.Wait (exec): connection refused"));
  call_.AwaitWrites(1);
  call_.CloseClientSide();
  absl::Status status = Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(command_.killed());
  EXPECT_TRUE(call_.writes().back().closing());
}

TEST_F(ExecSessionCallTest, AClientThatKeepsItsSideOpenAfterTheExitIsCutOff) {
  call_.Send(Start(/*tty=*/false));
  Serve({.client_close = absl::ZeroDuration()});
  command_.Exit(0);
  EXPECT_TRUE(Finish().ok());
  EXPECT_TRUE(call_.server_cancelled());
  EXPECT_EQ(call_.writes().back().exit_code(), 0);
}

TEST_F(ExecSessionCallTest, InputAfterTheExitIsDropped) {
  call_.Send(Start(/*tty=*/false));
  Serve();
  command_.Exit(0);
  call_.AwaitWrites(1);
  call_.Send(Stdin("too late"));
  call_.CloseClientSide();
  EXPECT_TRUE(Finish().ok());
  EXPECT_EQ(command_.stdin_data(), "");
}

TEST(ToWindowSizeTest, CutsSizesPastWhatATerminalHolds) {
  v1::WindowSize size;
  size.set_columns(70000);
  size.set_rows(50);
  runtime::WindowSize window = ToWindowSize(size);
  EXPECT_EQ(window.columns, 65535);
  EXPECT_EQ(window.rows, 50);
}

}  // namespace
}  // namespace skiff::api
