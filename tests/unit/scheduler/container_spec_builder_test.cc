#include "skiff/scheduler/container_spec_builder.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fakes/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "skiff/model/json_codec.h"

// Found by argument-dependent lookup, so they live in MountSpec's namespace. Test-only.
namespace skiff::runtime {
inline bool operator==(const MountSpec& a, const MountSpec& b) {
  return a.type == b.type && a.source == b.source && a.destination == b.destination &&
         a.options == b.options;
}

inline void PrintTo(const MountSpec& m, std::ostream* os) {
  *os << m.type << " " << m.source << " -> " << m.destination << " [";
  for (const auto& o : m.options) *os << o << ",";
  *os << "]";
}
}  // namespace skiff::runtime

namespace skiff::scheduler {
namespace {

using runtime::ContainerSpec;
using runtime::MountSpec;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

using Strings = std::vector<std::string>;

constexpr int64_t kMiB = 1024 * 1024;
const std::string kTaskId = "0123456789abcdef0123456789abcdef";

class ContainerSpecBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    task_.task_id = kTaskId;
    task_.task_arn = "arn:aws:ecs:local:000000000000:task/default/" + kTaskId;
    task_.cluster = "default";
    task_.task_dir = dir_.path() + "/tasks/" + kTaskId;
    task_.volumes_dir = dir_.path() + "/volumes";
  }

  // A task definition from ECS JSON; `containers` is the containerDefinitions array's content.
  static v1::TaskDefinition Definition(const std::string& containers,
                                       const std::string& task = "") {
    v1::TaskDefinition td;
    absl::Status s = model::DecodeMessageText(
        R"({"family": "web", )" + task + R"("containerDefinitions": [)" + containers + "]}", &td);
    EXPECT_TRUE(s.ok()) << s;
    return td;
  }

  static v1::TaskOverride Overrides(const std::string& json) {
    v1::TaskOverride o;
    absl::Status s = model::DecodeMessageText(json, &o);
    EXPECT_TRUE(s.ok()) << s;
    return o;
  }

  ContainerSpec Build(const v1::TaskDefinition& td, const std::string& name = "app",
                      const v1::TaskOverride& overrides = {}) {
    absl::StatusOr<ContainerSpec> spec = BuildContainerSpec(td, name, overrides, task_);
    EXPECT_TRUE(spec.ok()) << spec.status();
    return spec.value_or(ContainerSpec{});
  }

  absl::Status Error(const v1::TaskDefinition& td, const std::string& name = "app",
                     const v1::TaskOverride& overrides = {}) {
    absl::StatusOr<ContainerSpec> spec = BuildContainerSpec(td, name, overrides, task_);
    EXPECT_FALSE(spec.ok());
    return spec.status();
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << content;
    return path;
  }

  fakes::TempDir dir_;
  TaskContext task_;
};

TEST_F(ContainerSpecBuilderTest, NamesAndPaths) {
  EXPECT_EQ(RuntimeContainerId(kTaskId, "app", 0), kTaskId + "-app");
  EXPECT_EQ(RuntimeContainerId(kTaskId, "web_1-a", 3), kTaskId + "-web_1-a");
  EXPECT_EQ(ContainerLogPath(task_, "app"), task_.task_dir + "/app.log");
}

// ECS allows names that containerd's identifiers do not ("-", "app_", "a--b", 255 characters):
// those containers are the task id and their index.
TEST_F(ContainerSpecBuilderTest, EcsNamesThatAreNoContainerdIdentifierGetTheirIndex) {
  for (const std::string& name :
       std::vector<std::string>{"-", "app_", "_app", "a--b", "a-_b", std::string(44, 'x')}) {
    EXPECT_EQ(RuntimeContainerId(kTaskId, name, 2), kTaskId + ".2") << name;
  }
  EXPECT_EQ(RuntimeContainerId(kTaskId, std::string(43, 'x'), 2),
            kTaskId + "-" + std::string(43, 'x'));  // 76 characters in all.
  ContainerSpec spec =
      Build(Definition(R"({"name": "-", "image": "busybox", "memory": 64})"), "-");
  EXPECT_EQ(spec.id, kTaskId + ".0");
  EXPECT_EQ(spec.labels["skiff.container"], "-");
}

