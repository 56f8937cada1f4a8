#include "skiff/model/task_definition.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skiff/model/json_codec.h"

namespace skiff::model {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::RegisterTaskDefinitionRequest Parse(const std::string& json) {
  v1::RegisterTaskDefinitionRequest r;
  absl::Status s = DecodeMessageText(json, &r);
  EXPECT_TRUE(s.ok()) << s;
  return r;
}

struct Case {
  const char* name;
  std::string json;
  std::string error;  // Empty: valid. Otherwise the exact message.
};

class ValidateTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidateTest, AcceptsOrNamesTheField) {
  absl::Status s = ValidateRegisterTaskDefinition(Parse(GetParam().json));
  if (GetParam().error.empty()) {
    EXPECT_TRUE(s.ok()) << s;
  } else {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), GetParam().error);
  }
}

// One container with the given extra members.
std::string Doc(const std::string& container, const std::string& task = "") {
  return R"({"family": "web", )" + task + R"("containerDefinitions": [{"name": "app",
      "image": "busybox", "memory": 64)" + container + "}]}";
}

INSTANTIATE_TEST_SUITE_P(
    Table, ValidateTest,
    ::testing::Values(
        Case{"Minimal", Doc(""), ""},
        Case{"TaskMemoryCoversContainers",
             R"({"family": "w", "memory": "512", "containerDefinitions": [{"name": "a",
                 "image": "i"}]})",
             ""},
        Case{"FamilyCharset", R"({"family": "web app", "containerDefinitions": [{}]})",
             "family: must be 1-255 letters, digits, hyphens or underscores"},
        Case{"FamilyLength",
             R"({"family": ")" + std::string(256, 'a') + R"(", "containerDefinitions": [{}]})",
             "family: must be 1-255 letters, digits, hyphens or underscores"},
        Case{"ContainerName",
             R"({"family": "w", "containerDefinitions": [{"name": "a.b", "image": "i",
                 "memory": 8}]})",
             "containerDefinitions[0].name: must be 1-255 letters, digits, hyphens or "
             "underscores"},
        Case{"DuplicateContainer",
             R"({"family": "w", "containerDefinitions": [{"name": "a", "image": "i",
                 "memory": 8}, {"name": "a", "image": "i", "memory": 8}]})",
             "containerDefinitions[1].name: duplicate container name \"a\""},
        Case{"MissingImage",
             R"({"family": "w", "containerDefinitions": [{"name": "a", "memory": 8}]})",
             "containerDefinitions[0].image: required"},
        Case{"NoEssential", Doc(R"(, "essential": false)"),
             "containerDefinitions: at least one container must be essential"},
        Case{"TinyMemory",
             R"({"family": "w", "containerDefinitions": [{"name": "a", "image": "i",
                 "memory": 5}]})",
             "containerDefinitions[0].memory: must be at least 6 MiB; got 5"},
        Case{"ReservationOverMemory", Doc(R"(, "memoryReservation": 128)"),
             "containerDefinitions[0].memoryReservation: must not exceed memory (64 MiB)"},
        Case{"NoMemoryAnywhere",
             R"({"family": "w", "containerDefinitions": [{"name": "a", "image": "i"}]})",
             "containerDefinitions[0].memory: a container needs memory or memoryReservation "
             "when the task sets no memory"},
        Case{"ContainersExceedTaskMemory", Doc("", R"("memory": "32", )"),
             "containerDefinitions: the containers' memory (64 MiB) exceeds the task memory "
             "(32 MiB)"},
        Case{"HealthCheckInterval",
             Doc(R"(, "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 1})"),
             "containerDefinitions[0].healthCheck.interval: must be between 5 and 300; got 1"},
        Case{"HealthCheckTimeout",
             Doc(R"(, "healthCheck": {"command": ["CMD", "true"], "timeout": 61})"),
             "containerDefinitions[0].healthCheck.timeout: must be between 2 and 60; got 61"},
        Case{"HealthCheckRetries",
             Doc(R"(, "healthCheck": {"command": ["CMD", "true"], "retries": 0})"),
             "containerDefinitions[0].healthCheck.retries: must be between 1 and 10; got 0"},
        Case{"HealthCheckStartPeriod",
             Doc(R"(, "healthCheck": {"command": ["CMD", "true"], "startPeriod": 301})"),
             "containerDefinitions[0].healthCheck.startPeriod: must be between 0 and 300; got "
             "301"},
        Case{"HealthCheckCommandKind", Doc(R"(, "healthCheck": {"command": ["curl", "x"]})"),
             "containerDefinitions[0].healthCheck.command: must start with CMD or CMD-SHELL"},
        Case{"DependsOnUnknown",
             Doc(R"(, "dependsOn": [{"containerName": "db", "condition": "START"}])"),
             "containerDefinitions[0].dependsOn[0].containerName: no container named \"db\""},
        Case{"DependsOnCycle",
             R"({"family": "w", "containerDefinitions": [
                 {"name": "a", "image": "i", "memory": 8,
                  "dependsOn": [{"containerName": "b", "condition": "START"}]},
                 {"name": "b", "image": "i", "memory": 8,
                  "dependsOn": [{"containerName": "c", "condition": "START"}]},
                 {"name": "c", "image": "i", "memory": 8,
                  "dependsOn": [{"containerName": "a", "condition": "START"}]}]})",
             "containerDefinitions[0].dependsOn: dependency cycle: a -> b -> c -> a"},
        Case{"SuccessOnEssential",
             R"({"family": "w", "containerDefinitions": [
                 {"name": "a", "image": "i", "memory": 8,
                  "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
                 {"name": "init", "image": "i", "memory": 8}]})",
             "containerDefinitions[0].dependsOn[0].condition: SUCCESS needs \"init\" to be "
             "non-essential (an essential container must not exit)"},
        Case{"InitContainerOk",
             R"({"family": "w", "containerDefinitions": [
                 {"name": "a", "image": "i", "memory": 8,
                  "dependsOn": [{"containerName": "init", "condition": "COMPLETE"}]},
                 {"name": "init", "image": "i", "memory": 8, "essential": false}]})",
             ""},
        Case{"HealthyNeedsHealthCheck",
             R"({"family": "w", "containerDefinitions": [
                 {"name": "a", "image": "i", "memory": 8,
                  "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}]},
                 {"name": "db", "image": "i", "memory": 8}]})",
             "containerDefinitions[0].dependsOn[0].condition: HEALTHY needs \"db\" to have a "
             "healthCheck"},
        Case{"ContainerPort", Doc(R"(, "portMappings": [{"containerPort": 70000}])"),
             "containerDefinitions[0].portMappings[0].containerPort: must be between 1 and "
             "65535; got 70000"},
        Case{"HostPortInAwsvpc", Doc(R"(, "portMappings": [{"containerPort": 80, "hostPort": 81}])",
                                     R"("networkMode": "awsvpc", )"),
             "containerDefinitions[0].portMappings[0].hostPort: must equal containerPort in "
             "awsvpc network mode"},
        Case{"HostPortTwiceInOneContainer",
             Doc(R"(, "portMappings": [{"containerPort": 80, "hostPort": 8080},
                                        {"containerPort": 81, "hostPort": 8080}])"),
             "containerDefinitions[0].portMappings[1].hostPort: host port 8080/tcp is already "
             "used by container \"app\""},
        Case{"DuplicatePort",
             Doc(R"(, "portMappings": [{"containerPort": 80}, {"containerPort": 80}])"),
             "containerDefinitions[0].portMappings[1].containerPort: duplicate port mapping "
             "80/tcp"},
        Case{"PortAndPortRange",
             Doc(R"(, "portMappings": [{"containerPortRange": "8000-8010"},
                 {"containerPort": 80, "containerPortRange": "9000-9001"}])"),
             "containerDefinitions[0].portMappings[1].containerPort: give containerPort or "
             "containerPortRange, not both"},
        Case{"PortRangeWithTheCdksZero",
             Doc(R"(, "portMappings": [{"containerPort": 0, "containerPortRange": "1-2"},
                                        {"containerPortRange": "3-4", "protocol": "udp"}])",
                 R"("networkMode": "awsvpc", )"),
             ""},
        Case{"PortRangeInHost",
             Doc(R"(, "portMappings": [{"containerPortRange": "8000-8010"}])",
                 R"("networkMode": "host", )"),
             "containerDefinitions[0].portMappings[0].containerPortRange: needs networkMode "
             "bridge or awsvpc; it is host"},
        Case{"PortRangeWithHostPort",
             Doc(R"(, "portMappings": [{"containerPortRange": "8000-8010", "hostPort": 8000}])"),
             "containerDefinitions[0].portMappings[0].hostPort: must be empty with "
             "containerPortRange: the host ports are chosen for it"},
        Case{"PortRangeBackwards", Doc(R"(, "portMappings": [{"containerPortRange": "90-80"}])"),
             "containerDefinitions[0].portMappings[0].containerPortRange: must be FIRST-LAST with "
             "1 <= FIRST < LAST <= 65535; got \"90-80\""},
        Case{"PortRangeOverlap",
             Doc(R"(, "portMappings": [{"containerPort": 8005},
                                        {"containerPortRange": "8000-8010"}])"),
             "containerDefinitions[0].portMappings[1].containerPortRange: port 8005/tcp is in "
             "another port mapping of the container"},
        Case{"PortRangeTooWideForBridge",
             Doc(R"(, "portMappings": [{"containerPortRange": "10000-10999"},
                                        {"containerPortRange": "20000-20024"}])"),
             "containerDefinitions[0].portMappings[1].containerPortRange: at most 1024 ports in "
             "the ranges of a bridge-mode container (each is a DNAT rule of its own on the "
             "host)"},
        Case{"PortRangeWideInAwsvpc",
             Doc(R"(, "portMappings": [{"containerPortRange": "10000-60000"}])",
                 R"("networkMode": "awsvpc", )"),
             ""},
        Case{"UnknownVolume",
             Doc(R"(, "mountPoints": [{"sourceVolume": "data", "containerPath": "/d"}])"),
             "containerDefinitions[0].mountPoints[0].sourceVolume: no volume named \"data\" in "
             "volumes"},
        Case{"KnownVolume",
             Doc(R"(, "mountPoints": [{"sourceVolume": "data", "containerPath": "/d"}])",
                 R"("volumes": [{"name": "data"}], )"),
             ""},
        Case{"RelativeHostPath", Doc("", R"("volumes": [{"name": "d", "host": {"sourcePath":
                 "tmp"}}], )"),
             "volumes[0].host.sourcePath: must be an absolute path"},
        Case{"UlimitOrder",
             Doc(R"(, "ulimits": [{"name": "nofile", "softLimit": 10, "hardLimit": 5}])"),
             "containerDefinitions[0].ulimits[0].softLimit: must not exceed hardLimit"},
        Case{"ReservedLabel", Doc(R"(, "dockerLabels": {"skiff.task": "x"})"),
             "containerDefinitions[0].dockerLabels.skiff.task: the skiff., containerd.io/ and "
             "io.containerd. prefixes are reserved"},
        Case{"ReservedContainerdLabel",
             Doc(R"(, "dockerLabels": {"a": "b", "containerd.io/gc.root": "x"})"),
             "containerDefinitions[0].dockerLabels.containerd.io/gc.root: the skiff., "
             "containerd.io/ and io.containerd. prefixes are reserved"},
        Case{"ReservedIoContainerdLabel", Doc(R"(, "dockerLabels": {"io.containerd.x": "y"})"),
             "containerDefinitions[0].dockerLabels.io.containerd.x: the skiff., containerd.io/ "
             "and io.containerd. prefixes are reserved"},
        Case{"OrdinaryLabels", Doc(R"(, "dockerLabels": {"com.example.team": "web"})"), ""},
        Case{"WorkingDirectory", Doc(R"(, "workingDirectory": "/srv/app")"), ""},
        Case{"RelativeWorkingDirectory", Doc(R"(, "workingDirectory": "srv")"),
             "containerDefinitions[0].workingDirectory: must be an absolute path"},
        Case{"ProcWorkingDirectory", Doc(R"(, "workingDirectory": "/proc/self")"),
             "containerDefinitions[0].workingDirectory: must not be /proc or under it"},
        Case{"SneakyProcWorkingDirectory", Doc(R"(, "workingDirectory": "/tmp/../proc")"),
             "containerDefinitions[0].workingDirectory: must not be /proc or under it"},
        Case{"RelativeMountPoint",
             Doc(R"(, "mountPoints": [{"sourceVolume": "data", "containerPath": "d"}])",
                 R"("volumes": [{"name": "data"}], )"),
             "containerDefinitions[0].mountPoints[0].containerPath: must be an absolute path"},
        Case{"MountPointOnProc",
             Doc(R"(, "mountPoints": [{"sourceVolume": "data", "containerPath": "/proc"}])",
                 R"("volumes": [{"name": "data"}], )"),
             "containerDefinitions[0].mountPoints[0].containerPath: must not be /proc or under "
             "it (runc mounts nothing there)"},
        Case{"MountPointUnderProc",
             Doc(R"(, "mountPoints": [{"sourceVolume": "data", "containerPath": "/d"},
                 {"sourceVolume": "data", "containerPath": "/proc/../proc/sys"}])",
                 R"("volumes": [{"name": "data"}], )"),
             "containerDefinitions[0].mountPoints[1].containerPath: must not be /proc or under "
             "it (runc mounts nothing there)"},
        // AWS's CloudWatch agent daemon task, as ECS runs it.
        Case{"MountPointOnSysFsCgroup",
             Doc(R"(, "mountPoints": [{"sourceVolume": "data", "containerPath": "/sys/fs/cgroup",
                 "readOnly": true}])",
                 R"("volumes": [{"name": "data", "host": {"sourcePath": "/sys/fs/cgroup"}}], )"),
             ""},
        Case{"MountPointOnDev",
             Doc(R"(, "mountPoints": [{"sourceVolume": "data", "containerPath": "//dev/"}])",
                 R"("volumes": [{"name": "data"}], )"),
             ""},
        Case{"MountPointOnRoot",
             Doc(R"(, "mountPoints": [{"sourceVolume": "data", "containerPath": "/"}])",
                 R"("volumes": [{"name": "data"}], )"),
             "containerDefinitions[0].mountPoints[0].containerPath: must not be the container's "
             "root directory"},
        Case{"MountPointNearProc",
             Doc(R"(, "mountPoints": [{"sourceVolume": "data", "containerPath": "/procs"}])",
                 R"("volumes": [{"name": "data"}], )"),
             ""},
        Case{"TmpfsRelative",
             Doc(R"(, "linuxParameters": {"tmpfs": [{"containerPath": "run", "size": 8}]})"),
             "containerDefinitions[0].linuxParameters.tmpfs[0].containerPath: must be an "
             "absolute path"},
        // The ECS agent's own tmpfs test.
        Case{"TmpfsUnderDev",
             Doc(R"(, "linuxParameters": {"tmpfs": [{"containerPath": "/dev/tmpfs", "size": 8}]})"),
             ""},
        Case{"TmpfsOnProc",
             Doc(R"(, "linuxParameters": {"tmpfs": [{"containerPath": "/proc", "size": 8}]})"),
             "containerDefinitions[0].linuxParameters.tmpfs[0].containerPath: must not be /proc "
             "or under it (runc mounts nothing there)"},
        Case{"UserForms", Doc(R"(, "user": "www-data:staff")"), ""},
        Case{"UserMaxUid", Doc(R"(, "user": "2147483647:0")"), ""},
        Case{"UserUidTooBig", Doc(R"(, "user": "2147483648")"),
             "containerDefinitions[0].user: uid 2147483648 is outside 0..2147483647"},
        Case{"UserGidTooBig", Doc(R"(, "user": "app:99999999999")"),
             "containerDefinitions[0].user: gid 99999999999 is outside 0..2147483647"},
        Case{"UserTooManyParts", Doc(R"(, "user": "a:b:c")"),
             "containerDefinitions[0].user: must be user, user:group, uid or uid:gid"},
        Case{"UnknownCapability",
             Doc(R"(, "linuxParameters": {"capabilities": {"add": ["NET_ADMIN", "FLY"]}})"),
             "containerDefinitions[0].linuxParameters.capabilities.add[1]: unknown capability "
             "\"FLY\""},
        Case{"TaskCpuForm", Doc("", R"("cpu": "two", )"),
             "cpu: must be CPU units (\"1024\") or vCPUs (\"1 vCPU\"); got \"two\""},
        Case{"FargateNeedsAwsvpc", Doc("", R"("requiresCompatibilities": ["FARGATE"],
             "cpu": "256", "memory": "512", )"),
             "networkMode: must be awsvpc when requiresCompatibilities includes FARGATE"},
        Case{"FargateSize", Doc("", R"("requiresCompatibilities": ["FARGATE"],
             "networkMode": "awsvpc", "cpu": "256", "memory": "4GB", )"),
             "memory: 4096 MiB with cpu 256 is not a valid Fargate task size"},
        Case{"FargateOk", Doc("", R"("requiresCompatibilities": ["FARGATE"],
             "networkMode": "awsvpc", "cpu": ".5 vCPU", "memory": "1GB", )"),
             ""},
        Case{"HostnameInAwsvpc", Doc(R"(, "hostname": "h")", R"("networkMode": "awsvpc", )"),
             "containerDefinitions[0].hostname: not supported in awsvpc network mode"},
        Case{"ReservedTagPrefix", Doc("", R"("tags": [{"key": "aws:x", "value": "v"}], )"),
             "tags[0].key: the aws: prefix is reserved"},
        Case{"StopTimeout", Doc(R"(, "stopTimeout": 500)"),
             "containerDefinitions[0].stopTimeout: must be between 0 and 120; got 500"},
        Case{"RestartPolicy",
             Doc(R"(, "restartPolicy": {"enabled": true, "ignoredExitCodes": [0, 143],
                 "restartAttemptPeriod": 60})"),
             ""},
        Case{"RestartPolicyPeriodTooShort",
             Doc(R"(, "restartPolicy": {"enabled": true, "restartAttemptPeriod": 59})"),
             "containerDefinitions[0].restartPolicy.restartAttemptPeriod: must be between 60 "
             "and 1800; got 59"},
        Case{"RestartPolicyPeriodTooLong",
             Doc(R"(, "restartPolicy": {"enabled": true, "restartAttemptPeriod": 1801})"),
             "containerDefinitions[0].restartPolicy.restartAttemptPeriod: must be between 60 "
             "and 1800; got 1801"},
        Case{"RestartPolicyTooManyIgnoredExitCodes",
             Doc(R"(, "restartPolicy": {"enabled": true, "ignoredExitCodes": [)" +
                 [] {
                   std::string codes = "0";
                   for (int i = 1; i <= 50; ++i) codes += "," + std::to_string(i);
                   return codes;
                 }() +
                 "]}"),
             "containerDefinitions[0].restartPolicy.ignoredExitCodes: must have at most 50 exit "
             "codes; got 51"}),
    [](const auto& info) { return info.param.name; });

