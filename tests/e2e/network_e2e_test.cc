// bridge and awsvpc networking end to end: a real skiffd on a private containerd runs busybox
// httpd tasks through Debian's CNI plugins, on a bridge and /24 of this test's own
// (SkiffdProcess). Published ports answer on 127.0.0.1 and the task's address answers on the
// bridge; dynamic host ports of a service are distinct; a container reaches another task's
// published port through the host; awsvpc containers share localhost. Stops, kill -9 of a
// container and kill -9 of skiffd leave no namespace, veth, iptables rule or address lease.
// Traffic goes only to loopback and to the namespaces skiffd made for this test. Every wait is
// bounded.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "support/host_state.h"
#include "support/subprocess.h"

namespace skiff::e2e {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr absl::Duration kStartTimeout = absl::Seconds(60);
constexpr absl::Duration kStopTimeout = absl::Seconds(30);
// httpd needs a moment after the task is RUNNING before it listens.
constexpr absl::Duration kServeTimeout = absl::Seconds(15);

// One HTTP/1.0 GET; the whole answer, or an error. Bounded by `timeout` for connect and reads.
absl::StatusOr<std::string> HttpGet(const std::string& ip, int port,
                                    absl::Duration timeout = absl::Seconds(2)) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket");
  timeval tv{.tv_sec = static_cast<time_t>(absl::ToInt64Seconds(timeout)), .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return absl::UnavailableError(absl::StrCat("connect ", ip, ":", port, ": ", strerror(errno)));
  }
  const std::string request = "GET / HTTP/1.0\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    close(fd);
    return absl::UnavailableError("send");
  }
  char buffer[4096];
  for (ssize_t n; (n = recv(fd, buffer, sizeof(buffer), 0)) > 0;) answer.append(buffer, n);
  close(fd);
  return answer;
}

// Asks until the answer has `body` or the time is up.
absl::Status WaitForHttp(const std::string& ip, int port, const std::string& body) {
  const absl::Time deadline = absl::Now() + kServeTimeout;
  absl::StatusOr<std::string> last = absl::UnknownError("not asked");
  while (absl::Now() < deadline) {
    last = HttpGet(ip, port);
    if (last.ok() && absl::StrContains(*last, body)) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "http://", ip, ":", port, "/ did not serve \"", body, "\": ",
      last.ok() ? "answer: " + last->substr(0, 200) : last.status().ToString()));
}

// A container serving `body` with busybox httpd on `port`.
json Httpd(const std::string& name, const std::string& body, const json& port_mappings,
           int port = 80) {
  return {{"name", name},
          {"image", skiff::testing::kTestImageRef},
          {"memory", 32},
          {"stopTimeout", 2},
          {"portMappings", port_mappings},
          {"command", json::array({"sh", "-c",
                                   absl::StrCat("mkdir -p /www && echo ", body,
                                                " > /www/index.html && exec httpd -f -p ", port,
                                                " -h /www")})}};
}

json Shell(const std::string& name, const std::string& script, bool essential = true) {
  return {{"name", name},
          {"image", skiff::testing::kTestImageRef},
          {"memory", 16},
          {"essential", essential},
          {"stopTimeout", 2},
          {"command", json::array({"sh", "-c", script})}};
}

// A free TCP port of the host right now (bound and closed again).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string Command(const std::vector<std::string>& argv) {
  absl::StatusOr<skiff::testing::CommandResult> r =
      skiff::testing::RunCommand(argv, absl::Seconds(20));
  return r.ok() ? r->stdout_text : "";
}

// What networking leaves on the host, counted the ways an operator would look.
struct NetworkObjects {
  size_t netns_files = 0;   // STATE_DIR/netns.
  size_t nsfs_mounts = 0;   // Mounts below the state dir.
  size_t veths = 0;         // Host ends of veth pairs on this test's bridge.
  size_t rules = 0;         // iptables rules naming the subnet or this network.
  size_t leases = 0;        // host-local IPAM files that are addresses.
  size_t records = 0;       // ADD results kept for DEL.

