// The task metadata endpoint's pure parts: the signed per-container path, the routes, and the
// answers in the ECS agent's (v4) and Docker's shapes, from records built here.
#include "api/task_metadata.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "api/metadata_token.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace skiff::api {
namespace {

using nlohmann::json;

constexpr char kKey[] = "0123456789abcdef0123456789abcdef";
constexpr char kTaskId[] = "8f03e41243824aea923aca126495f665";

TEST(MetadataTokenTest, ATokenNamesItsContainerUnderItsKeyOnly) {
  const std::string token = MakeMetadataToken(kKey, kTaskId, 2);
  EXPECT_THAT(token, ::testing::StartsWith(std::string(kTaskId) + "-2-"));
  std::optional<MetadataSubject> subject = ParseMetadataToken(kKey, token);
  ASSERT_TRUE(subject.has_value());
  EXPECT_EQ(subject->task_id, kTaskId);
  EXPECT_EQ(subject->index, 2);
  // The same container always gets the same token (a restarted skiffd serves the same paths);
  // another container or another key another one.
  EXPECT_EQ(MakeMetadataToken(kKey, kTaskId, 2), token);
  EXPECT_NE(MakeMetadataToken(kKey, kTaskId, 1), token);
  EXPECT_FALSE(ParseMetadataToken("another key of thirty-two bytes!", token).has_value());
}

TEST(MetadataTokenTest, AForgedOrMalformedTokenNamesNoContainer) {
  const std::string token = MakeMetadataToken(kKey, kTaskId, 0);
  const std::string mac = token.substr(token.rfind('-') + 1);
  std::string flipped = token;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  for (const std::string& bad : {
           flipped,
           // Another container's index under this container's mac.
           std::string(kTaskId) + "-1-" + mac,
           std::string(kTaskId) + "-00-" + mac,
           std::string(kTaskId) + "-+0-" + mac,
           std::string("8F03E41243824AEA923ACA126495F665-0-") + mac,
           std::string(kTaskId) + "-0-" + mac.substr(1),
           std::string(kTaskId) + "-0",
           std::string(kTaskId) + "-0-" + mac + "-0",
           std::string(),
       }) {
    EXPECT_FALSE(ParseMetadataToken(kKey, bad).has_value()) << bad;
  }
}

TEST(MetadataPathTest, TheFourPathsOfV4AndV3) {
  using Kind = MetadataRoute::Kind;
  const struct {
    const char* path;
    Kind kind;
  } cases[] = {{"/v4/T", Kind::kContainer},       {"/v4/T/", Kind::kContainer},
               {"/v4/T/task", Kind::kTask},        {"/v3/T/task/", Kind::kTask},
               {"/v4/T/stats", Kind::kContainerStats}, {"/v4/T/task/stats", Kind::kTaskStats}};
  for (const auto& c : cases) {
    std::optional<MetadataRoute> route = ParseMetadataPath(c.path);
    ASSERT_TRUE(route.has_value()) << c.path;
    EXPECT_EQ(route->token, "T") << c.path;
    EXPECT_EQ(route->kind, c.kind) << c.path;
  }
  for (const char* bad : {"/", "/v4/", "/v2/T", "/v4/T/other", "/v4/T/stats/task", "/v4//task",
                          "/v4/a/b/task"}) {
    EXPECT_FALSE(ParseMetadataPath(bad).has_value()) << bad;
  }
}

// A RUNNING task of service "web" with an nginx container in `mode`.
scheduler::TaskDetails WebTask(const std::string& mode) {
  auto definition = std::make_shared<v1::TaskDefinition>();
  definition->set_family("web");
  definition->set_revision(24);
  if (!mode.empty()) definition->set_network_mode(mode);
  v1::ContainerDefinition* d = definition->add_container_definitions();
  d->set_name("nginx");
  d->set_image("nginx:1.25");
  d->set_cpu(10);
  d->set_memory(128);
  (*d->mutable_docker_labels())["team"] = "edge";
  d->mutable_log_configuration()->set_log_driver("json-file");
  (*d->mutable_log_configuration()->mutable_options())["max-size"] = "10m";
  d->mutable_log_configuration()->add_secret_options()->set_name("token");
  d->mutable_restart_policy()->set_enabled(true);
  v1::PortMapping* port = d->add_port_mappings();
  port->set_container_port(80);
  port->set_protocol("tcp");

  scheduler::TaskDetails view{.definition = definition, .restart_counts = {3}};
  view.record.id = kTaskId;
  view.record.cluster = "default";
  view.record.service = "web";
  v1::Task& t = view.record.task;
  t.set_cluster_arn("arn:aws:ecs:local:000000000000:cluster/default");
  t.set_task_arn(std::string("arn:aws:ecs:local:000000000000:task/default/") + kTaskId);
  t.set_desired_status("RUNNING");
  t.set_last_status("RUNNING");
  t.set_cpu("512");
  t.set_memory("1024");
  t.set_pull_stopped_at(1601597707.5);
  t.set_started_at(1601597708.0);
  v1::Container* c = t.add_containers();
  c->set_name("nginx");
  c->set_runtime_id(std::string(kTaskId) + "-nginx");
  c->set_image_digest("sha256:d691");
  c->set_last_status("RUNNING");
  c->set_container_arn("arn:aws:ecs:local:000000000000:container/default/x/y");
  c->add_network_interfaces()->set_private_ipv4_address("10.213.0.7");
  if (mode != "awsvpc") {
    v1::NetworkBinding* b = c->add_network_bindings();
    b->set_bind_ip("0.0.0.0");
    b->set_container_port(80);
    b->set_host_port(32768);
    b->set_protocol("tcp");
  }
  return view;
}

TEST(TaskMetadataTest, AContainerAsTheAgentShowsIt) {
  const json c = ContainerMetadata(WebTask("bridge"), 0);
  EXPECT_EQ(c["DockerId"], std::string(kTaskId) + "-nginx");
  EXPECT_EQ(c["Name"], "nginx");
  EXPECT_EQ(c["Image"], "nginx:1.25");
  EXPECT_EQ(c["ImageID"], "sha256:d691");
  EXPECT_EQ(c["KnownStatus"], "RUNNING");
  EXPECT_EQ(c["DesiredStatus"], "RUNNING");
  EXPECT_EQ(c["Limits"], json({{"CPU", 10}, {"Memory", 128}}));
  EXPECT_EQ(c["Labels"]["com.amazonaws.ecs.task-definition-family"], "web");
  EXPECT_EQ(c["Labels"]["com.amazonaws.ecs.task-definition-version"], "24");
  EXPECT_EQ(c["Labels"]["com.amazonaws.ecs.cluster"], "default");
  EXPECT_EQ(c["Labels"]["team"], "edge");
  EXPECT_EQ(c["CreatedAt"], "2020-10-02T00:15:07.5Z");
  EXPECT_EQ(c["StartedAt"], "2020-10-02T00:15:08Z");
  EXPECT_FALSE(c.contains("FinishedAt"));
  EXPECT_EQ(c["Ports"], json::parse(R"([{"ContainerPort": 80, "Protocol": "tcp",
                                          "HostPort": 32768, "HostIp": "0.0.0.0"}])"));
  EXPECT_EQ(c["Networks"], json::parse(R"([{"NetworkMode": "bridge",
                                             "IPv4Addresses": ["10.213.0.7"]}])"));
  EXPECT_EQ(c["LogDriver"], "json-file");
  EXPECT_EQ(c["LogOptions"], json({{"max-size", "10m"}}));  // secretOptions never.
  EXPECT_EQ(c["RestartCount"], 3);
  EXPECT_EQ(c["Type"], "NORMAL");
}