TEST(BuildTaskDefinitionTest, AppliesEcsDefaultsAndNormalizes) {
  v1::RegisterTaskDefinitionRequest r = Parse(R"({"family": "web", "cpu": "1 vCPU",
      "memory": "2GB", "networkMode": "awsvpc", "taskRoleArn": "arn:aws:iam::1:role/r",
      "volumes": [{"name": "scratch"}, {"name": "cache", "dockerVolumeConfiguration": {}}],
      "containerDefinitions": [{"name": "app", "image": "busybox",
        "portMappings": [{"containerPort": 8080}],
        "healthCheck": {"command": ["CMD", "true"]}}]})");
  ASSERT_TRUE(ValidateRegisterTaskDefinition(r).ok());
  ArnScope scope;
  v1::TaskDefinition td = BuildTaskDefinition(r, scope, 4, absl::FromUnixMillis(1700000000123));
  EXPECT_EQ(td.task_definition_arn(), "arn:aws:ecs:local:000000000000:task-definition/web:4");
  EXPECT_EQ(td.revision(), 4);
  EXPECT_EQ(td.status(), "ACTIVE");
  EXPECT_EQ(td.cpu(), "1024");
  EXPECT_EQ(td.memory(), "2048");
  EXPECT_DOUBLE_EQ(td.registered_at(), 1700000000.123);
  EXPECT_THAT(td.compatibilities(), ElementsAre("EC2"));
  const auto& c = td.container_definitions(0);
  EXPECT_TRUE(c.essential());
  EXPECT_TRUE(c.has_cpu());
  EXPECT_EQ(c.cpu(), 0);
  EXPECT_EQ(c.port_mappings(0).protocol(), "tcp");
  EXPECT_EQ(c.port_mappings(0).host_port(), 8080);  // awsvpc: host port = container port.
  EXPECT_EQ(c.health_check().interval(), 30);
  EXPECT_EQ(c.health_check().timeout(), 5);
  EXPECT_EQ(c.health_check().retries(), 3);
  EXPECT_FALSE(c.health_check().has_start_period());
  EXPECT_TRUE(td.volumes(0).has_host());
  EXPECT_EQ(td.volumes(1).docker_volume_configuration().scope(), "task");
  std::vector<std::string> attributes;
  for (const auto& a : td.requires_attributes()) attributes.push_back(a.name());
  EXPECT_THAT(attributes, ::testing::IsSupersetOf({"ecs.capability.task-eni",
                                                   "ecs.capability.container-health-check",
                                                   "com.amazonaws.ecs.capability.task-iam-role"}));
}

