// `skiff execute-command --interactive` against a real skiffd, containerd and runc: stdin from a
// pipe (no terminal), a real terminal from a private tmux server (raw mode, Ctrl-C, a resize,
// the exit status), a container stopped under a session, a client killed or gone, a skiffd
// killed under a session (the next one ends it), and the refusals the one-shot path gives. Each
// test checks that nothing of its sessions stays: no exec process in the container, no FIFO
// directory in skiffd's state.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;
using skiff::testing::CommandResult;

constexpr absl::Duration kWait = absl::Seconds(20);

// A private tmux server (its socket in `dir`) with one window of columns x rows running
// `command` under sh; killed with everything in it on destruction. The window stays after the
// command exits, so its last words can still be read.
class Tmux {
 public:
  Tmux(std::string dir, const std::string& command, int columns, int rows)
      : dir_(std::move(dir)), socket_(dir_ + "/tmux.sock") {
    std::ofstream(dir_ + "/tmux.conf") << "set -g status off\nset -g remain-on-exit on\n";
    started_ = Run({"-f", dir_ + "/tmux.conf", "new-session", "-d", "-s", "s", "-x",
                    std::to_string(columns), "-y", std::to_string(rows), command});
  }
  ~Tmux() { Run({"kill-server"}).IgnoreError(); }

  const absl::Status& started() const { return started_; }
  // Types `text`, then Enter.
  absl::Status Type(const std::string& text) {
    if (absl::Status s = Run({"send-keys", "-t", "s", "-l", text}); !s.ok()) return s;
    return Run({"send-keys", "-t", "s", "Enter"});
  }
  absl::Status Keys(const std::string& key) { return Run({"send-keys", "-t", "s", key}); }
  absl::Status Resize(int columns, int rows) {
    return Run({"resize-window", "-t", "s", "-x", std::to_string(columns), "-y",
                std::to_string(rows)});
  }
  // The pid of the window's command (the shell that runs SessionCommand).
  pid_t PanePid() {
    std::string out;
    int pid = 0;
    if (Run({"display-message", "-p", "-t", "s", "#{pane_pid}"}, &out).ok()) {
      absl::SimpleAtoi(absl::StripAsciiWhitespace(out), &pid);
    }
    return pid;
  }
  std::string Screen() {
    std::string out;
    Run({"capture-pane", "-p", "-J", "-t", "s"}, &out).IgnoreError();
    return out;
  }
  // Polls the screen (bounded) until it shows `text`.
  bool WaitFor(const std::string& text, absl::Duration timeout = kWait) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (absl::StrContains(Screen(), text)) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

 private:
  absl::Status Run(std::vector<std::string> args, std::string* out = nullptr) {
    args.insert(args.begin(), {"tmux", "-S", socket_});
    absl::StatusOr<CommandResult> r = skiff::testing::RunCommand(args, absl::Seconds(10));
    if (!r.ok()) return r.status();
    if (r->exit_code != 0) return absl::InternalError(absl::StrCat("tmux: ", r->stderr_text));
    if (out != nullptr) *out = r->stdout_text;
    return absl::OkStatus();
  }

  const std::string dir_;
  const std::string socket_;
  absl::Status started_;
};

// A busybox container that sleeps, under an init so that stop-task is quick.
json Sleeper(const std::string& name) {
  return {{"name", name},
          {"image", skiff::testing::kTestImageRef},
          {"memory", 32},
          {"stopTimeout", 2},
          {"linuxParameters", {{"initProcessEnabled", true}}},
          {"command", json::array({"sleep", "1000"})}};
}

class ExecSessionTest : public E2eTest {
 protected:
  ExecSessionTest() { namespace_prefix_ = "skiff-exec"; }

