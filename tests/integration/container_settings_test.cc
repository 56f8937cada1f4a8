// One test per container-definition setting, end to end: ECS JSON → BuildContainerSpec →
// ContainerdRuntime → a real container under runc, which prints what it sees from inside (its
// capabilities, cgroup limits, user, mounts, environment...). Each assertion fails if the setting
// were ignored anywhere on that path.
//
// One private containerd and one image import per test process (a suite fixture); every test
// works in its own directory below the daemon's and removes its containers in TearDown, whether
// or not it passed, then checks that nothing of it is left in the namespace or mounted.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "skiff/containerd/containerd_runtime.h"
#include "skiff/model/json_codec.h"
#include "skiff/scheduler/container_spec_builder.h"
#include "support/containerd_fixture.h"

namespace skiff::scheduler {
namespace {

using runtime::ContainerSpec;
using runtime::ContainerStatus;
using runtime::RuntimeEvent;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::Duration kExitTimeout = absl::Seconds(30);
constexpr int64_t kMiB = 1024 * 1024;
// containerd's (and Docker's) default capability set, as /proc/self/status shows it.
constexpr char kDefaultCapEff[] = "00000000a80425fb";

bool CgroupV2() { return std::filesystem::exists("/sys/fs/cgroup/cgroup.controllers"); }

// "key=value" lines of a container's output; other lines are ignored, the last key wins.
std::map<std::string, std::string> Values(const std::string& output) {
  std::map<std::string, std::string> out;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    out[kv.first] = kv.second;
  }
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The value of a "Name:\tvalue" line of /proc/self/status.
std::string ProcStatusField(const std::string& status, absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (absl::ConsumePrefix(&line, absl::StrCat(name, ":"))) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return "";
}

// Interface names of a /proc/net/dev, sorted.
std::set<std::string> Interfaces(const std::string& net_dev) {
  std::set<std::string> out;
  for (absl::string_view line : absl::StrSplit(net_dev, '\n', absl::SkipEmpty())) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;  // The two header lines.
    out.insert(std::string(absl::StripAsciiWhitespace(line.substr(0, colon))));
  }
  return out;
}

// JSON for the container-definition fields that run `script` with sh -c. Its stderr goes down
// stdout: the shim copies the two pipes into the log separately, so only one keeps the order.
std::string Sh(const std::string& script) {
  return absl::StrCat(R"("entryPoint": ["sh", "-c"], "command": )",
                      nlohmann::json::array({"exec 2>&1; " + script}).dump());
}

// A task definition with one container "app" of the test image. `fields` are more members of
// the container definition; `task` more members of the task definition.
std::string OneContainer(const std::string& fields,
                         const std::string& task = R"("networkMode": "none")") {
  return absl::StrCat(R"({"family": "settings", )", task,
                      R"(, "containerDefinitions": [{"name": "app", "image": ")",
                      skiff::testing::kTestImageRef, R"(", )", fields, "}]}");
}

// A container definition named `name` running `script`, for multi-container definitions.
std::string Container(const std::string& name, const std::string& script,
                      const std::string& fields = "") {
  return absl::StrCat(R"({"name": ")", name, R"(", "image": ")", skiff::testing::kTestImageRef,
                      R"(", )", Sh(script), fields.empty() ? "" : ", ", fields, "}");
}

struct Exited {
  uint32_t exit_status = 0;
  std::string log;  // stdout and stderr.
};

class ContainerSettingsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!skiff::testing::MissingRootOrContainerd().empty()) return;
    auto containerd = skiff::testing::PrivateContainerd::Start();
    if (!containerd.ok()) {
      suite_error_ = containerd.status();
      return;
    }
    containerd_ = *std::move(containerd);
    ns_ = containerd_->UniqueNamespace("skiff-settings");
    auto tarball = skiff::testing::TestImageTarball();
    if (!tarball.ok()) {
      suite_error_ = tarball.status();
      return;
    }
    SystemRandom random;
    runtime::ContainerdRuntime importer(
        {.address = containerd_->socket_path(), .ns = ns_, .random = &random});
    auto images = importer.ImportImage(*tarball);
    if (!images.ok()) suite_error_ = images.status();
  }

  static void TearDownTestSuite() { containerd_.reset(); }

  void SetUp() override {
    SKIFF_REQUIRE_ROOT_AND_CONTAINERD();
    ASSERT_TRUE(suite_error_.ok()) << suite_error_;
    ASSERT_NE(containerd_, nullptr);
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = absl::StrCat(containerd_->dir(), "/tests/", info->name());
    std::filesystem::create_directories(dir_ + "/work");
    volumes_dir_ = dir_ + "/state/volumes";
    runtime_ = std::make_unique<runtime::ContainerdRuntime>(runtime::ContainerdRuntimeOptions{
        .address = containerd_->socket_path(),
        .ns = ns_,
        .work_dir = dir_ + "/work",
        .runc_root = containerd_->runc_root(),
        .random = &random_});
    runtime_->StartEvents([this](const RuntimeEvent& event) {
      if (event.kind != RuntimeEvent::Kind::kExit) return;
      absl::MutexLock lock(&mu_);
      exits_[event.container_id] = event.exit_status;
    });
  }

  void TearDown() override {
    if (runtime_ == nullptr) return;
    for (const std::string& id : created_) {
      absl::Status removed = runtime_->RemoveContainer(id);
      EXPECT_TRUE(removed.ok()) << id << ": " << removed;
    }
    runtime_->StopEvents();
    auto left = runtime_->ListContainers();
    ASSERT_TRUE(left.ok()) << left.status();
    for (const ContainerStatus& c : *left) ADD_FAILURE() << "container left behind: " << c.id;
    EXPECT_THAT(skiff::testing::MountsUnder(dir_), IsEmpty());
    absl::Status removed = skiff::testing::RemoveTree(dir_);
    EXPECT_TRUE(removed.ok()) << removed;
  }

  // A task of its own: fresh id, its files under this test's directory.
  TaskContext NewTask() {
    static std::mt19937_64 rng{std::random_device{}()};
    TaskContext task;
    task.task_id = absl::StrCat(absl::Hex(rng(), absl::kZeroPad16), absl::Hex(rng(), absl::kZeroPad16));
    task.task_arn = "arn:aws:ecs:local:000000000000:task/default/" + task.task_id;
    task.cluster = "default";
    task.task_dir = absl::StrCat(dir_, "/state/tasks/", task.task_id);
    task.volumes_dir = volumes_dir_;
    return task;
  }

  static v1::TaskDefinition Definition(const std::string& json) {
    v1::TaskDefinition definition;
    absl::Status decoded = model::DecodeMessageText(json, &definition);
    EXPECT_TRUE(decoded.ok()) << decoded << "\n" << json;
    return definition;
  }

  static v1::TaskOverride Overrides(const std::string& json) {
    v1::TaskOverride overrides;
    absl::Status decoded = model::DecodeMessageText(json, &overrides);
    EXPECT_TRUE(decoded.ok()) << decoded << "\n" << json;
    return overrides;
  }

  ContainerSpec Build(const v1::TaskDefinition& definition, const TaskContext& task,
                      const std::string& name = "app", const v1::TaskOverride& overrides = {}) {
    absl::StatusOr<ContainerSpec> spec = BuildContainerSpec(definition, name, overrides, task);
    EXPECT_TRUE(spec.ok()) << spec.status();
    return spec.value_or(ContainerSpec{});
  }

  // Creates the container; TearDown removes it.
  absl::Status Create(const ContainerSpec& spec) {
    created_.push_back(spec.id);
    return runtime_->CreateContainer(spec);
  }

  // Creates and starts the container, waits (bounded) for its exit, reaps its task (which
  // flushes its output into the log) and returns the exit status and the log.
  absl::StatusOr<Exited> RunToExit(const ContainerSpec& spec) {
    if (absl::Status created = Create(spec); !created.ok()) return created;
    absl::StatusOr<uint32_t> pid = runtime_->StartContainer(spec.id);
    if (!pid.ok()) return pid.status();
    {
      absl::MutexLock lock(&mu_);
      auto exited = [this, &spec]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return exits_.contains(spec.id);
      };
      if (!mu_.AwaitWithTimeout(absl::Condition(&exited), kExitTimeout)) {
        return absl::DeadlineExceededError(
            absl::StrCat(spec.id, " did not exit within ", absl::FormatDuration(kExitTimeout),
                         "; log so far:\n", ReadText(spec.log_path)));
      }
    }
    absl::StatusOr<uint32_t> status = runtime_->DeleteTask(spec.id);
    if (!status.ok()) return status.status();
    return Exited{*status, ReadText(spec.log_path)};
  }

  // RunToExit for container `name` of a definition given as JSON, in a new task (or `task`).
  Exited Run(const std::string& definition_json, const std::string& name = "app",
             const std::string& overrides_json = "{}", const TaskContext* task = nullptr) {
    const TaskContext own = task == nullptr ? NewTask() : TaskContext{};
    const ContainerSpec spec = Build(Definition(definition_json), task == nullptr ? own : *task,
                                     name, Overrides(overrides_json));
    absl::StatusOr<Exited> exited = RunToExit(spec);
    EXPECT_TRUE(exited.ok()) << exited.status();
    return exited.value_or(Exited{999, ""});
  }

  // `ctr -n NS ARGS...` output; a failure fails the test.
  std::string Ctr(std::vector<std::string> args) {
    args.insert(args.begin(), {"-n", ns_});
    std::string output;
    absl::Status status = containerd_->Ctr(args, &output);
    EXPECT_TRUE(status.ok()) << status;
    return output;
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = absl::StrCat(dir_, "/", name);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << content;
    return path;
  }

  inline static std::unique_ptr<skiff::testing::PrivateContainerd> containerd_;
  inline static std::string ns_;
  inline static absl::Status suite_error_;

  std::string dir_;
  std::string volumes_dir_;
  SystemRandom random_;
  std::unique_ptr<runtime::ContainerdRuntime> runtime_;
  std::vector<std::string> created_;
  absl::Mutex mu_;
  std::map<std::string, uint32_t> exits_ ABSL_GUARDED_BY(mu_);
};


// What /proc/self/status says, as key=value lines.
constexpr char kPrintStatus[] =
    "awk -F'\\t' '/^(CapEff|NoNewPrivs):/ {sub(\":\", \"\", $1); print $1 \"=\" $2}' "
    "/proc/self/status; ";

TEST_F(ContainerSettingsTest, DefaultSpecIsContainerdsDefault) {
  const Exited exited = Run(OneContainer(Sh(absl::StrCat(
      kPrintStatus,
      "if [ -e /proc/kcore ]; then echo kcore=$(( $(wc -c </proc/kcore) )); "
      "else echo kcore=absent; fi; "
      "echo timer_list=$(( $(wc -c </proc/timer_list) )); "
      "if echo x >/proc/sys/kernel/hostname 2>/dev/null; then echo proc_sys=rw; "
      "else echo proc_sys=ro; fi; "
      "awk '$2 == \"/sys\" {print \"sys=\" substr($4, 1, 2)}' /proc/self/mounts; "
      "if touch /x 2>/dev/null; then echo rootfs=rw; else echo rootfs=ro; fi; "
      "echo nofile=$(ulimit -n); echo nofile_hard=$(ulimit -Hn); "
      "echo user=$(id -u):$(id -g); echo cwd=$(pwd)"))));
  ASSERT_EQ(exited.exit_status, 0u) << exited.log;
  const auto v = Values(exited.log);
  EXPECT_EQ(v.at("CapEff"), kDefaultCapEff) << exited.log;
  EXPECT_EQ(v.at("NoNewPrivs"), "1");
  // This host's kernel may lack /proc/kcore; /proc/timer_list (masked too) has content on the
  // host, so reading it empty proves the masking.
  EXPECT_EQ(v.at("kcore"), std::filesystem::exists("/proc/kcore") ? "0" : "absent");
  ASSERT_TRUE(std::filesystem::exists("/proc/timer_list"));
  EXPECT_EQ(v.at("timer_list"), "0");
  EXPECT_EQ(v.at("proc_sys"), "ro");
  EXPECT_EQ(v.at("sys"), "ro");
  EXPECT_EQ(v.at("rootfs"), "rw");
  EXPECT_EQ(v.at("nofile"), "1024");
  EXPECT_EQ(v.at("nofile_hard"), "1024");
  EXPECT_EQ(v.at("user"), "0:0");
  EXPECT_EQ(v.at("cwd"), "/");  // The image's WorkingDir.
}