TEST_F(ContainerSpecBuilderTest, MinimalContainer) {
  ContainerSpec spec = Build(Definition(R"({"name": "app", "image": "busybox", "memory": 64})"));
  EXPECT_EQ(spec.id, kTaskId + "-app");
  EXPECT_EQ(spec.image, "docker.io/library/busybox:latest");  // Normalized as docker does.
  EXPECT_EQ(spec.log_path, task_.task_dir + "/app.log");
  EXPECT_FALSE(spec.entrypoint.has_value());
  EXPECT_FALSE(spec.command.has_value());
  EXPECT_THAT(spec.env, IsEmpty());
  EXPECT_EQ(spec.working_dir, "");
  EXPECT_EQ(spec.user, "");
  EXPECT_EQ(spec.hostname, "");
  EXPECT_EQ(spec.cpu_shares, 0u);
  EXPECT_EQ(spec.cpu_quota_us, 0);
  EXPECT_EQ(spec.cpu_period_us, 0u);
  EXPECT_EQ(spec.memory_limit_bytes, 64 * kMiB);
  EXPECT_EQ(spec.memory_reservation_bytes, 0);
  EXPECT_FALSE(spec.memory_swap_bytes.has_value());
  EXPECT_FALSE(spec.swappiness.has_value());
  EXPECT_FALSE(spec.readonly_rootfs);
  EXPECT_FALSE(spec.privileged);
  EXPECT_FALSE(spec.init);
  EXPECT_EQ(spec.shm_size_bytes, 0);
  EXPECT_THAT(spec.mounts, IsEmpty());
  EXPECT_EQ(spec.network, runtime::NetworkMode::kJoin);  // Unset: bridge, as on ECS.
  EXPECT_EQ(spec.cgroups_path, "");
}

TEST_F(ContainerSpecBuilderTest, Labels) {
  v1::TaskDefinition td = Definition(R"({"name": "app", "image": "i", "memory": 8,
      "dockerLabels": {"com.example.team": "web"}})");
  EXPECT_THAT(Build(td).labels,
              UnorderedElementsAre(Pair("skiff.task", kTaskId), Pair("skiff.container", "app"),
                                   Pair("skiff.cluster", "default"),
                                   Pair("com.example.team", "web")));
  task_.service_name = "frontend";
  EXPECT_EQ(Build(td).labels.at("skiff.service"), "frontend");

  for (const char* key : {"skiff.task", "containerd.io/gc.root", "io.containerd.x"}) {
    v1::TaskDefinition bad = td;
    (*bad.mutable_container_definitions(0)->mutable_docker_labels())[key] = "x";
    absl::Status s = Error(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr(std::string("containerDefinitions[0].dockerLabels.") + key));
  }
}

TEST_F(ContainerSpecBuilderTest, ProcessSettings) {
  ContainerSpec spec = Build(Definition(R"({"name": "app", "image": "nginx", "memory": 8,
      "entryPoint": ["/bin/sh", "-c"], "command": ["echo hi"], "workingDirectory": "/srv",
      "user": "www-data:staff", "hostname": "web-1"})"));
  EXPECT_EQ(spec.entrypoint, (Strings{"/bin/sh", "-c"}));
  EXPECT_EQ(spec.command, (Strings{"echo hi"}));
  EXPECT_EQ(spec.working_dir, "/srv");
  EXPECT_EQ(spec.user, "www-data:staff");
  EXPECT_EQ(spec.hostname, "web-1");
}

TEST_F(ContainerSpecBuilderTest, CommandOverride) {
  v1::TaskDefinition td = Definition(R"({"name": "app", "image": "i", "memory": 8,
      "command": ["serve"]}, {"name": "side", "image": "i", "memory": 8})");
  ContainerSpec spec = Build(td, "app", Overrides(R"({"containerOverrides": [
      {"name": "side", "command": ["x"]}, {"name": "app", "command": ["migrate", "--up"]}]})"));
  EXPECT_EQ(spec.command, (Strings{"migrate", "--up"}));
  EXPECT_FALSE(spec.entrypoint.has_value());
}

