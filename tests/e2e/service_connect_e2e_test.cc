// Service Connect end to end (issue 19, part 3): a real skiffd with its skiff-dns and HAProxy,
// httpd tasks behind client aliases, and busybox's wget and nslookup inside client containers.
// A bridge service serves; an awsvpc client-only service of the namespace calls it by alias (and
// a bridge client an awsvpc server); a plain task outside the namespace must not get the alias. Names outside the zone go to a private
// skiff-dns on loopback (--dns-upstream), never to the real network. Every wait is bounded.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "e2e_test.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "support/dns_client.h"
#include "support/host_state.h"
#include "support/http_backend.h"

namespace skiff::e2e {
namespace {

using json = nlohmann::json;

constexpr absl::Duration kWait = absl::Seconds(30);

// The server: httpd answering a random id of its own (one per task) on 8080 ("http") and 9090
// ("admin").
constexpr char kServe[] =
    "mkdir -p /www && cat /proc/sys/kernel/random/uuid > /www/index.html && "
    "httpd -p 9090 -h /www && exec httpd -f -p 8080 -h /www";

// backend:80 -> 8080, admin.internal:8081 -> 9090.
constexpr char kServerConnect[] = R"({"enabled": true, "namespace": "internal", "services": [
    {"portName": "http", "clientAliases": [{"port": 80, "dnsName": "backend"}]},
    {"portName": "admin", "clientAliases": [{"port": 8081, "dnsName": "admin.internal"}]}]})";

json Container(const std::string& name, const std::string& command, json port_mappings) {
  return {{"name", name},
          {"image", skiff::testing::kTestImageRef},
          {"memory", 32},
          {"stopTimeout", 2},
          {"portMappings", std::move(port_mappings)},
          {"command", json::array({"sh", "-c", command})}};
}

