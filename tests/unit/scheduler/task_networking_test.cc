// bridge and awsvpc tasks on the TaskManager with the fake runtime and network: namespaces per
// container or per task, host ports as a placement resource, networkBindings and attachments as
// ECS shows them, and nothing left after a stop or a crash.
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_replace.h"

#include "skiff/model/task_definition.h"
#include "skiff/network/port_allocator.h"
#include "service_fixture.h"

namespace skiff::scheduler {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class TaskNetworkingTest : public ServiceManagerTest {
 protected:
  void SetUp() override {
    ServiceManagerTest::SetUp();
    Register(R"({"family": "httpd", "networkMode": "bridge", "containerDefinitions": [
        {"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
         "portMappings": [{"containerPort": 80, "hostPort": 8080},
                          {"containerPort": 9000}, {"containerPort": 53, "protocol": "udp"}],
         "extraHosts": [{"hostname": "db.internal", "ipAddress": "10.0.0.5"}],
         "dnsServers": ["10.0.0.2"]},
        {"name": "agent", "image": "skiff.local/busybox:test", "memory": 16, "essential": false,
         "hostname": "metrics"}]})");
    Register(R"({"family": "vpc", "networkMode": "awsvpc", "containerDefinitions": [
        {"name": "app", "image": "skiff.local/busybox:test", "memory": 32,
         "portMappings": [{"containerPort": 80}]},
        {"name": "sidecar", "image": "skiff.local/busybox:test", "memory": 16}]})");
    Register(R"({"family": "dynamic", "containerDefinitions": [
        {"name": "app", "image": "skiff.local/busybox:test", "memory": 16,
         "portMappings": [{"containerPort": 80}]}]})");
  }

  absl::StatusOr<v1::RunTaskResponse> RunTask(const std::string& family) {
    v1::RunTaskRequest request;
    request.set_task_definition(family);
    return tasks_->RunTask(request);
  }
  std::string RunOne(const std::string& family) {
    absl::StatusOr<v1::RunTaskResponse> r = RunTask(family);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok() || r->tasks().empty()) return "";
    Settle();
    const std::string& arn = r->tasks(0).task_arn();
    return arn.substr(arn.rfind('/') + 1);
  }
  v1::Task Task(const std::string& id) {
    v1::DescribeTasksRequest request;
    request.add_tasks(id);
    absl::StatusOr<v1::DescribeTasksResponse> response = tasks_->DescribeTasks(request);
    EXPECT_TRUE(response.ok()) << response.status();
    if (!response.ok() || response->tasks().empty()) return v1::Task();
    return response->tasks(0);
  }
  void StopTask(const std::string& id) {
    v1::StopTaskRequest request;
    request.set_task(id);
    ASSERT_TRUE(tasks_->StopTask(request).ok());
    Settle();
    const v1::Task task = Task(id);
    for (const v1::Container& c : task.containers()) {
      runtime_.Exit(c.runtime_id(), 0, clock_.Now());
    }
    Settle();
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static const runtime::MountSpec* MountAt(const runtime::ContainerSpec& spec,
                                           const std::string& destination) {
    for (const runtime::MountSpec& m : spec.mounts) {
      if (m.destination == destination) return &m;
    }
    return nullptr;
  }
};

