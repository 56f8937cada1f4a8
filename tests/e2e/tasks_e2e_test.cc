// Tasks as a user runs them: `skiff load-image`, `run-task`, `wait`, `logs`, `execute-command`
// and `stop-task` against a real skiffd and a private containerd with real runc.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

class TasksTest : public E2eTest {
 protected:
  TasksTest() { namespace_prefix_ = "skiff-tasks"; }

  // Through the CLI, which prints what it loaded.
  void LoadTestImage() {
    absl::StatusOr<std::string> tarball = skiff::testing::TestImageTarball();
    ASSERT_TRUE(tarball.ok()) << tarball.status();
    json loaded = Ok({"load-image", "--input", *tarball});
    ASSERT_EQ(loaded["images"].size(), 1u) << loaded.dump();
    EXPECT_EQ(loaded["images"][0]["name"], skiff::testing::kTestImageRef);
  }

  // Registers a one-container definition (host network) and runs it; returns the task id.
  std::string Run(const std::string& family, const json& container, const json& extra = {}) {
    json definition = {{"family", family},
                       {"networkMode", "host"},
                       {"containerDefinitions", json::array({container})}};
    for (auto& [key, value] : extra.items()) definition[key] = value;
    Ok({"register-task-definition", "--cli-input-json", definition.dump()});
    json run = Ok({"run-task", "--task-definition", family});
    if (run["tasks"].size() != 1) return "";
    const std::string arn = run["tasks"][0]["taskArn"];
    return arn.substr(arn.rfind('/') + 1);
  }

  json Describe(const std::string& id) { return DescribeTaskJson(id); }
};

// A busybox container running script. A shell or sleep as pid 1 ignores SIGTERM (the kernel
// gives pid 1 no default action), so containers meant to die of SIGTERM run under init.
json Busybox(const std::string& name, const std::string& script, bool init = false) {
  return {{"name", name},
          {"linuxParameters", {{"initProcessEnabled", init}}},
          {"image", skiff::testing::kTestImageRef},
          {"memory", 64},
          {"command", json::array({"sh", "-c", script})}};
}