TEST_F(ContainerSpecBuilderTest, EnvironmentLayers) {
  const std::string file1 = WriteFile("a.env", "# comment\n\nA=file\nB=file=with=equals\r\n"
                                               "  C=  spaced value \nD=\n");
  const std::string file2 = WriteFile("b.env", "A=file2\nE=file2\n");
  const std::string file3 = WriteFile("c.env", "F=override-file\n");
  v1::TaskDefinition td = Definition(R"({"name": "app", "image": "i", "memory": 8,
      "environmentFiles": [{"value": ")" + file1 + R"(", "type": "s3"},
                           {"value": "file://)" + file2 + R"(", "type": "s3"}],
      "environment": [{"name": "E", "value": "env"}, {"name": "G", "value": "env"}]})");
  ContainerSpec spec = Build(td, "app", Overrides(R"({"containerOverrides": [{"name": "app",
      "environmentFiles": [{"value": ")" + file3 + R"(", "type": "s3"}],
      "environment": [{"name": "G", "value": "override"}, {"name": "H", "value": "o"}]}]})"));
  EXPECT_EQ(spec.env, (Strings{"A=file2", "B=file=with=equals", "C=  spaced value ", "D=",
                               "E=env", "F=override-file", "G=override", "H=o"}));
}

TEST_F(ContainerSpecBuilderTest, EnvironmentFileErrorsNameTheField) {
  auto with_file = [](const std::string& value) {
    return Definition(R"({"name": "app", "image": "i", "memory": 8, "environmentFiles": [
        {"value": ")" + value + R"(", "type": "s3"}]})");
  };
  absl::Status s = Error(with_file(dir_.path() + "/missing.env"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("containerDefinitions[0].environmentFiles[0].value: cannot "
                                     "read"));
  // An S3 object with no --environment-files-dir fails the task as a failed download does.
  s = Error(with_file("arn:aws:s3:::bucket/app.env"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("ResourceInitializationError: failed to download env "
                                     "files: arn:aws:s3:::bucket/app.env: "));
  EXPECT_EQ(Error(with_file("file://host/x.env")).code(), absl::StatusCode::kInvalidArgument);
  s = Error(with_file(WriteFile("bad.env", "A=1\njustaword\n")));
  EXPECT_THAT(s.message(), HasSubstr("line 2: expected KEY=VALUE"));
  s = Error(with_file(WriteFile("export.env", "export A=1\n")));
  EXPECT_THAT(s.message(), HasSubstr("line 1: expected KEY=VALUE"));
  s = Error(with_file(dir_.path()));  // A directory is no environment file.
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ContainerSpecBuilderTest, CpuSharesFromContainerUnits) {
  auto shares = [&](const std::string& cpu) {
    return Build(Definition(R"({"name": "app", "image": "i", "memory": 8)" + cpu + "}"))
        .cpu_shares;
  };
  EXPECT_EQ(shares(""), 0u);
  EXPECT_EQ(shares(R"(, "cpu": 0)"), 2u);
  EXPECT_EQ(shares(R"(, "cpu": 1)"), 2u);
  EXPECT_EQ(shares(R"(, "cpu": 512)"), 512u);
  v1::TaskDefinition td = Definition(R"({"name": "app", "image": "i", "memory": 8, "cpu": 512})");
  EXPECT_EQ(Build(td, "app", Overrides(R"({"containerOverrides": [{"name": "app", "cpu": 128}]})"))
                .cpu_shares,
            128u);
}

TEST_F(ContainerSpecBuilderTest, TaskCpuBecomesAQuota) {
  v1::TaskDefinition td = Definition(R"({"name": "app", "image": "i", "memory": 8})",
                                     R"("cpu": "256", )");
  ContainerSpec spec = Build(td);
  EXPECT_EQ(spec.cpu_quota_us, 25000);
  EXPECT_EQ(spec.cpu_period_us, 100000u);
  spec = Build(td, "app", Overrides(R"({"cpu": "2 vCPU"})"));
  EXPECT_EQ(spec.cpu_quota_us, 200000);
  EXPECT_EQ(spec.cpu_period_us, 100000u);
  absl::Status s = Error(td, "app", Overrides(R"({"cpu": "lots"})"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("overrides.cpu: "));
}

TEST_F(ContainerSpecBuilderTest, Memory) {
  v1::TaskDefinition td = Definition(R"({"name": "app", "image": "i", "memory": 256,
      "memoryReservation": 128})");
  ContainerSpec spec = Build(td);
  EXPECT_EQ(spec.memory_limit_bytes, 256 * kMiB);
  EXPECT_EQ(spec.memory_reservation_bytes, 128 * kMiB);

  spec = Build(td, "app", Overrides(R"({"containerOverrides": [{"name": "app", "memory": 512,
      "memoryReservation": 64}]})"));
  EXPECT_EQ(spec.memory_limit_bytes, 512 * kMiB);
  EXPECT_EQ(spec.memory_reservation_bytes, 64 * kMiB);

  // Only the task has memory: it becomes the container's hard limit.
  td = Definition(R"({"name": "app", "image": "i", "memoryReservation": 32})",
                  R"("memory": "1GB", )");
  spec = Build(td);
  EXPECT_EQ(spec.memory_limit_bytes, 1024 * kMiB);
  EXPECT_EQ(spec.memory_reservation_bytes, 32 * kMiB);
  EXPECT_EQ(Build(td, "app", Overrides(R"({"memory": "2048"})")).memory_limit_bytes, 2048 * kMiB);
}