  // Starts skiffd with the test image, then a task of `containers`; the task's id once it
  // runs, or "" after a test failure.
  std::string StartTask(const std::string& family, const json& containers) {
    StartSkiffd();
    LoadTestImage();
    RegisterTaskDefinition(
        {{"family", family}, {"networkMode", "host"}, {"containerDefinitions", containers}});
    const std::string id = RunTask(family);
    if (id.empty()) return "";
    return WaitForTaskStatus(id, "RUNNING", kWait).last_status() == "RUNNING" ? id : "";
  }
  // One container "app".
  std::string StartTask(const std::string& family) {
    return StartTask(family, json::array({Sleeper("app")}));
  }

  // A session with a terminal in `id`'s container, in a tmux window of 80x24 whose files are in
  // `dir`; null after a test failure.
  std::unique_ptr<Tmux> OpenTerminal(const std::string& dir, const std::string& id) {
    auto tmux = std::make_unique<Tmux>(dir, SessionCommand(dir, id), 80, 24);
    if (tmux->started().ok()) return tmux;
    ADD_FAILURE() << tmux->started();
    return nullptr;
  }

  // The skiff CLI with `input` on its stdin (a pipe).
  CommandResult SkiffWithInput(const std::string& input, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"sh", "-c", R"(input=$1; shift; printf %s "$input" | "$@")",
                                     "sh", input, SKIFF_BINARY, "--socket", skiffd_->socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<CommandResult> r = skiff::testing::RunCommand(argv, absl::Seconds(60));
    if (!r.ok()) return {.exit_code = -1, .stderr_text = std::string(r.status().message())};
    return *std::move(r);
  }

  // The processes in the container's cgroup (init, its child, any exec).
  int ProcessesIn(const std::string& id) {
    std::string out;
    if (!containerd_->Ctr({"-n", ns_, "tasks", "ps", id + "-app"}, &out).ok()) return -1;
    std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipWhitespace());
    return static_cast<int>(lines.size()) - 1;  // Without the header.
  }

  // The exec FIFO directories skiffd has now.
  int ExecDirs() {
    int n = 0;
    std::error_code ec;
    for (const auto& e :
         std::filesystem::directory_iterator(skiffd_->state_dir() + "/runtime", ec)) {
      n += absl::StartsWith(e.path().filename().string(), "exec-") ? 1 : 0;
    }
    return n;
  }

  // Bounded: sessions are torn down just after their call ends.
  void ExpectNothingLeft(const std::string& id, int processes) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline && (ProcessesIn(id) != processes || ExecDirs() != 0)) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_EQ(ProcessesIn(id), processes) << "an exec process stayed in " << id;
    EXPECT_EQ(ExecDirs(), 0) << "an exec FIFO directory stayed";
  }

  // The shell line that runs an interactive session in `dir`'s tmux and then writes
  // "<exit status> <restored|changed>" (whether the terminal's settings came back) to
  // dir/status.
  std::string SessionCommand(const std::string& dir, const std::string& id) {
    return absl::StrCat("before=$(stty -g); '", SKIFF_BINARY, "' --socket '", skiffd_->socket(),
                        "' execute-command --task ", id,
                        " --interactive --command /bin/sh; code=$?; after=$(stty -g); "
                        "[ \"$before\" = \"$after\" ] && t=restored || t=changed; "
                        "echo \"$code $t\" > '", dir, "/status.tmp' && mv '", dir,
                        "/status.tmp' '", dir, "/status'");
  }

  // What SessionCommand wrote, once it has (bounded); "" if it never did.
  std::string WaitForStatus(const std::string& dir) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      std::ifstream in(dir + "/status");
      std::string line;
      if (std::getline(in, line)) return line;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return "";
  }
};

TEST_F(ExecSessionTest, StdinThatIsNotATerminalStreamsAndItsEndIsTheCommandsEof) {
  const std::string id = StartTask("piped");
  ASSERT_FALSE(id.empty());
  const int processes = ProcessesIn(id);
  ASSERT_GT(processes, 0);

  CommandResult r = SkiffWithInput(
      "echo hello; echo oops >&2; exit 3\n",
      {"execute-command", "--task", id, "--interactive", "--command", "/bin/sh"});
  EXPECT_EQ(r.exit_code, 3) << r.stderr_text;
  EXPECT_EQ(r.stdout_text, "hello\n");
  EXPECT_EQ(r.stderr_text, "oops\n");

  // A command that reads to the end of its input ends when the pipe does.
  r = SkiffWithInput("one\ntwo\n",
                     {"execute-command", "--task", id, "--interactive", "--command", "wc -l"});
  EXPECT_EQ(r.exit_code, 0) << r.stderr_text;
  EXPECT_THAT(r.stdout_text, HasSubstr("2"));
  ExpectNothingLeft(id, processes);
}