  std::string Text() const {
    return absl::StrCat("netns ", netns_files, ", mounts ", nsfs_mounts, ", veths ", veths,
                        ", rules ", rules, ", leases ", leases, ", records ", records);
  }
  bool operator==(const NetworkObjects&) const = default;
};

class NetworkTest : public E2eTest {
 protected:
  NetworkTest() { namespace_prefix_ = "skiff-net"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    StartSkiffd();
    LoadTestImage();
  }

  void Register(const std::string& family, const std::string& mode, const json& containers) {
    RegisterTaskDefinition(
        {{"family", family}, {"networkMode", mode}, {"containerDefinitions", containers}});
  }

  // The whole answer, for tests that expect failures.
  absl::StatusOr<v1::RunTaskResponse> RunTask(const std::string& family) {
    v1::RunTaskRequest request;
    request.set_task_definition(family);
    return client_->RunTask(request);
  }

  // Runs one task and waits until it is RUNNING; its description then (or a failure).
  v1::Task RunRunning(const std::string& family) {
    const std::string id = E2eTest::RunTask(family);
    return id.empty() ? v1::Task() : WaitForTaskStatus(id, "RUNNING", kStartTimeout);
  }

  v1::Task WaitStopped(const std::string& id) {
    return WaitForTaskStatus(id, "STOPPED", kStopTimeout);
  }

  // The gateway: the bridge's address, the first of the subnet.
  std::string Gateway() const { return skiffd_->network().gateway(); }
  std::string SubnetPrefix() const { return skiffd_->network().prefix(); }

  NetworkObjects Count() const {
    NetworkObjects n;
    const std::string state = skiffd_->state_dir();
    n.netns_files = skiff::testing::ListDir(state + "/netns").size();
    for (const std::string& m : skiff::testing::MountsUnder(state)) {
      n.nsfs_mounts += absl::StrContains(m, "/netns/");
    }
    for (absl::string_view line :
         absl::StrSplit(Command({"ip", "-o", "link", "show", "master", skiffd_->bridge()}), '\n',
                        absl::SkipEmpty())) {
      n.veths += absl::StrContains(line, "veth");
    }
    const std::string network = "skiff-" + skiffd_->bridge();
    for (const char* table : {"nat", "filter"}) {
      for (absl::string_view line :
           absl::StrSplit(Command({"iptables", "-t", table, "-S"}), '\n', absl::SkipEmpty())) {
        n.rules += absl::StrContains(line, SubnetPrefix()) || absl::StrContains(line, network);
      }
    }
    for (const std::string& f : skiff::testing::ListDir(state + "/network/ipam/" + network)) {
      n.leases += absl::StartsWith(f, SubnetPrefix());
    }
    n.records = skiff::testing::ListDir(state + "/network/results").size();
    return n;
  }

  // Every process whose network namespace is the one bound at `netns` (a container's).
  static std::vector<pid_t> ProcessesIn(const std::string& netns) {
    struct stat ns {};
    std::vector<pid_t> out;
    if (stat(netns.c_str(), &ns) != 0) return out;
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      pid_t pid = 0;
      if (!absl::SimpleAtoi(e.path().filename().string(), &pid)) continue;
      struct stat own {};
      if (stat((e.path() / "ns/net").c_str(), &own) == 0 && own.st_ino == ns.st_ino &&
          own.st_dev == ns.st_dev) {
        out.push_back(pid);
      }
    }
    return out;
  }
};