TEST_F(ContainerSpecBuilderTest, UlimitsAndSecurityFlags) {
  ContainerSpec spec = Build(Definition(R"({"name": "app", "image": "i", "memory": 8,
      "ulimits": [{"name": "nofile", "softLimit": 4096, "hardLimit": 8192},
                  {"name": "core", "softLimit": 0, "hardLimit": 0}],
      "readonlyRootFilesystem": true, "privileged": true})"));
  ASSERT_EQ(spec.ulimits.size(), 2u);
  EXPECT_EQ(spec.ulimits[0].name, "nofile");
  EXPECT_EQ(spec.ulimits[0].soft, 4096u);
  EXPECT_EQ(spec.ulimits[0].hard, 8192u);
  EXPECT_EQ(spec.ulimits[1].name, "core");
  EXPECT_TRUE(spec.readonly_rootfs);
  EXPECT_TRUE(spec.privileged);
}

TEST_F(ContainerSpecBuilderTest, LinuxParameters) {
  ContainerSpec spec = Build(Definition(R"({"name": "app", "image": "i", "memory": 256,
      "linuxParameters": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["MKNOD", "CAP_CHOWN"]},
        "initProcessEnabled": true, "sharedMemorySize": 128, "maxSwap": 512, "swappiness": 10,
        "tmpfs": [{"containerPath": "/run", "size": 64},
                  {"containerPath": "/scratch", "size": 1, "mountOptions": ["exec", "ro"]}]}})"));
  EXPECT_EQ(spec.cap_add, (Strings{"NET_ADMIN"}));
  EXPECT_EQ(spec.cap_drop, (Strings{"MKNOD", "CAP_CHOWN"}));
  EXPECT_TRUE(spec.init);
  EXPECT_EQ(spec.shm_size_bytes, 128 * kMiB);
  EXPECT_EQ(spec.memory_swap_bytes, 768 * kMiB);
  EXPECT_EQ(spec.swappiness, 10u);
  EXPECT_THAT(spec.mounts,
              ElementsAre(MountSpec{"tmpfs", "tmpfs", "/run",
                                    {"nosuid", "nodev", "noexec", "size=65536k"}},
                          MountSpec{"tmpfs", "tmpfs", "/scratch",
                                    {"nosuid", "nodev", "exec", "ro", "size=1024k"}}));
}

TEST_F(ContainerSpecBuilderTest, MaxSwapZeroMeansNoSwap) {
  ContainerSpec spec = Build(Definition(R"({"name": "app", "image": "i", "memory": 256,
      "linuxParameters": {"maxSwap": 0}})"));
  EXPECT_EQ(spec.memory_swap_bytes, 256 * kMiB);
}

TEST_F(ContainerSpecBuilderTest, UnsafeTmpfsPathIsNamed) {
  absl::Status s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8,
      "linuxParameters": {"tmpfs": [{"containerPath": "/proc/x", "size": 8}]}})"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "containerDefinitions[0].linuxParameters.tmpfs[0].containerPath: must "
                         "not be /proc or under it (runc mounts nothing there)");
}

TEST_F(ContainerSpecBuilderTest, UnsafeProcessSettingsAreNamed) {
  absl::Status s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8,
      "workingDirectory": "/proc/1"})"));
  EXPECT_EQ(s.message(), "containerDefinitions[0].workingDirectory: must not be /proc or under it");
  s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8, "workingDirectory": "x"})"));
  EXPECT_EQ(s.message(), "containerDefinitions[0].workingDirectory: must be an absolute path");
  s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8, "user": "4294967296"})"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("containerDefinitions[0].user: uid 4294967296 is outside"));
}

