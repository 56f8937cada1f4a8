// Service discovery end to end (issue 19): a real skiffd, its skiff-dns on the bridge's gateway
// and busybox's nslookup inside real containers, bridge and awsvpc. Names outside the zone go to
// a private skiff-dns on loopback that the test controls (--dns-upstream), never to the real
// network. Every wait is bounded; a poll is one exec of nslookup.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
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

namespace skiff::e2e {
namespace {

using json = nlohmann::json;
using Addresses = std::set<std::string>;

constexpr absl::Duration kWait = absl::Seconds(20);
// SPEC's goal for a new task's record, from its start (readiness window included) to skiff-dns's
// answer.
constexpr absl::Duration kAppearWithin = absl::Seconds(1);

// What one nslookup in a container saw.
struct Lookup {
  bool nxdomain = false;
  Addresses addresses;  // Of the answer (not the server's own line).
  std::string text;
};

// busybox nslookup's output: "Name:\tNAME" then "Address: IP" for each answer.
Lookup ParseNslookup(const std::string& text) {
  Lookup out{.nxdomain = absl::StrContains(text, "NXDOMAIN"), .text = text};
  bool in_answer = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, "Name:")) in_answer = true;
    if (!in_answer || !absl::ConsumePrefix(&line, "Address:")) continue;
    out.addresses.insert(std::string(absl::StripAsciiWhitespace(line)));
  }
  return out;
}

json Container(const std::string& name, const std::string& command, json port_mappings) {
  return {{"name", name},
          {"image", skiff::testing::kTestImageRef},
          {"memory", 32},
          {"stopTimeout", 2},
          {"portMappings", std::move(port_mappings)},
          {"command", json::array({"sh", "-c", command})}};
}

class DiscoveryTest : public E2eTest {
 protected:
  DiscoveryTest() { namespace_prefix_ = "skiff-e2e-dns"; }

  void SetUp() override {
    E2eTest::SetUp();
    if (IsSkipped()) return;
    // The host's resolvers, as far as the node's resolver knows: one name, ext.upstream.test.
    char tmpl[] = "/tmp/skiff-e2e-upstream.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    upstream_dir_ = tmpl;
    discovery::Records records;
    records.zone = "upstream.test";
    records.a["ext.upstream.test"] = {"192.0.2.7"};
    absl::StatusOr<std::unique_ptr<skiff::testing::SkiffDnsProcess>> upstream =
        skiff::testing::SkiffDnsProcess::Start(SkiffDnsBinary(), upstream_dir_, records, {});
    ASSERT_TRUE(upstream.ok()) << upstream.status();
    upstream_ = *std::move(upstream);
    flags_ = {"--dns-upstream", upstream_->address()};
    ASSERT_NO_FATAL_FAILURE(StartSkiffd(flags_));
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

  // A server family: `app` sleeping, with the named port "http" 80.
  void RegisterServer(const std::string& family, const std::string& mode) {
    json port = {{"containerPort", 80}, {"name", "http"}};
    if (mode == "bridge") port["hostPort"] = 0;
    RegisterTaskDefinition(
        {{"family", family},
         {"networkMode", mode},
         {"containerDefinitions",
          json::array({Container("app", "exec sleep 100000", json::array({port}))})}});
  }

  // A client that, every 200 ms, writes what `web` resolves to on its stdout (its log file,
  // which the shim writes whether or not skiffd runs).
  std::string RunClient(const std::string& mode) {
    const std::string family = "client-" + mode;
    RegisterTaskDefinition(
        {{"family", family},
         {"networkMode", mode},
         {"containerDefinitions",
          json::array({Container("client",
                                 "while true; do echo \"R $(nslookup web 2>&1 | "
                                 "awk '/^Name:/{n=1} n && /^Address/{print $NF}' | sort | "
                                 "tr '\\n' ' ')\"; sleep 0.2; done",
                                 json::array())})}});
    const std::string id = RunTask(family);
    WaitForTaskStatus(id, "RUNNING", kWait);
    return id;
  }

  void CreateService(const std::string& name, const std::string& family, int desired) {
    Ok({"create-service", "--service-name", name, "--task-definition", family,
        "--desired-count", absl::StrCat(desired)});
  }
  void Scale(const std::string& name, int desired) {
    Ok({"update-service", "--service", name, "--desired-count", absl::StrCat(desired)});
  }

  // The RUNNING tasks of a service, by id: their address.
  std::map<std::string, std::string> ServiceTasks(const std::string& name) {
    std::map<std::string, std::string> out;
    json list = Ok({"list-tasks", "--service-name", name, "--desired-status", "RUNNING"});
    for (const json& arn : list["taskArns"]) {
      const std::string a = arn.get<std::string>();
      const std::string id = a.substr(a.rfind('/') + 1);
      json task = DescribeTaskJson(id);
      if (task.value("lastStatus", "") != "RUNNING") continue;
      for (const json& c : task["containers"]) {
        if (c.value("name", "") != "app") continue;
        for (const json& ni : c.value("networkInterfaces", json::array())) {
          out[id] = ni.value("privateIpv4Address", "");
        }
      }
    }
    return out;
  }
  // Polls until the service runs `n` tasks; their addresses by id.
  std::map<std::string, std::string> WaitForTasks(const std::string& name, size_t n) {
    const absl::Time deadline = absl::Now() + kWait;
    std::map<std::string, std::string> tasks = ServiceTasks(name);
    while (tasks.size() != n && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(100));
      tasks = ServiceTasks(name);
    }
    EXPECT_EQ(tasks.size(), n) << SkiffdLogTail(30);
    return tasks;
  }
  static Addresses AddressesOf(const std::map<std::string, std::string>& tasks) {
    Addresses out;
    for (const auto& [id, address] : tasks) out.insert(address);
    return out;
  }