TEST_F(TasksTest, RunLogsExecAndStop) {
  StartSkiffd();
  LoadTestImage();
  json container = Busybox("app", "echo hello from $(id -u); exec sleep 1000", /*init=*/true);
  container["stopTimeout"] = 5;
  const std::string id = Run("hello", container);
  ASSERT_FALSE(id.empty());
  Ok({"wait", "tasks-running", "--tasks", id, "--timeout", "60"});
  json task = Describe(id);
  EXPECT_EQ(task["lastStatus"], "RUNNING");
  EXPECT_EQ(task["containers"][0]["lastStatus"], "RUNNING");
  EXPECT_EQ(task["containers"][0]["runtimeId"], id + "-app");
  EXPECT_TRUE(task.contains("startedAt"));

  // The container's output reaches its log file (the shim writes it); give the shell a moment.
  std::string logs;
  for (int i = 0; i < 50 && logs.find("hello from 0") == std::string::npos; ++i) {
    logs = Skiff({"logs", "--task", id}).stdout_text;
    if (logs.empty()) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(logs, "hello from 0\n");

  skiff::testing::CommandResult exec = Skiff(
      {"execute-command", "--task", id, "--command", "sh -c 'echo out; echo err >&2; exit 7'"});
  EXPECT_EQ(exec.exit_code, 7);
  EXPECT_EQ(exec.stdout_text, "out\n");
  EXPECT_EQ(exec.stderr_text, "err\n");

  json stopped = Ok({"stop-task", "--task", id, "--reason", "done here"});
  EXPECT_EQ(stopped["task"]["desiredStatus"], "STOPPED");
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  task = Describe(id);
  EXPECT_EQ(task["lastStatus"], "STOPPED");
  EXPECT_EQ(task["stopCode"], "UserInitiated");
  EXPECT_EQ(task["stoppedReason"], "done here");
  // sleep dies of SIGTERM: 128 + 15.
  EXPECT_EQ(task["containers"][0]["exitCode"], 143);
  json listed = Ok({"list-tasks", "--desired-status", "STOPPED"});
  EXPECT_EQ(listed["taskArns"].size(), 1u);

  // Bad input: a clear error naming what is wrong, exit 1, and nothing new anywhere.
  auto refused = [&](const std::vector<std::string>& args, const std::string& says) {
    Refused(args, 1, says);
  };
  refused({"execute-command", "--task", id, "--command", "true"}, "is not running");
  refused({"execute-command", "--task", id, "--command", "echo 'open"}, "command: unbalanced");
  refused({"stop-task", "--task", "nope"}, "task: a task is its 32-hex-digit id");
  refused({"logs", "--task", id, "--tail", "-1"}, "tail: must be 0 or more");
  refused({"remove-image", "--image", "skiff.local/none:here"}, "skiff.local/none:here");
  refused({"run-task", "--task-definition", "hello", "--overrides",
           R"({"containerOverrides": [{"name": "app", "memory": 1}]})"},
          "overrides.containerOverrides[0].memory");
  refused({"run-task", "--task-definition", "hello", "--count", "11"}, "count");
  EXPECT_EQ(Ok({"list-tasks", "--desired-status", "STOPPED"})["taskArns"].size(), 1u);
  EXPECT_EQ(Ok({"list-tasks"}).value("taskArns", json::array()).size(), 0u);
  EXPECT_EQ(Ok({"list-images"})["images"].size(), 1u);
}

// DeleteTaskDefinitions through the CLI: a deregistered revision whose task runs waits
// DELETE_IN_PROGRESS and runs nothing new; it is gone soon after its task stops, and the family
// counts on from it.
TEST_F(TasksTest, ADeletedTaskDefinitionGoesOnceItsTaskStops) {
  StartSkiffd();
  LoadTestImage();
  const std::string id = Run("doomed", Busybox("app", "exec sleep 1000", /*init=*/true));
  ASSERT_FALSE(id.empty());
  Ok({"wait", "tasks-running", "--tasks", id, "--timeout", "60"});
  json active = Ok({"delete-task-definitions", "--task-definitions", "doomed:1"});
  ASSERT_EQ(active["failures"].size(), 1u) << active.dump();
  EXPECT_EQ(active["failures"][0]["reason"], "ACTIVE");

  Ok({"deregister-task-definition", "--task-definition", "doomed:1"});
  json deleted =
      Ok({"delete-task-definitions", "--task-definitions", "doomed:1", "doomed:7"});
  ASSERT_EQ(deleted["taskDefinitions"].size(), 1u) << deleted.dump();
  EXPECT_EQ(deleted["taskDefinitions"][0]["status"], "DELETE_IN_PROGRESS");
  ASSERT_EQ(deleted["failures"].size(), 1u) << deleted.dump();
  EXPECT_EQ(deleted["failures"][0]["reason"], "MISSING");
  Refused({"run-task", "--task-definition", "doomed:1"}, 1, "is DELETE_IN_PROGRESS");
  json described = Ok({"describe-task-definition", "--task-definition", "doomed:1"});
  EXPECT_EQ(described["taskDefinition"]["status"], "DELETE_IN_PROGRESS");
  EXPECT_EQ(Describe(id)["lastStatus"], "RUNNING");  // Its task runs on.

  Ok({"stop-task", "--task", id});
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  // The collector sweeps when the task stops; bounded, in case the answer races it.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = Skiff({"describe-task-definition", "--task-definition", "doomed:1"}).exit_code != 0;
    if (!gone) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(gone);
  Refused({"describe-task-definition", "--task-definition", "doomed:1"}, 1, "does not exist");
  json families = Ok({"list-task-definition-families"});
  EXPECT_EQ(families.value("families", json::array()).size(), 0u) << families.dump();

  json definition = {{"family", "doomed"},
                     {"containerDefinitions", json::array({Busybox("app", "true")})}};
  json again = Ok({"register-task-definition", "--cli-input-json", definition.dump()});
  EXPECT_EQ(again["taskDefinition"]["revision"], 2);
}

// ECS allows container names that containerd's identifiers do not: seen registering, then
// failing to start. They run, under ids of the task and their index, and keep their names.
TEST_F(TasksTest, ContainersWithEcsNamesThatContainerdRefusesRun) {
  StartSkiffd();
  LoadTestImage();
  const std::string long_name(60, 'n');
  json definition = {{"family", "names"}, {"networkMode", "host"}};
  for (const std::string& name : std::vector<std::string>{"-", "app_", "a--b", long_name}) {
    json c = Busybox(name, "exec sleep 1000", /*init=*/true);
    c["stopTimeout"] = 2;
    definition["containerDefinitions"].push_back(c);
  }
  Ok({"register-task-definition", "--cli-input-json", definition.dump()});
  json run = Ok({"run-task", "--task-definition", "names"});
  ASSERT_EQ(run["tasks"].size(), 1u) << run.dump();
  const std::string arn = run["tasks"][0]["taskArn"];
  const std::string id = arn.substr(arn.rfind('/') + 1);
  Ok({"wait", "tasks-running", "--tasks", id, "--timeout", "60"});
  json task = Describe(id);
  ASSERT_EQ(task["containers"].size(), 4u);
  const std::vector<std::string> ids = {id + ".0", id + ".1", id + ".2", id + ".3"};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(task["containers"][i]["lastStatus"], "RUNNING") << i;
    EXPECT_EQ(task["containers"][i]["runtimeId"], ids[i]);
  }
  EXPECT_EQ(task["containers"][2]["name"], "a--b");
  skiff::testing::CommandResult exec = Skiff(
      {"execute-command", "--task", id, "--container", "a--b", "--command", "echo in-a--b"});
  EXPECT_EQ(exec.stdout_text, "in-a--b\n") << exec.stderr_text;
  Ok({"stop-task", "--task", id});
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  EXPECT_EQ(Describe(id)["containers"][3]["exitCode"], 143);
}