TEST(TaskMetadataTest, AnAwsvpcContainerHasItsInterfaceAndItsOwnPorts) {
  scheduler::TaskDetails task = WebTask("awsvpc");
  v1::Attachment* eni = task.record.task.add_attachments();
  for (const auto& [name, value] : {std::pair{"macAddress", "0a:58:0a:d5:00:07"},
                                    {"gatewayIPv4Address", "10.213.0.1"}}) {
    v1::KeyValuePair* kv = eni->add_details();
    kv->set_name(name);
    kv->set_value(value);
  }
  const json c = ContainerMetadata(task, 0);
  EXPECT_EQ(c["Networks"][0]["NetworkMode"], "awsvpc");
  EXPECT_EQ(c["Networks"][0]["MACAddress"], "0a:58:0a:d5:00:07");
  EXPECT_EQ(c["Networks"][0]["SubnetGatewayIpv4Address"], "10.213.0.1");
  EXPECT_EQ(c["Ports"], json::parse(R"([{"ContainerPort": 80, "Protocol": "tcp",
                                          "HostPort": 80}])"));
}

TEST(TaskMetadataTest, TheTaskWithItsContainersAndLimitsInVcpus) {
  const json t = TaskMetadata(WebTask(""));
  EXPECT_EQ(t["Cluster"], "arn:aws:ecs:local:000000000000:cluster/default");
  EXPECT_EQ(t["TaskARN"], std::string("arn:aws:ecs:local:000000000000:task/default/") + kTaskId);
  EXPECT_EQ(t["Family"], "web");
  EXPECT_EQ(t["Revision"], "24");
  EXPECT_EQ(t["ServiceName"], "web");
  EXPECT_EQ(t["LaunchType"], "EC2");
  EXPECT_EQ(t["Limits"], json({{"CPU", 0.5}, {"Memory", 1024}}));
  EXPECT_EQ(t["PullStoppedAt"], "2020-10-02T00:15:07.5Z");
  ASSERT_EQ(t["Containers"].size(), 1u);
  EXPECT_EQ(t["Containers"][0]["Networks"][0]["NetworkMode"], "bridge");  // Unset is bridge.
}