  // nslookup in the client's container (Node.ExecuteCommand: no CLI process per poll).
  Lookup Resolve(const std::string& client, const std::string& container,
                 const std::string& args) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ExecuteCommandRequest request;
    request.set_task(client);
    request.set_container(container);
    request.set_command("nslookup " + args);
    request.set_interactive(false);
    std::unique_ptr<grpc::ClientReader<v1::ExecOutput>> reader =
        client_->node().ExecuteCommand(&context, request);
    std::string out;
    v1::ExecOutput chunk;
    while (reader->Read(&chunk)) absl::StrAppend(&out, chunk.stdout(), chunk.stderr());
    if (absl::Status s = FromGrpc(reader->Finish(), "ExecuteCommand"); !s.ok()) {
      return {.text = s.ToString()};
    }
    return ParseNslookup(out);
  }
  // Polls until `name` resolves to `want` in the client; when the lookup that saw it was asked
  // for, or InfiniteFuture.
  absl::Time WaitForAnswer(const std::string& client, const std::string& container,
                           const std::string& name, const Addresses& want) {
    const absl::Time deadline = absl::Now() + kWait;
    Lookup seen;
    while (absl::Now() < deadline) {
      // When the lookup was asked for: the exec that carries it into the container (hundreds
      // of ms under the sanitizers, on a loaded machine) is no part of discovery's latency.
      const absl::Time asked = absl::Now();
      seen = Resolve(client, container, name);
      if (seen.addresses == want) return asked;
      absl::SleepFor(absl::Milliseconds(20));
    }
    ADD_FAILURE() << name << " never resolved as wanted; last:\n" << seen.text;
    return absl::InfiniteFuture();
  }

  // The A records skiff-dns answers for `name`, asked from this host on the bridge's gateway.
  Addresses RecordsOf(const std::string& name) {
    absl::StatusOr<skiff::testing::DnsResponse> r = skiff::testing::AskDnsAt(
        skiffd_->network().gateway(), 53, name, "A", absl::Milliseconds(500));
    Addresses out;
    if (!r.ok()) return out;
    for (const std::string& rr : r->answer) {  // "owner ttl A address"
      out.insert(std::string(absl::StripAsciiWhitespace(rr.substr(rr.rfind(' ') + 1))));
    }
    return out;
  }
  // Polls skiff-dns every 10 ms until `name` has `n` A records; when the query that saw them
  // was sent, or InfiniteFuture. Straight from this host, so that the time is discovery's own:
  // a lookup exec'd in a container is hundreds of ms late under the sanitizers.
  absl::Time WaitForRecords(const std::string& name, size_t n) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      const absl::Time asked = absl::Now();
      if (RecordsOf(name).size() == n) return asked;
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << name << " never had " << n << " A records";
    return absl::InfiniteFuture();
  }

  // The client's log lines ("R a b c") from line `from` on.
  std::vector<std::string> ClientLines(const std::string& client, size_t from = 0) {
    std::ifstream in(absl::StrCat(skiffd_->state_dir(), "/tasks/", client, "/client.log"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
      if (absl::StartsWith(line, "R ")) lines.push_back(line);
    }
    lines.erase(lines.begin(), lines.begin() + std::min(from, lines.size()));
    return lines;
  }
  static std::string Line(const Addresses& addresses) {
    std::string out = "R ";
    for (const std::string& a : addresses) absl::StrAppend(&out, a, " ");
    return out;
  }

  std::string upstream_dir_;
  std::unique_ptr<skiff::testing::SkiffDnsProcess> upstream_;
  std::vector<std::string> flags_;
};