TEST_F(TaskNetworkingTest, BridgeGivesEveryContainerANamespaceAndPublishesItsPorts) {
  const std::string id = RunOne("httpd");
  const v1::Task task = Task(id);
  ASSERT_EQ(task.last_status(), "RUNNING");
  EXPECT_TRUE(network_.Attached(id + "-app"));
  EXPECT_TRUE(network_.Attached(id + "-agent"));
  // Fixed, dynamic (from the ephemeral range) and udp, in the definition's order.
  const auto& bindings = task.containers(0).network_bindings();
  ASSERT_EQ(bindings.size(), 3);
  EXPECT_EQ(bindings[0].host_port(), 8080);
  EXPECT_EQ(bindings[0].bind_ip(), "0.0.0.0");
  EXPECT_GE(bindings[1].host_port(), network::kDefaultDynamicPortLow);
  EXPECT_EQ(bindings[2].protocol(), "udp");
  EXPECT_EQ(network_.Ports(id + "-app"),
            (std::vector<network::PortBinding>{{80, 8080, "tcp"},
                                               {9000, bindings[1].host_port(), "tcp"},
                                               {53, bindings[2].host_port(), "udp"}}));
  EXPECT_THAT(network_.Ports(id + "-agent"), IsEmpty());
  ASSERT_EQ(task.containers(0).network_interfaces_size(), 1);
  EXPECT_THAT(task.containers(0).network_interfaces(0).private_ipv4_address(),
              HasSubstr("10.213.0."));

  const runtime::ContainerSpec app = runtime_.SpecOf(id + "-app");
  EXPECT_EQ(app.network, runtime::NetworkMode::kJoin);
  EXPECT_EQ(app.netns_path, "/fake/netns/" + id + "-app");
  EXPECT_EQ(app.hostname, "app");
  const runtime::MountSpec* hosts = MountAt(app, "/etc/hosts");
  ASSERT_NE(hosts, nullptr);
  const std::string ip = task.containers(0).network_interfaces(0).private_ipv4_address();
  EXPECT_THAT(Read(hosts->source), HasSubstr(ip + "\tapp\n"));
  EXPECT_THAT(Read(hosts->source), HasSubstr("10.0.0.5\tdb.internal\n"));
  const runtime::MountSpec* resolv = MountAt(app, "/etc/resolv.conf");
  ASSERT_NE(resolv, nullptr);
  EXPECT_THAT(Read(resolv->source), HasSubstr("nameserver 10.0.0.2\n"));
  EXPECT_EQ(runtime_.SpecOf(id + "-agent").hostname, "metrics");
  EXPECT_NE(runtime_.SpecOf(id + "-agent").netns_path, app.netns_path);
}

TEST_F(TaskNetworkingTest, WithDiscoveryTasksResolveThroughTheNodesResolver) {
  dns_search_ = [](const std::string& cluster) { return cluster + ".corp.test"; };
  Open();
  const std::string vpc = RunOne("vpc");
  const runtime::ContainerSpec app = runtime_.SpecOf(vpc + "-app");
  const runtime::MountSpec* resolv = MountAt(app, "/etc/resolv.conf");
  ASSERT_NE(resolv, nullptr);
  const std::string text = Read(resolv->source);
  // The bridge's gateway, and the cluster's domain before the host's search domains.
  EXPECT_THAT(text, HasSubstr("nameserver 10.213.0.1\n"));
  EXPECT_THAT(text, HasSubstr("search default.corp.test"));
  // A definition's own dnsServers win.
  const runtime::ContainerSpec httpd = runtime_.SpecOf(RunOne("httpd") + "-app");
  resolv = MountAt(httpd, "/etc/resolv.conf");
  ASSERT_NE(resolv, nullptr);
  EXPECT_THAT(Read(resolv->source), HasSubstr("nameserver 10.0.0.2\n"));
  EXPECT_THAT(Read(resolv->source), testing::Not(HasSubstr("10.213.0.1")));
}

TEST_F(TaskNetworkingTest, AStoppedTaskLeavesNoAttachmentAndGivesItsPortsBack) {
  const std::string id = RunOne("httpd");
  auto second = RunTask("httpd");
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->failures_size(), 1);
  EXPECT_EQ(second->failures(0).reason(), "RESOURCE:PORTS");  // 8080 is held.
  StopTask(id);
  ASSERT_EQ(Task(id).last_status(), "STOPPED");
  EXPECT_EQ(network_.attached_count(), 0u);
  EXPECT_TRUE(network_.Attached(id + "-app") == false);
  auto third = RunTask("httpd");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->failures_size(), 0);
  EXPECT_EQ(third->tasks_size(), 1);
}