TEST_F(NetworkTest, BridgeTaskAnswersOnItsHostPortAndOnItsAddress) {
  const int port = FreePort();
  Register("web", "bridge", json::array({Httpd("web", "bridge-ok",
                                               json::array({{{"containerPort", 80},
                                                             {"hostPort", port}}}))}));
  const v1::Task task = RunRunning("web");
  ASSERT_EQ(task.containers_size(), 1);
  const v1::Container& c = task.containers(0);
  ASSERT_EQ(c.network_bindings_size(), 1) << task.ShortDebugString();
  EXPECT_EQ(c.network_bindings(0).host_port(), port);
  EXPECT_EQ(c.network_bindings(0).container_port(), 80);
  EXPECT_EQ(c.network_bindings(0).protocol(), "tcp");
  ASSERT_EQ(c.network_interfaces_size(), 1);
  const std::string ip = c.network_interfaces(0).private_ipv4_address();
  EXPECT_TRUE(absl::StartsWith(ip, SubnetPrefix())) << ip;
  absl::Status via_host = WaitForHttp("127.0.0.1", port, "bridge-ok");
  EXPECT_TRUE(via_host.ok()) << via_host;
  absl::Status direct = WaitForHttp(ip, 80, "bridge-ok");
  EXPECT_TRUE(direct.ok()) << direct;
}

TEST_F(NetworkTest, AContainerPortRangeIsPublishedOnContiguousHostPorts) {
  // httpd on the first and the last port of the range.
  json web = Httpd("web", "range-ok", json::array({{{"containerPortRange", "8000-8002"}}}));
  web["command"][2] = "mkdir -p /www && echo range-ok > /www/index.html && "
                      "httpd -p 8000 -h /www && exec httpd -f -p 8002 -h /www";
  Register("ranged", "bridge", json::array({web}));
  const v1::Task task = RunRunning("ranged");
  ASSERT_EQ(task.containers_size(), 1);
  ASSERT_EQ(task.containers(0).network_bindings_size(), 1) << task.ShortDebugString();
  const v1::NetworkBinding& b = task.containers(0).network_bindings(0);
  EXPECT_EQ(b.container_port_range(), "8000-8002");
  const std::vector<std::string> host = absl::StrSplit(b.host_port_range(), '-');
  int low = 0;
  int high = 0;
  ASSERT_TRUE(host.size() == 2 && absl::SimpleAtoi(host[0], &low) &&
              absl::SimpleAtoi(host[1], &high))
      << b.host_port_range();
  EXPECT_EQ(high, low + 2);
  absl::Status first = WaitForHttp("127.0.0.1", low, "range-ok");
  EXPECT_TRUE(first.ok()) << first;
  absl::Status last = WaitForHttp("127.0.0.1", high, "range-ok");
  EXPECT_TRUE(last.ok()) << last;
}

TEST_F(NetworkTest, DynamicPortsOfAServiceAreDistinctAndAllAnswer) {
  Register("dyn", "bridge",
           json::array({Httpd("web", "dynamic-ok", json::array({{{"containerPort", 80}}}))}));
  v1::CreateServiceRequest create;
  create.set_service_name("dyn");
  create.set_task_definition("dyn");
  create.set_desired_count(3);
  ASSERT_TRUE(client_->CreateService(create).ok());
  absl::StatusOr<v1::Service> steady =
      client_->WaitForService("dyn", IsSteady, "steady", kStartTimeout);
  ASSERT_TRUE(steady.ok()) << steady.status();
  absl::StatusOr<std::vector<v1::Task>> tasks = client_->ServiceTasks("dyn", "RUNNING");
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), 3u);
  std::set<int> ports;
  for (const v1::Task& t : *tasks) {
    ASSERT_EQ(t.containers(0).network_bindings_size(), 1) << t.ShortDebugString();
    const int port = t.containers(0).network_bindings(0).host_port();
    EXPECT_GT(port, 1024);
    ports.insert(port);
    absl::Status served = WaitForHttp("127.0.0.1", port, "dynamic-ok");
    EXPECT_TRUE(served.ok()) << served;
  }
  EXPECT_EQ(ports.size(), 3u);
}