TEST_F(DiscoveryTest, AServiceResolvesToItsTasksAndFollowsScalingAndStops) {
  RegisterServer("web", "awsvpc");
  // Started before the service exists: the bare name goes through its search domain.
  const std::string client = RunClient("awsvpc");
  CreateService("web", "web", 2);
  std::map<std::string, std::string> tasks = WaitForTasks("web", 2);
  ASSERT_EQ(tasks.size(), 2u);
  WaitForAnswer(client, "client", "web", AddressesOf(tasks));
  EXPECT_EQ(Resolve(client, "client", "web.default.skiff.internal").addresses,
            AddressesOf(tasks));

  Scale("web", 3);
  const absl::Time answered = WaitForRecords("web.default.skiff.internal", 3);
  std::map<std::string, std::string> three = WaitForTasks("web", 3);
  ASSERT_EQ(three.size(), 3u);
  std::string added;
  for (const auto& [id, address] : three) {
    if (!tasks.contains(id)) added = id;
  }
  const double started_at = DescribeTaskJson(added).value("startedAt", 0.0);
  const absl::Duration appeared = answered - absl::FromUnixMicros(started_at * 1e6);
  std::cout << "discovery: the new task's address answered " << absl::FormatDuration(appeared)
            << " after it started (readiness window 500 ms included)\n";
  EXPECT_LE(appeared, kAppearWithin);
  EXPECT_EQ(RecordsOf("web.default.skiff.internal"), AddressesOf(three));
  WaitForAnswer(client, "client", "web", AddressesOf(three));  // and so does the container

  // A stopped task is gone (its replacement comes once it is ready).
  const std::string victim = three.begin()->first;
  const absl::Time stop = absl::Now();
  Ok({"stop-task", "--task", victim});
  const absl::Time deadline = absl::Now() + kWait;
  while (Resolve(client, "client", "web").addresses.contains(three.at(victim)) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_LT(absl::Now(), deadline);
  std::cout << "discovery: a stopped task's address was gone " << absl::FormatDuration(
                   absl::Now() - stop) << " after stop-task\n";
}

TEST_F(DiscoveryTest, UnknownNamesAreNxdomainNamedPortsHaveSrvAndOthersAreForwarded) {
  RegisterServer("api", "bridge");
  CreateService("api", "api", 1);
  const std::map<std::string, std::string> tasks = WaitForTasks("api", 1);
  ASSERT_EQ(tasks.size(), 1u);
  const std::string client = RunClient("bridge");
  WaitForAnswer(client, "client", "api", AddressesOf(tasks));

  const Lookup missing = Resolve(client, "client", "missing.default.skiff.internal");
  EXPECT_TRUE(missing.nxdomain) << missing.text;
  const Lookup srv = Resolve(client, "client", "-type=srv _http._tcp.api.default.skiff.internal");
  EXPECT_THAT(srv.text, ::testing::HasSubstr(" 80 ")) << srv.text;
  const Lookup ext = Resolve(client, "client", "ext.upstream.test");
  EXPECT_EQ(ext.addresses, Addresses{"192.0.2.7"}) << ext.text;
}

TEST_F(DiscoveryTest, AfterKillNineClientsResolveWhileSkiffdIsDownAndNoStaleAnswerAfter) {
  RegisterServer("web", "bridge");
  CreateService("web", "web", 2);
  const std::map<std::string, std::string> tasks = WaitForTasks("web", 2);
  ASSERT_EQ(tasks.size(), 2u);
  const std::string client = RunClient("awsvpc");
  WaitForAnswer(client, "client", "web", AddressesOf(tasks));

  ASSERT_TRUE(skiffd_->Signal(SIGKILL).ok());
  const size_t before = ClientLines(client).size();
  // A task dies while skiffd is down: skiff-dns cannot know, and answers on with what it had.
  const std::string dead = tasks.begin()->first;
  ASSERT_TRUE(
      containerd_->Ctr({"-n", ns_, "tasks", "kill", "-s", "SIGKILL", dead + "-app"}).ok());
  absl::SleepFor(absl::Milliseconds(1500));  // The client asks every 200 ms meanwhile.
  const std::vector<std::string> down = ClientLines(client, before);
  EXPECT_GE(down.size(), 3u);
  for (const std::string& line : down) EXPECT_EQ(line, Line(AddressesOf(tasks)));

  ASSERT_NO_FATAL_FAILURE(StartSkiffd(flags_));
  // Ready means the records were rebuilt from the store and containerd and written: the dead
  // task's address is gone at once (its replacement comes once it is ready).
  const Lookup after = Resolve(client, "client", "web");
  EXPECT_FALSE(after.addresses.contains(tasks.at(dead))) << after.text;
  EXPECT_TRUE(after.addresses.contains(std::next(tasks.begin())->second)) << after.text;
  const std::map<std::string, std::string> again = WaitForTasks("web", 2);
  WaitForAnswer(client, "client", "web", AddressesOf(again));
}

}  // namespace
}  // namespace skiff::e2e