// The test image has Cmd ["sh"] and no Entrypoint.
TEST_F(ContainerSettingsTest, EntryPointAndCommandCombineWithTheImage) {
  // entryPoint replaces the image's Entrypoint and drops its Cmd: "sh" would be an argument.
  EXPECT_EQ(Run(OneContainer(R"("entryPoint": ["echo", "only"])")).log, "only\n");
  EXPECT_EQ(Run(OneContainer(R"("entryPoint": ["echo", "a"], "command": ["b", "c"])")).log,
            "a b c\n");
  // command alone replaces the image's Cmd, after its (empty) Entrypoint.
  EXPECT_EQ(Run(OneContainer(R"("command": ["echo", "cmd"])")).log, "cmd\n");
  // No command at all runs the image's Cmd: sh with stdin at /dev/null exits 0 at once.
  const Exited image_cmd = Run(OneContainer(R"("essential": true)"));
  EXPECT_EQ(image_cmd.exit_status, 0u);
  EXPECT_EQ(image_cmd.log, "");
  // The exit status is the process's.
  EXPECT_EQ(Run(OneContainer(Sh("exit 7"))).exit_status, 7u);
}

TEST_F(ContainerSettingsTest, EnvironmentOverTheImageFilesAndOverrides) {
  const std::string file = WriteFile("env/app.env",
                                     "# comment\nFROM_FILE=yes\nSHARED=from-file\n\nSPACED=a b\n");
  const std::string definition = OneContainer(absl::StrCat(
      Sh("env | sort"), R"(, "environment": [{"name": "FOO", "value": "bar"},
                                             {"name": "SHARED", "value": "from-env"}],
          "environmentFiles": [{"value": ")", file, R"(", "type": "s3"}])"));
  const std::vector<std::string> env = Lines(Run(definition).log);
  EXPECT_THAT(env, Contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  EXPECT_THAT(env, Contains("FOO=bar"));
  EXPECT_THAT(env, Contains("FROM_FILE=yes"));
  EXPECT_THAT(env, Contains("SPACED=a b"));
  EXPECT_THAT(env, Contains("SHARED=from-env"));  // environment wins over files.
  EXPECT_THAT(env, Not(Contains("SHARED=from-file")));

  // Task overrides: the command and environment of the container replace the definition's.
  const Exited overridden = Run(definition, "app", R"({"containerOverrides": [{
      "name": "app", "command": ["echo FOO=$FOO OVR=$OVR FROM_FILE=$FROM_FILE"],
      "environment": [{"name": "FOO", "value": "override"}, {"name": "OVR", "value": "1"}]}]})");
  EXPECT_EQ(overridden.log, "FOO=override OVR=1 FROM_FILE=yes\n");
}

TEST_F(ContainerSettingsTest, WorkingDirectory) {
  EXPECT_EQ(Run(OneContainer(Sh("pwd") + R"(, "workingDirectory": "/home/app")")).log,
            "/home/app\n");
  // A directory the image lacks is created, as runc and Docker do.
  EXPECT_EQ(Run(OneContainer(Sh("pwd") + R"(, "workingDirectory": "/srv/new")")).log,
            "/srv/new\n");
}

TEST_F(ContainerSettingsTest, UserByNameIdAndGroup) {
  // The image's /etc/passwd: app 1000:1000, nobody 65534:65534; /etc/group: app 1000,
  // nogroup 65534 (there is no group "nobody").
  const std::string script =
      "echo $(id -u):$(id -g) $(id -un 2>/dev/null):$(id -gn) groups=$(id -G)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"app", "1000:1000 app:app groups=1000\n"},
      {"1000", "1000:1000 app:app groups=1000\n"},
      {"1000:1000", "1000:1000 app:app groups=1000\n"},
      {"app:nogroup", "1000:65534 app:nogroup groups=65534\n"},
      {"app:0", "1000:0 app:root groups=0\n"},
      {"nobody", "65534:65534 nobody:nogroup groups=65534\n"},
      // A uid without a passwd entry keeps gid 0, as with Docker.
      {"4242", "4242:0 4242:root groups=0\n"},
  };
  for (const auto& [user, expected] : cases) {
    SCOPED_TRACE(user);
    const Exited exited =
        Run(OneContainer(absl::StrCat(Sh(script), R"(, "user": ")", user, R"(")")));
    EXPECT_EQ(exited.log, expected);
  }
  // A group name the image lacks stops the container before it exists.
  const TaskContext task = NewTask();
  const ContainerSpec spec =
      Build(Definition(OneContainer(Sh(script) + R"(, "user": "app:nobody")")), task);
  const absl::Status created = Create(spec);
  EXPECT_EQ(created.code(), absl::StatusCode::kInvalidArgument) << created;
  EXPECT_THAT(std::string(created.message()), HasSubstr("app:nobody"));
}

TEST_F(ContainerSettingsTest, Hostname) {
  const Exited exited = Run(
      OneContainer(Sh("hostname; echo HOSTNAME=$HOSTNAME") + R"(, "hostname": "skiff-box")"));
  EXPECT_EQ(exited.log, "skiff-box\nHOSTNAME=skiff-box\n");
}