TEST_F(ExecSessionTest, ATerminalSessionIsRawResizesAndEndsWithTheCommandsStatus) {
  const std::string id = StartTask("terminal");
  ASSERT_FALSE(id.empty());
  const int processes = ProcessesIn(id);
  const std::string dir = skiffd_->dir();
  std::unique_ptr<Tmux> terminal = OpenTerminal(dir, id);
  ASSERT_NE(terminal, nullptr);
  Tmux& tmux = *terminal;

  // The command has a terminal of the client's size (echoed lines show the command, the
  // output shows the arithmetic done).
  ASSERT_TRUE(tmux.Type("tty >/dev/null && echo tty-$((6*7)); stty size").ok());
  ASSERT_TRUE(tmux.WaitFor("tty-42")) << tmux.Screen();
  EXPECT_TRUE(tmux.WaitFor("24 80")) << tmux.Screen();

  // Ctrl-C reaches the command's terminal as a byte: the sleep dies, the session stays.
  ASSERT_TRUE(tmux.Type("echo sleeping-$((3*3)); sleep 100").ok());
  ASSERT_TRUE(tmux.WaitFor("sleeping-9")) << tmux.Screen();
  ASSERT_TRUE(tmux.Keys("C-c").ok());
  ASSERT_TRUE(tmux.Type("echo alive-$((1+1))").ok());
  EXPECT_TRUE(tmux.WaitFor("alive-2", absl::Seconds(10))) << tmux.Screen();

  // A new window size reaches the command (SIGWINCH in the CLI, ResizePty in containerd).
  ASSERT_TRUE(tmux.Resize(100, 30).ok());
  bool resized = false;
  for (int i = 0; i < 5 && !resized; ++i) {
    // The screen is cleared first, so only this round's answer can match.
    ASSERT_TRUE(tmux.Type(absl::StrCat("clear; echo size-$((100+", i, ")); stty size")).ok());
    resized = tmux.WaitFor(absl::StrCat("size-", 100 + i), absl::Seconds(5)) &&
              tmux.WaitFor("30 100", absl::Seconds(1));
  }
  EXPECT_TRUE(resized) << tmux.Screen();

  ASSERT_TRUE(tmux.Type("exit 5").ok());
  EXPECT_EQ(WaitForStatus(dir), "5 restored") << tmux.Screen();
  ExpectNothingLeft(id, processes);
}

TEST_F(ExecSessionTest, StoppingTheTaskEndsTheSessionWithAClearError) {
  const std::string id = StartTask("stopped");
  ASSERT_FALSE(id.empty());
  const std::string dir = skiffd_->dir();
  std::unique_ptr<Tmux> terminal = OpenTerminal(dir, id);
  ASSERT_NE(terminal, nullptr);
  Tmux& tmux = *terminal;
  ASSERT_TRUE(tmux.Type("echo ready-$((6*7))").ok());
  ASSERT_TRUE(tmux.WaitFor("ready-42")) << tmux.Screen();

  Ok({"stop-task", "--task", id});
  EXPECT_EQ(WaitForStatus(dir), "1 restored") << tmux.Screen();
  EXPECT_TRUE(tmux.WaitFor(
      absl::StrCat("container app of task ", id, " stopped during the session")))
      << tmux.Screen();
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  EXPECT_EQ(ExecDirs(), 0);
}

// The children of a process (from /proc), for the CLI under the tmux window's shell.
std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/task/", pid, "/children"));
  std::vector<pid_t> children;
  for (int child = 0; in >> child;) children.push_back(child);
  return children;
}