TEST_F(ContainerSpecBuilderTest, Volumes) {
  v1::TaskDefinition td = Definition(
      R"({"name": "app", "image": "i", "memory": 8, "mountPoints": [
          {"sourceVolume": "host", "containerPath": "/host", "readOnly": true},
          {"sourceVolume": "scratch", "containerPath": "/scratch"},
          {"sourceVolume": "cache", "containerPath": "/cache"},
          {"sourceVolume": "shared", "containerPath": "/shared", "readOnly": false}]})",
      R"("volumes": [{"name": "host", "host": {"sourcePath": "/srv/data"}},
                     {"name": "scratch", "host": {}},
                     {"name": "cache", "dockerVolumeConfiguration": {"scope": "task"}},
                     {"name": "shared", "dockerVolumeConfiguration": {"scope": "shared",
                       "autoprovision": true, "driver": "local"}}], )");
  ContainerSpec spec = Build(td);
  EXPECT_THAT(spec.mounts,
              ElementsAre(MountSpec{"bind", "/srv/data", "/host", {"rbind", "ro"}},
                          MountSpec{"bind", task_.task_dir + "/volumes/scratch", "/scratch",
                                    {"rbind", "rw"}},
                          MountSpec{"bind", task_.task_dir + "/volumes/cache", "/cache",
                                    {"rbind", "rw"}},
                          MountSpec{"bind", task_.volumes_dir + "/shared", "/shared",
                                    {"rbind", "rw"}}));
  for (const std::string& dir :
       {task_.task_dir + "/volumes/scratch", task_.task_dir + "/volumes/cache",
        task_.volumes_dir + "/shared"}) {
    struct stat st;
    ASSERT_EQ(stat(dir.c_str(), &st), 0) << dir;
    EXPECT_TRUE(S_ISDIR(st.st_mode)) << dir;
    EXPECT_EQ(st.st_mode & 07777, 0755u) << dir;
  }
}

TEST_F(ContainerSpecBuilderTest, ParentMountsComeFirst) {
  ContainerSpec spec = Build(Definition(
      R"({"name": "app", "image": "i", "memory": 8, "mountPoints": [
          {"sourceVolume": "v", "containerPath": "/data/cache"},
          {"sourceVolume": "v", "containerPath": "/data"}],
          "linuxParameters": {"tmpfs": [{"containerPath": "/data/cache/tmp", "size": 1}]}})",
      R"("volumes": [{"name": "v", "host": {"sourcePath": "/srv/v"}}], )"));
  Strings destinations;
  for (const MountSpec& m : spec.mounts) destinations.push_back(m.destination);
  EXPECT_THAT(destinations, ElementsAre("/data", "/data/cache", "/data/cache/tmp"));
}

TEST_F(ContainerSpecBuilderTest, VolumesFrom) {
  v1::TaskDefinition td = Definition(
      R"({"name": "web", "image": "i", "memory": 8, "mountPoints": [
           {"sourceVolume": "content", "containerPath": "/usr/share/nginx/html"},
           {"sourceVolume": "conf", "containerPath": "/etc/nginx/conf.d", "readOnly": true}]},
         {"name": "sidecar", "image": "i", "memory": 8,
          "volumesFrom": [{"sourceContainer": "web"}]},
         {"name": "reader", "image": "i", "memory": 8, "mountPoints": [
           {"sourceVolume": "conf", "containerPath": "/etc/nginx/conf.d"}],
          "volumesFrom": [{"sourceContainer": "web", "readOnly": true}]})",
      R"("volumes": [{"name": "content", "host": {"sourcePath": "/srv/www"}},
                     {"name": "conf", "host": {"sourcePath": "/srv/conf"}}], )");
  EXPECT_THAT(Build(td, "sidecar").mounts,
              ElementsAre(MountSpec{"bind", "/srv/conf", "/etc/nginx/conf.d", {"rbind", "ro"}},
                          MountSpec{"bind", "/srv/www", "/usr/share/nginx/html", {"rbind", "rw"}}));
  // readOnly forces ro; the container's own mount of the same path wins.
  EXPECT_THAT(Build(td, "reader").mounts,
              ElementsAre(MountSpec{"bind", "/srv/conf", "/etc/nginx/conf.d", {"rbind", "rw"}},
                          MountSpec{"bind", "/srv/www", "/usr/share/nginx/html", {"rbind", "ro"}}));
}