TEST_F(ContainerSettingsTest, CpuAndMemoryLimits) {
  const bool v2 = CgroupV2();
  const std::string script =
      v2 ? "echo weight=$(cat /sys/fs/cgroup/cpu.weight); echo max=$(cat /sys/fs/cgroup/cpu.max); "
           "echo memory=$(cat /sys/fs/cgroup/memory.max); "
           "echo reservation=$(cat /sys/fs/cgroup/memory.low)"
         : "echo shares=$(cat /sys/fs/cgroup/cpu/cpu.shares); "
           "echo quota=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us); "
           "echo period=$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us); "
           "echo memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); "
           "echo reservation=$(cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes)";
  const Exited exited = Run(OneContainer(
      absl::StrCat(Sh(script), R"(, "cpu": 256, "memory": 64, "memoryReservation": 32)"),
      R"("networkMode": "none", "cpu": "512")"));
  const auto v = Values(exited.log);
  if (v2) {
    // runc's conversion of shares to weight: 1 + (shares - 2) * 9999 / 262142.
    EXPECT_EQ(v.at("weight"), absl::StrCat(1 + (256 - 2) * 9999 / 262142)) << exited.log;
    EXPECT_EQ(v.at("max"), "50000 100000");
  } else {
    EXPECT_EQ(v.at("shares"), "256") << exited.log;
    EXPECT_EQ(v.at("quota"), "50000");  // 512 of 1024 units: half a cpu.
    EXPECT_EQ(v.at("period"), "100000");
  }
  EXPECT_EQ(v.at("memory"), absl::StrCat(64 * kMiB));
  EXPECT_EQ(v.at("reservation"), absl::StrCat(32 * kMiB));

  // Only the task has a memory size: each container gets it as its limit. A container cpu
  // override changes the shares.
  const std::string v1_script = "echo shares=$(cat /sys/fs/cgroup/cpu/cpu.shares); "
                                "echo memory=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)";
  if (!v2) {
    const Exited task_memory = Run(
        OneContainer(absl::StrCat(Sh(v1_script), R"(, "cpu": 256)"),
                     R"("networkMode": "none", "memory": "128")"),
        "app", R"({"containerOverrides": [{"name": "app", "cpu": 100}]})");
    const auto t = Values(task_memory.log);
    EXPECT_EQ(t.at("memory"), absl::StrCat(128 * kMiB)) << task_memory.log;
    EXPECT_EQ(t.at("shares"), "100");
  }
}