TEST_F(ExecSessionTest, ASignalOrADroppedClientKillsTheCommand) {
  const std::string id = StartTask("dropped");
  ASSERT_FALSE(id.empty());
  const int processes = ProcessesIn(id);
  for (const int signal_number : {SIGTERM, SIGKILL}) {
    SCOPED_TRACE(signal_number);
    const std::string dir = absl::StrCat(skiffd_->dir(), "/signal-", signal_number);
    std::filesystem::create_directories(dir);
    std::unique_ptr<Tmux> terminal = OpenTerminal(dir, id);
    ASSERT_NE(terminal, nullptr);
    Tmux& tmux = *terminal;
    ASSERT_TRUE(tmux.Type("echo sleeping-$((3*3)); sleep 1000").ok());
    ASSERT_TRUE(tmux.WaitFor("sleeping-9")) << tmux.Screen();
    EXPECT_EQ(ProcessesIn(id), processes + 2);  // The shell and its sleep.
    const std::vector<pid_t> cli = ChildrenOf(tmux.PanePid());
    ASSERT_EQ(cli.size(), 1u);
    ASSERT_EQ(kill(cli[0], signal_number), 0);
    // SIGTERM: the CLI cancels, restores the terminal and says how it ended. SIGKILL: skiffd
    // sees the connection drop.
    EXPECT_EQ(WaitForStatus(dir), signal_number == SIGTERM ? "143 restored" : "137 changed");
    ExpectNothingLeft(id, processes);
  }
}

TEST_F(ExecSessionTest, ASessionOfAKilledSkiffdIsEndedWhenSkiffdComesBack) {
  const std::string id = StartTask("orphan");
  ASSERT_FALSE(id.empty());
  const int processes = ProcessesIn(id);
  const std::string dir = skiffd_->dir() + "/orphan";
  std::filesystem::create_directories(dir);
  std::unique_ptr<Tmux> terminal = OpenTerminal(dir, id);
  ASSERT_NE(terminal, nullptr);
  ASSERT_TRUE(terminal->Type("echo sleeping-$((3*3)); sleep 1000").ok());
  ASSERT_TRUE(terminal->WaitFor("sleeping-9")) << terminal->Screen();
  ASSERT_EQ(ProcessesIn(id), processes + 2);  // The shell and its sleep.

  // Nothing is left to end them once skiffd is gone: the next one must, before it is ready.
  absl::StatusOr<int> killed = skiffd_->Signal(SIGKILL);
  ASSERT_TRUE(killed.ok()) << killed.status();
  EXPECT_EQ(ProcessesIn(id), processes + 2);
  EXPECT_EQ(ExecDirs(), 1);
  ASSERT_NO_FATAL_FAILURE(StartSkiffd());
  ExpectNothingLeft(id, processes);  // Without the reaping, the shell would run on for good.
  EXPECT_EQ(WaitForTaskStatus(id, "RUNNING", kWait).last_status(), "RUNNING");
}

TEST_F(ExecSessionTest, RefusedAsTheOneShotCommandIs) {
  const std::string id = StartTask("pair", json::array({Sleeper("app"), Sleeper("sidecar")}));
  ASSERT_FALSE(id.empty());
  auto session = [&](std::vector<std::string> more) {
    std::vector<std::string> args = {"execute-command", "--task", id, "--interactive"};
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  Refused(session({"--command", "sh"}), 1, "container: the task has 2 containers");
  Refused(session({"--container", "nope", "--command", "sh"}), 1, "nope");
  Refused(session({"--container", "app", "--command", "sh 'open"}), 1, "command: unbalanced");
  Refused(session({"--container", "app", "--command", "/no/such/program"}), 1,
          "command: cannot run");
  Ok({"stop-task", "--task", id});
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  Refused(session({"--container", "app", "--command", "sh"}), 1, "is not running");
  EXPECT_EQ(ExecDirs(), 0);
}

}  // namespace
}  // namespace skiff::e2e