class ServiceConnectTest : public E2eTest {
 protected:
  ServiceConnectTest() { namespace_prefix_ = "skiff-e2e-sc"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped()) return;
    SKIFF_REQUIRE_NOTHING_MISSING(skiff::testing::MissingHaproxy());
    char tmpl[] = "/tmp/skiff-e2e-sc-upstream.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    upstream_dir_ = tmpl;
    discovery::Records records;
    records.zone = "upstream.test";
    absl::StatusOr<std::unique_ptr<skiff::testing::SkiffDnsProcess>> upstream =
        skiff::testing::SkiffDnsProcess::Start(SkiffDnsBinary(), upstream_dir_, records, {});
    ASSERT_TRUE(upstream.ok()) << upstream.status();
    upstream_ = *std::move(upstream);
    ASSERT_NO_FATAL_FAILURE(StartSkiffd({"--dns-upstream", upstream_->address()}));
    ASSERT_NO_FATAL_FAILURE(LoadTestImage());
  }

  void TearDown() override {
    E2eTest::TearDown();
    upstream_.reset();
    std::error_code ec;
    if (!upstream_dir_.empty()) std::filesystem::remove_all(upstream_dir_, ec);
  }

  static std::string SkiffDnsBinary() {
    return (std::filesystem::path(SKIFFD_BINARY).parent_path() / "skiff-dns").string();
  }

  void RegisterServer(const std::string& mode = "bridge") {
    RegisterTaskDefinition(
        {{"family", "server"},
         {"networkMode", mode},
         {"containerDefinitions",
          json::array({Container("app", kServe,
                                 json::array({{{"containerPort", 8080}, {"name", "http"}},
                                              {{"containerPort", 9090}, {"name", "admin"}}}))})}});
  }
  void RegisterSleeper(const std::string& family, const std::string& mode) {
    RegisterTaskDefinition(
        {{"family", family},
         {"networkMode", mode},
         {"containerDefinitions",
          json::array({Container("client", "exec sleep 100000", json::array())})}});
  }
  void CreateService(const std::string& name, const std::string& family, int desired,
                     const std::string& connect) {
    Ok({"create-service", "--service-name", name, "--task-definition", family, "--desired-count",
        absl::StrCat(desired), "--service-connect-configuration", connect});
  }

  // The ids of the service's RUNNING tasks, polled until there are `n` (bounded).
  std::vector<std::string> WaitForTasks(const std::string& service, size_t n) {
    const absl::Time deadline = absl::Now() + kWait;
    std::vector<std::string> ids;
    while (absl::Now() < deadline) {
      ids.clear();
      json list = Ok({"list-tasks", "--service-name", service, "--desired-status", "RUNNING"});
      for (const json& arn : list["taskArns"]) {
        const std::string a = arn.get<std::string>();
        const std::string id = a.substr(a.rfind('/') + 1);
        if (DescribeTaskJson(id).value("lastStatus", "") == "RUNNING") ids.push_back(id);
      }
      if (ids.size() == n) return ids;
      absl::SleepFor(absl::Milliseconds(100));
    }
    ADD_FAILURE() << service << " never ran " << n << " tasks\n" << SkiffdLogTail(30);
    return ids;
  }

  // `command` in the task's container, through sh: its output, or the error.
  std::string Exec(const std::string& task, const std::string& container,
                   const std::string& command, int timeout_seconds = 15) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(timeout_seconds));
    v1::ExecuteCommandRequest request;
    request.set_task(task);
    request.set_container(container);
    request.set_command("sh -c '" + command + "'");  // No ' in the tests' commands.
    request.set_interactive(false);
    std::unique_ptr<grpc::ClientReader<v1::ExecOutput>> reader =
        client_->node().ExecuteCommand(&context, request);
    std::string out;
    v1::ExecOutput chunk;
    while (reader->Read(&chunk)) absl::StrAppend(&out, chunk.stdout(), chunk.stderr());
    if (absl::Status s = FromGrpc(reader->Finish(), "ExecuteCommand"); !s.ok()) {
      return "exec failed: " + s.ToString();
    }
    return out;
  }

  // One GET of http://NAME:PORT/ from the task: the body's last line, or "" when it failed.
  // busybox-static's wget looks names and services up through NSS and crashes without it: the
  // name is resolved by nslookup (the resolver's answer, as any client's libc would get it) and
  // the request goes with nc, as network_e2e_test's do.
  std::string Get(const std::string& task, const std::string& name, int port) {
    const std::string out = Exec(task, "client", GetCommand(name, port));
    if (absl::StrContains(out, "FAILED") || absl::StrContains(out, "exec failed") ||
        absl::StrContains(out, "NORESOLVE")) {
      return "";
    }
    return std::string(absl::StripAsciiWhitespace(out));
  }
  static std::string GetCommand(const std::string& name, int port) {
    return absl::StrCat(R"(ip=$(nslookup )", name,
                        R"( 2>/dev/null | awk "/^Name:/{n=1} n && /^Address/{print \$NF}" )"
                        R"(| head -1); if [ -z "$ip" ]; then echo NORESOLVE; else )"
                        R"(r=$(printf "GET / HTTP/1.0\r\n\r\n" | nc -w 3 $ip )", port,
                        R"(); case "$r" in "HTTP/1."*" 200 "*) echo "$r" | tail -1;; )"
                        R"(*) echo FAILED;; esac; fi)");
  }
  // Polls until NAME:PORT answers from the client (the alias's frontend and first target take
  // a reload and a first probe); the first body.
  std::string WaitForAnswer(const std::string& client, const std::string& name, int port) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      if (std::string body = Get(client, name, port); !body.empty()) return body;
      absl::SleepFor(absl::Milliseconds(100));
    }
    std::ifstream config(skiffd_->state_dir() + "/lb/haproxy.cfg");
    const std::string haproxy((std::istreambuf_iterator<char>(config)),
                              std::istreambuf_iterator<char>());
    ADD_FAILURE() << name << ":" << port << " never answered in the client; last: "
                  << Exec(client, "client", "nslookup " + name + " 2>&1; " +
                                                GetCommand(name, port) + "; echo rc=$?")
                  << "\nHAProxy's config:\n" << haproxy << "\n" << SkiffdLogTail(30);
    return "";
  }

  // The bridge's gateway: the first address of skiffd's subnet, where the aliases listen.
  std::string Gateway() const {
    const std::string& subnet = skiffd_->subnet();
    return subnet.substr(0, subnet.rfind('.')) + ".1";
  }

  std::string upstream_dir_;
  std::unique_ptr<skiff::testing::SkiffDnsProcess> upstream_;
};