// Seen: a DNAT rule left by another skiffd sent a task's dynamic host port elsewhere
// ("connect 127.0.0.1:32769: No route to host"). A port that a rule of the host redirects is not
// handed out. The rule is the test's own, for the first port of this daemon's own range, to a
// loopback port, and is deleted at the end.
TEST_F(NetworkTest, ADynamicPortThatTheHostRedirectsIsNotHandedOut) {
  const int low = 20000 + skiffd_->network().index() * 40;  // SkiffdProcess's range.
  const std::vector<std::string> rule = {
      "OUTPUT", "-p", "tcp", "-d", "127.0.0.1", "--dport", absl::StrCat(low),
      "-m", "comment", "--comment", "skiff-e2e", "-j", "DNAT", "--to-destination", "127.0.0.1:9"};
  auto iptables = [&rule](const std::string& op) {
    std::vector<std::string> argv = {"iptables", "-w", "-t", "nat", op};
    argv.insert(argv.end(), rule.begin(), rule.end());
    return skiff::testing::RunCommand(argv, absl::Seconds(20));
  };
  absl::StatusOr<skiff::testing::CommandResult> added = iptables("-I");
  ASSERT_TRUE(added.ok() && added->exit_code == 0)
      << (added.ok() ? added->stderr_text : added.status().ToString());
  absl::Cleanup remove = [&iptables] { iptables("-D").IgnoreError(); };

  Register("dyn", "bridge",
           json::array({Httpd("web", "not-redirected", json::array({{{"containerPort", 80}}}))}));
  const v1::Task task = RunRunning("dyn");
  ASSERT_EQ(task.containers(0).network_bindings_size(), 1) << task.ShortDebugString();
  const int port = task.containers(0).network_bindings(0).host_port();
  // The range is handed out from its start, round robin: the next one.
  EXPECT_EQ(port, low + 1);
  absl::Status served = WaitForHttp("127.0.0.1", port, "not-redirected");
  EXPECT_TRUE(served.ok()) << served;
}

TEST_F(NetworkTest, AContainerReachesAnotherTasksPublishedPortThroughTheHost) {
  const int port = FreePort();
  Register("server", "bridge", json::array({Httpd("web", "hairpin-ok",
                                                  json::array({{{"containerPort", 80},
                                                                {"hostPort", port}}}))}));
  RunRunning("server");
  ASSERT_TRUE(WaitForHttp("127.0.0.1", port, "hairpin-ok").ok());
  // The client asks the host (the bridge's address) for the published port, a few times, with
  // nc: busybox-static's wget looks the service up through NSS and crashes without it.
  Register("client", "bridge",
           json::array({Shell("get", absl::StrCat("for i in 1 2 3 4 5; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
                                                  "nc -w 3 ", Gateway(), " ", port,
                                                  " | grep -q hairpin-ok && exit 0; sleep 1; "
                                                  "done; exit 1"))}));
  absl::StatusOr<v1::RunTaskResponse> ran = RunTask("client");
  ASSERT_TRUE(ran.ok() && ran->tasks_size() == 1);
  const v1::Task done = WaitStopped(TaskIdOf(ran->tasks(0).task_arn()));
  ASSERT_EQ(done.containers_size(), 1);
  EXPECT_TRUE(done.containers(0).has_exit_code()) << done.ShortDebugString();
  EXPECT_EQ(done.containers(0).exit_code(), 0) << done.ShortDebugString();
}