TEST_F(TaskNetworkingTest, DynamicPortsOfManyTasksAreDistinct) {
  std::set<int> ports;
  for (int i = 0; i < 5; ++i) {
    const v1::Task task = Task(RunOne("dynamic"));
    ASSERT_EQ(task.containers(0).network_bindings_size(), 1);
    ports.insert(task.containers(0).network_bindings(0).host_port());
  }
  EXPECT_THAT(ports, SizeIs(5));
}

TEST_F(TaskNetworkingTest, AwsvpcSharesOneNamespacePerTaskAndRecordsItsEni) {
  const std::string id = RunOne("vpc");
  const v1::Task task = Task(id);
  ASSERT_EQ(task.last_status(), "RUNNING");
  EXPECT_THAT(network_.calls(), ElementsAre("Attach " + id));
  EXPECT_THAT(network_.Ports(id), IsEmpty());  // Reached at the task's address, not the host's.
  EXPECT_THAT(task.containers(0).network_bindings(), IsEmpty());
  const runtime::ContainerSpec app = runtime_.SpecOf(id + "-app");
  const runtime::ContainerSpec sidecar = runtime_.SpecOf(id + "-sidecar");
  EXPECT_EQ(app.netns_path, "/fake/netns/" + id);
  EXPECT_EQ(sidecar.netns_path, app.netns_path);
  ASSERT_EQ(task.attachments_size(), 1);
  const v1::Attachment& eni = task.attachments(0);
  EXPECT_EQ(eni.type(), "ElasticNetworkInterface");
  EXPECT_EQ(eni.status(), "ATTACHED");
  std::string ip;
  for (const v1::KeyValuePair& kv : eni.details()) {
    if (kv.name() == "privateIPv4Address") ip = kv.value();
  }
  ASSERT_FALSE(ip.empty());
  EXPECT_EQ(app.hostname, "ip-" + absl::StrReplaceAll(ip, {{".", "-"}}));
  for (const v1::Container& c : task.containers()) {
    ASSERT_EQ(c.network_interfaces_size(), 1);
    EXPECT_EQ(c.network_interfaces(0).attachment_id(), eni.id());
    EXPECT_EQ(c.network_interfaces(0).private_ipv4_address(), ip);
  }
  // Two awsvpc tasks with the same containerPort both run: no host port is involved.
  EXPECT_EQ(Task(RunOne("vpc")).last_status(), "RUNNING");
  StopTask(id);
  EXPECT_EQ(Task(id).attachments(0).status(), "DELETED");
  EXPECT_FALSE(network_.Attached(id));
}

TEST_F(TaskNetworkingTest, AFailedAttachFailsTheTaskAndLeavesNothing) {
  network_.FailNextAttach(absl::InternalError("CNI bridge ADD: no space left"));
  const std::string id = RunOne("httpd");
  const v1::Task task = Task(id);
  EXPECT_EQ(task.last_status(), "STOPPED");
  EXPECT_EQ(task.stop_code(), "TaskFailedToStart");
  EXPECT_THAT(task.stopped_reason(), HasSubstr("network: CNI bridge ADD: no space left"));
  EXPECT_EQ(network_.attached_count(), 0u);
  EXPECT_FALSE(runtime_.HasContainer(id + "-app"));
  // Its ports are free again.
  EXPECT_EQ(Task(RunOne("httpd")).last_status(), "RUNNING");
}