TEST(TaskMetadataTest, DockerStatsGiveDockersCpuPercentAndWorkingSet) {
  TaskSnapshot snapshot{.task = WebTask("bridge")};
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  scaling::StatsStore::Entry entry;
  entry.previous = runtime::ContainerStats{.sampled_at = t0, .cpu_usage_ns = 1'000'000'000};
  // 0.25 s of CPU in 1 s: 25 % of one core.
  entry.latest = {.sampled_at = t0 + absl::Seconds(1),
                  .cpu_usage_ns = 1'250'000'000,
                  .memory_usage_bytes = 100 << 20,
                  .memory_working_set_bytes = 60 << 20,
                  .memory_limit_bytes = 0,
                  .pids = 4};
  snapshot.stats.push_back(entry);
  const HostFacts host{.online_cpus = 4, .memory_bytes = 8ull << 30};
  const json s = ContainerStats(snapshot, 0, host);
  const double cpu_delta = s["cpu_stats"]["cpu_usage"]["total_usage"].get<double>() -
                           s["precpu_stats"]["cpu_usage"]["total_usage"].get<double>();
  const double system_delta = s["cpu_stats"]["system_cpu_usage"].get<double>() -
                              s["precpu_stats"]["system_cpu_usage"].get<double>();
  // docker stats' formula.
  EXPECT_NEAR(cpu_delta / system_delta * s["cpu_stats"]["online_cpus"].get<double>() * 100, 25.0,
              1e-9);
  const double used = s["memory_stats"]["usage"].get<double>() -
                      s["memory_stats"]["stats"]["inactive_file"].get<double>();
  EXPECT_EQ(used, 60 << 20);
  EXPECT_EQ(s["memory_stats"]["limit"], 8ull << 30);  // No limit: the host's memory.
  EXPECT_EQ(s["pids_stats"]["current"], 4);
  EXPECT_EQ(s["id"], std::string(kTaskId) + "-nginx");
  EXPECT_EQ(s["read"], "2023-11-14T22:13:21Z");
  EXPECT_EQ(s["preread"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(TaskStats(snapshot, host), json({{std::string(kTaskId) + "-nginx", s}}));
}

TEST(TaskMetadataTest, AContainerNotSampledHasNullStats) {
  TaskSnapshot snapshot{.task = WebTask("bridge"), .stats = {std::nullopt}};
  EXPECT_TRUE(ContainerStats(snapshot, 0, {}).is_null());
  EXPECT_TRUE(TaskStats(snapshot, {})[std::string(kTaskId) + "-nginx"].is_null());
}

}  // namespace
}  // namespace skiff::api