TEST_F(NetworkTest, AwsvpcContainersShareLocalhostAndTheTaskHasAnEni) {
  Register("vpc", "awsvpc",
           json::array({Httpd("app", "awsvpc-ok", json::array({{{"containerPort", 8080}}}), 8080),
                        Shell("sidecar",
                              "for i in $(seq 1 20); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | "
                              "nc -w 2 127.0.0.1 8080 | grep -q awsvpc-ok && exit 0; sleep 0.5; "
                              "done; exit 1",
                              /*essential=*/false)}));
  const v1::Task task = RunRunning("vpc");
  ASSERT_EQ(task.attachments_size(), 1) << task.ShortDebugString();
  EXPECT_EQ(task.attachments(0).type(), "ElasticNetworkInterface");
  std::string ip;
  for (const v1::KeyValuePair& kv : task.attachments(0).details()) {
    if (kv.name() == "privateIPv4Address") ip = kv.value();
  }
  EXPECT_TRUE(absl::StartsWith(ip, SubnetPrefix())) << task.ShortDebugString();
  // The sidecar reached the app on localhost and exited 0; the task runs on.
  absl::StatusOr<v1::Task> sidecar_done = client_->WaitForTask(
      TaskIdOf(task.task_arn()),
      [](const v1::Task& t) { return t.containers(1).last_status() == "STOPPED"; },
      "sidecar stopped", kStartTimeout);
  ASSERT_TRUE(sidecar_done.ok()) << sidecar_done.status();
  EXPECT_EQ(sidecar_done->containers(1).exit_code(), 0)
      << skiffd_->Skiff({"logs", "--task", TaskIdOf(task.task_arn()), "--container", "sidecar"})
             .stdout_text;
  EXPECT_EQ(sidecar_done->last_status(), "RUNNING");
  absl::Status direct = WaitForHttp(ip, 8080, "awsvpc-ok");
  EXPECT_TRUE(direct.ok()) << direct;
}