TEST(BuildTaskDefinitionTest, BridgeIsTheDefaultNetworkModeAndKeepsDynamicHostPorts) {
  v1::RegisterTaskDefinitionRequest r = Parse(Doc(R"(, "portMappings": [{"containerPort": 80}])"));
  v1::TaskDefinition td = BuildTaskDefinition(r, ArnScope{}, 1, absl::UnixEpoch());
  EXPECT_EQ(td.network_mode(), "bridge");
  EXPECT_FALSE(td.container_definitions(0).port_mappings(0).has_host_port());
}

TEST(BuildTaskDefinitionTest, FargateAddsItsCompatibility) {
  v1::RegisterTaskDefinitionRequest r = Parse(Doc("", R"("requiresCompatibilities":
      ["FARGATE"], "networkMode": "awsvpc", "cpu": "256", "memory": "512", )"));
  ASSERT_TRUE(ValidateRegisterTaskDefinition(r).ok());
  v1::TaskDefinition td = BuildTaskDefinition(r, ArnScope{}, 1, absl::UnixEpoch());
  EXPECT_THAT(td.compatibilities(), ElementsAre("EC2", "FARGATE"));
  EXPECT_THAT(td.requires_compatibilities(), ElementsAre("FARGATE"));
}

// Members of today's ECS that Skiff gives no meaning are stored and echoed as given.
TEST(BuildTaskDefinitionTest, MembersWithoutAMeaningHereAreEchoedAsGiven) {
  v1::RegisterTaskDefinitionRequest r = Parse(
      Doc(R"(, "versionConsistency": "disabled", "credentialSpecs": ["credentialspec:x"])",
          R"("enableFaultInjection": true, "tags": [{"key": "k", "value": "v"}], )"));
  ASSERT_TRUE(ValidateRegisterTaskDefinition(r).ok());
  v1::TaskDefinition td = BuildTaskDefinition(r, ArnScope{}, 1, absl::UnixEpoch());
  EXPECT_TRUE(td.has_enable_fault_injection() && td.enable_fault_injection());
  EXPECT_EQ(td.container_definitions(0).version_consistency(), "disabled");
  EXPECT_THAT(td.container_definitions(0).credential_specs(), ElementsAre("credentialspec:x"));
  EXPECT_EQ(td.revision(), 1);
}

TEST(ValidateTest, ProtoInputWithBadEnumIsRejectedToo) {
  v1::RegisterTaskDefinitionRequest r = Parse(Doc(""));
  r.set_network_mode("bridged");  // A gRPC client can send what JSON decoding would refuse.
  absl::Status s = ValidateRegisterTaskDefinition(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("networkMode: must be one of"));
}

}  // namespace
}  // namespace skiff::model