TEST_F(TaskNetworkingTest, HostModePortsAreHeldToo) {
  Register(R"({"family": "hostport", "networkMode": "host", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 16,
       "portMappings": [{"containerPort": 8080}]}]})");
  const v1::Task task = Task(RunOne("hostport"));
  ASSERT_EQ(task.containers(0).network_bindings_size(), 1);
  EXPECT_EQ(task.containers(0).network_bindings(0).host_port(), 8080);
  EXPECT_EQ(network_.attached_count(), 0u);
  auto bridge = RunTask("httpd");  // Wants host port 8080 as well.
  ASSERT_TRUE(bridge.ok());
  ASSERT_EQ(bridge->failures_size(), 1);
  EXPECT_EQ(bridge->failures(0).reason(), "RESOURCE:PORTS");
}

TEST_F(TaskNetworkingTest, AContainerPortRangeGetsContiguousHostPortsThatStayHeld) {
  Register(R"({"family": "ranges", "networkMode": "bridge", "containerDefinitions": [
      {"name": "app", "image": "skiff.local/busybox:test", "memory": 16,
       "portMappings": [{"containerPortRange": "7000-7003"}, {"containerPort": 80}]}]})");
  const std::string id = RunOne("ranges");
  const v1::Task task = Task(id);
  ASSERT_EQ(task.last_status(), "RUNNING");
  const auto& bindings = task.containers(0).network_bindings();
  ASSERT_EQ(bindings.size(), 2);
  // One binding for the range, as ECS shows it.
  EXPECT_EQ(bindings[0].container_port_range(), "7000-7003");
  EXPECT_FALSE(bindings[0].has_container_port());
  const std::optional<std::pair<int, int>> host =
      model::ParsePortRange(bindings[0].host_port_range());
  ASSERT_TRUE(host.has_value()) << bindings[0].host_port_range();
  EXPECT_EQ(host->second - host->first, 3);
  EXPECT_GE(host->first, network::kDefaultDynamicPortLow);
  // Each port of it mapped on the host.
  std::vector<network::PortBinding> expected;
  for (int k = 0; k < 4; ++k) expected.push_back({7000 + k, host->first + k, "tcp"});
  expected.push_back({80, bindings[1].host_port(), "tcp"});
  EXPECT_EQ(network_.Ports(id + "-app"), expected);

  // A restarted skiffd holds the whole range: the next task's range is elsewhere.
  Open();
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});
  Settle();
  const std::string next = RunOne("ranges");
  const std::optional<std::pair<int, int>> other =
      model::ParsePortRange(Task(next).containers(0).network_bindings(0).host_port_range());
  ASSERT_TRUE(other.has_value());
  EXPECT_TRUE(other->first > host->second || other->second < host->first)
      << other->first << "-" << other->second;
}

TEST_F(TaskNetworkingTest, ARestartKeepsPortsHeldAndRemovesWhatACrashLeft) {
  const std::string id = RunOne("httpd");
  network_.AddLeftover("deadbeef-app");  // A namespace no task names.
  Open();  // skiffd restarts; the task's containers still run.
  tasks_->OnRuntimeEvent({.kind = runtime::RuntimeEvent::Kind::kStreamUp});  // The resync.
  Settle();
  EXPECT_FALSE(network_.Attached("deadbeef-app"));
  EXPECT_TRUE(network_.Attached(id + "-app"));
  auto again = RunTask("httpd");
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->failures_size(), 1);
  EXPECT_EQ(again->failures(0).reason(), "RESOURCE:PORTS");
}

TEST_F(TaskNetworkingTest, AServiceWithAFixedHostPortPlacesOneTaskAndSaysWhy) {
  ASSERT_TRUE(Create(R"({"serviceName": "web", "taskDefinition": "httpd", "desiredCount": 3})")
                  .ok());
  Settle();
  EXPECT_THAT(TaskIds(), SizeIs(1));
  EXPECT_TRUE(HasEvent(Events(), "(service web) was unable to place a task because no container "
                                 "instance met all of its requirements. The closest matching "
                                 "(container-instance "));
  EXPECT_TRUE(HasEvent(Events(), "is already using a port required by your task."));
}

}  // namespace
}  // namespace skiff::scheduler