TEST_F(ContainerSettingsTest, SwapAndSwappiness) {
  if (CgroupV2()) {
    // cgroup v2 has no swappiness; memory.swap.max holds maxSwap alone.
    const Exited exited = Run(OneContainer(absl::StrCat(
        Sh("cat /sys/fs/cgroup/memory.swap.max"),
        R"(, "memory": 64, "linuxParameters": {"maxSwap": 32})")));
    EXPECT_EQ(exited.log, absl::StrCat(32 * kMiB, "\n"));
    return;
  }
  // What containerd holds for the container, on every host: memory plus swap, and swappiness.
  const TaskContext task = NewTask();
  const ContainerSpec spec = Build(
      Definition(OneContainer(
          R"("command": ["true"], "memory": 64, "linuxParameters": {"maxSwap": 32, "swappiness": 10})")),
      task);
  ASSERT_TRUE(Create(spec).ok());
  const nlohmann::json info =
      nlohmann::json::parse(Ctr({"containers", "info", spec.id}), nullptr, false);
  ASSERT_TRUE(info.is_object()) << info;
  const nlohmann::json memory = info["Spec"]["linux"]["resources"]["memory"];
  EXPECT_EQ(memory.value("limit", int64_t{0}), 64 * kMiB) << memory;
  EXPECT_EQ(memory.value("swap", int64_t{0}), (64 + 32) * kMiB) << memory;
  EXPECT_EQ(memory.value("swappiness", int64_t{0}), 10) << memory;
  // Without swap accounting (no memory.memsw.* files) runc cannot apply the swap limit, so the
  // cgroup files are only read where it can; the spec above is asserted everywhere.
  if (!std::filesystem::exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")) return;
  const Exited exited = Run(OneContainer(absl::StrCat(
      Sh("echo memsw=$(cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes); "
         "echo swappiness=$(cat /sys/fs/cgroup/memory/memory.swappiness)"),
      R"(, "memory": 64, "linuxParameters": {"maxSwap": 32, "swappiness": 10})")));
  const auto v = Values(exited.log);
  EXPECT_EQ(v.at("memsw"), absl::StrCat((64 + 32) * kMiB)) << exited.log;  // Memory plus swap.
  EXPECT_EQ(v.at("swappiness"), "10");
}

TEST_F(ContainerSettingsTest, Ulimits) {
  const Exited exited = Run(OneContainer(absl::StrCat(
      Sh("echo nofile=$(ulimit -n) nofile_hard=$(ulimit -Hn) core=$(ulimit -c)"),
      R"(, "ulimits": [{"name": "nofile", "softLimit": 2048, "hardLimit": 4096},
                       {"name": "core", "softLimit": 0, "hardLimit": 0}])")));
  const auto v = Values(absl::StrReplaceAll(exited.log, {{" ", "\n"}}));
  EXPECT_EQ(v.at("nofile"), "2048") << exited.log;
  EXPECT_EQ(v.at("nofile_hard"), "4096");
  EXPECT_EQ(v.at("core"), "0");
}

TEST_F(ContainerSettingsTest, ReadonlyRootFilesystem) {
  const Exited exited = Run(OneContainer(
      Sh("touch /x; echo touch=$?") + R"(, "readonlyRootFilesystem": true)"));
  EXPECT_THAT(exited.log, HasSubstr("Read-only file system"));
  EXPECT_THAT(exited.log, HasSubstr("touch=1"));
  // The same without the setting writes.
  EXPECT_EQ(Run(OneContainer(Sh("touch /x; echo touch=$?"))).log, "touch=0\n");
}

TEST_F(ContainerSettingsTest, Privileged) {
  const Exited exited = Run(OneContainer(absl::StrCat(
      Sh(absl::StrCat(kPrintStatus, "awk '$2 == \"/sys\" {print \"sys=\" substr($4, 1, 2)}' "
                                    "/proc/self/mounts; "
                                    "echo timer_list=$(( $(wc -c </proc/timer_list) ))")),
      R"(, "privileged": true)")));
  const auto v = Values(exited.log);
  // Every capability the kernel knows, within what this process may hand on (its bounding
  // set; a sandboxed CI host may lack some).
  int last_cap = 0;
  ASSERT_TRUE(absl::SimpleAtoi(
      absl::StripAsciiWhitespace(ReadText("/proc/sys/kernel/cap_last_cap")), &last_cap));
  uint64_t bounding = 0;
  ASSERT_TRUE(absl::SimpleHexAtoi(ProcStatusField(ReadText("/proc/self/status"), "CapBnd"),
                                  &bounding));
  const uint64_t all = last_cap >= 63 ? ~uint64_t{0} : (uint64_t{1} << (last_cap + 1)) - 1;
  EXPECT_EQ(v.at("CapEff"), absl::StrCat(absl::Hex(all & bounding, absl::kZeroPad16)))
      << exited.log;
  EXPECT_EQ(v.at("NoNewPrivs"), "0");
  EXPECT_EQ(v.at("sys"), "rw");
  EXPECT_NE(v.at("timer_list"), "0");  // Nothing masked.
}

TEST_F(ContainerSettingsTest, CapabilitiesAddAndDrop) {
  const Exited exited = Run(OneContainer(absl::StrCat(
      Sh(absl::StrCat(kPrintStatus, "touch /f; chown 1000 /f; echo chown=$?")),
      R"(, "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["CHOWN"]}})")));
  const auto v = Values(exited.log);
  // The default set plus CAP_NET_ADMIN (bit 12) minus CAP_CHOWN (bit 0).
  EXPECT_EQ(v.at("CapEff"), "00000000a80435fa") << exited.log;
  EXPECT_EQ(v.at("chown"), "1");
  EXPECT_THAT(exited.log, HasSubstr("Operation not permitted"));
}

TEST_F(ContainerSettingsTest, InitProcess) {
  const Exited exited = Run(OneContainer(absl::StrCat(
      Sh("tr '\\0' ' ' </proc/1/cmdline; echo; echo self=$$"),
      R"(, "linuxParameters": {"initProcessEnabled": true})")));
  const std::vector<std::string> lines = Lines(exited.log);
  ASSERT_EQ(lines.size(), 2u) << exited.log;
  EXPECT_THAT(lines[0], StartsWith("/sbin/docker-init -- sh -c "));
  EXPECT_NE(lines[1], "self=1");
}

TEST_F(ContainerSettingsTest, SharedMemoryAndTmpfs) {
  const Exited exited = Run(OneContainer(absl::StrCat(
      Sh("awk '$2 == \"/dev/shm\" || $2 == \"/scratch\" {print $2 \"=\" $3 \" \" $4}' "
         "/proc/self/mounts"),
      R"(, "linuxParameters": {"sharedMemorySize": 128,
           "tmpfs": [{"containerPath": "/scratch", "size": 32, "mountOptions": ["exec"]}]})")));
  const auto v = Values(exited.log);
  ASSERT_TRUE(v.contains("/dev/shm") && v.contains("/scratch")) << exited.log;
  EXPECT_THAT(v.at("/dev/shm"), HasSubstr("size=131072k"));
  EXPECT_THAT(v.at("/scratch"), StartsWith("tmpfs rw,nosuid,nodev,"));
  EXPECT_THAT(v.at("/scratch"), HasSubstr("size=32768k"));
  EXPECT_THAT(v.at("/scratch"), Not(HasSubstr("noexec")));  // mountOptions "exec".
}

// What ECS runs and an older Skiff refused: AWS's CloudWatch agent mounts the host's
// /sys/fs/cgroup read-only at /sys/fs/cgroup, the ECS agent's own test a tmpfs at /dev/tmpfs.
TEST_F(ContainerSettingsTest, MountsUnderSysAndDevAsEcsRunsThem) {
  const Exited exited = Run(OneContainer(
      absl::StrCat(Sh("awk '$2 == \"/dev/tmpfs\" || $2 == \"/sys/fs/cgroup\" "
                      "{print $2 \"=\" $3 \" \" substr($4, 1, 2)}' /proc/self/mounts; "
                      "touch /dev/tmpfs/x && echo written=yes"),
                   R"(, "linuxParameters": {"tmpfs": [{"containerPath": "/dev/tmpfs", "size": 8}]},
           "mountPoints": [{"sourceVolume": "cgroup", "containerPath": "/sys/fs/cgroup",
                            "readOnly": true}])"),
      R"("networkMode": "none",
         "volumes": [{"name": "cgroup", "host": {"sourcePath": "/sys/fs/cgroup"}}])"));
  const auto v = Values(exited.log);
  ASSERT_TRUE(v.contains("/dev/tmpfs") && v.contains("/sys/fs/cgroup")) << exited.log;
  EXPECT_EQ(v.at("/dev/tmpfs"), "tmpfs rw");
  EXPECT_THAT(v.at("/sys/fs/cgroup"), EndsWith(" ro"));
  EXPECT_EQ(v.at("written"), "yes");
}

TEST_F(ContainerSettingsTest, DockerLabelsBecomeContainerLabels) {
  const TaskContext task = NewTask();
  const ContainerSpec spec = Build(
      Definition(OneContainer(R"("command": ["true"],
          "dockerLabels": {"com.example.team": "web", "tier": "front"})")),
      task);
  ASSERT_TRUE(Create(spec).ok());
  const nlohmann::json info =
      nlohmann::json::parse(Ctr({"containers", "info", spec.id}), nullptr, false);
  ASSERT_TRUE(info.is_object() && info.contains("Labels")) << info;
  const nlohmann::json& labels = info["Labels"];
  EXPECT_EQ(labels.value("com.example.team", ""), "web");
  EXPECT_EQ(labels.value("tier", ""), "front");
  EXPECT_EQ(labels.value("skiff.task", ""), task.task_id);
  EXPECT_EQ(labels.value("skiff.container", ""), "app");
  EXPECT_EQ(labels.value("skiff.cluster", ""), "default");
  EXPECT_EQ(labels.value("skiff.log-path", ""), spec.log_path);
}

TEST_F(ContainerSettingsTest, HostPathVolumes) {
  WriteFile("host/in/hello", "from the host\n");
  const std::string in = dir_ + "/host/in";
  const std::string out = dir_ + "/host/out";
  std::filesystem::create_directories(out);
  const Exited exited = Run(OneContainer(
      absl::StrCat(Sh("cat /in/hello; touch /in/new; echo in_write=$?; "
                      "echo written >/out/result; echo out_write=$?"),
                   R"(, "mountPoints": [
                         {"sourceVolume": "in", "containerPath": "/in", "readOnly": true},
                         {"sourceVolume": "out", "containerPath": "/out"}])"),
      absl::StrCat(R"("networkMode": "none", "volumes": [
                     {"name": "in", "host": {"sourcePath": ")", in, R"("}},
                     {"name": "out", "host": {"sourcePath": ")", out, R"("}}])")));
  const auto v = Values(exited.log);
  EXPECT_THAT(exited.log, StartsWith("from the host\n"));
  EXPECT_EQ(v.at("in_write"), "1") << exited.log;
  EXPECT_THAT(exited.log, HasSubstr("Read-only file system"));
  EXPECT_EQ(v.at("out_write"), "0");
  EXPECT_EQ(ReadText(out + "/result"), "written\n");
  EXPECT_FALSE(std::filesystem::exists(in + "/new"));
}

TEST_F(ContainerSettingsTest, TaskVolumeIsSharedByTheTasksContainers) {
  const std::string definition = absl::StrCat(
      R"({"family": "settings", "networkMode": "none",
          "volumes": [{"name": "scratch"}],
          "containerDefinitions": [)",
      Container("writer", "echo from-writer >/scratch/f",
                R"("mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}])"),
      ", ",
      Container("reader", "cat /scratch/f",
                R"("mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}])"),
      "]}");
  const TaskContext task = NewTask();
  EXPECT_EQ(Run(definition, "writer", "{}", &task).exit_status, 0u);
  EXPECT_EQ(Run(definition, "reader", "{}", &task).log, "from-writer\n");
  EXPECT_EQ(ReadText(task.task_dir + "/volumes/scratch/f"), "from-writer\n");
  // Another task of the same definition gets a volume of its own.
  const TaskContext other = NewTask();
  const Exited fresh = Run(definition, "reader", "{}", &other);
  EXPECT_NE(fresh.exit_status, 0u);
  EXPECT_THAT(fresh.log, HasSubstr("No such file"));
}

TEST_F(ContainerSettingsTest, SharedDockerVolumeOutlivesTheTask) {
  const std::string definition = absl::StrCat(
      R"({"family": "settings", "networkMode": "none",
          "volumes": [{"name": "cache", "dockerVolumeConfiguration":
                       {"scope": "shared", "autoprovision": true, "driver": "local"}}],
          "containerDefinitions": [)",
      Container("app", "cat /cache/f 2>/dev/null; echo $0 >>/cache/f",
                R"("mountPoints": [{"sourceVolume": "cache", "containerPath": "/cache"}])"),
      "]}");
  const TaskContext first = NewTask();
  const TaskContext second = NewTask();
  EXPECT_EQ(Run(definition, "app", "{}", &first).log, "");
  EXPECT_EQ(Run(definition, "app", "{}", &second).log, "sh\n");
  EXPECT_EQ(ReadText(volumes_dir_ + "/cache/f"), "sh\nsh\n");
  EXPECT_FALSE(std::filesystem::exists(first.task_dir + "/volumes/cache"));
}

TEST_F(ContainerSettingsTest, VolumesFromGetsTheSourcesMountPoints) {
  const std::string definition = absl::StrCat(
      R"({"family": "settings", "networkMode": "none",
          "volumes": [{"name": "data"}],
          "containerDefinitions": [)",
      Container("data", "echo from-data >/data/f",
                R"("mountPoints": [{"sourceVolume": "data", "containerPath": "/data"}])"),
      ", ",
      Container("app", "cat /data/f; touch /data/g; echo write=$?",
                R"("volumesFrom": [{"sourceContainer": "data", "readOnly": true}])"),
      ", ",
      Container("rw", "touch /data/g; echo write=$?",
                R"("volumesFrom": [{"sourceContainer": "data"}])"),
      "]}");
  const TaskContext task = NewTask();
  ASSERT_EQ(Run(definition, "data", "{}", &task).exit_status, 0u);
  const Exited app = Run(definition, "app", "{}", &task);
  EXPECT_THAT(app.log, StartsWith("from-data\n"));
  EXPECT_THAT(app.log, HasSubstr("Read-only file system"));
  EXPECT_EQ(Values(app.log).at("write"), "1");
  EXPECT_EQ(Run(definition, "rw", "{}", &task).log, "write=0\n");
}

TEST_F(ContainerSettingsTest, NetworkModeNoneHasOnlyLoopback) {
  const Exited exited = Run(OneContainer(Sh("cat /proc/net/dev")));
  EXPECT_THAT(Interfaces(exited.log), ElementsAre("lo")) << exited.log;
}

TEST_F(ContainerSettingsTest, NetworkModeHostSharesTheHostsInterfacesAndResolvConf) {
  const Exited exited = Run(OneContainer(
      Sh("cat /proc/net/dev; echo ---; cat /etc/resolv.conf"), R"("networkMode": "host")"));
  const std::vector<std::string> parts = absl::StrSplit(exited.log, "---\n");
  ASSERT_EQ(parts.size(), 2u) << exited.log;
  const std::set<std::string> host = Interfaces(ReadText("/proc/net/dev"));
  EXPECT_GT(host.size(), 1u);
  EXPECT_EQ(Interfaces(parts[0]), host);
  EXPECT_EQ(parts[1], ReadText("/etc/resolv.conf"));
}

TEST_F(ContainerSettingsTest, UnsafeSettingsAreRefusedBeforeAnythingIsCreated) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {OneContainer(R"("command": ["true"],
           "mountPoints": [{"sourceVolume": "v", "containerPath": "/proc/x"}])",
                    R"("networkMode": "none", "volumes": [{"name": "v"}])"),
       "containerDefinitions[0].mountPoints[0].containerPath"},
      {OneContainer(R"("command": ["true"], "workingDirectory": "relative")"),
       "containerDefinitions[0].workingDirectory"},
      {OneContainer(R"("command": ["true"], "user": "4294967295")"),
       "containerDefinitions[0].user"},
      {OneContainer(R"("command": ["true"], "user": "1000:4294967295")"),
       "containerDefinitions[0].user"},
      {OneContainer(R"("command": ["true"],
           "linuxParameters": {"tmpfs": [{"containerPath": "/proc/x", "size": 1}]})"),
       "containerDefinitions[0].linuxParameters.tmpfs[0].containerPath"},
  };
  for (const auto& [json, field] : cases) {
    SCOPED_TRACE(field);
    const TaskContext task = NewTask();
    absl::StatusOr<ContainerSpec> spec = BuildContainerSpec(Definition(json), "app", {}, task);
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument) << spec.status();
    EXPECT_THAT(std::string(spec.status().message()), StartsWith(field + ": "));
    EXPECT_FALSE(std::filesystem::exists(task.task_dir));  // No volume directory either.
  }
  auto containers = runtime_->ListContainers();
  ASSERT_TRUE(containers.ok()) << containers.status();
  EXPECT_THAT(*containers, IsEmpty());
}