TEST_F(ServiceConnectTest, AnAliasReachesEveryReadyTaskWithPortTranslation) {
  RegisterServer();
  RegisterSleeper("client", "awsvpc");
  CreateService("web-server", "server", 2, kServerConnect);
  CreateService("client", "client", 1, R"({"enabled": true, "namespace": "internal"})");
  const std::vector<std::string> servers = WaitForTasks("web-server", 2);
  const std::vector<std::string> clients = WaitForTasks("client", 1);
  ASSERT_EQ(servers.size(), 2u);
  ASSERT_EQ(clients.size(), 1u);
  const std::string client = clients[0];

  const absl::Time start = absl::Now();
  ASSERT_FALSE(WaitForAnswer(client, "backend", 80).empty());
  std::cout << "service connect: backend answered " << absl::FormatDuration(absl::Now() - start)
            << " after both services ran\n";
  // Both tasks admitted (each after its first passing probe), bounded.
  std::set<std::string> seen;
  const absl::Time deadline = absl::Now() + kWait;
  while (seen.size() < 2 && absl::Now() < deadline) seen.insert(Get(client, "backend", 80));
  seen.erase("");
  ASSERT_EQ(seen.size(), 2u) << "the second task never answered through the alias";
  // Spread: each GET is a connection of its own, round robin over the two tasks.
  std::map<std::string, int> bodies;
  constexpr int kRequests = 12;
  for (int i = 0; i < kRequests; ++i) ++bodies[Get(client, "backend", 80)];
  EXPECT_FALSE(bodies.contains("")) << "failed requests: " << bodies[""];
  EXPECT_EQ(bodies.size(), 2u) << "distinct responders over " << kRequests << " requests";
  for (const auto& [body, n] : bodies) EXPECT_GE(n, kRequests / 3) << body;
  std::cout << "service connect: " << kRequests << " requests over " << bodies.size()
            << " tasks:";
  for (const auto& [body, n] : bodies) std::cout << " " << n;
  std::cout << "\n";
  // The dotted alias with its own port (8081 -> 9090).
  EXPECT_FALSE(WaitForAnswer(client, "admin.internal", 8081).empty());
  // The namespace's proxy is on the gateway: what the alias resolves to.
  const std::string lookup = Exec(client, "client", "nslookup backend");
  EXPECT_THAT(lookup, ::testing::HasSubstr(Gateway())) << lookup;

  // Describe echoes the configuration on the deployment, as ECS does.
  json described = Ok({"describe-services", "--services", "web-server"})["services"][0];
  const json& deployment = described["deployments"][0];
  EXPECT_EQ(deployment["serviceConnectConfiguration"]["services"][0]["clientAliases"][0]
                ["dnsName"], "backend") << deployment.dump();
  EXPECT_EQ(deployment["serviceConnectResources"].size(), 2u) << deployment.dump();
}

// The other pairing of network modes: an awsvpc server (its own namespace and address on the
// bridge) behind the alias, a bridge client calling it.
TEST_F(ServiceConnectTest, ABridgeClientReachesAnAwsvpcServer) {
  RegisterServer("awsvpc");
  RegisterSleeper("client", "bridge");
  CreateService("web-server", "server", 1, kServerConnect);
  CreateService("client", "client", 1, R"({"enabled": true, "namespace": "internal"})");
  ASSERT_EQ(WaitForTasks("web-server", 1).size(), 1u);
  const std::vector<std::string> clients = WaitForTasks("client", 1);
  ASSERT_EQ(clients.size(), 1u);
  EXPECT_FALSE(WaitForAnswer(clients[0], "backend", 80).empty());
  EXPECT_FALSE(WaitForAnswer(clients[0], "admin.internal", 8081).empty());
}