TEST_F(TasksTest, LogsFollowTailAndNameTheirContainers) {
  StartSkiffd();
  LoadTestImage();
  // "late" comes after `logs --follow` has started; the stream ends when the task stops.
  const std::string id =
      Run("talker", Busybox("app", "for i in 1 2 3 4 5; do echo line $i; done; sleep 2; "
                                   "echo late; sleep 1"));
  Ok({"wait", "tasks-running", "--tasks", id, "--timeout", "60"});
  const absl::Time start = absl::Now();
  skiff::testing::CommandResult follow = Skiff({"logs", "--task", id, "--follow"});
  EXPECT_EQ(follow.exit_code, 0) << follow.stderr_text;
  EXPECT_EQ(follow.stdout_text, "line 1\nline 2\nline 3\nline 4\nline 5\nlate\n");
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  EXPECT_EQ(Skiff({"logs", "--task", id, "--tail", "2"}).stdout_text, "line 5\nlate\n");

  json definition = {{"family", "pair"},
                     {"networkMode", "host"},
                     {"containerDefinitions",
                      json::array({Busybox("a", "echo from a"), Busybox("b", "echo from b")})}};
  Ok({"register-task-definition", "--cli-input-json", definition.dump()});
  const std::string pair = Ok({"run-task", "--task-definition", "pair"})["tasks"][0]["taskArn"];
  Ok({"wait", "tasks-stopped", "--tasks", pair, "--timeout", "60"});
  EXPECT_EQ(Skiff({"logs", "--task", pair}).stdout_text, "a | from a\nb | from b\n");
  EXPECT_EQ(Skiff({"logs", "--task", pair, "--container", "b"}).stdout_text, "from b\n");
  skiff::testing::CommandResult unknown = Skiff({"logs", "--task", pair, "--container", "c"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.stderr_text, HasSubstr("no container"));
}

TEST_F(TasksTest, AProcessThatIgnoresSigtermIsKilledAfterTheStopTimeout) {
  StartSkiffd();
  LoadTestImage();
  json container = Busybox("app", "trap '' TERM; while true; do sleep 1; done");
  container["stopTimeout"] = 2;
  const std::string id = Run("stubborn", container);
  Ok({"wait", "tasks-running", "--tasks", id, "--timeout", "60"});
  const absl::Time start = absl::Now();
  Ok({"stop-task", "--task", id});
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  const absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Seconds(2));
  EXPECT_LT(took, absl::Seconds(15));
  EXPECT_EQ(Describe(id)["containers"][0]["exitCode"], 137);  // SIGKILL.
}

TEST_F(TasksTest, EssentialContainerExitStopsTheTask) {
  StartSkiffd();
  LoadTestImage();
  json sidecar = Busybox("sidecar", "exec sleep 1000", /*init=*/true);
  sidecar["essential"] = false;
  json definition = {{"family", "short"},
                     {"networkMode", "host"},
                     // The app gives the sidecar time to start: a SIGTERM that arrives while
                     // the sidecar's init is still being set up is lost, and the stop then
                     // waits out the 30 s stopTimeout and kills it (137, seen under CI load).
                     {"containerDefinitions",
                      json::array({Busybox("app", "sleep 2; exit 3"), sidecar})}};
  Ok({"register-task-definition", "--cli-input-json", definition.dump()});
  json run = Ok({"run-task", "--task-definition", "short"});
  const std::string arn = run["tasks"][0]["taskArn"];
  Ok({"wait", "tasks-stopped", "--tasks", arn, "--timeout", "60"});
  json task = Describe(arn);
  EXPECT_EQ(task["stopCode"], "EssentialContainerExited");
  EXPECT_EQ(task["containers"][0]["exitCode"], 3);
  EXPECT_EQ(task["containers"][1]["exitCode"], 143);
  // The waiter for running fails at once on a stopped task.
  skiff::testing::CommandResult waited =
      Skiff({"wait", "tasks-running", "--tasks", arn, "--timeout", "60"});
  EXPECT_EQ(waited.exit_code, 1);
  EXPECT_THAT(waited.stderr_text, HasSubstr("STOPPED"));
}