TEST_F(ContainerSettingsTest, ExecRunsAsTheContainersUserInItsDirectory) {
  const TaskContext task = NewTask();
  const ContainerSpec spec = Build(
      Definition(OneContainer(R"("entryPoint": ["sleep"], "command": ["60"], "user": "app",
          "workingDirectory": "/home/app", "environment": [{"name": "FOO", "value": "bar"}])")),
      task);
  ASSERT_TRUE(Create(spec).ok());
  ASSERT_TRUE(runtime_->StartContainer(spec.id).ok());
  absl::StatusOr<runtime::ExecResult> result = runtime_->Exec(
      spec.id, {"sh", "-c", "echo $(id -un) $(id -u):$(id -g); pwd; echo FOO=$FOO; "
                            "echo oops >&2; exit 3"},
      absl::Seconds(20), runtime::kDefaultExecOutputLimit);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "app 1000:1000\n/home/app\nFOO=bar\n");
  EXPECT_EQ(result->stderr_data, "oops\n");
  EXPECT_EQ(result->exit_code, 3);

  // A command that outlives its timeout is killed; the container keeps running.
  const absl::Time start = absl::Now();
  absl::StatusOr<runtime::ExecResult> slow = runtime_->Exec(
      spec.id, {"sleep", "30"}, absl::Milliseconds(500), runtime::kDefaultExecOutputLimit);
  EXPECT_EQ(slow.status().code(), absl::StatusCode::kDeadlineExceeded) << slow.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  absl::StatusOr<runtime::ExecResult> after =
      runtime_->Exec(spec.id, {"true"}, absl::Seconds(20), runtime::kDefaultExecOutputLimit);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->exit_code, 0);

  // What a timed-out command started dies with it: no background child is left holding on.
  absl::StatusOr<runtime::ExecResult> forked =
      runtime_->Exec(spec.id, {"sh", "-c", "sleep 997 & sleep 998 & wait"},
                     absl::Milliseconds(500), runtime::kDefaultExecOutputLimit);
  EXPECT_EQ(forked.status().code(), absl::StatusCode::kDeadlineExceeded) << forked.status();
  absl::StatusOr<runtime::ExecResult> ps =
      runtime_->Exec(spec.id, {"ps"}, absl::Seconds(20), runtime::kDefaultExecOutputLimit);
  ASSERT_TRUE(ps.ok()) << ps.status();
  EXPECT_THAT(ps->stdout_data, Not(HasSubstr("sleep 99")));

  // Output past the limit is read and dropped (the command still finishes), and said so.
  absl::StatusOr<runtime::ExecResult> loud = runtime_->Exec(
      spec.id, {"sh", "-c", "yes | head -c 3000000; echo done >&2"}, absl::Seconds(20), 4096);
  ASSERT_TRUE(loud.ok()) << loud.status();
  EXPECT_EQ(loud->exit_code, 0);
  EXPECT_EQ(loud->stdout_data.size(), 4096u);
  EXPECT_THAT(loud->stderr_data, HasSubstr("done"));
  EXPECT_THAT(loud->stderr_data, HasSubstr("truncated at 4096 bytes"));
}