TEST_F(NetworkTest, StopKillAndCrashLeaveNoNetworkObjectsBehind) {
  Register("leak", "bridge",
           json::array({Httpd("web", "leak-ok", json::array({{{"containerPort", 80}}}))}));
  // A first task makes the bridge and the plugins' shared chains, which stay (as docker0 does).
  const v1::Task warm = RunRunning("leak");
  ASSERT_TRUE(client_->StopTask(TaskIdOf(warm.task_arn())).ok());
  WaitStopped(TaskIdOf(warm.task_arn()));
  const NetworkObjects baseline = Count();
  EXPECT_EQ(baseline.netns_files + baseline.veths + baseline.leases + baseline.records, 0u)
      << baseline.Text();

  // StopTask.
  const v1::Task stopped = RunRunning("leak");
  const NetworkObjects one = Count();
  EXPECT_EQ(one.netns_files, 1u) << one.Text();
  EXPECT_EQ(one.veths, 1u) << one.Text();
  EXPECT_EQ(one.leases, 1u) << one.Text();
  EXPECT_GT(one.rules, baseline.rules) << one.Text();
  ASSERT_TRUE(client_->StopTask(TaskIdOf(stopped.task_arn())).ok());
  WaitStopped(TaskIdOf(stopped.task_arn()));
  EXPECT_EQ(Count(), baseline) << Count().Text();

  // kill -9 of the container's process: the essential container exits, the task stops.
  const v1::Task killed = RunRunning("leak");
  const std::string netns = absl::StrCat(skiffd_->state_dir(), "/netns/",
                                         killed.containers(0).runtime_id());
  std::vector<pid_t> pids = ProcessesIn(netns);
  ASSERT_FALSE(pids.empty()) << netns;
  for (pid_t pid : pids) kill(pid, SIGKILL);
  const v1::Task after_kill = WaitStopped(TaskIdOf(killed.task_arn()));
  EXPECT_EQ(after_kill.stop_code(), "EssentialContainerExited");
  EXPECT_EQ(Count(), baseline) << Count().Text();

  // kill -9 of skiffd right after the namespace is attached: the next skiffd finds the task
  // that never started and undoes its network.
  ASSERT_TRUE(skiffd_->Signal(SIGTERM).ok());
  StartSkiffd({}, {"SKIFF_CRASH_AT=network-attached"});
  RunTask("leak").IgnoreError();  // skiffd dies during the launch.
  absl::StatusOr<int> crashed = skiffd_->WaitExit();
  ASSERT_TRUE(crashed.ok()) << crashed.status();
  EXPECT_EQ(*crashed, 128 + SIGKILL);
  EXPECT_EQ(Count().netns_files, 1u) << Count().Text();  // What the crash left.
  StartSkiffd();
  const absl::Time deadline = absl::Now() + kStopTimeout;
  while (!(Count() == baseline) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(Count(), baseline) << Count().Text();
}

TEST_F(NetworkTest, BadNetworkInputGetsClearErrors) {
  // A hostPort out of range and a protocol other than tcp/udp, at registration.
  json bad_port = {{"family", "bad"}, {"networkMode", "bridge"},
                   {"containerDefinitions",
                    json::array({Httpd("web", "x", json::array({{{"containerPort", 80},
                                                                 {"hostPort", 70000}}}))})}};
  absl::Status port = client_->RegisterTaskDefinition(bad_port.dump());
  EXPECT_TRUE(absl::IsInvalidArgument(port)) << port;
  EXPECT_THAT(std::string(port.message()),
              HasSubstr("containerDefinitions[0].portMappings[0].hostPort"));
  json bad_protocol = bad_port;
  bad_protocol["containerDefinitions"][0]["portMappings"][0] = {{"containerPort", 80},
                                                                {"protocol", "sctp"}};
  absl::Status protocol = client_->RegisterTaskDefinition(bad_protocol.dump());
  EXPECT_TRUE(absl::IsInvalidArgument(protocol)) << protocol;
  EXPECT_THAT(std::string(protocol.message()),
              HasSubstr("containerDefinitions[0].portMappings[0].protocol"));

  // A hostPort a process of the host holds (this test, on loopback) is refused at placement.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const int taken = ntohs(address.sin_port);
  Register("taken", "bridge", json::array({Httpd("web", "x", json::array({{{"containerPort", 80},
                                                                          {"hostPort", taken}}}))}));
  absl::StatusOr<v1::RunTaskResponse> refused = RunTask("taken");
  // The CLI says so on stderr and fails: a script must not go on with no task.
  skiff::testing::CommandResult cli = Skiff({"run-task", "--task-definition", "taken"});
  close(listener);
  EXPECT_EQ(cli.exit_code, 1) << cli.stdout_text << cli.stderr_text;
  EXPECT_THAT(cli.stderr_text, HasSubstr(": RESOURCE:PORTS"));
  EXPECT_THAT(cli.stderr_text, HasSubstr("error: no task was started"));
  ASSERT_TRUE(refused.ok()) << refused.status();
  ASSERT_EQ(refused->failures_size(), 1) << refused->ShortDebugString();
  EXPECT_EQ(refused->failures(0).reason(), "RESOURCE:PORTS");
  EXPECT_EQ(refused->tasks_size(), 0);

  // A subnet that overlaps a route of the host: skiffd refuses to start and names the flag.
  // The route is the test's own: a veth pair in another skiffd's subnet, deleted at the end.
  auto other = SkiffdProcess::Create();
  ASSERT_TRUE(other.ok()) << other.status();
  const std::string subnet = (*other)->subnet();
  const std::string dummy = absl::StrCat("skd", (*other)->network().index());
  ASSERT_EQ(Command({"ip", "link", "add", dummy, "type", "veth", "peer", "name", dummy + "p"}), "");
  Command({"ip", "addr", "add", (*other)->network().gateway() + "/24", "dev", dummy});
  Command({"ip", "link", "set", dummy, "up"});
  Command({"ip", "link", "set", dummy + "p", "up"});
  absl::Status started = (*other)->Start({"--containerd-address", containerd_->socket_path(),
                                          "--namespace", ns_ + "-overlap"});
  absl::StatusOr<int> code = started.ok() ? (*other)->WaitExit() : started;
  Command({"ip", "link", "del", dummy});
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 1);
  EXPECT_THAT((*other)->Log(), HasSubstr("subnet: " + subnet + " overlaps the route " + dummy));
}

}  // namespace
}  // namespace skiff::e2e