TEST_F(TasksTest, AContainerPastItsMemoryLimitIsAnOutOfMemoryError) {
  StartSkiffd();
  LoadTestImage();
  // tail buffers its input until a newline, which /dev/zero never sends: it grows until the
  // 16 MiB limit stops it (this host has no swap to hide in).
  json container = Busybox("hog", "exec tail /dev/zero");
  container["memory"] = 16;
  const std::string id = Run("hog", container);
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  json task = Describe(id);
  EXPECT_EQ(task["containers"][0]["exitCode"], 137);
  EXPECT_THAT(task["containers"][0]["reason"].get<std::string>(), HasSubstr("OutOfMemoryError"));
}

TEST_F(TasksTest, AMissingImageFailsTheTaskWithAReason) {
  StartSkiffd();
  // Not loaded, and its registry is a closed port of loopback: the pull fails at once, and no
  // lookup leaves the machine.
  json ghost = Busybox("app", "true");
  ghost["image"] = "127.0.0.1:9/ghost:v1";
  const std::string id = Run("ghost", ghost);
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  json task = Describe(id);
  EXPECT_EQ(task["stopCode"], "TaskFailedToStart");
  EXPECT_THAT(task["stoppedReason"].get<std::string>(), HasSubstr("127.0.0.1:9/ghost:v1"));
  EXPECT_THAT(task["stoppedReason"].get<std::string>(), HasSubstr("skiff load-image"));
}

TEST_F(TasksTest, ABrokenTarballIsRefusedAndLeavesNothing) {
  StartSkiffd();
  const std::string path = skiffd_->dir() + "/broken.tar";
  std::ofstream(path) << std::string(5000, 'x');
  skiff::testing::CommandResult r = Skiff({"load-image", "--input", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.stderr_text, HasSubstr("error:"));
  EXPECT_EQ(Ok({"list-images"}).value("images", json::array()).size(), 0u);
  // The upload's spool file is gone too.
  const std::string uploads = skiffd_->state_dir() + "/uploads";
  if (std::filesystem::exists(uploads)) {
    EXPECT_TRUE(std::filesystem::is_empty(uploads));
  }
}

TEST_F(TasksTest, LogsAreRotatedPastTheirCap) {
  StartSkiffd({"--log-max-bytes", "65536"});
  LoadTestImage();
  // About 1 MiB of output at once, then quiet.
  const std::string id =
      Run("chatty", Busybox("app", "head -c 1048576 /dev/zero | tr '\\0' x; exec sleep 1000",
                            /*init=*/true));
  Ok({"wait", "tasks-running", "--tasks", id, "--timeout", "60"});
  const std::string log = skiffd_->state_dir() + "/tasks/" + id + "/app.log";
  bool rotated = false;
  for (int i = 0; i < 100 && !rotated; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    rotated = std::filesystem::exists(log + ".1") && std::filesystem::file_size(log) < 65536;
  }
  EXPECT_TRUE(rotated) << "live log " << std::filesystem::file_size(log) << " bytes";
  Ok({"stop-task", "--task", id});
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
}

TEST_F(TasksTest, RunningTasksSurviveARestartOfSkiffd) {
  StartSkiffd();
  LoadTestImage();
  const std::string id = Run("durable", Busybox("app", "exec sleep 1000", /*init=*/true));
  Ok({"wait", "tasks-running", "--tasks", id, "--timeout", "60"});
  RestartSkiffd();
  EXPECT_EQ(Describe(id)["lastStatus"], "RUNNING");
  Ok({"stop-task", "--task", id});
  Ok({"wait", "tasks-stopped", "--tasks", id, "--timeout", "60"});
  EXPECT_EQ(Describe(id)["containers"][0]["exitCode"], 143);
}

}  // namespace
}  // namespace skiff::e2e