TEST_F(ServiceConnectTest, ATaskOutsideTheNamespaceDoesNotGetTheAlias) {
  RegisterServer();
  RegisterSleeper("client", "awsvpc");
  RegisterSleeper("outsider", "bridge");
  CreateService("web-server", "server", 1, kServerConnect);
  CreateService("client", "client", 1, R"({"enabled": true, "namespace": "internal"})");
  const std::vector<std::string> clients = WaitForTasks("client", 1);
  ASSERT_EQ(clients.size(), 1u);
  ASSERT_FALSE(WaitForAnswer(clients[0], "backend", 80).empty());
  const std::string outsider = RunTask("outsider");
  WaitForTaskStatus(outsider, "RUNNING", kWait);
  // Resolution works for it (its own service discovery) but not the alias.
  const std::string own = Exec(outsider, "client", "nslookup web-server");
  EXPECT_THAT(own, ::testing::HasSubstr("Address")) << own;
  // Its search domain's name does not exist for it, and the bare name is forwarded.
  const std::string alias = Exec(outsider, "client", "nslookup backend");
  EXPECT_THAT(alias, ::testing::HasSubstr("NXDOMAIN")) << alias;
  EXPECT_THAT(alias, ::testing::Not(::testing::HasSubstr("Name:"))) << alias;
  // The client of the namespace, asking the same resolver, gets the alias.
  EXPECT_THAT(Exec(clients[0], "client", "nslookup backend"),
              ::testing::HasSubstr("Name:\tbackend.default.skiff.internal\nAddress: " +
                                   Gateway()));
  EXPECT_EQ(Get(outsider, "backend", 80), "");
  EXPECT_EQ(Get(outsider, "admin.internal", 8081), "");
}

TEST_F(ServiceConnectTest, AStoppingTaskLeavesTheAliasBeforeItsSigterm) {
  RegisterServer();
  RegisterSleeper("client", "awsvpc");
  CreateService("web-server", "server", 2, kServerConnect);
  CreateService("client", "client", 1, R"({"enabled": true, "namespace": "internal"})");
  const std::vector<std::string> servers = WaitForTasks("web-server", 2);
  const std::vector<std::string> clients = WaitForTasks("client", 1);
  ASSERT_EQ(servers.size(), 2u);
  ASSERT_EQ(clients.size(), 1u);
  const std::string client = clients[0];
  ASSERT_FALSE(WaitForAnswer(client, "backend", 80).empty());
  // Both tasks serve before the stop, so that the loop below runs against two.
  std::set<std::string> seen;
  for (int i = 0; i < 10 && seen.size() < 2; ++i) seen.insert(Get(client, "backend", 80));
  ASSERT_EQ(seen.size(), 2u);

  // A bounded load loop in the client: 120 GETs, 50 ms apart, each "OK" or "FAIL".
  std::string load;
  std::thread loop([&] {
    load = Exec(client, "client",
                absl::StrCat("ip=$(nslookup backend | awk \"/^Name:/{n=1} n && /^Address/"
                             "{print \\$NF}\" | head -1); for i in $(seq 1 120); do if printf "
                             "\"GET / HTTP/1.0\\r\\n\\r\\n\" | nc -w 3 $ip 80 | grep -q "
                             "\"HTTP/1.. 200\"; then echo OK; else echo FAIL; fi; sleep 0.05; "
                             "done"),
                60);
  });
  absl::SleepFor(absl::Seconds(1));
  const absl::Time stop = absl::Now();
  Ok({"stop-task", "--task", servers[0]});
  WaitForTaskStatus(servers[0], "STOPPED", kWait);
  std::cout << "service connect: stop-task to STOPPED under load took "
            << absl::FormatDuration(absl::Now() - stop) << "\n";
  loop.join();
  int ok = 0;
  for (absl::string_view line : absl::StrSplit(load, '\n')) ok += line == "OK";
  EXPECT_FALSE(absl::StrContains(load, "FAIL")) << load;
  EXPECT_GE(ok, 100) << load;
  std::cout << "service connect: " << ok << " of 120 requests answered across a stop-task\n";
}

}  // namespace
}  // namespace skiff::e2e