// A session read (bounded): everything it wrote, and how it ended.
struct SessionEnd {
  std::string out;
  std::string err;
  std::optional<runtime::ExecExit> exit;
  absl::Status status;
};

// Reads until the output has `until` (never, when empty) or the exit comes.
SessionEnd ReadToExit(runtime::ExecSession& session, const std::string& until = "") {
  SessionEnd end;
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline && !end.exit && end.status.ok() &&
         (until.empty() || !absl::StrContains(end.out, until))) {
    absl::StatusOr<runtime::ExecSessionOutput> read = session.Read(absl::Milliseconds(200));
    if (!read.ok()) {
      end.status = read.status();
      break;
    }
    end.out += read->stdout_data;
    end.err += read->stderr_data;
    end.exit = read->exit;
  }
  return end;
}

TEST_F(ContainerSettingsTest, AnExecSessionCarriesStdinATerminalAndAKill) {
  const TaskContext task = NewTask();
  const ContainerSpec spec =
      Build(Definition(OneContainer(R"("entryPoint": ["sleep"], "command": ["60"])")), task);
  ASSERT_TRUE(Create(spec).ok());
  ASSERT_TRUE(runtime_->StartContainer(spec.id).ok());

  // Without a terminal: stdin streams and its end is the command's EOF; two output streams.
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> piped =
      runtime_->StartExecSession(spec.id, {"sh", "-c", "cat; echo oops >&2; exit 3"}, {});
  ASSERT_TRUE(piped.ok()) << piped.status();
  EXPECT_TRUE((*piped)->WriteStdin("hello\n").ok());
  EXPECT_TRUE((*piped)->CloseStdin().ok());
  EXPECT_EQ((*piped)->Resize({.columns = 80, .rows = 24}).code(),
            absl::StatusCode::kFailedPrecondition);
  SessionEnd end = ReadToExit(**piped);
  ASSERT_TRUE(end.status.ok()) << end.status;
  EXPECT_EQ(end.out, "hello\n");
  EXPECT_EQ(end.err, "oops\n");
  ASSERT_TRUE(end.exit.has_value());
  EXPECT_EQ(end.exit->exit_code, 3);
  EXPECT_FALSE(end.exit->container_stopped);
  piped->reset();

  // A terminal of the asked size, resized on the way; one output stream.
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> tty = runtime_->StartExecSession(
      spec.id, {"sh"}, {.tty = true, .window = {.columns = 100, .rows = 30}});
  ASSERT_TRUE(tty.ok()) << tty.status();
  EXPECT_TRUE((*tty)->WriteStdin("stty size\n").ok());
  end = ReadToExit(**tty, "30 100\r\n");
  EXPECT_THAT(end.out, HasSubstr("30 100\r\n"));
  EXPECT_TRUE((*tty)->Resize({.columns = 120, .rows = 40}).ok());
  EXPECT_TRUE((*tty)->WriteStdin("stty size; exit 4\n").ok());
  end = ReadToExit(**tty);
  ASSERT_TRUE(end.status.ok()) << end.status;
  EXPECT_THAT(end.out, HasSubstr("40 120\r\n"));
  EXPECT_EQ(end.err, "");
  ASSERT_TRUE(end.exit.has_value());
  EXPECT_EQ(end.exit->exit_code, 4);
  tty->reset();

  // Killed: the command and what it started die; its input is refused from then on.
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> killed =
      runtime_->StartExecSession(spec.id, {"sh", "-c", "sleep 997 & sleep 998; true"}, {});
  ASSERT_TRUE(killed.ok()) << killed.status();
  (*killed)->Kill();
  EXPECT_EQ((*killed)->WriteStdin("late\n").code(), absl::StatusCode::kFailedPrecondition);
  end = ReadToExit(**killed);
  ASSERT_TRUE(end.exit.has_value()) << end.status;
  EXPECT_EQ(end.exit->exit_code, 137);
  EXPECT_FALSE(end.exit->container_stopped);
  killed->reset();
  absl::StatusOr<runtime::ExecResult> ps =
      runtime_->Exec(spec.id, {"ps"}, absl::Seconds(20), runtime::kDefaultExecOutputLimit);
  ASSERT_TRUE(ps.ok()) << ps.status();
  EXPECT_THAT(ps->stdout_data, Not(HasSubstr("sleep 99")));

  // A program the container does not have is the command's fault.
  absl::StatusOr<std::unique_ptr<runtime::ExecSession>> missing =
      runtime_->StartExecSession(spec.id, {"/no/such/program"}, {});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument) << missing.status();
  EXPECT_THAT(std::string(missing.status().message()), StartsWith("command: "));
  // Every session's FIFOs went with it.
  EXPECT_THAT(Lines(Ctr({"tasks", "ps", spec.id})), ::testing::SizeIs(2));  // Header, sleep.
  std::error_code ec;
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/work", ec)) << ec.message();
}