TEST_F(ContainerSpecBuilderTest, VolumeErrorsNameTheField) {
  absl::Status s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8,
      "mountPoints": [{"sourceVolume": "v", "containerPath": "/proc/x"}]})",
                                    R"("volumes": [{"name": "v"}], )"));
  EXPECT_EQ(s.message(), "containerDefinitions[0].mountPoints[0].containerPath: must not be "
                         "/proc or under it (runc mounts nothing there)");
  s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8,
      "mountPoints": [{"sourceVolume": "nope", "containerPath": "/x"}]})"));
  EXPECT_EQ(s.message(), "containerDefinitions[0].mountPoints[0].sourceVolume: no volume named "
                         "\"nope\" in volumes");
  s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8,
      "mountPoints": [{"sourceVolume": "v", "containerPath": "/x"}]})",
                       R"("volumes": [{"name": "v", "dockerVolumeConfiguration": {"driver":
                           "rexray"}}], )"));
  EXPECT_THAT(s.message(), HasSubstr("volumes[0].dockerVolumeConfiguration.driver"));
  s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8,
      "mountPoints": [{"sourceVolume": "..", "containerPath": "/x"}]})",
                       R"("volumes": [{"name": ".."}], )"));
  EXPECT_EQ(s.message(), "volumes[0].name: \"..\" cannot name a directory");
  s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8,
      "volumesFrom": [{"sourceContainer": "ghost"}]})"));
  EXPECT_EQ(s.message(), "containerDefinitions[0].volumesFrom[0].sourceContainer: no container "
                         "named \"ghost\"");
}

TEST_F(ContainerSpecBuilderTest, NetworkModes) {
  const std::string c = R"({"name": "app", "image": "i", "memory": 8})";
  EXPECT_EQ(Build(Definition(c, R"("networkMode": "host", )")).network,
            runtime::NetworkMode::kHost);
  EXPECT_EQ(Build(Definition(c, R"("networkMode": "none", )")).network,
            runtime::NetworkMode::kNone);
  // bridge and awsvpc join a namespace that the launch makes; disableNetworking in bridge
  // mode gives a namespace with only lo, as Docker's --network none.
  for (const char* mode : {"bridge", "awsvpc"}) {
    EXPECT_EQ(Build(Definition(c, std::string(R"("networkMode": ")") + mode + "\", ")).network,
              runtime::NetworkMode::kJoin);
  }
  const std::string disabled =
      R"({"name": "app", "image": "i", "memory": 8, "disableNetworking": true})";
  EXPECT_EQ(Build(Definition(disabled, R"("networkMode": "bridge", )")).network,
            runtime::NetworkMode::kNone);
  EXPECT_EQ(Build(Definition(disabled, R"("networkMode": "host", )")).network,
            runtime::NetworkMode::kNone);
}

// Names the URI by what it was asked, so that the test sees which container and network.
class FakeMetadataUris final : public TaskMetadataUris {
 public:
  std::string ContainerUri(const std::string& task_id, int index, bool host_network,
                           int version) const override {
    return absl::StrCat(host_network ? "host" : "bridge", "/v", version, "/", task_id, "-",
                        index);
  }
};

TEST_F(ContainerSpecBuilderTest, ContainersWithANetworkGetTheMetadataEndpoint) {
  FakeMetadataUris uris;
  task_.task_id = kTaskId;
  task_.metadata = &uris;
  const std::string two = R"({"name": "sidecar", "image": "i", "memory": 8},
      {"name": "app", "image": "i", "memory": 8,
       "environment": [{"name": "ECS_CONTAINER_METADATA_URI_V4", "value": "mine"}]})";
  EXPECT_THAT(Build(Definition(two, R"("networkMode": "awsvpc", )")).env,
              UnorderedElementsAre("ECS_CONTAINER_METADATA_URI_V4=bridge/v4/" +
                                                  kTaskId + "-1",
                                              "ECS_CONTAINER_METADATA_URI=bridge/v3/" +
                                                  kTaskId + "-1"));
  EXPECT_THAT(Build(Definition(two, R"("networkMode": "host", )"), "sidecar").env,
              ::testing::Contains("ECS_CONTAINER_METADATA_URI_V4=host/v4/" + kTaskId + "-0"));
  // No network, no endpoint to reach.
  EXPECT_THAT(Build(Definition(two, R"("networkMode": "none", )")).env,
              ElementsAre("ECS_CONTAINER_METADATA_URI_V4=mine"));
}

TEST_F(ContainerSpecBuilderTest, UnknownContainer) {
  absl::Status s = Error(Definition(R"({"name": "app", "image": "i", "memory": 8})"), "db");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace skiff::scheduler