TEST_F(ContainerSettingsTest, AnUnknownUserLeavesNoContainerAndNoSnapshot) {
  const TaskContext task = NewTask();
  const ContainerSpec spec =
      Build(Definition(OneContainer(R"("command": ["true"], "user": "ghost")")), task);
  const absl::Status created = runtime_->CreateContainer(spec);
  EXPECT_EQ(created.code(), absl::StatusCode::kInvalidArgument) << created;
  EXPECT_THAT(std::string(created.message()), HasSubstr("ghost"));
  auto containers = runtime_->ListContainers();
  ASSERT_TRUE(containers.ok()) << containers.status();
  EXPECT_THAT(*containers, IsEmpty());
  EXPECT_THAT(Lines(Ctr({"containers", "ls", "-q"})), IsEmpty());
  for (const std::string& line : Lines(Ctr({"snapshots", "ls"}))) {
    EXPECT_THAT(line, Not(HasSubstr(spec.id)));
  }
  EXPECT_THAT(Lines(Ctr({"leases", "ls", "-q"})), IsEmpty());
  EXPECT_THAT(skiff::testing::MountsUnder(dir_ + "/work"), IsEmpty());
  EXPECT_THAT(skiff::testing::ListDir(dir_ + "/work"), IsEmpty());  // No mount point left.
}

}  // namespace
}  // namespace skiff::scheduler
